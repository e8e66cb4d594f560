/**
 * ELBv2 throttles each account and region with token buckets (the ELB user guide, "Request
 * throttling for the ELB API"): a burst up to the bucket's size, then its refill rate. Several
 * rollout files applied at once by one job would otherwise send their writes in one burst, be
 * throttled, and lean on retries. So writes (Modify*, AddTags, RemoveTags, Register/Deregister)
 * are paced in process by a bucket of the same shape, before the SDK's own retries, which still
 * learn from a throttle that comes anyway (adaptive mode): pacing keeps a step from being
 * throttled at all, without slowing one file's two or three writes.
 */
import type { Clock } from '../common/clock.js';

export interface WritePacer {
  /** Resolves when the next write may be sent. */
  take(): Promise<void>;
}

/** A token bucket: `burst` writes at once, then `perSecond`. */
export function tokenBucket(
  perSecond: number,
  burst: number,
  clock: Pick<Clock, 'now' | 'sleep'>,
): WritePacer {
  let tokens = burst;
  let last = clock.now().getTime();
  let queue = Promise.resolve();
  return {
    take() {
      const turn = queue.then(async () => {
        for (;;) {
          const now = clock.now().getTime();
          tokens = Math.min(burst, tokens + ((now - last) / 1000) * perSecond);
          last = now;
          if (tokens >= 1) {
            tokens -= 1;
            return;
          }
          await clock.sleep(Math.ceil(((1 - tokens) / perSecond) * 1000));
        }
      });
      queue = turn;
      return turn;
    },
  };
}

/** The ELBv2 operations that change something: what the mutating bucket counts. */
export function isElbWrite(operation: string): boolean {
  return /^(Modify|Add|Remove|Register|Deregister|Set|Create|Delete)/.test(operation);
}
