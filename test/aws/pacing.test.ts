import { describe, expect, it } from 'vitest';
import { ELB_BUCKETS, elbCategory, elbPacer, tokenBucket } from '../../src/aws/pacing.js';

/**
 * A simulated clock: sleeps wake in time order, and time jumps to the next wake-up once every
 * sleeper that can run has run, so concurrent sleepers see the times they would on a real clock.
 */
function fakeClock() {
  const timers: { at: number; wake: () => void }[] = [];
  const clock = {
    t: 0,
    now: () => new Date(clock.t),
    sleep: (ms: number) =>
      new Promise<void>((wake) => {
        timers.push({ at: clock.t + ms, wake });
      }),
    /** Runs `work` to its end, moving time forward whenever everything else waits. */
    async run<T>(work: Promise<T>): Promise<T> {
      let done = false;
      const result = work.finally(() => {
        done = true;
      });
      while (!done) {
        await new Promise((r) => setImmediate(r));
        if (done || timers.length === 0) continue;
        timers.sort((a, b) => a.at - b.at);
        const next = timers.shift()!;
        clock.t = Math.max(clock.t, next.at);
        next.wake();
      }
      return result;
    },
  };
  return clock;
}

describe('ELB API pacing', () => {
  it('lets a burst through at once, then one call per 1/rate second, in call order', async () => {
    const clock = fakeClock();
    const bucket = tokenBucket(10, 3, clock);
    const times: number[] = [];
    await clock.run(
      Promise.all(
        Array.from({ length: 6 }, async () => {
          await bucket.take();
          times.push(clock.t);
        }),
      ),
    );
    expect(times).toEqual([0, 0, 0, 100, 200, 300]);
  });

  it('refills while idle, never above the capacity', async () => {
    const clock = fakeClock();
    const bucket = tokenBucket(10, 2, clock);
    await clock.run(bucket.take());
    await clock.run(bucket.take());
    clock.t += 10_000;
    const before = clock.t;
    await clock.run(bucket.take());
    await clock.run(bucket.take());
    expect(clock.t).toBe(before);
    await clock.run(bucket.take());
    expect(clock.t).toBe(before + 100);
  });

  it('starts again from empty after a throttle', async () => {
    const clock = fakeClock();
    const bucket = tokenBucket(4, 20, clock);
    await clock.run(bucket.take());
    bucket.drain();
    await clock.run(bucket.take());
    expect(clock.t).toBe(250);
  });

  it("paces 100 Modify calls at AWS's mutating bucket, 2 tokens short of it: 18 at once, then 3 a second", async () => {
    const clock = fakeClock();
    const pacer = elbPacer(clock);
    const times: number[] = [];
    await clock.run(
      Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          await pacer.take(i === 0 ? 'ModifyListener' : 'ModifyRule');
          times.push(clock.t);
        }),
      ),
    );
    expect(times.filter((t) => t === 0)).toHaveLength(18);
    // 82 more at 3/s: the last at 82/3 s, 2/3 s over the floor AWS's bucket allows (80/3 s).
    expect(times.at(-1)).toBeGreaterThanOrEqual(27_333);
    expect(times.at(-1)).toBeLessThan(27_400);
    // A read in the meantime is not held up behind the writes (its own bucket, and the
    // account's 40 + 10/s is not the limit here).
    const before = clock.t;
    await clock.run(pacer.take('DescribeRules'));
    expect(clock.t).toBe(before);
  });

  it("holds every call to the account's bucket, 40 (less 5) then 10 a second", async () => {
    const clock = fakeClock();
    const pacer = elbPacer(clock);
    for (let i = 0; i < 35; i++) await clock.run(pacer.take('DescribeTargetHealth'));
    expect(clock.t).toBe(0);
    await clock.run(pacer.take('DescribeTargetHealth'));
    expect(clock.t).toBe(100);
    // The account's bucket is empty too for a write, though the mutating one is full.
    await clock.run(pacer.take('ModifyRule'));
    expect(clock.t).toBe(200);
  });

  it('sorts operations into the categories of the ELB user guide', () => {
    for (const op of ['ModifyRule', 'ModifyListener', 'AddTags', 'RemoveTags', 'CreateRule'])
      expect(elbCategory(op)).toBe('mutating');
    for (const op of ['DescribeRules', 'DescribeTags', 'DescribeTargetHealth'])
      expect(elbCategory(op)).toBe('nonMutating');
    expect(elbCategory('RegisterTargets')).toBe('registration');
    expect(elbCategory('CreateLoadBalancer')).toBe('resourceIntensive');
    expect(ELB_BUCKETS.mutating).toEqual({ capacity: 20, perSecond: 3 });
    expect(ELB_BUCKETS.account).toEqual({ capacity: 40, perSecond: 10 });
  });
});
