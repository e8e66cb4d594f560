/**
 * apply: one merged step, for every rollout file a push to the default branch changed, in path
 * order. For a file, in named stages: load (the version before the push is what the ALB must
 * have, the version after it is what it gets) → read live → gate (the same gate as the plan) →
 * shift every route in lockstep → verify with the file's analysis → record. On a failed
 * verdict, an error or cancellation after the shift: restore exactly what was read, confirm
 * it, open a PR that sets the file back to the live weights and tell the merged PR.
 * A change of `owner` (with the weights unchanged) is a step of its own: after the gate, the
 * handoff stage moves the CronJobs and singletons instead of shift and verify. A file
 * that fails stops the run: later files are not touched.
 */
import { restoreRoutes, shiftWeights, ShiftFailedError, type ShiftResult } from '../alb/shift.js';
import { shortName } from '../aws/arn.js';
import { abortableClock } from '../common/clock.js';
import { budgetFromSignal, untilAborted, type CancelBudget } from '../common/cancel.js';
import {
  ConfigurationError,
  ExplainedError,
  errorMessage,
  formatDiagnostic,
} from '../common/errors.js';
import type { PathFilter } from '../common/glob.js';
import { mapWithConcurrency } from '../common/concurrency.js';
import { prefixedLogger } from '../common/logger.js';
import type { PullRequestRef } from '../github/types.js';
import { acquireRouteLock, LockBusyError, type RouteLock } from '../alb/lock.js';
import type { LastStep } from '../alb/last-step.js';
import {
  analysisIntervalCount,
  buildReport,
  runAnalysis,
  type AnalysisResult,
} from '../health/index.js';
import { maskCheckSecrets } from '../health/secrets.js';
import {
  formatClusterWeights,
  sameClusterWeights,
  targetGroupWeights,
  type ClusterWeights,
} from '../rollout-file/step.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, type RolloutFile } from '../rollout-file/types.js';
import {
  FORCE_LABEL,
  PLAIN_OPTION_NAMES,
  type OptionNames,
  type RolloutDeps,
  type RolloutEvent,
  type RolloutResult,
  type RolloutSettings,
} from './context.js';
import { gateStep, type GateResult } from './gate.js';
import { readLive, tryParse, type LiveRoute } from './live.js';
import { applyComment, reconcileBody } from './markdown.js';
import { runHandoff } from './handoff.js';
import { handoffStep, recordedBy, recordLastStep, restoreVerdict } from './last-step.js';
import {
  openAdvancePullRequest,
  openOwnerReconcilePullRequest,
  openReconcilePullRequest,
} from './pull-requests.js';
import type { ApplyOutcome, FileApply, FileStatus } from './results.js';

export interface ApplyOptions {
  filter: PathFilter;
  settings: RolloutSettings;
  autoAdvance: boolean;
  /**
   * Lock every route of a file (a tag on the ALB) for the length of its step, waiting up to
   * `waitMs` for another step's lock; `owner` names this run in the tag. Absent: no lock.
   */
  lock?: { owner: string; waitMs: number };
  /** Files applied at once (each restores on its own failure). Default 1. */
  parallel?: number;
  /** How messages name the version before the change: `before this push` by default. */
  baseLabel?: string;
  /**
   * Whether a step larger than one step is allowed, decided by the caller (the CLI's --force).
   * Absent: the force label on the PR(s) the push merged decides.
   */
  force?: boolean;
}

type PushEvent = Extract<RolloutEvent, { kind: 'push' }>;

/** What every stage of one file's apply shares. */
interface FileRun {
  path: string;
  event: PushEvent;
  options: ApplyOptions;
  deps: RolloutDeps;
  /** The PRs the push merged, asked for once and only when needed. */
  merged(): Promise<PullRequestRef[]>;
  out: FileApply;
  /** Why a weight step was rolled back, for the last-step record. */
  reason?: string;
  /** When the ALB's part of the step ended (before the GitHub calls), for the record. */
  endedAt?: Date;
}

const EMPTY_SHA = /^0+$/;
/** Added to a lock's expected hold time, for GitHub calls and slow reads. */
const LOCK_MARGIN_MS = 10 * 60_000;
const STOPPING: readonly FileStatus[] = ['rolled-back', 'refused', 'failed'];

export async function runApply(
  event: PushEvent,
  options: ApplyOptions,
  rolloutDeps: RolloutDeps,
): Promise<ApplyOutcome> {
  // One budget for every file: a restore after a cancel ends before the runner's kill.
  const deps: RolloutDeps = {
    ...rolloutDeps,
    budget: rolloutDeps.budget ?? budgetFromSignal(rolloutDeps.signal),
  };
  const { github, logger } = deps;
  const patterns = options.filter.patterns;
  if (event.branch !== event.defaultBranch) {
    throw new ConfigurationError(
      `apply runs on pushes to the default branch (${event.defaultBranch}), which is what the rollout files there describe; this push is to ${event.branch}. Limit the workflow to "on: push: branches: [${event.defaultBranch}]".`,
    );
  }
  if (EMPTY_SHA.test(event.before)) {
    throw new ConfigurationError(
      `The push has no "before" commit (the branch was created by it), so there is no earlier version of the rollout files to compare with. Apply changes through a pull request.`,
    );
  }
  const changed = (await github.changedFiles(event.before, event.after))
    .filter((p) => options.filter.matches(p))
    .sort();
  if (changed.length === 0) {
    logger.info(`The push changes no file matching ${patterns.join(', ')}; nothing to apply.`);
    return {
      command: 'apply',
      patterns,
      files: [],
      result: 'unchanged',
      report: { command: 'apply', before: event.before, after: event.after, files: [] },
      annotations: [],
    };
  }
  logger.info(`Rollout files changed by ${event.after.slice(0, 7)}: ${changed.join(', ')}`);

  let mergedPullRequests: Promise<PullRequestRef[]> | undefined;
  const merged = (): Promise<PullRequestRef[]> =>
    (mergedPullRequests ??= github.pullRequestsForCommit(event.after));

  // Each file is its own step: it locks, shifts, verifies and restores on its own, so one
  // failing file does not stop the others (it used to stop every later file).
  const parallel = Math.max(1, Math.min(options.parallel ?? 1, changed.length));
  const files = await mapWithConcurrency(changed, parallel, async (path) => {
    const out: FileApply = {
      path,
      status: 'failed',
      message: '',
      githubErrors: [],
      annotations: [],
    };
    // Several files at once cannot share folds in the log: each line says whose it is.
    const fileLogger = parallel > 1 ? prefixedLogger(logger, path) : logger;
    if (parallel === 1) logger.info(`── ${path} ──`);
    try {
      await applyFile({ path, event, options, deps: { ...deps, logger: fileLogger }, merged, out });
    } catch (e) {
      // Only what comes before the shift can throw here: after it, every path restores.
      if (!(e instanceof ExplainedError) && e instanceof Error && e.stack)
        fileLogger.debug(e.stack);
      out.status = 'failed';
      out.message = deps.signal?.aborted
        ? `Cancelled (${errorMessage(deps.signal.reason)}) before the shift; nothing was changed on the ALB.`
        : /nothing was changed/i.test(errorMessage(e))
          ? errorMessage(e)
          : `${errorMessage(e)}\nNothing was changed on the ALB.`;
      if (e instanceof ConfigurationError) out.annotations.push(...e.diagnostics);
    }
    fileLogger.info(`${path}: ${out.status}. ${out.message}`);
    return out;
  });

  const result = overallResult(files);
  const failed = files.filter((f) => STOPPING.includes(f.status));
  const githubErrors = files.flatMap((f) => f.githubErrors.map((e) => `${f.path}: ${e}`));
  const outcome: ApplyOutcome = {
    command: 'apply',
    patterns,
    files,
    result,
    report: {
      command: 'apply',
      before: event.before,
      after: event.after,
      result,
      files: files.map(fileReport),
    },
    annotations: files.flatMap((f) => f.annotations),
  };
  const advance = files.find((f) => f.advance)?.advance;
  const reconcile = files.find((f) => f.reconcile)?.reconcile;
  if (reconcile) outcome.pullRequest = reconcile.url;
  else if (advance) outcome.pullRequest = advance.url;
  if (failed.length > 0 || githubErrors.length > 0) {
    outcome.failure = [...failed.map((f) => `${f.path}: ${f.message}`), ...githubErrors].join('\n');
  }
  return outcome;
}

function overallResult(files: readonly FileApply[]): RolloutResult {
  if (files.some((f) => f.status === 'rolled-back')) return 'rolled-back';
  if (files.some((f) => f.status === 'refused' || f.status === 'failed')) return 'failed';
  if (files.some((f) => f.status === 'applied')) return 'applied';
  return 'unchanged';
}

/** One file, stage by stage; each stage either hands on what the next needs or ends the file. */
async function applyFile(run: FileRun): Promise<void> {
  const loaded = await load(run);
  if (!loaded) return;
  const lock = await lockStage(run, loaded.head);
  if (lock === 'busy') return;
  let step: LastStep | undefined;
  try {
    await applyLocked(run, loaded);
  } finally {
    // The record of a step that changed or judged something, in the lock's release (no call
    // of its own beyond one AddTags per 20 routes); without a lock, on its own.
    step = lastStep(run, loaded.head);
    if (lock) await lock.release(step);
  }
  if (!lock && step) await recordLastStep(run.deps, loaded.head, step);
}

/** What the step did, as the last-step record; undefined when it changed and judged nothing. */
function lastStep(run: FileRun, head: RolloutFile): LastStep | undefined {
  const { out, options, deps } = run;
  const common = {
    file: run.path,
    at: run.endedAt ?? deps.clock.now(),
    by: recordedBy(options.settings),
  };
  if (out.handoff) {
    const owner = handoffStep(out.handoff, 'passed');
    return owner ? { ...common, op: 'handoff', ...owner } : undefined;
  }
  const weights = Object.fromEntries(head.clusters.map((c) => [c.name, head.weights[c.name] ?? 0]));
  if (out.restored) {
    return {
      ...common,
      op: 'apply',
      weights,
      ...restoreVerdict(out.restored.notRestored),
      ...(run.reason ? { why: run.reason } : {}),
    };
  }
  if (out.status === 'applied' && out.appliedAt) {
    return {
      ...common,
      op: 'apply',
      weights,
      verdict: 'passed',
      ...(out.verdict ? { why: out.verdict } : {}),
    };
  }
  return undefined;
}

/**
 * Stage lock: a tag on every route of the file, so that no other step (another file, another
 * job) shifts one of them until this step has verified or restored.
 */
async function lockStage(run: FileRun, head: RolloutFile): Promise<RouteLock | 'busy' | undefined> {
  const { options, deps, out } = run;
  if (!options.lock) return undefined;
  const a = head.analysis;
  // Long enough for the whole step (settle, warmup, every interval, the CloudWatch delay) with
  // a margin; short enough that a killed runner's lock does not hold the routes for long.
  // An owner step holds the routes for its drain instead (a weight step and an owner step never
  // come in one merge): the longer of the two, so the lock never expires under either.
  const ttlMs =
    Math.max(
      options.settings.settleMs +
        a.warmupMs +
        (analysisIntervalCount(a) + 1) * a.intervalMs +
        options.settings.cloudWatchDelayMs,
      head.singletons?.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    ) + LOCK_MARGIN_MS;
  try {
    return await deps.logger.group(`Locking the routes: ${run.path}`, () =>
      acquireRouteLock(
        {
          routes: head.routes.map((r) => r.arn),
          owner: `${run.path}@${options.lock ? options.lock.owner : ''}`,
          ttlMs,
          waitMs: options.lock ? options.lock.waitMs : 0,
        },
        {
          client: deps.aws(head.region).elbv2,
          clock: deps.clock,
          logger: deps.logger,
          ...(deps.signal ? { signal: deps.signal } : {}),
        },
      ),
    );
  } catch (e) {
    if (!(e instanceof LockBusyError)) throw e;
    out.status = 'refused';
    out.message = e.message;
    const at = head.locate(['routes']);
    out.annotations.push({ file: out.path, line: at.line, col: at.col, message: e.message });
    return 'busy';
  }
}

/** Everything after the lock: read live, gate, shift, verify, record or restore. */
async function applyLocked(run: FileRun, loaded: Loaded): Promise<void> {
  const { head, headText } = loaded;

  const live = await run.deps.logger.group(`Reading live weights: ${run.path}`, () =>
    readLiveStage(run, head),
  );
  if (!live) return;

  const gate = await run.deps.logger.group(`Checking the step: ${run.path}`, () =>
    gateStage(run, loaded, live),
  );
  if (!gate) return;
  // An owner step moves no traffic: the handoff takes the place of shift and verify.
  if (gate.handoff) return handoffStage(run, loaded, gate.handoff);

  const shift = await shiftStage(run, head, live, gate);
  if ('failed' in shift) {
    run.out.restored = { restored: shift.failed.restored, notRestored: shift.failed.notRestored };
    return rolledBack(run, head, headText, {
      reason: shift.failed.cancelled
        ? 'the job was cancelled during the shift'
        : 'the shift failed',
      detail: shift.failed.message,
      live: gate.expected,
    });
  }

  const verdict = await verifyStage(run, head, gate, shift);
  if (verdict.result?.healthy) return recordSuccess(run, head, verdict.result);

  const reason = failureReason(run, verdict);
  run.deps.logger.warning(`Rolling back ${head.name}: ${reason}`);
  run.out.restored = await run.deps.logger.group('Restoring the previous weights', () =>
    restoreRoutes(
      { client: run.deps.aws(head.region).elbv2, ...shiftDeps(run, head) },
      shift.before,
      head.clusters.map((c) => c.targetGroup),
    ),
  );
  return rolledBack(run, head, headText, { reason, live: gate.expected });
}

interface Loaded {
  head: RolloutFile;
  headText: string;
  /** The valid file before the push: what the ALB must have now. */
  base?: RolloutFile;
}

/** Stage load: both versions of the file; a deleted or invalid file ends here. */
async function load(run: FileRun): Promise<Loaded | undefined> {
  const { path, event, deps, out } = run;
  const [headText, baseText] = await Promise.all([
    deps.github.fileAt(path, event.after),
    deps.github.fileAt(path, event.before),
  ]);
  if (headText === undefined) {
    out.status = 'deleted';
    out.message = 'The file was deleted; the ALB keeps its weights.';
    return undefined;
  }
  const parsed = tryParse(headText, path);
  if ('error' in parsed) {
    out.status = 'refused';
    out.message = `${parsed.error.message}\nNothing was changed.`;
    out.problems = parsed.error.diagnostics.map(formatDiagnostic);
    out.annotations.push(...parsed.error.diagnostics);
    return undefined;
  }
  const head = parsed.file;
  // The file's probes may carry credentials (a bearer token, an Authorization header); a
  // failing probe's error must not print them.
  if (deps.mask) maskCheckSecrets(head.analysis.checks, deps.mask);
  out.name = head.name;
  out.desired = head.weights;
  const base = baseText === undefined ? undefined : tryParse(baseText, path);
  if (base && 'file' in base) return { head, headText, base: base.file };
  deps.logger.info(
    baseText === undefined
      ? 'New file: no earlier version to compare the live weights with; the routes must agree with each other.'
      : 'The earlier version is not a valid rollout file: no compare-and-swap baseline; the routes must agree with each other.',
  );
  return { head, headText };
}

/** Stage read live: every route, once; the shift writes from this very read. */
async function readLiveStage(run: FileRun, head: RolloutFile): Promise<LiveRoute[] | undefined> {
  const live = await readLive(run.deps, head);
  if ('problem' in live) {
    refuse(run.out, [{ message: live.problem, at: head.locate(['routes']) }]);
    return undefined;
  }
  const show = weightsText(head);
  for (const r of live.routes) run.deps.logger.info(`${shortName(r.ref.arn)}: ${show(r.weights)}`);
  run.out.live = live.routes[0]?.weights;
  return live.routes;
}

/** Stage gate: the plan's checks again, on the ALB as it is at merge time. */
async function gateStage(
  run: FileRun,
  loaded: Loaded,
  live: LiveRoute[],
): Promise<GateResult | undefined> {
  const { head, base } = loaded;
  const { deps, out, options } = run;
  const show = weightsText(head);
  const gate = await gateStep(
    {
      head,
      ...(base ? { base } : {}),
      baseLabel: options.baseLabel ?? 'before this push',
      live,
      // The plan enforces the step rule on the PR, but a merge can land without a passing plan
      // (no required check, a direct push): the force label is read from the PR(s) the merge
      // came from, only when the step needs it.
      force: async () => {
        if (options.force !== undefined) {
          return options.force
            ? { forced: true }
            : {
                forced: false,
                why: `Force the step (${names(options).force}) if this jump is intended.`,
              };
        }
        const prs = await run.merged();
        if (prs.some((pr) => pr.labels?.includes(FORCE_LABEL))) return { forced: true };
        return {
          forced: false,
          why:
            prs.length > 0
              ? `The change was merged from ${prs.map((pr) => `#${pr.number}`).join(', ')} without the ${FORCE_LABEL} label.`
              : 'The change was pushed without a pull request.',
        };
      },
      cloudWatchPeriodMs: options.settings.cloudWatchPeriodMs,
      cloudWatchDelayMs: options.settings.cloudWatchDelayMs,
    },
    deps,
  );
  for (const h of gate.health) {
    deps.logger.info(
      `${h.ok ? 'ok' : 'NOT ENOUGH'}: ${h.cluster} ${h.shown} (needs ≥ ${h.required} healthy)`,
    );
  }
  const ownerStep = base !== undefined && base.owner !== head.owner;
  if (gate.noChange && !ownerStep) {
    out.status = 'unchanged';
    out.message = `Every route already has ${show(head.weights)}; nothing to shift or verify.`;
    return undefined;
  }
  out.health = gate.health;
  if (gate.problems.length > 0) {
    refuse(out, gate.problems);
    return undefined;
  }
  if (gate.step.forced) deps.logger.warning(gate.step.message);
  return gate;
}

/** Stage shift: every route in lockstep from the routes just read; a failure restores them. */
async function shiftStage(
  run: FileRun,
  head: RolloutFile,
  live: LiveRoute[],
  gate: GateResult,
): Promise<ShiftResult | { failed: ShiftFailedError }> {
  const { deps, out, options } = run;
  try {
    const shift = await shiftWeights(
      {
        routes: head.routes,
        live: live.map((r) => r.read),
        desired: targetGroupWeights(head, head.weights),
        expect: targetGroupWeights(head, gate.expected),
        dryRun: false,
        settleMs: options.settings.settleMs,
      },
      { client: deps.aws(head.region).elbv2, ...shiftDeps(run, head) },
    );
    out.appliedAt = shift.appliedAt?.toISOString();
    deps.logger.info(
      `Shifted every route to ${weightsText(head)(head.weights)} at ${out.appliedAt}.`,
    );
    return shift;
  } catch (e) {
    if (e instanceof ShiftFailedError) return { failed: e };
    throw e;
  }
}

/** Stage verify: the file's analysis from the moment the shift was confirmed. */
async function verifyStage(
  run: FileRun,
  head: RolloutFile,
  gate: GateResult,
  shift: ShiftResult,
): Promise<{ result?: AnalysisResult; error?: unknown }> {
  const { deps, out, options } = run;
  const targets = gate.targets;
  if (!targets) return { error: new Error('the analysis targets were not resolved') };
  const { elbv2, cloudwatch } = deps.aws(head.region);
  try {
    const result = await deps.logger.group(`Verifying: ${run.path}`, () =>
      runAnalysis(
        {
          analysis: head.analysis,
          targets,
          since: shift.appliedAt?.getTime() ?? deps.clock.now().getTime(),
          cloudWatchPeriodMs: options.settings.cloudWatchPeriodMs,
          cloudWatchDelayMs: options.settings.cloudWatchDelayMs,
        },
        {
          cloudwatch,
          elbv2,
          fetch: deps.fetch,
          clock: abortableClock(deps.clock, deps.signal),
          logger: deps.logger,
          ...(deps.signal ? { signal: deps.signal } : {}),
        },
      ),
    );
    out.verdict = result.verdict;
    out.analysis = {
      result,
      analysis: head.analysis,
      report: buildReport(result, head.analysis, targets),
    };
    return { result };
  } catch (e) {
    return { error: e };
  }
}

function failureReason(
  run: FileRun,
  verdict: { result?: AnalysisResult; error?: unknown },
): string {
  if (verdict.result) return verdict.result.verdict;
  if (run.deps.signal?.aborted) return 'the job was cancelled during verification';
  if (verdict.error instanceof Error && !(verdict.error instanceof ConfigurationError)) {
    run.deps.logger.debug(verdict.error.stack ?? '');
  }
  return `verification failed: ${errorMessage(verdict.error)}`;
}

/**
 * Stage handoff (an owner step): the CronJobs and singletons move from the old owner to the new
 * one; on failure the handoff restores the old owner itself, and a PR puts owner back in git.
 */
async function handoffStage(
  run: FileRun,
  loaded: Loaded,
  handoff: NonNullable<GateResult['handoff']>,
): Promise<void> {
  const { head, headText } = loaded;
  const { deps, out, options, event } = run;
  const result = await deps.logger.group(
    `Handing over CronJobs and singletons: ${run.path} (${handoff.from} → ${handoff.to})`,
    () => runHandoff(head, handoff.from, handoff.to, deps),
  );
  if ('refused' in result) {
    refuse(
      out,
      result.refused.map((message) => ({ message, at: head.locate(['owner']) })),
    );
    return;
  }
  out.handoff = result;
  out.message = result.message;
  run.endedAt = deps.clock.now();
  if (result.status === 'unchanged') {
    out.status = 'unchanged';
    return;
  }
  const ok = result.status === 'handed-off';
  out.status = ok ? 'applied' : result.status === 'restored' ? 'rolled-back' : 'failed';
  if (!ok) {
    const at = head.locate(['owner']);
    out.annotations.push({ file: out.path, line: at.line, col: at.col, message: out.message });
  }
  if (result.status === 'restored') {
    await githubStep(deps.budget, out, 'open the reconcile PR', async () => {
      const pr = await openOwnerReconcilePullRequest(deps, {
        path: out.path,
        file: head,
        text: headText,
        baseBranch: event.defaultBranch,
        owner: handoff.from,
        title: `rollout ${head.name}: owner back to ${handoff.from} — the handoff to ${handoff.to} was undone`,
        body: [
          `The handoff of \`${out.path}\` from **${handoff.from}** to **${handoff.to}** was undone:`,
          '',
          '```',
          result.message,
          '```',
          '',
          `Every CronJob and singleton runs on **${handoff.from}** again (read back). This PR sets \`owner\` back to ${handoff.from}, so git and the clusters agree. Merging it changes nothing on the clusters.`,
          ...(options.settings.runUrl ? ['', `Run: ${options.settings.runUrl}`] : []),
        ].join('\n'),
      });
      if (pr) out.reconcile = pr;
    });
  }
  await githubStep(
    deps.budget,
    out,
    ok ? 'record the deployment' : 'record the failed deployment',
    async () => {
      const d = await deps.github.recordDeployment({
        ref: event.after,
        environment: head.name,
        description: deploymentDescription(
          ok
            ? `owner ${handoff.from} → ${handoff.to}: handed over`
            : `owner ${handoff.from} → ${handoff.to} ${result.status}: ${result.state}`,
        ),
        state: ok ? 'success' : 'failure',
        ...(options.settings.runUrl ? { logUrl: options.settings.runUrl } : {}),
      });
      out.deployment = d.id;
    },
  );
  await githubStep(deps.budget, out, 'comment on the merged PR', async () => {
    for (const pr of await run.merged())
      await deps.github.comment(pr.number, applyComment(out, options.settings.runUrl));
  });
}

/** Stage record, after a verified step: the deployment, the comment, the next step's PR. */
async function recordSuccess(
  run: FileRun,
  head: RolloutFile,
  result: AnalysisResult,
): Promise<void> {
  const { deps, out, options, event, path } = run;
  run.endedAt = deps.clock.now();
  const show = weightsText(head);
  out.status = 'applied';
  out.message = `Applied ${show(head.weights)} on ${head.routes.length} route(s) and verified: ${result.verdict}.`;
  await githubStep(deps.budget, out, 'record the deployment', async () => {
    const d = await deps.github.recordDeployment({
      ref: event.after,
      environment: head.name,
      description: deploymentDescription(`${show(head.weights)}: ${result.verdict}`),
      state: 'success',
      ...(options.settings.runUrl ? { logUrl: options.settings.runUrl } : {}),
    });
    out.deployment = d.id;
  });
  await githubStep(deps.budget, out, 'comment on the merged PR', async () => {
    for (const pr of await run.merged()) {
      await deps.github.comment(pr.number, applyComment(out, options.settings.runUrl));
    }
  });
  if (!options.autoAdvance) return;
  await githubStep(deps.budget, out, 'open the advance PR', async () => {
    const tip = await deps.github.fileAt(path, event.defaultBranch);
    const tipFile = tip === undefined ? undefined : tryParse(tip, path);
    if (
      !tip ||
      !tipFile ||
      !('file' in tipFile) ||
      !sameClusterWeights(tipFile.file.weights, head.weights)
    ) {
      deps.logger.warning(
        `${path} on ${event.defaultBranch} no longer has the weights just applied; not opening an advance PR.`,
      );
      return;
    }
    const { pr } = await openAdvancePullRequest(deps, {
      path,
      file: tipFile.file,
      text: tip,
      baseBranch: event.defaultBranch,
      cloudWatchPeriodMs: options.settings.cloudWatchPeriodMs,
      cloudWatchDelayMs: options.settings.cloudWatchDelayMs,
      context: `Opened after the step to ${show(head.weights)} was applied and verified (${result.verdict}).`,
      ...(options.settings.runUrl ? { runUrl: options.settings.runUrl } : {}),
    });
    if (pr) out.advance = pr;
  });
}

/** Stage record, after a restore: say what happened, open the reconcile PR, tell the merged PR. */
async function rolledBack(
  run: FileRun,
  head: RolloutFile,
  headText: string,
  why: { reason: string; detail?: string; live: ClusterWeights },
): Promise<void> {
  const { deps, out, options, event } = run;
  run.reason = why.reason;
  run.endedAt = deps.clock.now();
  const show = weightsText(head);
  const notRestored = out.restored?.notRestored ?? [];
  out.status = notRestored.length === 0 ? 'rolled-back' : 'failed';
  out.message =
    notRestored.length === 0
      ? `Rolled back to ${show(why.live)} (restored and confirmed by read-back on every route): ${why.reason}.`
      : [
          `The step to ${show(head.weights)} failed (${why.reason}) and ${notRestored.length} route(s) could NOT be restored or confirmed: ` +
            `${notRestored.map((n) => `${shortName(n.arn)} (${n.state === 'changed' ? 'left changed' : 'unknown, could not be read'}: ${n.reason})`).join('; ')}. Set them back to ${show(why.live)} by hand now:`,
          // A failed shift's own message (the detail below) already ends with the commands.
          ...(why.detail ? [] : notRestored.map((n) => `  ${n.command}`)),
        ].join('\n');
  if (why.detail) out.message += `\n${why.detail}`;
  // After a cancel the runner may kill the step during the GitHub calls below: the ALB's state
  // is in the log first.
  if (deps.signal?.aborted) deps.logger.warning(out.message);
  const at = head.locate(['weights']);
  out.annotations.push({ file: out.path, line: at.line, col: at.col, message: out.message });

  if (notRestored.length === 0) {
    await githubStep(deps.budget, out, 'open the reconcile PR', async () => {
      const pr = await openReconcilePullRequest(deps, {
        path: out.path,
        file: head,
        text: headText,
        baseBranch: event.defaultBranch,
        live: why.live,
        title: `rollout ${head.name}: back to ${show(why.live)} — ${truncate(why.reason, 160)}`,
        body: reconcileBody(out, head, why, options.settings.runUrl),
      });
      if (pr) out.reconcile = pr;
    });
  }
  await githubStep(deps.budget, out, 'record the failed deployment', async () => {
    const d = await deps.github.recordDeployment({
      ref: event.after,
      environment: head.name,
      description: deploymentDescription(`${show(head.weights)} rolled back: ${why.reason}`),
      state: 'failure',
      ...(options.settings.runUrl ? { logUrl: options.settings.runUrl } : {}),
    });
    out.deployment = d.id;
  });
  await githubStep(deps.budget, out, 'comment on the merged PR', async () => {
    for (const pr of await run.merged())
      await deps.github.comment(pr.number, applyComment(out, options.settings.runUrl));
  });
}

/** Ends a file as refused: every problem in the message, each as an annotation at its place. */
function refuse(
  out: FileApply,
  problems: { message: string; at: { line: number; col: number } }[],
): void {
  out.status = 'refused';
  out.message = `${problems.map((p) => p.message).join('\n')} Nothing was changed.`;
  for (const p of problems) {
    out.annotations.push({ file: out.path, line: p.at.line, col: p.at.col, message: p.message });
  }
}

/** What the shift and restore need besides the client: the clock, the logger, cluster names. */
function shiftDeps(run: FileRun, head: RolloutFile) {
  const names = new Map(head.clusters.map((c) => [c.targetGroup, c.name]));
  return {
    logger: run.deps.logger,
    clock: run.deps.clock,
    ...(run.deps.budget ? { budget: run.deps.budget } : {}),
    label: (tg: string) => names.get(tg) ?? shortName(tg),
    ...(run.deps.readBackDelayMs !== undefined
      ? { readBackDelayMs: run.deps.readBackDelayMs }
      : {}),
  };
}

function names(options: ApplyOptions): OptionNames {
  return options.settings.optionNames ?? PLAIN_OPTION_NAMES;
}

function weightsText(head: RolloutFile): (w: ClusterWeights) => string {
  const order = head.clusters.map((c) => c.name);
  return (w) => formatClusterWeights(w, order);
}

/** A GitHub call after the ALB work: its failure is reported, never allowed to hide what the ALB has. */
async function githubStep(
  budget: CancelBudget | undefined,
  out: FileApply,
  what: string,
  fn: () => Promise<void>,
): Promise<void> {
  // After a cancel, GitHub gets what is left of the budget, and no more.
  const deadline = budget?.signal.aborted ? budget.deadline() : undefined;
  try {
    await untilAborted(fn(), deadline?.signal);
  } catch (e) {
    out.githubErrors.push(
      deadline?.signal.aborted
        ? `could not ${what}: the job was cancelled and the runner's kill was near`
        : `could not ${what}: ${errorMessage(e)}`,
    );
  } finally {
    deadline?.dispose();
  }
}

function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

/** GitHub limits a deployment status description to 140 characters. */
function deploymentDescription(text: string): string {
  return truncate(text, 140);
}

function fileReport(f: FileApply): Record<string, unknown> {
  const { analysis, annotations: _a, ...rest } = f;
  return { ...rest, ...(analysis ? { analysis: analysis.report } : {}) };
}
