/**
 * The analysis against the sandbox with real traffic: demo apps behind the sandbox ALB, a
 * steady load through its listener, and metrics read back from its GetMetricData. Intervals
 * are 5 s (a period GetMetricData accepts for the sandbox's 1 s metrics); scenarios run
 * concurrently, each with its own load balancer and apps.
 */
import { systemClock } from '../../src/common/clock.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/common/logger.js';
import {
  resolveTargets,
  runAnalysis,
  targetsFromArns,
  type AnalysisResult,
} from '../../src/health/index.js';
import type { Analysis, Check } from '../../src/health/index.js';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { sandboxClients, startCanaryStack, type CanaryStack } from '../fakes/sandbox-stack.js';

let sandbox: Sandbox;
const stacks: CanaryStack[] = [];

beforeAll(async () => {
  // 0.05 also scales the ALB idle timeout to 3 s, above the slow canary's 1.2 s responses.
  sandbox = await startSandbox({ healthCheckTimeScale: 0.05 });
});
afterAll(async () => {
  await Promise.all(stacks.map((s) => s.close()));
  await sandbox?.close();
});

const INTERVAL_MS = 5_000;

async function analyse(
  stack: CanaryStack,
  checks: Check[],
  extra: Partial<Analysis> = {},
): Promise<{ result: AnalysisResult; since: number; logger: MemoryLogger }> {
  const { elbv2, cloudwatch } = sandboxClients(sandbox);
  const targets = await resolveTargets(elbv2, targetsFromArns(stack.greenArn, stack.blueArn));
  const logger = new MemoryLogger();
  const since = Date.now();
  try {
    const result = await runAnalysis(
      {
        analysis: {
          warmupMs: 1_000,
          intervalMs: INTERVAL_MS,
          durationMs: 1_000 + 2 * INTERVAL_MS,
          failureLimit: 0,
          checks,
          ...extra,
        },
        targets,
        since,
        cloudWatchPeriodMs: 1_000,
      },
      { cloudwatch, elbv2, fetch, clock: systemClock, logger },
    );
    return { result, since, logger };
  } finally {
    elbv2.destroy();
    cloudwatch.destroy();
  }
}

async function stack(options: Parameters<typeof startCanaryStack>[1]): Promise<CanaryStack> {
  const s = await startCanaryStack(sandbox, options);
  stacks.push(s);
  return s;
}

const ERROR_RATE: Check = { kind: 'cloudwatch', metric: 'error-rate', max: 0.01, minRequests: 20 };
const TARGET_HEALTH: Check = { kind: 'targetHealth', minHealthy: 1, maxUnhealthy: 0 };

describe.concurrent('verify-health against the sandbox', () => {
  it('passes a healthy canary', async () => {
    const s = await stack({ weights: { blue: 50, green: 50 }, requestsPerSecond: 30 });
    const { result, logger } = await analyse(s, [
      TARGET_HEALTH,
      ERROR_RATE,
      { kind: 'cloudwatch', metric: 'latency-p99', max: 1, minRequests: 20 },
    ]);
    expect(result.verdict).toMatch(/^healthy: 4 checks passed in (\d) of \1 intervals?$/);
    expect(result.healthy).toBe(true);
    expect(logger.text()).toMatch(/pass: error-rate of vh-\d+-green = 0% \(threshold ≤ 1%\)/);
  });

  it('fails a canary returning 5% errors in the first interval after warmup', async () => {
    const s = await stack({
      weights: { blue: 50, green: 50 },
      requestsPerSecond: 30,
      green: { errorRate: 0.05 },
    });
    const { result, since } = await analyse(s, [TARGET_HEALTH, ERROR_RATE]);
    expect(result.healthy).toBe(false);
    expect(result.endedEarly).toBe(true);
    expect(result.intervals).toHaveLength(1);
    expect(result.failedChecks).toEqual([expect.stringMatching(/^error-rate of vh-\d+-green$/)]);
    expect(result.verdict).toMatch(
      /^error-rate of vh-\d+-green \d+(\.\d)?% > 1% in 1 of 1 interval$/,
    );
    // The app fails exactly every 20th request, but the window catches a varying number of
    // green requests (the split is random); with 20 or more of them the rate is 2.5% to 10%.
    const errorRate = result.intervals[0]!.measurements.find((m) =>
      m.name.startsWith('error-rate of'),
    );
    expect(errorRate).toMatchObject({ status: 'fail', threshold: '≤ 1%' });
    expect(errorRate!.value).toBeGreaterThan(0.02);
    expect(errorRate!.value).toBeLessThanOrEqual(0.1);
    expect(result.verdict).toContain(`green ${errorRate!.shown} > 1%`);
    // Judged once the first window after the warmup closed: at most warmup + alignment + interval.
    const first = result.intervals[0]!.window;
    expect(first.start).toBeGreaterThanOrEqual(since + 1_000);
    // Slack for GetMetricData and scheduling on a busy machine, still far below a second interval.
    expect(result.verdictAt - first.end).toBeLessThan(3_000);
  });

  it('fails the bad build at a 10% step before its interval closes (early failure)', async () => {
    // The demo's bad build and traffic: 30% of green's requests fail, 60 req/s, 10% to green.
    const s = await stack({
      weights: { blue: 90, green: 10 },
      requestsPerSecond: 60,
      green: { errorRate: 0.3 },
    });
    const { result } = await analyse(s, [TARGET_HEALTH, ERROR_RATE], {
      intervalMs: 20_000,
      durationMs: 21_000,
    });
    expect(result.healthy).toBe(false);
    expect(result.verdict).toMatch(
      /^error-rate of vh-\d+-green \d+(\.\d)?% > 1% with 99\.9% confidence \(\d+ 5xx of \d+ requests in \d+s, judged early\) in 1 of 1 interval$/,
    );
    const [first] = result.intervals;
    expect(first!.early).toBeDefined();
    // About 20 green requests take some 3-4 s at 6 req/s: judged well before the 20 s close.
    expect(result.verdictAt).toBeLessThan(first!.window.end - 10_000);
    expect(first!.measurements).toEqual([
      expect.objectContaining({
        status: 'fail',
        details: expect.objectContaining({ early: true }),
      }),
    ]);
  });

  it('fails the latency check for slow responses', async () => {
    const s = await stack({
      weights: { blue: 50, green: 50 },
      requestsPerSecond: 20,
      green: { latencyMs: 1_200 },
    });
    const { result } = await analyse(s, [
      ERROR_RATE,
      { kind: 'cloudwatch', metric: 'latency-p99', max: 1, minRequests: 10 },
    ]);
    expect(result.healthy).toBe(false);
    expect(result.failedChecks).toEqual([expect.stringMatching(/^latency-p99 of vh-\d+-green$/)]);
    expect(result.verdict).toMatch(/^latency-p99 of vh-\d+-green 1\.\d+s > 1s in 1 of 1 interval$/);
  });

  it('calls no traffic inconclusive, then fails at the end of the duration', async () => {
    const s = await stack({ weights: { blue: 50, green: 50 }, requestsPerSecond: 0 });
    const { result } = await analyse(s, [TARGET_HEALTH, ERROR_RATE], {
      durationMs: 1_000 + 2 * INTERVAL_MS,
    });
    // Alignment to the 5 s grid can take one interval out of the duration.
    expect(result.intervals.length).toBeGreaterThanOrEqual(1);
    expect(result.intervals.every((i) => i.status === 'inconclusive')).toBe(true);
    expect(result.healthy).toBe(false);
    expect(result.endedEarly).toBe(false);
    expect(result.verdict).toMatch(
      /^error-rate of vh-\d+-green: not enough traffic to judge in (\d) of \1 intervals? \(0 requests to vh-\d+-green < minRequests 20\)$/,
    );
  });

  const vsBaseline: Check = {
    kind: 'cloudwatch',
    metric: 'error-rate',
    vsBaseline: { maxIncrease: 0.02 },
    minRequests: 20,
  };

  it('passes a baseline comparison when both sides are equally bad', async () => {
    const s = await stack({
      weights: { blue: 50, green: 50 },
      requestsPerSecond: 30,
      green: { errorRate: 0.1 },
      blue: { errorRate: 0.1 },
    });
    // The apps fail exactly every tenth request, but an interval cuts each side's requests at
    // its own point: with ~75 requests a side that is one error apart reads 1.3% apart. A 5%
    // margin holds that (and a slower load generator on a busy machine) while 10% vs 0% fails.
    const tolerant: Check = { ...vsBaseline, vsBaseline: { maxIncrease: 0.05 } } as Check;
    const { result } = await analyse(s, [tolerant], { durationMs: 1_000 + 2 * INTERVAL_MS });
    expect(result.verdict).toMatch(/^healthy: 1 check passed in (\d) of \1 intervals?$/);
  });

  it('fails a baseline comparison when only the canary is bad', async () => {
    const s = await stack({
      weights: { blue: 50, green: 50 },
      requestsPerSecond: 30,
      green: { errorRate: 0.1 },
    });
    const { result } = await analyse(s, [vsBaseline]);
    expect(result.healthy).toBe(false);
    expect(result.verdict).toMatch(
      /^error-rate of vh-\d+-green vs vh-\d+-blue \d+(\.\d)?% vs vh-\d+-blue 0%: \+\d+(\.\d)?% > \+2% in 1 of 1 interval$/,
    );
  });
});
