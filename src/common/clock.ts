/**
 * The one clock every operation takes: the time now, and sleeps that end early (with the
 * signal's reason) when the job is cancelled. Tests pass a fake; nothing reads Date directly.
 */
export interface Clock {
  now(): Date;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** The clock with every sleep bound to `signal`, for code that takes a clock but no signal. */
export function abortableClock(clock: Clock, signal: AbortSignal | undefined): Clock {
  if (!signal) return clock;
  return { now: () => clock.now(), sleep: (ms, s) => clock.sleep(ms, s ?? signal) };
}
