/**
 * Shifting weights on a set of ALB routes in lockstep: read every route, refuse on drift or an
 * oversized step, write each route that differs, read each write back, and on any failure or
 * cancellation put every route touched back to exactly what was read, confirmed by read-back.
 */
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type Action,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ConfigurationError, ExplainedError, errorMessage } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { shortName } from '../aws/arn.js';
import {
  formatWeights,
  readForwardWeights,
  sameWeights,
  toWritableAction,
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
  /** Aborts when the job is cancelled (SIGINT/SIGTERM); the shift then restores and fails. */
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
    readonly notRestored: { arn: string; reason: string }[],
    readonly cancelled: boolean,
  ) {
    super(message);
  }
}

export async function shiftWeights(req: ShiftRequest, deps: ShiftDeps): Promise<ShiftResult> {
  const { logger } = deps;
  const targetGroups = Object.keys(req.desired);
  const fmt = (w: Weights): string => formatWeights(w, deps.label);

  const live =
    req.live ??
    (await logger.group('Reading live weights', async () => {
      const routes = await readRoutes(deps.client, req.routes, targetGroups, deps.signal);
      for (const r of routes) {
        logger.info(`${describeRef(r.ref)}: ${fmt(r.weights)}`);
        logger.debug(`${r.ref.arn} actions: ${JSON.stringify(r.actions)}`);
      }
      return routes;
    }));

  const previous = routeWeights(live, (r) => r.weights);
  const desired = routeWeights(live, () => ({ ...req.desired }));
  checkExpected(live, req.expect, fmt);
  checkMaxStep(live, req.desired, req.maxStep);

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
  let appliedAt: Date;
  try {
    await logger.group('Shifting', async () => {
      const shiftRoute = async (route: LiveRoute): Promise<void> => {
        throwIfAborted(deps.signal);
        touched.push(route);
        const actions = withWeights(route.actions, req.desired);
        logger.debug(`${route.ref.arn} new actions: ${JSON.stringify(actions)}`);
        await writeRoute(deps.client, route.ref, actions);
        await confirmWeights(deps, route.ref, targetGroups, req.desired, deps.signal);
        logger.info(
          `${describeRef(route.ref)}: ${fmt(route.weights)} -> ${fmt(req.desired)} (confirmed)`,
        );
      };
      if (req.parallel) {
        // Every write started must have ended before a restore begins, or a write still in
        // flight could land after it: settle all, then fail on the first failure.
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
        await deps.clock.sleep(req.settleMs, deps.signal);
      }
    });
    appliedAt = deps.clock.now();
  } catch (e) {
    const cancelled = deps.signal?.aborted === true;
    const cause = cancelled
      ? `the job was cancelled (${errorMessage(deps.signal?.reason)})`
      : errorMessage(e);
    const { restored, notRestored } = await logger.group('Restoring previous weights', () =>
      restoreRoutes(deps, touched, targetGroups),
    );
    throw new ShiftFailedError(
      restoreMessage(cause, restored, notRestored, previous, fmt),
      previous,
      restored,
      notRestored,
      cancelled,
    );
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

/**
 * Puts each route back to the actions it had when read, and confirms each by read-back. Routes
 * are independent, so several are restored at once: undoing a bad step is the one place where
 * seconds matter most. Never throws: what could not be restored is returned with the reason.
 * Both lists are in reverse order of `routes` (the last route written first).
 */
export async function restoreRoutes(
  deps: Pick<
    ShiftDeps,
    'client' | 'logger' | 'clock' | 'readBackAttempts' | 'readBackDelayMs' | 'label'
  >,
  routes: readonly LiveRoute[],
  targetGroups: readonly string[],
): Promise<{ restored: string[]; notRestored: { arn: string; reason: string }[] }> {
  const ordered = [...routes].reverse();
  const outcomes = await mapWithConcurrency(ordered, RESTORE_CONCURRENCY, async (route) => {
    try {
      await writeRoute(deps.client, route.ref, route.actions.map(toWritableAction));
      await confirmWeights(deps, route.ref, targetGroups, route.weights);
      deps.logger.info(
        `${describeRef(route.ref)}: restored to ${formatWeights(route.weights, deps.label)} (confirmed)`,
      );
      return undefined;
    } catch (e) {
      // A write AWS rejected (no permission, a validation error) never changed the route; then
      // the restore fails the same way, yet there is nothing to restore. Look before saying so.
      if (await hasWeights(deps.client, route.ref, targetGroups, route.weights)) {
        deps.logger.info(
          `${describeRef(route.ref)}: still has ${formatWeights(route.weights, deps.label)}; its write never landed (confirmed)`,
        );
        return undefined;
      }
      deps.logger.warning(`${describeRef(route.ref)}: could NOT be restored: ${errorMessage(e)}`);
      return errorMessage(e);
    }
  });
  const restored: string[] = [];
  const notRestored: { arn: string; reason: string }[] = [];
  ordered.forEach((route, i) => {
    const reason = outcomes[i];
    if (reason === undefined) restored.push(route.ref.arn);
    else notRestored.push({ arn: route.ref.arn, reason });
  });
  return { restored, notRestored };
}

/** Whether a read of the route shows `weights` now; false when it cannot be read. */
async function hasWeights(
  client: ElasticLoadBalancingV2Client,
  ref: RouteRef,
  targetGroups: readonly string[],
  weights: Weights,
): Promise<boolean> {
  try {
    const { actions } = await describeRoute(client, ref);
    const forward = readForwardWeights(ref, actions, targetGroups);
    return 'weights' in forward && sameWeights(forward.weights, weights);
  } catch {
    return false; // unreadable: report the restore as failed, with the write's error
  }
}

/** Routes restored (or written, in parallel mode) at once: fast, yet well under ELBv2's API rate. */
const RESTORE_CONCURRENCY = 8;
const WRITE_CONCURRENCY = RESTORE_CONCURRENCY;

async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

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
          const res = await client.send(new DescribeListenersCommand({ ListenerArns: batch }), {
            abortSignal: signal,
          });
          for (const l of res.Listeners ?? []) {
            out.set(l.ListenerArn as string, { actions: l.DefaultActions ?? [] });
          }
        } else {
          const res = await client.send(new DescribeRulesCommand({ RuleArns: batch }), {
            abortSignal: signal,
          });
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

async function describeRoute(
  client: ElasticLoadBalancingV2Client,
  ref: RouteRef,
  signal?: AbortSignal,
): Promise<{ actions: Action[]; priority?: string }> {
  try {
    if (ref.kind === 'listener') {
      const out = await client.send(new DescribeListenersCommand({ ListenerArns: [ref.arn] }), {
        abortSignal: signal,
      });
      const listener = out.Listeners?.[0];
      if (!listener) throw new ConfigurationError(`Listener ${ref.arn} was not found.`);
      return { actions: listener.DefaultActions ?? [] };
    }
    const out = await client.send(new DescribeRulesCommand({ RuleArns: [ref.arn] }), {
      abortSignal: signal,
    });
    const rule = out.Rules?.[0];
    if (!rule) throw new ConfigurationError(`Rule ${ref.arn} was not found.`);
    if (rule.IsDefault) {
      throw new ConfigurationError(
        `Rule ${ref.arn} is a listener's default rule, which ALB changes only through its listener: ` +
          `list the listener ARN under "listener:" instead.`,
      );
    }
    return { actions: rule.Actions ?? [], ...(rule.Priority ? { priority: rule.Priority } : {}) };
  } catch (e) {
    throw notFoundAsConfigurationError(e, ref);
  }
}

/**
 * Writes a route's actions. Never aborted midway: a write cut off on our side may still land
 * in AWS after we restored the route, so a cancellation waits for the call in flight to end.
 */
async function writeRoute(
  client: ElasticLoadBalancingV2Client,
  ref: RouteRef,
  actions: Action[],
): Promise<void> {
  try {
    if (ref.kind === 'listener') {
      await client.send(
        new ModifyListenerCommand({ ListenerArn: ref.arn, DefaultActions: actions }),
      );
    } else {
      await client.send(new ModifyRuleCommand({ RuleArn: ref.arn, Actions: actions }));
    }
  } catch (e) {
    const op = ref.kind === 'listener' ? 'ModifyListener' : 'ModifyRule';
    throw new Error(`${op} on ${describeRef(ref)} failed: ${awsErrorText(e)}`, { cause: e });
  }
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
    const { actions } = await describeRoute(deps.client, ref, signal);
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
  restored: string[],
  notRestored: { arn: string; reason: string }[],
  previous: RouteWeights,
  fmt: (w: Weights) => string,
): string {
  const lines = [`Shifting failed: ${cause.replace(/\.$/, '')}.`];
  if (restored.length === 0 && notRestored.length === 0) {
    lines.push('No route had been written; every route keeps its previous weights.');
  }
  if (restored.length > 0) {
    lines.push(
      `Restored to the previous weights (confirmed by read-back): ${restored.map(describeArn).join('; ')}.`,
    );
  }
  for (const { arn, reason } of notRestored) {
    lines.push(
      `NOT restored: ${describeArn(arn)} (${reason}). Set it back by hand to ${fmt(previous[arn] ?? {})}, ` +
        `e.g. with "aws elbv2 ${arn.includes(':listener-rule/') ? 'modify-rule --rule-arn' : 'modify-listener --listener-arn'} ${arn} ...".`,
    );
  }
  return lines.join('\n');
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

function notFoundAsConfigurationError(e: unknown, ref: RouteRef): unknown {
  const name = (e as { name?: string }).name;
  if (name === 'ListenerNotFoundException' || name === 'RuleNotFoundException') {
    return new ConfigurationError(
      `${describeRef(ref)} does not exist (${name}): check the ARN, the region and the account the credentials are for.`,
    );
  }
  return e;
}

function awsErrorText(e: unknown): string {
  const name = (e as { name?: string }).name;
  const message = errorMessage(e);
  return name && name !== 'Error' && !message.startsWith(name) ? `${name}: ${message}` : message;
}

export function describeRef(ref: RouteRef): string {
  return `${ref.kind} ${shortName(ref.arn)}`;
}

function describeArn(arn: string): string {
  return describeRef({ kind: arn.includes(':listener-rule/') ? 'rule' : 'listener', arn });
}
