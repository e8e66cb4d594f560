/**
 * rollback: the emergency path, from workflow_dispatch. Moves every route of a rollout file to
 * the given weights at once (`to: blue` is blue 100, the rest 0): no step rule and no
 * compare-and-swap, but it logs exactly what it overwrote. It refuses when a cluster that is to
 * get traffic has no healthy target, unless forced. One read, one write and one read-back per
 * route; then it opens the PR that makes the file say what the ALB now has.
 */
import { shiftWeights, ShiftFailedError } from '../alb/shift.js';
import { shortName } from '../aws/arn.js';
import { ConfigurationError, ExplainedError, errorMessage } from '../common/errors.js';
import { awsErrorText, isAwsCallError } from '../alb/io.js';
import {
  clusterWeights,
  formatClusterWeights,
  targetGroupWeights,
  type ClusterWeights,
} from '../rollout-file/step.js';
import type { RolloutFile } from '../rollout-file/types.js';
import {
  PLAIN_OPTION_NAMES,
  type OptionNames,
  type RolloutDeps,
  type RolloutEvent,
  type RolloutSettings,
} from './context.js';
import { precheckTargetHealth, tryParse } from './live.js';
import { rollbackReconcileBody } from './markdown.js';
import { runHandoff } from './handoff.js';
import { firstLine, handoffStep, recordedBy, recordLastStep, restoreVerdict } from './last-step.js';
import { openOwnerReconcilePullRequest, openReconcilePullRequest } from './pull-requests.js';
import type { RollbackOutcome } from './results.js';

export interface RollbackRequest {
  file: string;
  /** The cluster that gets all traffic. */
  to?: string;
  /** Or: explicit weights, `blue=80, green=20`. */
  weights?: string;
  /** Or: the cluster that is to run the CronJobs and singletons (the handoff, no step rule). */
  owner?: string;
  force: boolean;
}

/** The weights a rollback sets, from `to` or `weights`, checked against the file's clusters. */
export function rollbackWeights(
  file: RolloutFile,
  request: Pick<RollbackRequest, 'to' | 'weights'>,
  names: OptionNames = PLAIN_OPTION_NAMES,
): ClusterWeights {
  const clusters = file.clusters.map((c) => c.name);
  if ((request.to === undefined) === (request.weights === undefined)) {
    throw new ConfigurationError(
      `rollback needs either ${names.to} (the cluster that gets all traffic: ${clusters.join(', ')}) or ${names.weights} (e.g. "${clusters.map((n, i) => `${n}=${i === 0 ? 100 : 0}`).join(', ')}"), not both and not neither.`,
    );
  }
  if (request.to !== undefined) {
    if (!clusters.includes(request.to)) {
      throw new ConfigurationError(
        `${capitalize(names.to)} is "${request.to}", which is not a cluster of ${file.path} (${clusters.join(', ')}).`,
      );
    }
    return Object.fromEntries(clusters.map((n) => [n, n === request.to ? 100 : 0]));
  }
  const weights: ClusterWeights = Object.fromEntries(clusters.map((n) => [n, 0]));
  const seen = new Set<string>();
  for (const part of (request.weights as string)
    .split(/[,\n]/)
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z][a-z0-9-]*)\s*[=:]\s*(\d+)$/.exec(part);
    if (!m) {
      throw new ConfigurationError(
        `${capitalize(names.weights)}: "${part}" is not <cluster>=<weight>, e.g. "${clusters[0]}=100".`,
      );
    }
    const [, name, value] = m as unknown as [string, string, string];
    if (!clusters.includes(name)) {
      throw new ConfigurationError(
        `${capitalize(names.weights)}: "${name}" is not a cluster of ${file.path} (${clusters.join(', ')}).`,
      );
    }
    if (seen.has(name))
      throw new ConfigurationError(`${capitalize(names.weights)}: ${name} is given twice.`);
    seen.add(name);
    weights[name] = Number(value);
  }
  const sum = Object.values(weights).reduce((a, b) => a + b, 0);
  if (sum !== 100) {
    throw new ConfigurationError(
      `${capitalize(names.weights)}: the weights add up to ${sum}, not 100 (clusters not named get 0).`,
    );
  }
  return weights;
}

export async function runRollback(
  event: Extract<RolloutEvent, { kind: 'workflow_dispatch' }>,
  request: RollbackRequest,
  settings: RolloutSettings,
  deps: RolloutDeps,
): Promise<RollbackOutcome> {
  const { github, logger } = deps;
  const names = settings.optionNames ?? PLAIN_OPTION_NAMES;
  const text = await github.fileAt(request.file, event.sha);
  if (text === undefined) {
    throw new ConfigurationError(
      `${capitalize(names.file)}: ${request.file} does not exist at ${event.sha.slice(0, 7)} (${event.branch}).`,
    );
  }
  const parsed = tryParse(text, request.file);
  if ('error' in parsed) throw parsed.error;
  const file = parsed.file;
  if (request.owner !== undefined) {
    if (request.to !== undefined || request.weights !== undefined) {
      throw new ConfigurationError(
        `rollback moves traffic (${names.to} or ${names.weights}) or hands CronJobs and singletons over (${names.owner ?? '"owner"'}), not both in one run: a failure could not be undone as one. Run it twice.`,
      );
    }
    return rollbackOwner(event, file, text, request.owner, settings, deps);
  }
  const order = file.clusters.map((c) => c.name);
  const show = (w: ClusterWeights): string => formatClusterWeights(w, order);
  const desired = rollbackWeights(file, request, names);

  // Target health only: the routes are read once, by the shift itself.
  const receiving = order.filter((n) => (desired[n] ?? 0) > 0);
  const health = await precheckTargetHealth(deps, file, receiving, 1).catch((e: unknown) => {
    if (deps.signal?.aborted) {
      throw new ExplainedError(
        `Cancelled (${errorMessage(deps.signal.reason)}) before any write; nothing was changed.`,
      );
    }
    if (!isAwsCallError(e)) throw e;
    throw new ExplainedError(
      `Could not read the target health of ${receiving.join(', ')}: ${awsErrorText(e)}. Nothing was changed.`,
    );
  });
  for (const h of health)
    logger.info(`${h.ok ? 'ok' : 'NO HEALTHY TARGET'}: ${h.cluster} ${h.shown}`);
  const empty = health.filter((h) => !h.ok);
  if (empty.length > 0) {
    const list = empty.map((h) => `${h.cluster} (${h.shown})`).join(', ');
    if (!request.force) {
      throw new ConfigurationError(
        `Refusing to send traffic to ${list}: no healthy target, so every request would fail with 503. Nothing was changed. ` +
          `Fix the targets, pick another cluster, or run again with ${names.force} if this is still the least bad option.`,
      );
    }
    logger.warning(`force: sending traffic to ${list} although it has no healthy target.`);
  }

  const outcome: RollbackOutcome = {
    command: 'rollback',
    path: request.file,
    name: file.name,
    order,
    desired,
    forcedOnto: empty.map((h) => h.cluster),
    routes: [],
    defaultBranch: event.defaultBranch,
    result: 'failed',
    report: { command: 'rollback', file: request.file, desired, forced: request.force, health },
    annotations: [],
  };
  const clusterOf = new Map(file.clusters.map((c) => [c.targetGroup, c.name]));
  let result;
  try {
    result = await shiftWeights(
      {
        routes: file.routes,
        desired: targetGroupWeights(file, desired),
        dryRun: false,
        settleMs: settings.settleMs,
        // An emergency: every route at once rather than one by one.
        parallel: true,
      },
      {
        client: deps.aws(file.region).elbv2,
        logger,
        clock: deps.clock,
        label: (tg) => clusterOf.get(tg) ?? shortName(tg),
        ...(deps.signal ? { signal: deps.signal } : {}),
        ...(deps.budget ? { budget: deps.budget } : {}),
        ...(deps.readBackDelayMs !== undefined ? { readBackDelayMs: deps.readBackDelayMs } : {}),
      },
    );
  } catch (e) {
    if (e instanceof ShiftFailedError) {
      await recordLastStep(deps, file, {
        ...stepOf(file, settings, deps),
        op: 'rollback',
        weights: desired,
        ...restoreVerdict(e.notRestored),
        why: e.cancelled ? 'the job was cancelled during the rollback' : firstLine(e.message),
      });
      outcome.error = e.message;
      outcome.failure = e.message;
      outcome.report = {
        ...outcome.report,
        error: e.message,
        restored: e.restored,
        notRestored: e.notRestored,
      };
      return outcome;
    }
    throw e;
  }
  outcome.routes = result.routes.map((r) => ({
    ref: r.ref,
    was: clusterWeights(file, r.before),
    now: clusterWeights(file, r.after),
    status: r.status,
  }));
  logger.info('What this rollback overwrote, exactly:');
  for (const r of result.before) {
    logger.info(
      `  ${r.ref.kind} ${r.ref.arn}: was ${show(clusterWeights(file, r.weights))}; actions were ${JSON.stringify(r.actions)}`,
    );
  }
  outcome.result = result.changed ? 'rolled-back' : 'unchanged';
  if (result.changed) {
    await recordLastStep(deps, file, {
      ...stepOf(file, settings, deps),
      op: 'rollback',
      weights: desired,
      verdict: 'done',
      ...(request.force && empty.length > 0
        ? { why: `forced onto ${empty.map((h) => h.cluster).join(', ')} without a healthy target` }
        : {}),
    });
  }
  outcome.report = {
    ...outcome.report,
    overwritten: result.before.map((r) => ({
      route: r.ref.arn,
      weights: clusterWeights(file, r.weights),
      actions: r.actions,
    })),
    appliedAt: result.appliedAt?.toISOString(),
  };
  if (!result.changed)
    logger.info(`Every route already had ${show(desired)}; nothing was written.`);

  try {
    const pr = await openReconcilePullRequest(deps, {
      path: request.file,
      file,
      text,
      baseBranch: event.defaultBranch,
      live: desired,
      title: `rollout ${file.name}: record the rollback to ${show(desired)}`,
      body: rollbackReconcileBody(outcome, settings.runUrl),
    });
    outcome.reconcile = pr ?? 'not-needed';
    if (pr) outcome.pullRequest = pr.url;
  } catch (e) {
    // The ALB part is done and confirmed; a GitHub failure must not hide that.
    outcome.failure = `The rollback itself succeeded (${show(desired)} on every route, confirmed), but the reconcile PR could not be opened: ${errorMessage(e)}. Set weights in ${request.file} to ${show(desired)} by hand.`;
  }
  return outcome;
}

/**
 * The owner form: the handoff from the file's owner to `owner` at once (no step rule), then the
 * PR that sets `owner` in the file to where the singletons now run.
 */
async function rollbackOwner(
  event: Extract<RolloutEvent, { kind: 'workflow_dispatch' }>,
  file: RolloutFile,
  text: string,
  owner: string,
  settings: RolloutSettings,
  deps: RolloutDeps,
): Promise<RollbackOutcome> {
  const names = settings.optionNames ?? PLAIN_OPTION_NAMES;
  const order = file.clusters.map((c) => c.name);
  if (!order.includes(owner)) {
    throw new ConfigurationError(
      `${capitalize(names.owner ?? '"owner"')} is "${owner}", which is not a cluster of ${file.path} (${order.join(', ')}).`,
    );
  }
  const outcome: RollbackOutcome = {
    command: 'rollback',
    path: file.path,
    name: file.name,
    order,
    desired: file.weights,
    forcedOnto: [],
    routes: [],
    defaultBranch: event.defaultBranch,
    result: 'failed',
    report: { command: 'rollback', file: file.path, owner },
    annotations: [],
  };
  if (file.owner === owner) {
    // The file already names it: hand over from whichever other cluster still runs something.
    deps.logger.info(`${file.path} already says owner: ${owner}; checking the other clusters.`);
  }
  const others = order.filter((n) => n !== owner);
  const from = file.owner !== owner ? file.owner : others[0];
  if (from === undefined) throw new ConfigurationError(`${file.path} has no other cluster.`);
  const result = await deps.logger.group(
    `Handing over CronJobs and singletons: ${from} → ${owner}`,
    () => runHandoff(file, from, owner, deps),
  );
  if ('refused' in result) {
    throw new ConfigurationError(`${result.refused.join('\n')}\nNothing was changed.`);
  }
  outcome.handoff = result;
  outcome.report = { ...outcome.report, handoff: result };
  const owned = handoffStep(result, 'done');
  if (owned)
    await recordLastStep(deps, file, { ...stepOf(file, settings, deps), op: 'rollback', ...owned });
  if (result.status !== 'handed-off' && result.status !== 'unchanged') {
    outcome.error = result.message;
    outcome.failure = result.message;
    return outcome;
  }
  outcome.result = result.status === 'handed-off' ? 'rolled-back' : 'unchanged';
  try {
    const pr = await openOwnerReconcilePullRequest(deps, {
      path: file.path,
      file,
      text,
      baseBranch: event.defaultBranch,
      owner,
      title: `rollout ${file.name}: record the handoff to owner ${owner}`,
      body: `A \`rollback\` run handed every CronJob and singleton of \`${file.path}\` to **${owner}**${settings.runUrl ? ` (${settings.runUrl})` : ''}:\n\n${result.message}\n\nThis PR sets \`owner\` in the file to ${owner}, so git and the clusters agree again. Merging it changes nothing on the clusters.`,
    });
    outcome.reconcile = pr ?? 'not-needed';
    if (pr) outcome.pullRequest = pr.url;
  } catch (e) {
    outcome.failure = `The handoff itself succeeded (${result.message}), but the reconcile PR could not be opened: ${errorMessage(e)}. Set owner in ${file.path} to ${owner} by hand.`;
  }
  return outcome;
}

/** The fields of a last-step record every rollback shares. */
function stepOf(file: RolloutFile, settings: RolloutSettings, deps: RolloutDeps) {
  return { file: file.path, at: deps.clock.now(), by: recordedBy(settings) };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
