/**
 * Shifting weights on a set of ALB routes in lockstep: read every route, refuse on drift or an
 * oversized step, write each route that differs, read each write back, and on any failure or
 * cancellation put every route touched back to exactly what was read, confirmed by read-back.
 */
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  type Action,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  ConfigurationError,
  ExplainedError,
  errorMessage,
  nothingWasChanged,
} from '../common/errors.js';
import {
  budgetFromSignal,
  DeadlineError,
  FINAL_WORDS_MS,
  formatSeconds,
  untilAborted,
  type CancelBudget,
} from '../common/cancel.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { shortName } from '../aws/arn.js';
import {
  awsErrorText,
  describeArn,
  describeRef,
  describeRoute,
  isAwsCallError,
  writeRoute,
} from './io.js';
import { mapWithConcurrency } from '../common/concurrency.js';
import {
  recoveryCommand,
  restoreReportLines,
  restoreRoutes,
  RESTORE_CONCURRENCY,
  type NotRestored,
  type RestoreReport,
} from './restore.js';
import {
  formatWeights,
  readForwardWeights,
  sameWeights,
  withWeights,
  type LiveRoute,
  type RouteRef,
  type RouteWeights,
  type TargetGroupLabel,
  type Weights,
} from './forward.js';

export interface ShiftRequest {
  routes: RouteRef[];
  /** Target group ARN -> weight wanted on every route. */
  desired: Weights;
  /** Compare-and-swap: the weights every route must have now, or nothing is changed. */
  expect?: Weights;
  /** Largest allowed increase of any one target group's weight on any route. */
  maxStep?: number;
  dryRun: boolean;
  /** Wait after the last confirmed write, for the ALB data plane to use the new weights. */
  settleMs: number;
  /**
   * The routes as the caller just read them (readRoutes), so the shift does not read them
   * again; the compare-and-swap of `expect` still holds against them.
   */
  live?: LiveRoute[];
  /**
   * Write the routes several at a time instead of one by one. Faster (an emergency rollback);
   * but a failing write no longer stops the routes after it from being written (all are then
   * restored). Default: one by one, so a bad write touches as little as possible.
   */
  parallel?: boolean;
}

export interface ShiftDeps {
  client: ElasticLoadBalancingV2Client;
  logger: Logger;
  clock: Clock;
  /**
   * The job's cancellation budget (runAction's): at its first signal the shift stops, reports
   * each route's state, and restores before the runner's kill.
   */
  budget?: CancelBudget;
  /** Without a budget: aborts when the job is cancelled, treated as the runner's SIGINT. */
  signal?: AbortSignal;
  /** Read-back attempts before a mismatch counts as a failed write. */
  readBackAttempts?: number;
  readBackDelayMs?: number;
  /** How logs and messages name target groups (a rollout file's cluster names). */
  label?: TargetGroupLabel;
}

export interface RouteOutcome {
  ref: RouteRef;
  before: Weights;
  after: Weights;
  /** written: changed and confirmed; unchanged: already at the desired weights. */
  status: 'written' | 'unchanged' | 'would-write';
}

export interface ShiftResult {
  previous: RouteWeights;
  desired: RouteWeights;
  applied: RouteWeights;
  changed: boolean;
  dryRun: boolean;
  /**
   * When the last write was confirmed and the settle time had passed; when nothing had to be
   * written, when the routes were read and found at the desired weights. Unset on a dry run.
   */
  appliedAt?: Date;
  routes: RouteOutcome[];
  /**
   * Every route exactly as read before the shift, so a caller that later decides to undo the
   * step (a failed verdict) can put back the very same actions with `restoreRoutes`.
   */
  before: LiveRoute[];
}

/** A failure after writing started. Says which routes were restored and which were not. */
export class ShiftFailedError extends ExplainedError {
  override name = 'ShiftFailedError';
  constructor(
    message: string,
    readonly previous: RouteWeights,
    readonly restored: string[],
    readonly notRestored: NotRestored[],
    readonly cancelled: boolean,
  ) {
    super(message);
  }
}

/** A failure before any write: the message ends by saying that nothing was changed. */
export class NothingChangedError extends ExplainedError {
  override name = 'NothingChangedError';
  constructor(
    message: string,
    readonly cancelled: boolean,
  ) {
    super(message);
  }
}

/**
 * How long a write in flight at cancellation is given to end; then the restore proceeds (and
 * reads the route back, since the write may still land).
 */
export const WRITE_GRACE_MS = 2_000;
/** Kept for the restore when bounding a write in flight: one write and a read-back per route. */
const RESTORE_RESERVE_MS = 3_000;

/** A route AWS has accepted the new weights for (read back or not). */
function isChanged(state: RouteState | undefined): boolean {
  return state === 'confirmed' || state === 'written';
}

/** The later routes' report first: both lists stay in reverse order of writing. */
function mergeReports(later: RestoreReport, earlier: RestoreReport | undefined): RestoreReport {
  if (!earlier) return later;
  const heldMs = later.heldMs ?? earlier.heldMs;
  return {
    restored: [...later.restored, ...earlier.restored],
    notRestored: [...later.notRestored, ...earlier.notRestored],
    ...(heldMs !== undefined ? { heldMs } : {}),
  };
}

/** How long a write in flight at the first signal may still take. */
function writeGrace(budget: CancelBudget): number {
  return Math.min(WRITE_GRACE_MS, budget.timeLeft(FINAL_WORDS_MS + RESTORE_RESERVE_MS));
}

/** What is known about one route during the shift, for the report at the first signal. */
type RouteState = 'untouched' | 'in-flight' | 'written' | 'confirmed' | 'failed' | 'abandoned';

export async function shiftWeights(req: ShiftRequest, deps: ShiftDeps): Promise<ShiftResult> {
  const { logger } = deps;
  const budget = deps.budget ?? budgetFromSignal(deps.signal);
  const targetGroups = Object.keys(req.desired);
  const fmt = (w: Weights): string => formatWeights(w, deps.label);

  let live: LiveRoute[];
  try {
    live =
      req.live ??
      (await logger.group('Reading live weights', async () => {
        const routes = await readRoutes(deps.client, req.routes, targetGroups, budget.signal);
        for (const r of routes) {
          logger.info(`${describeRef(r.ref)}: ${fmt(r.weights)}`);
          logger.debug(`${r.ref.arn} actions: ${JSON.stringify(r.actions)}`);
        }
        return routes;
      }));
    checkExpected(live, req.expect, fmt);
    checkMaxStep(live, req.desired, req.maxStep);
    if (budget.signal.aborted) throw budget.signal.reason;
  } catch (e) {
    throw nothingChanged(e, budget);
  }

  const previous = routeWeights(live, (r) => r.weights);
  const desired = routeWeights(live, () => ({ ...req.desired }));

  const toWrite = live.filter((r) => !sameWeights(r.weights, req.desired));
  const outcome = (r: LiveRoute, status: RouteOutcome['status']): RouteOutcome => ({
    ref: r.ref,
    before: r.weights,
    after: status === 'written' ? { ...req.desired } : r.weights,
    status,
  });

  if (toWrite.length === 0) {
    logger.info(`Every route is already at ${fmt(req.desired)}; nothing to change.`);
    return {
      previous,
      desired,
      applied: previous,
      changed: false,
      dryRun: req.dryRun,
      // The weights were already in place when read: a verification may count from now.
      ...(req.dryRun ? {} : { appliedAt: deps.clock.now() }),
      routes: live.map((r) => outcome(r, 'unchanged')),
      before: live,
    };
  }

  if (req.dryRun) {
    for (const r of toWrite) {
      logger.info(
        `Dry run: would set ${describeRef(r.ref)} from ${fmt(r.weights)} to ${fmt(req.desired)}.`,
      );
    }
    return {
      previous,
      desired,
      applied: previous,
      changed: false,
      dryRun: true,
      routes: live.map((r) => outcome(r, toWrite.includes(r) ? 'would-write' : 'unchanged')),
      before: live,
    };
  }

  // Routes whose write was attempted: a write that failed or was cut off may still have landed.
  const touched: LiveRoute[] = [];
  const state = new Map<string, RouteState>(toWrite.map((r) => [r.ref.arn, 'untouched']));
  // At the first signal, before anything else: what each route is known to have, and what
  // happens next (if the runner kills the step early, the log still says this much). The
  // routes known to be changed are restored at once, while a write in flight has its grace.
  let early: { routes: LiveRoute[]; report: Promise<RestoreReport> } | undefined;
  const onCancel = (): void => {
    reportCancelState(deps, budget, live, toWrite, state, req);
    const changed = touched.filter((r) => isChanged(state.get(r.ref.arn)));
    if (changed.length === 0) return;
    early = {
      routes: changed,
      report: restoreRoutes({ ...deps, budget }, changed, targetGroups),
    };
  };
  budget.signal.addEventListener('abort', onCancel, { once: true });
  let appliedAt: Date;
  try {
    await logger.group('Shifting', async () => {
      const shiftRoute = async (route: LiveRoute): Promise<void> => {
        throwIfAborted(budget.signal);
        touched.push(route);
        const arn = route.ref.arn;
        const actions = withWeights(route.actions, req.desired);
        logger.debug(`${arn} new actions: ${JSON.stringify(actions)}`);
        // A write in flight at cancellation gets a short grace, then is abandoned.
        const grace = budget.deadline({
          afterCancelMs: WRITE_GRACE_MS,
          reserveMs: FINAL_WORDS_MS + RESTORE_RESERVE_MS,
        });
        state.set(arn, 'in-flight');
        try {
          await writeRoute(deps.client, route.ref, actions, grace.signal);
          state.set(arn, 'written');
        } catch (e) {
          // Abandoned (our grace ended, or every SDK attempt timed out): AWS may still apply it.
          state.set(arn, grace.signal.aborted || writeTimedOut(e) ? 'abandoned' : 'failed');
          if (grace.signal.aborted) {
            throw new DeadlineError(
              `the write of ${describeRef(route.ref)} was still in flight when its grace after the cancel ended`,
            );
          }
          throw e;
        } finally {
          grace.dispose();
        }
        await confirmWeights(deps, route.ref, targetGroups, req.desired, budget.signal);
        state.set(arn, 'confirmed');
        logger.info(
          `${describeRef(route.ref)}: ${fmt(route.weights)} -> ${fmt(req.desired)} (confirmed)`,
        );
      };
      if (req.parallel) {
        // Every write started must have ended (or been abandoned after its grace) before a
        // restore begins: settle all, then fail on the first failure.
        const settled = await mapWithConcurrency(toWrite, WRITE_CONCURRENCY, (route) =>
          shiftRoute(route).then(
            () => undefined,
            (e: unknown) => ({ error: e }),
          ),
        );
        const failure = settled.find((r) => r !== undefined);
        if (failure) throw failure.error;
      } else {
        for (const route of toWrite) await shiftRoute(route);
      }
      if (req.settleMs > 0) {
        logger.info(`Waiting ${req.settleMs / 1000}s for the ALB to apply the new weights.`);
        await deps.clock.sleep(req.settleMs, budget.signal);
      }
    });
    // A cancel that came after the last write, with no settle wait to end, still restores.
    throwIfAborted(budget.signal);
    appliedAt = deps.clock.now();
  } catch (e) {
    const cancelled = budget.signal.aborted;
    const cause = cancelled
      ? `the job was cancelled (${errorMessage(budget.signal.reason)})`
      : errorMessage(e);
    // Routes whose write AWS accepted are changed: written back at once. The others (write
    // failed, abandoned, or never answered) may not have changed: looked at first.
    const rest = touched.filter((r) => !early?.routes.includes(r));
    const uncertain = new Set(
      rest.map((r) => r.ref.arn).filter((arn) => !isChanged(state.get(arn))),
    );
    const abandoned = rest.filter((r) => state.get(r.ref.arn) === 'abandoned');
    const report = await logger.group('Restoring previous weights', async () => {
      const done = await early?.report;
      const more = await restoreRoutes({ ...deps, budget }, rest, targetGroups, {
        uncertain,
        abandonedWrite: abandoned.length > 0,
      });
      return mergeReports(more, done);
    });
    throw new ShiftFailedError(
      restoreMessage(cause, report, live.length, fmt, abandoned, req.desired),
      previous,
      report.restored,
      report.notRestored,
      cancelled,
    );
  } finally {
    budget.signal.removeEventListener('abort', onCancel);
  }

  return {
    previous,
    desired,
    applied: desired,
    changed: true,
    dryRun: false,
    appliedAt,
    routes: live.map((r) => outcome(r, toWrite.includes(r) ? 'written' : 'unchanged')),
    before: live,
  };
}

export { restoreRoutes, recoveryCommand, type NotRestored, type RestoreReport } from './restore.js';
export { describeRef } from './io.js';

/** Routes written at once in parallel mode (an emergency rollback). */
const WRITE_CONCURRENCY = RESTORE_CONCURRENCY;

/** Reads every route; reports every route that is not a shiftable forward at once. */
export async function readRoutes(
  client: ElasticLoadBalancingV2Client,
  refs: readonly RouteRef[],
  targetGroups: readonly string[],
  signal?: AbortSignal,
): Promise<LiveRoute[]> {
  const described = await describeRoutes(client, refs, signal);
  const problems: string[] = [];
  const routes: LiveRoute[] = [];
  for (const ref of refs) {
    const { actions, priority } = described.get(ref.arn) as DescribedRoute;
    const forward = readForwardWeights(ref, actions, targetGroups);
    if ('problem' in forward) problems.push(forward.problem);
    else routes.push({ ref, actions, weights: forward.weights, ...(priority ? { priority } : {}) });
  }
  if (problems.length > 0) {
    throw new ConfigurationError(
      problems.length === 1
        ? (problems[0] as string)
        : `${problems.length} routes cannot be shifted:\n- ${problems.join('\n- ')}`,
    );
  }
  return routes;
}

interface DescribedRoute {
  actions: Action[];
  priority?: string;
}

/** ARNs per Describe call when reading many routes at once. */
const DESCRIBE_BATCH = 20;

/**
 * Reads many routes with one Describe call per batch of listeners or rules. A batch that names
 * an unknown ARN fails whole, so it is read again one route at a time to name the missing one.
 */
async function describeRoutes(
  client: ElasticLoadBalancingV2Client,
  refs: readonly RouteRef[],
  signal?: AbortSignal,
): Promise<Map<string, DescribedRoute>> {
  const out = new Map<string, DescribedRoute>();
  for (const kind of ['listener', 'rule'] as const) {
    const arns = refs.filter((r) => r.kind === kind).map((r) => r.arn);
    for (let i = 0; i < arns.length; i += DESCRIBE_BATCH) {
      const batch = arns.slice(i, i + DESCRIBE_BATCH);
      try {
        if (kind === 'listener') {
          const res = await untilAborted(
            client.send(new DescribeListenersCommand({ ListenerArns: batch }), {
              abortSignal: signal,
            }),
            signal,
          );
          for (const l of res.Listeners ?? []) {
            out.set(l.ListenerArn as string, { actions: l.DefaultActions ?? [] });
          }
        } else {
          const res = await untilAborted(
            client.send(new DescribeRulesCommand({ RuleArns: batch }), { abortSignal: signal }),
            signal,
          );
          for (const r of res.Rules ?? []) {
            if (r.IsDefault) continue; // described one by one below, to say what to do
            out.set(r.RuleArn as string, {
              actions: r.Actions ?? [],
              ...(r.Priority ? { priority: r.Priority } : {}),
            });
          }
        }
      } catch (e) {
        const name = (e as { name?: string }).name;
        if (name !== 'ListenerNotFoundException' && name !== 'RuleNotFoundException') throw e;
      }
      for (const arn of batch) {
        if (!out.has(arn)) out.set(arn, await describeRoute(client, { kind, arn }, signal));
      }
    }
  }
  return out;
}

/** Reads the route back until it shows `expected`, a few times for eventual consistency. */
async function confirmWeights(
  deps: Pick<ShiftDeps, 'client' | 'clock' | 'readBackAttempts' | 'readBackDelayMs' | 'label'>,
  ref: RouteRef,
  targetGroups: readonly string[],
  expected: Weights,
  signal?: AbortSignal,
): Promise<void> {
  const attempts = deps.readBackAttempts ?? 3;
  let seen = 'nothing';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let actions: Action[];
    try {
      ({ actions } = await describeRoute(deps.client, ref, signal));
    } catch (e) {
      if (signal?.aborted || !isAwsCallError(e)) throw e;
      throw new Error(`read-back of ${describeRef(ref)} failed: ${awsErrorText(e)}`, { cause: e });
    }
    const forward = readForwardWeights(ref, actions, targetGroups);
    if ('weights' in forward && sameWeights(forward.weights, expected)) return;
    seen = 'weights' in forward ? formatWeights(forward.weights, deps.label) : forward.problem;
    if (attempt < attempts) await deps.clock.sleep(deps.readBackDelayMs ?? 1000, signal);
  }
  throw new Error(
    `read-back of ${describeRef(ref)} shows ${seen}, not ${formatWeights(expected, deps.label)}, after ${attempts} reads`,
  );
}

function checkExpected(
  live: readonly LiveRoute[],
  expect: Weights | undefined,
  fmt: (w: Weights) => string,
): void {
  if (!expect) return;
  const drifted = live.filter((r) => !sameWeights(r.weights, expect));
  if (drifted.length === 0) return;
  const lines = drifted.map(
    (r) => `- ${describeRef(r.ref)}: live ${fmt(r.weights)}, expected ${fmt(expect)}`,
  );
  throw new ConfigurationError(
    `Drift: ${drifted.length} of ${live.length} route(s) do not have the expected weights, so nothing was changed.\n` +
      `${lines.join('\n')}\n` +
      `Someone or something changed the ALB outside this rollout. Find out why, then either put the ` +
      `routes back to the expected weights or update "expect" (and the rollout file) to the live state.`,
  );
}

function checkMaxStep(
  live: readonly LiveRoute[],
  desired: Weights,
  maxStep: number | undefined,
): void {
  if (maxStep === undefined) return;
  const tooLarge: string[] = [];
  for (const r of live) {
    for (const [tg, weight] of Object.entries(desired)) {
      const increase = weight - (r.weights[tg] ?? 0);
      if (increase > maxStep) {
        tooLarge.push(
          `${describeRef(r.ref)}: ${shortName(tg)} ${r.weights[tg] ?? 0} -> ${weight} (+${increase})`,
        );
      }
    }
  }
  if (tooLarge.length > 0) {
    throw new ConfigurationError(
      `The shift raises a weight by more than max-step (${maxStep}), so nothing was changed:\n- ` +
        `${tooLarge.join('\n- ')}\nShift in smaller steps, or raise "max-step" if this jump is intended.`,
    );
  }
}

function restoreMessage(
  cause: string,
  report: RestoreReport,
  routeCount: number,
  fmt: (w: Weights) => string,
  abandoned: readonly LiveRoute[],
  desired: Weights,
): string {
  const { restored, notRestored } = report;
  const lines = [`Shifting failed: ${cause.replace(/\.$/, '')}.`];
  // A write we stopped waiting for may land after everything below was confirmed.
  const late = abandoned
    .filter((r) => restored.includes(r.ref.arn))
    .flatMap((r) => [
      `The write of ${describeRef(r.ref)} to ${fmt(desired)} was abandoned in flight and AWS may still apply it: ` +
        `after its restore the route was watched for ${formatSeconds(report.heldMs ?? 0)}. ` +
        `If it later shows ${fmt(desired)}, put it back with:`,
      `  ${recoveryCommand(r)}`,
    ]);
  if (notRestored.length === 0) {
    lines.push(
      restored.length === 0
        ? 'No route had been written; nothing was changed: every route keeps its previous weights.'
        : `Every route is at its previous weights: restored and confirmed. Restored to the previous weights (confirmed by read-back): ${restored.map(describeArn).join('; ')}.`,
    );
    return [...lines, ...late].join('\n');
  }
  if (restored.length > 0) {
    lines.push(
      `Restored to the previous weights (confirmed by read-back): ${restored.map(describeArn).join('; ')}.`,
    );
  }
  const changed = notRestored.filter((n) => n.state === 'changed').length;
  const unknown = notRestored.length - changed;
  const parts = [
    changed ? `${changed} left changed` : '',
    unknown ? `${unknown} in an unknown state` : '',
  ].filter(Boolean);
  lines.push(
    `${notRestored.length} of ${routeCount} route(s) not restored (${parts.join(', ')}); put each back with its command:`,
  );
  lines.push(...late, ...restoreReportLines(report, fmt, describeArn));
  return lines.join('\n');
}

/** Every route's state at the first signal, and what the shift does next. */
function reportCancelState(
  deps: ShiftDeps,
  budget: CancelBudget,
  live: readonly LiveRoute[],
  toWrite: readonly LiveRoute[],
  state: ReadonlyMap<string, RouteState>,
  req: ShiftRequest,
): void {
  const fmt = (w: Weights): string => formatWeights(w, deps.label);
  const lines = live.map((r) => {
    const name = describeRef(r.ref);
    switch (toWrite.includes(r) ? state.get(r.ref.arn) : 'unchanged') {
      case 'confirmed':
        return `- ${name}: changed to ${fmt(req.desired)} (confirmed); restoring it now to ${fmt(r.weights)}`;
      case 'written':
        return `- ${name}: changed to ${fmt(req.desired)} (AWS accepted, not read back yet); restoring it now to ${fmt(r.weights)}`;
      case 'in-flight':
        return `- ${name}: write to ${fmt(req.desired)} in flight, given ${formatSeconds(writeGrace(budget))} to end; then read back and restored to ${fmt(r.weights)}`;
      case 'failed':
      case 'abandoned':
        return `- ${name}: its write failed or was abandoned; will be read back and restored to ${fmt(r.weights)} if it landed`;
      case 'unchanged':
        return `- ${name}: untouched, already at ${fmt(r.weights)}`;
      default:
        return `- ${name}: untouched, at ${fmt(r.weights)}; will not be written`;
    }
  });
  deps.logger.warning(
    `Cancelled during the shift (${errorMessage(budget.signal.reason)}); ${formatSeconds(budget.timeLeft())} left to restore. Routes now:`,
  );
  // One line per route, plain info: each stays readable in the raw log.
  for (const line of lines) deps.logger.info(line);
}

/**
 * A failure before any write, said as such: a user's mistake keeps its diagnostics, AWS'
 * refusals and timeouts are explained, a cancellation says it changed nothing; our bugs keep
 * their stack.
 */
function nothingChanged(e: unknown, budget: CancelBudget): unknown {
  const unchanged = 'Nothing was changed.';
  if (budget.signal.aborted) {
    return new NothingChangedError(
      `Cancelled (${errorMessage(budget.signal.reason)}) before any write; nothing was changed.`,
      true,
    );
  }
  if (e instanceof ConfigurationError) return nothingWasChanged(e);
  if (isAwsCallError(e)) {
    return new NothingChangedError(
      `Could not read the routes: ${awsErrorText(e)}. ${unchanged}`,
      false,
    );
  }
  if (e instanceof Error)
    e.message = `${e.message} (${unchanged.toLowerCase().replace(/\.$/, '')})`;
  return e;
}

/** Whether the failure was a write the SDK gave up waiting for (it may land later). */
function writeTimedOut(e: unknown): boolean {
  const cause = (e as { cause?: { name?: string; code?: string } }).cause;
  return cause?.name === 'TimeoutError' || cause?.code === 'ETIMEDOUT';
}

function routeWeights(routes: readonly LiveRoute[], pick: (r: LiveRoute) => Weights): RouteWeights {
  const out: RouteWeights = {};
  for (const r of routes) out[r.ref.arn] = pick(r);
  return out;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted)
    throw signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
}
