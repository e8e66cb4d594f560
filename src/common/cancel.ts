/**
 * The cancellation budget every long operation shares. A GitHub runner cancels a step with
 * SIGINT, then SIGTERM 7.5 s later, then SIGKILL 2.5 s after that. Whatever a step does when
 * cancelled (restore weights, stop a child process, leave a named safe state, print what it
 * left) must be over, and said, before the kill. The budget knows when the first signal came
 * and when the kill is due, and hands each phase a deadline derived from that.
 *
 * Rules for every operation that takes a budget (docs/decisions.md, "Cancellation"):
 * - reads and waits use `budget.signal`: they stop at the first signal (aborting a read is safe);
 * - a write in flight gets `deadline({ afterCancelMs })`: a short, bounded time to end;
 * - undoing work uses `deadline({ reserveMs })`, which ends before the kill with time left to
 *   print the outcome, and `maxMs` so that it ends even when nobody cancels.
 */

/** The runner's SIGINT → SIGTERM delay. */
export const RUNNER_SIGTERM_AFTER_MS = 7_500;
/** The runner's SIGTERM → SIGKILL delay. */
export const RUNNER_SIGKILL_AFTER_MS = 2_500;
/**
 * Kept back from the kill for the last words: the final report in the log, outputs and the job
 * summary. Printing them takes milliseconds; the rest is margin for a loaded runner.
 */
export const FINAL_WORDS_MS = 1_000;

export type CancelSignalName = 'SIGINT' | 'SIGTERM';

export interface CancelBudget {
  /** Aborts at the first signal, with an Error "received SIGINT" (or SIGTERM). */
  readonly signal: AbortSignal;
  /** When the first signal came (epoch ms); undefined while not cancelled. */
  cancelledAt(): number | undefined;
  /** When the process may be killed (epoch ms); undefined while not cancelled. */
  killAt(): number | undefined;
  /** Milliseconds left before the kill, less `reserveMs` (default FINAL_WORDS_MS); never negative; Infinity while not cancelled. */
  timeLeft(reserveMs?: number): number;
  /** A deadline derived from the budget (see DeadlineOptions); dispose it when done. */
  deadline(options?: DeadlineOptions): Deadline;
}

export interface DeadlineOptions {
  /** Ends this long after the first signal (e.g. the grace of a write in flight). */
  afterCancelMs?: number;
  /** Ends this long before the kill. Default FINAL_WORDS_MS. */
  reserveMs?: number;
  /** Ends this long after the deadline is made, cancelled or not. */
  maxMs?: number;
}

export interface Deadline {
  /** Aborts when the deadline passes, with a DeadlineError. */
  readonly signal: AbortSignal;
  /** Milliseconds until the deadline (Infinity when none is set yet). */
  remaining(): number;
  dispose(): void;
}

/** A deadline that passed: the work it bounded was abandoned, not failed by AWS. */
export class DeadlineError extends Error {
  override name = 'DeadlineError';
}

/** A budget and the function that starts it; `runAction` calls `cancel` on SIGINT/SIGTERM. */
export interface CancelController {
  budget: CancelBudget;
  /**
   * Starts (or shortens) the budget. `announce` runs once the kill time is known and before the
   * budget's signal aborts, so the line saying a signal came precedes what the operations log.
   */
  cancel(signal: CancelSignalName, announce?: () => void, at?: number): void;
}

export function createCancelBudget(now: () => number = Date.now): CancelController {
  const controller = new AbortController();
  let firstAt: number | undefined;
  let kill: number | undefined;
  const listeners = new Set<() => void>();

  const budget: CancelBudget = {
    signal: controller.signal,
    cancelledAt: () => firstAt,
    killAt: () => kill,
    timeLeft(reserveMs = FINAL_WORDS_MS) {
      if (kill === undefined) return Infinity;
      return Math.max(0, kill - reserveMs - now());
    },
    deadline(options = {}) {
      const made = now();
      const inner = new AbortController();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const endsAt = (): number => {
        let at = options.maxMs === undefined ? Infinity : made + options.maxMs;
        if (firstAt !== undefined && options.afterCancelMs !== undefined) {
          at = Math.min(at, firstAt + options.afterCancelMs);
        }
        if (kill !== undefined) at = Math.min(at, kill - (options.reserveMs ?? FINAL_WORDS_MS));
        return at;
      };
      const arm = (): void => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (inner.signal.aborted) return;
        const at = endsAt();
        if (at === Infinity) return;
        const fire = (): void => {
          dispose();
          inner.abort(new DeadlineError('the deadline passed'));
        };
        const wait = at - now();
        if (wait <= 0) return fire();
        timer = setTimeout(fire, wait);
        // A pending deadline must not keep a finished process alive.
        timer.unref?.();
      };
      const dispose = (): void => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        listeners.delete(arm);
      };
      listeners.add(arm);
      arm();
      return {
        signal: inner.signal,
        remaining: () => Math.max(0, endsAt() - now()),
        dispose,
      };
    },
  };

  return {
    budget,
    cancel(name, announce, at = now()) {
      // SIGINT: the kill is 10 s away. A SIGTERM (first, or after the SIGINT) leaves 2.5 s.
      const killAt =
        name === 'SIGINT'
          ? at + RUNNER_SIGTERM_AFTER_MS + RUNNER_SIGKILL_AFTER_MS
          : at + RUNNER_SIGKILL_AFTER_MS;
      kill = kill === undefined ? killAt : Math.min(kill, killAt);
      announce?.();
      if (firstAt === undefined) {
        firstAt = at;
        controller.abort(new Error(`received ${name}`));
      }
      for (const arm of [...listeners]) arm();
    },
  };
}

/**
 * A budget for code handed only an AbortSignal (tests, a CLI): its abort counts as the runner's
 * SIGINT, with the whole window after it. Without a signal, a budget that never cancels.
 */
export function budgetFromSignal(signal: AbortSignal | undefined): CancelBudget {
  const { budget, cancel } = createCancelBudget();
  if (signal?.aborted) cancel('SIGINT');
  else signal?.addEventListener('abort', () => cancel('SIGINT'), { once: true });
  return signal ? { ...budget, signal } : budget;
}

/** `work`, or the signal's reason as soon as it aborts, whichever comes first. */
export function untilAborted<T>(
  pending: Promise<T> | T,
  signal: AbortSignal | undefined,
): Promise<T> {
  // A test double may answer with a plain value or a foreign thenable.
  const work = Promise.resolve(pending);
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined); // abandoned: its late failure is nobody's to report
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      work.catch(() => undefined);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Seconds, for messages: "8.5 s". */
export function formatSeconds(ms: number): string {
  return `${(Math.round(ms / 100) / 10).toFixed(1)} s`;
}
