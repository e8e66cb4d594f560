/**
 * rollback: the emergency path, from workflow_dispatch. Moves every route of a rollout file to
 * the given weights at once (`to: blue` is blue 100, the rest 0): no step rule and no
 * compare-and-swap, but it logs exactly what it overwrote. It refuses when a cluster that is to
 * get traffic has no healthy target, unless forced. One read, one write and one read-back per
 * route; then it opens the PR that makes the file say what the ALB now has.
 */
import { shiftWeights, ShiftFailedError } from '../alb/shift.js';
import { shortName } from '../aws/arn.js';
import { ConfigurationError } from '../common/errors.js';
import type { CommandOutcome, RolloutDeps, RolloutEvent, RolloutSettings } from './context.js';
import { Inputs } from '../actions/rollout/io.js';
import { precheckTargetHealth, tryParse } from './plan.js';
import { openReconcilePullRequest } from './pull-requests.js';
import { cell } from './markdown.js';
import {
  clusterWeights,
  formatClusterWeights,
  targetGroupWeights,
  type ClusterWeights,
} from '../rollout-file/step.js';
import type { RolloutFile } from '../rollout-file/types.js';

export interface RollbackRequest {
  file: string;
  /** The cluster that gets all traffic. */
  to?: string;
  /** Or: explicit weights, `blue=80, green=20`. */
  weights?: string;
  force: boolean;
}

/** The weights a rollback sets, from `to` or `weights`, checked against the file's clusters. */
export function rollbackWeights(
  file: RolloutFile,
  request: Pick<RollbackRequest, 'to' | 'weights'>,
): ClusterWeights {
  const names = file.clusters.map((c) => c.name);
  if ((request.to === undefined) === (request.weights === undefined)) {
    throw new ConfigurationError(
      `rollback needs either "${Inputs.to}" (the cluster that gets all traffic: ${names.join(', ')}) or "${Inputs.weights}" (e.g. "${names.map((n, i) => `${n}=${i === 0 ? 100 : 0}`).join(', ')}"), not both and not neither.`,
    );
  }
  if (request.to !== undefined) {
    if (!names.includes(request.to)) {
      throw new ConfigurationError(
        `Input "${Inputs.to}" is "${request.to}", which is not a cluster of ${file.path} (${names.join(', ')}).`,
      );
    }
    return Object.fromEntries(names.map((n) => [n, n === request.to ? 100 : 0]));
  }
  const weights: ClusterWeights = Object.fromEntries(names.map((n) => [n, 0]));
  const seen = new Set<string>();
  for (const part of (request.weights as string)
    .split(/[,\n]/)
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z][a-z0-9-]*)\s*[=:]\s*(\d+)$/.exec(part);
    if (!m) {
      throw new ConfigurationError(
        `Input "${Inputs.weights}": "${part}" is not <cluster>=<weight>, e.g. "${names[0]}=100".`,
      );
    }
    const [, name, value] = m as unknown as [string, string, string];
    if (!names.includes(name)) {
      throw new ConfigurationError(
        `Input "${Inputs.weights}": "${name}" is not a cluster of ${file.path} (${names.join(', ')}).`,
      );
    }
    if (seen.has(name))
      throw new ConfigurationError(`Input "${Inputs.weights}": ${name} is given twice.`);
    seen.add(name);
    weights[name] = Number(value);
  }
  const sum = Object.values(weights).reduce((a, b) => a + b, 0);
  if (sum !== 100) {
    throw new ConfigurationError(
      `Input "${Inputs.weights}": the weights add up to ${sum}, not 100 (clusters not named get 0).`,
    );
  }
  return weights;
}

export async function runRollback(
  event: Extract<RolloutEvent, { kind: 'workflow_dispatch' }>,
  request: RollbackRequest,
  settings: RolloutSettings,
  deps: RolloutDeps,
): Promise<CommandOutcome> {
  const { github, logger } = deps;
  const text = await github.fileAt(request.file, event.sha);
  if (text === undefined) {
    throw new ConfigurationError(
      `Input "${Inputs.file}": ${request.file} does not exist at ${event.sha.slice(0, 7)} (${event.branch}).`,
    );
  }
  const parsed = tryParse(text, request.file);
  if ('error' in parsed) throw parsed.error;
  const file = parsed.file;
  const order = file.clusters.map((c) => c.name);
  const show = (w: ClusterWeights): string => formatClusterWeights(w, order);
  const desired = rollbackWeights(file, request);

  // Target health only: the routes are read once, by the shift itself.
  const receiving = order.filter((n) => (desired[n] ?? 0) > 0);
  const health = await precheckTargetHealth(deps, file, receiving, 1);
  for (const h of health)
    logger.info(`${h.ok ? 'ok' : 'NO HEALTHY TARGET'}: ${h.cluster} ${h.shown}`);
  const empty = health.filter((h) => !h.ok);
  if (empty.length > 0) {
    const names = empty.map((h) => `${h.cluster} (${h.shown})`).join(', ');
    if (!request.force) {
      throw new ConfigurationError(
        `Refusing to send traffic to ${names}: no healthy target, so every request would fail with 503. Nothing was changed. ` +
          `Fix the targets, pick another cluster, or run again with "${Inputs.force}: true" if this is still the least bad option.`,
      );
    }
    logger.warning(`force: sending traffic to ${names} although it has no healthy target.`);
  }

  const { elbv2 } = deps.aws(file.region);
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
        client: elbv2,
        logger,
        clock: deps.clock,
        ...(deps.signal ? { signal: deps.signal } : {}),
        ...(deps.readBackDelayMs !== undefined ? { readBackDelayMs: deps.readBackDelayMs } : {}),
      },
    );
  } catch (e) {
    if (e instanceof ShiftFailedError) {
      return {
        result: 'failed',
        summary: `## Rollout rollback of ${file.name}: failed\n\n\`\`\`\n${e.message}\n\`\`\`\n`,
        report: {
          command: 'rollback',
          file: request.file,
          desired,
          error: e.message,
          restored: e.restored,
          notRestored: e.notRestored,
        },
        annotations: [],
        failure: e.message,
      };
    }
    throw e;
  }
  const overwritten = result.before.map((r) => ({
    ref: r.ref,
    weights: clusterWeights(file, r.weights),
    actions: r.actions,
  }));
  logger.info('What this rollback overwrote, exactly:');
  for (const r of overwritten) {
    logger.info(
      `  ${r.ref.kind} ${r.ref.arn}: was ${show(r.weights)}; actions were ${JSON.stringify(r.actions)}`,
    );
  }

  const rows = result.routes.map(
    (r) =>
      `| ${cell(shortName(r.ref.arn))} | ${show(clusterWeights(file, r.before))} | ${show(clusterWeights(file, r.after))} | ${r.status === 'written' ? 'written (confirmed)' : 'already there'} |`,
  );
  const lines = [
    `## Rollout rollback of ${file.name} to ${show(desired)}`,
    '',
    request.force && empty.length > 0
      ? `> ⚠️ Forced although ${empty.map((h) => h.cluster).join(', ')} had no healthy target.\n`
      : '',
    '| route | was | now | |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ];
  const outcome: CommandOutcome = {
    result: result.changed ? 'rolled-back' : 'unchanged',
    summary: '',
    report: {
      command: 'rollback',
      file: request.file,
      desired,
      forced: request.force,
      health,
      overwritten: overwritten.map((r) => ({
        route: r.ref.arn,
        weights: r.weights,
        actions: r.actions,
      })),
      appliedAt: result.appliedAt?.toISOString(),
    },
    annotations: [],
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
      body: [
        `A \`rollback\` run moved every route of \`${request.file}\` to **${show(desired)}**${settings.runUrl ? ` (${settings.runUrl})` : ''}.`,
        '',
        'It overwrote:',
        '',
        ...overwritten.map((r) => `- ${r.ref.kind} \`${r.ref.arn}\`: ${show(r.weights)}`),
        '',
        'This PR sets `weights` in the file to what the ALB now has, so git and the ALB agree again. Merging it changes nothing on the ALB.',
      ].join('\n'),
    });
    if (pr) {
      outcome.pullRequest = pr.url;
      lines.push(`Reconcile PR: ${pr.url}`, '');
    } else {
      lines.push(
        `\`${request.file}\` on ${event.defaultBranch} already says ${show(desired)}; no reconcile PR needed.`,
        '',
      );
    }
  } catch (e) {
    // The ALB part is done and confirmed; a GitHub failure must not hide that.
    outcome.failure = `The rollback itself succeeded (${show(desired)} on every route, confirmed), but the reconcile PR could not be opened: ${e instanceof Error ? e.message : String(e)}. Set weights in ${request.file} to ${show(desired)} by hand.`;
    lines.push(`❌ ${outcome.failure}`, '');
  }
  outcome.summary = `${lines.filter((l, i) => l !== '' || lines[i - 1] !== '').join('\n')}`;
  return outcome;
}
