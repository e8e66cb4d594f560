/**
 * Putting routes back to the actions they had when read, within a deadline, and saying exactly
 * what state each is left in. A write we stopped waiting for may still land in AWS after the
 * restore; so the restore confirms every route by read-back, writes again when a route does not
 * hold, and after an abandoned write keeps watching for HOLD_MS. Never throws.
 */
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { budgetFromSignal, formatSeconds, type CancelBudget } from '../common/cancel.js';
import type { Clock } from '../common/clock.js';
import { mapWithConcurrency } from '../common/concurrency.js';
import type { Logger } from '../common/logger.js';
import {
  formatWeights,
  readForwardWeights,
  sameWeights,
  toWritableAction,
  type LiveRoute,
  type TargetGroupLabel,
  type Weights,
} from './forward.js';
import { awsErrorText, describeRef, describeRoute, writeRoute } from './io.js';

export interface RestoreDeps {
  client: ElasticLoadBalancingV2Client;
  logger: Logger;
  clock: Clock;
  /** The job's cancellation budget: the restore ends before the runner's kill. */
  budget?: CancelBudget;
  /** Without a budget: the job's cancellation signal, treated as the runner's SIGINT. */
  signal?: AbortSignal;
  /** Read-back attempts before a mismatch counts as not holding. */
  readBackAttempts?: number;
  readBackDelayMs?: number;
  label?: TargetGroupLabel;
}

export interface RestoreOptions {
  /**
   * Routes whose own write may or may not have landed (it failed, was abandoned, or was never
   * answered): they are read before anything is written, and left alone if they never changed.
   */
  uncertain?: ReadonlySet<string>;
  /** A write was abandoned while AWS may still apply it: watch the routes for HOLD_MS after. */
  abandonedWrite?: boolean;
}

/** A route the restore could not confirm at its previous weights. */
export interface NotRestored {
  arn: string;
  reason: string;
  /** changed: read back at other weights; unknown: could not be read (it may be either). */
  state: 'changed' | 'unknown';
  /** The weights last read, when the route could be read. */
  seen?: Weights;
  /** The weights it must get back. */
  previous: Weights;
  /** The one command that puts it back. */
  command: string;
}

export interface RestoreReport {
  /** Confirmed at the previous weights by read-back (or found never changed). */
  restored: string[];
  notRestored: NotRestored[];
  /** After an abandoned write: how long the restored routes were watched for it landing. */
  heldMs?: number;
}

/**
 * Without a cancellation, a restore gives up after this long; a cancelled one ends FINAL_WORDS_MS
 * before the runner's kill.
 */
export const RESTORE_MAX_MS = 30_000;
/** After an abandoned write, how long the restored routes are watched for it landing late. */
export const HOLD_MS = 2_000;
const HOLD_POLL_MS = 250;
/** How long the look at a route whose own write may never have landed may take. */
const LOOK_FIRST_MS = 1_000;
/** Routes restored at once: fast, yet well under ELBv2's API rate. */
export const RESTORE_CONCURRENCY = 8;

/**
 * Puts each route back to the actions it had when read, and confirms each by read-back. Routes
 * are independent, so several are restored at once: undoing a bad step is where seconds matter.
 * Both lists are in reverse order of `routes` (the last route written first).
 */
export async function restoreRoutes(
  deps: RestoreDeps,
  routes: readonly LiveRoute[],
  targetGroups: readonly string[],
  options: RestoreOptions = {},
): Promise<RestoreReport> {
  const budget = deps.budget ?? budgetFromSignal(deps.signal);
  const deadline = budget.deadline({ maxMs: RESTORE_MAX_MS });
  const fmt = (w: Weights): string => formatWeights(w, deps.label);
  const ordered = [...routes].reverse();
  if (ordered.length > 0 && budget.cancelledAt() !== undefined) {
    deps.logger.info(
      `Restoring ${ordered.length} route(s) to their previous weights, each confirmed by read-back; ` +
        `${formatSeconds(deadline.remaining())} left before the restore must stop.`,
    );
  }
  const io = new RouteIo(deps, targetGroups, deadline.signal);
  try {
    const outcomes = await mapWithConcurrency(ordered, RESTORE_CONCURRENCY, (route) =>
      restoreOne(io, route, options.uncertain?.has(route.ref.arn) ?? false, fmt),
    );
    let heldMs: number | undefined;
    if (options.abandonedWrite && outcomes.some((o) => o.ok)) {
      heldMs = await hold(io, ordered, outcomes, deps, fmt, deadline.remaining);
    }
    const restored: string[] = [];
    const notRestored: NotRestored[] = [];
    ordered.forEach((route, i) => {
      const o = outcomes[i] as Outcome;
      if (o.ok) restored.push(route.ref.arn);
      else notRestored.push(o.left);
    });
    return { restored, notRestored, ...(heldMs !== undefined ? { heldMs } : {}) };
  } finally {
    deadline.dispose();
  }
}

type Outcome = { ok: true } | { ok: false; left: NotRestored };

/** Reads and writes of the restore, all bounded by its deadline. */
class RouteIo {
  constructor(
    readonly deps: RestoreDeps,
    readonly targetGroups: readonly string[],
    readonly signal: AbortSignal,
  ) {}

  /** The route's weights now, or why they could not be read. */
  async read(
    route: LiveRoute,
    signal = this.signal,
  ): Promise<{ weights: Weights } | { unreadable: string }> {
    try {
      const { actions } = await describeRoute(this.deps.client, route.ref, signal);
      const forward = readForwardWeights(route.ref, actions, this.targetGroups);
      return 'weights' in forward ? forward : { unreadable: forward.problem };
    } catch (e) {
      return { unreadable: this.why(e, 'reading it') };
    }
  }

  /** Reads until the route shows `weights` (a few times, for eventual consistency). */
  async confirm(
    route: LiveRoute,
  ): Promise<{ holds: true } | { weights: Weights } | { unreadable: string }> {
    const attempts = this.deps.readBackAttempts ?? 3;
    let last: { weights: Weights } | { unreadable: string } = { unreadable: 'not read' };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      last = await this.read(route);
      if ('weights' in last && sameWeights(last.weights, route.weights)) return { holds: true };
      if (this.signal.aborted || attempt === attempts) break;
      try {
        await this.deps.clock.sleep(this.deps.readBackDelayMs ?? 1000, this.signal);
      } catch {
        break;
      }
    }
    return last;
  }

  async write(route: LiveRoute): Promise<{ error?: string }> {
    try {
      await writeRoute(
        this.deps.client,
        route.ref,
        route.actions.map(toWritableAction),
        this.signal,
      );
      return {};
    } catch (e) {
      return { error: this.why(e, 'writing it') };
    }
  }

  private why(e: unknown, doing: string): string {
    if (this.signal.aborted) return `the restore's deadline passed while ${doing}`;
    return awsErrorText(e);
  }
}

async function restoreOne(
  io: RouteIo,
  route: LiveRoute,
  uncertain: boolean,
  fmt: (w: Weights) => string,
): Promise<Outcome> {
  const { logger } = io.deps;
  const name = describeRef(route.ref);
  const left = (state: NotRestored['state'], reason: string, seen?: Weights): Outcome => {
    const out: NotRestored = {
      arn: route.ref.arn,
      reason,
      state,
      previous: route.weights,
      command: recoveryCommand(route),
    };
    if (seen) out.seen = seen;
    logger.warning(
      state === 'changed'
        ? `${name}: NOT restored: it is at ${fmt(seen ?? {})}, not ${fmt(route.weights)} (${reason}).`
        : `${name}: state unknown, could not be read (${reason}); it must be at ${fmt(route.weights)}.`,
    );
    return { ok: false, left: out };
  };

  let seen: Weights | undefined;
  if (uncertain) {
    // Its own write may never have landed: look before writing, briefly (a stalled read must
    // not keep the restore from writing).
    const now = await io.read(
      route,
      AbortSignal.any([io.signal, AbortSignal.timeout(LOOK_FIRST_MS)]),
    );
    if ('weights' in now && sameWeights(now.weights, route.weights)) {
      logger.info(`${name}: still has ${fmt(route.weights)}; its write never landed (confirmed)`);
      return { ok: true };
    }
    if ('weights' in now) seen = now.weights;
  }
  let accepted = false;
  // Writes again while the route does not hold (a late write of ours, or someone else's,
  // landed after the restore), until the deadline.
  for (let round = 1; ; round++) {
    const written = await io.write(route);
    if (written.error === undefined) accepted = true;
    else if (io.signal.aborted) {
      // Out of time with the write unanswered: it may land or not; nothing is left to look.
      return left('unknown', `${written.error}, so it was not read back`, seen);
    }
    const after = await io.confirm(route);
    if ('holds' in after) {
      logger.info(
        `${name}: restored to ${fmt(route.weights)} (confirmed)${round > 1 ? ` after ${round} writes` : ''}`,
      );
      return { ok: true };
    }
    if ('weights' in after) seen = after.weights;
    if (written.error !== undefined) {
      // AWS refused the restore (after the SDK's retries): writing again changes nothing.
      if ('weights' in after) return left('changed', written.error, after.weights);
      return left('unknown', `${written.error}; then ${after.unreadable}`, seen);
    }
    if ('unreadable' in after) {
      return left(
        'unknown',
        `AWS accepted the restore, but it could not be read back: ${after.unreadable}`,
        seen,
      );
    }
    if (io.signal.aborted || round >= MAX_ROUNDS) {
      return left(
        'changed',
        `${round} restore write(s) ${accepted ? 'accepted' : 'sent'}, yet it reads back at other weights`,
        after.weights,
      );
    }
  }
}

/** Restore writes per route when the read-back keeps showing other weights (not cancelled). */
const MAX_ROUNDS = 5;

/**
 * After a write we stopped waiting for, keeps reading the restored routes for HOLD_MS (within
 * the deadline): if that write lands late, the route is restored again.
 */
async function hold(
  io: RouteIo,
  routes: readonly LiveRoute[],
  outcomes: Outcome[],
  deps: RestoreDeps,
  fmt: (w: Weights) => string,
  remaining: () => number,
): Promise<number> {
  const watchMs = Math.min(HOLD_MS, remaining());
  if (watchMs <= 0) return 0;
  deps.logger.info(
    `A write was abandoned in flight and may still land: watching the restored routes for ${formatSeconds(watchMs)}.`,
  );
  const now = (): number => deps.clock.now().getTime();
  const until = now() + watchMs;
  while (now() < until && !io.signal.aborted) {
    try {
      await deps.clock.sleep(Math.max(1, Math.min(HOLD_POLL_MS, until - now())), io.signal);
    } catch {
      break;
    }
    await Promise.all(
      routes.map(async (route, i) => {
        if (!(outcomes[i] as Outcome).ok) return;
        const now = await io.read(route);
        if (!('weights' in now) || sameWeights(now.weights, route.weights)) return;
        deps.logger.warning(
          `${describeRef(route.ref)}: a late write landed (${fmt(now.weights)}); restoring it again.`,
        );
        outcomes[i] = await restoreOne(io, route, false, fmt);
      }),
    );
  }
  return Math.max(0, Math.min(watchMs, now() - (until - watchMs)));
}

/** The AWS CLI command that puts the route back to exactly the actions it had. */
export function recoveryCommand(route: LiveRoute): string {
  const region = route.ref.arn.split(':')[3] ?? '';
  const actions = shellQuote(JSON.stringify(route.actions.map(toWritableAction)));
  return route.ref.kind === 'listener'
    ? `aws elbv2 modify-listener --region ${region} --listener-arn ${route.ref.arn} --default-actions ${actions}`
    : `aws elbv2 modify-rule --region ${region} --rule-arn ${route.ref.arn} --actions ${actions}`;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The state a restore leaves, as the lines that end a failure message. */
export function restoreReportLines(
  report: RestoreReport,
  fmt: (w: Weights) => string,
  describe: (arn: string) => string,
): string[] {
  const lines: string[] = [];
  for (const n of report.notRestored) {
    lines.push(
      n.state === 'changed'
        ? `NOT restored: ${describe(n.arn)} is at ${fmt(n.seen ?? {})} (${n.reason}). Set it back by hand to ${fmt(n.previous)} with:`
        : `UNKNOWN, could not be read: ${describe(n.arn)} (${n.reason}). It may still be at the new weights; make sure it is at ${fmt(n.previous)} (harmless if it already is) with:`,
      `  ${n.command}`,
    );
  }
  return lines;
}
