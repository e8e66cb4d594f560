import { describe, expect, it } from 'vitest';
import { isElbWrite, tokenBucket } from '../../src/aws/pacing.js';

/** A clock whose sleeps move time forward at once. */
function fakeClock(): { now(): Date; sleep(ms: number): Promise<void>; t: number } {
  const clock = {
    t: 0,
    now: () => new Date(clock.t),
    sleep: async (ms: number) => {
      clock.t += ms;
    },
  };
  return clock;
}

describe('ELB write pacing', () => {
  it('lets a burst through at once, then one write per 1/rate second, in call order', async () => {
    const clock = fakeClock();
    const bucket = tokenBucket(10, 3, clock);
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        await bucket.take();
        times.push(clock.t);
      }),
    );
    expect(times).toEqual([0, 0, 0, 100, 200, 300]);
  });

  it('refills while idle, never above the burst', async () => {
    const clock = fakeClock();
    const bucket = tokenBucket(10, 2, clock);
    await bucket.take();
    await bucket.take();
    clock.t += 10_000;
    const before = clock.t;
    await bucket.take();
    await bucket.take();
    expect(clock.t).toBe(before);
    await bucket.take();
    expect(clock.t).toBe(before + 100);
  });

  it('paces the calls that change something, not the reads', () => {
    for (const op of ['ModifyRule', 'ModifyListener', 'AddTags', 'RemoveTags', 'RegisterTargets'])
      expect(isElbWrite(op)).toBe(true);
    for (const op of ['DescribeRules', 'DescribeTags', 'DescribeTargetHealth'])
      expect(isElbWrite(op)).toBe(false);
  });
});
