/**
 * ELBv2 throttles each account and region with token buckets (ELB user guide, "Request
 * throttling for the Elastic Load Balancing API"): every call takes a token from the bucket of
 * its category and one from an account-level bucket shared by every action; a bucket holds at
 * most its capacity and refills at a fixed rate. A call that finds a bucket empty fails with
 * `Throttling` ("Rate exceeded").
 *
 * Several rollout files applied at once by one job, or a step over 100 routes, would otherwise
 * send their writes in one burst, be throttled, and lean on the SDK's retries. So every attempt
 * (a retry is a request to AWS too) waits here for the same tokens AWS will take, from buckets
 * of AWS's documented sizes (less a cushion, below): a step is then never throttled by its own
 * calls, and one file's few calls pass at once from the full buckets. Other clients of the same account (another job, the
 * load balancer controller) spend the same tokens unseen; when a throttle comes anyway, the
 * buckets it drew from are emptied, so the next calls wait for the refill instead of being
 * throttled again, and the SDK's adaptive retry backs off as well.
 */
import type { Clock } from '../common/clock.js';

export interface TokenBucket {
  /** Resolves when a token is taken; callers are served in call order. */
  take(): Promise<void>;
  /** Someone else spent the tokens (AWS throttled us): start again from an empty bucket. */
  drain(): void;
}

/** A token bucket: holds at most `capacity` tokens, `perSecond` are added back every second. */
export function tokenBucket(
  perSecond: number,
  capacity: number,
  clock: Pick<Clock, 'now' | 'sleep'>,
): TokenBucket {
  let tokens = capacity;
  let last = clock.now().getTime();
  let queue = Promise.resolve();
  const refill = (): void => {
    const now = clock.now().getTime();
    tokens = Math.min(capacity, tokens + ((now - last) / 1000) * perSecond);
    last = now;
  };
  return {
    take() {
      const turn = queue.then(async () => {
        for (;;) {
          refill();
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
    drain() {
      refill();
      tokens = Math.min(tokens, 0);
    },
  };
}

/** The request token buckets of the ELB API version 2, as AWS documents their defaults. */
export type ElbCategory = 'resourceIntensive' | 'registration' | 'nonMutating' | 'mutating';

export const ELB_BUCKETS: Record<ElbCategory | 'account', { capacity: number; perSecond: number }> =
  {
    /** Shared by every action; a call takes from it and from its category's bucket. */
    account: { capacity: 40, perSecond: 10 },
    resourceIntensive: { capacity: 10, perSecond: 0.2 },
    registration: { capacity: 20, perSecond: 4 },
    nonMutating: { capacity: 40, perSecond: 10 },
    /** Every other action: ModifyListener, ModifyRule, AddTags, RemoveTags, Create*, Delete*... */
    mutating: { capacity: 20, perSecond: 3 },
  };

/** The bucket an ELBv2 operation draws from, besides the account's. */
export function elbCategory(operation: string): ElbCategory {
  if (operation === 'CreateLoadBalancer' || operation === 'SetSubnets') return 'resourceIntensive';
  if (operation === 'RegisterTargets' || operation === 'DeregisterTargets') return 'registration';
  if (/^(Describe|Get)/.test(operation)) return 'nonMutating';
  return 'mutating';
}

/** Whether an error is AWS saying a bucket was empty. */
export function isThrottle(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'Throttling' || name === 'ThrottlingException';
}

/** The buckets of one account and region, for every ELBv2 client of this process there. */
export interface ElbPacer {
  /** Waits for a token of the operation's category and one of the account's. */
  take(operation: string): Promise<void>;
  /** AWS throttled the operation: empties the buckets it drew from. */
  throttled(operation: string): void;
}

/**
 * Tokens of each bucket we leave unspent: half a second of its refill (at least 1). AWS counts
 * a call when it arrives, and calls sent in our order at our pace arrive a little bunched or out
 * of order (network, a busy event loop); without this cushion a step that runs at exactly the
 * refill rate, the bucket at zero, gets the odd call throttled. It costs a 100-route step 2/3 s
 * (2 mutating tokens), and nothing to a step that fits in the buckets.
 */
export function cushion(perSecond: number): number {
  return Math.max(1, Math.ceil(perSecond / 2));
}

export function elbPacer(clock: Pick<Clock, 'now' | 'sleep'>): ElbPacer {
  const make = ({ capacity, perSecond }: { capacity: number; perSecond: number }) =>
    tokenBucket(perSecond, capacity - cushion(perSecond), clock);
  const account = make(ELB_BUCKETS.account);
  const categories: Record<ElbCategory, TokenBucket> = {
    resourceIntensive: make(ELB_BUCKETS.resourceIntensive),
    registration: make(ELB_BUCKETS.registration),
    nonMutating: make(ELB_BUCKETS.nonMutating),
    mutating: make(ELB_BUCKETS.mutating),
  };
  return {
    async take(operation) {
      await categories[elbCategory(operation)].take();
      await account.take();
    },
    throttled(operation) {
      categories[elbCategory(operation)].drain();
      account.drain();
    },
  };
}
