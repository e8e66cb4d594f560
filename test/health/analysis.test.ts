import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/common/logger.js';
import {
  analysisIntervalCount,
  describeEarlyFailure,
  runAnalysis,
  scheduleAnalysis,
  type AnalysisDeps,
} from '../../src/health/index.js';
import type { Analysis, Check } from '../../src/health/index.js';
import {
  BLUE,
  FakeClock,
  GREEN,
  TARGETS,
  fakeCloudWatch,
  fakeTargetHealth,
  traffic,
  type MetricSource,
} from './fixtures.js';

const T0 = Date.parse('2026-05-01T12:00:00Z');
const ERROR_RATE: Check = { kind: 'cloudwatch', metric: 'error-rate', max: 0.01 };
const TARGET_HEALTH: Check = { kind: 'targetHealth', minHealthy: 1, maxUnhealthy: 0 };

const analysis = (extra: Partial<Analysis> = {}): Analysis => ({
  warmupMs: 30_000,
  intervalMs: 60_000,
  durationMs: 300_000,
  failureLimit: 0,
  checks: [TARGET_HEALTH, ERROR_RATE],
  ...extra,
});

function setup(source: MetricSource, start = T0) {
  const clock = new FakeClock(start);
  const cw = fakeCloudWatch(source);
  const logger = new MemoryLogger();
  const deps: AnalysisDeps = {
    cloudwatch: cw.client,
    elbv2: fakeTargetHealth({ [GREEN.arn]: ['healthy', 'healthy'], [BLUE.arn]: ['healthy'] }),
    fetch,
    clock,
    logger,
  };
  return { clock, calls: cw.calls, logger, deps };
}

const healthyTraffic = traffic({
  [GREEN.dimension]: { requests: 1000, errors: 1 },
  [BLUE.dimension]: { requests: 9000, errors: 9 },
});
const badTraffic = traffic({
  [GREEN.dimension]: { requests: 1000, errors: 42 },
  [BLUE.dimension]: { requests: 9000, errors: 9 },
});

const iso = (t: number) => new Date(t).toISOString();

describe('scheduleAnalysis', () => {
  it('starts after the warmup, aligned up to the CloudWatch period, and judges every whole interval the duration holds', () => {
    const since = Date.parse('2026-05-01T12:00:30.500Z');
    // warmup 30s, interval 1m, duration 5m: 4 intervals, whenever the shift lands (the plan
    // says so); aligning to the minute ends the bake up to one minute after since + 5m.
    const { windows } = scheduleAnalysis(analysis(), since, 60_000);
    expect(analysisIntervalCount(analysis())).toBe(4);
    expect(windows.map((w) => [iso(w.start), iso(w.end)])).toEqual([
      ['2026-05-01T12:02:00.000Z', '2026-05-01T12:03:00.000Z'],
      ['2026-05-01T12:03:00.000Z', '2026-05-01T12:04:00.000Z'],
      ['2026-05-01T12:04:00.000Z', '2026-05-01T12:05:00.000Z'],
      ['2026-05-01T12:05:00.000Z', '2026-05-01T12:06:00.000Z'],
    ]);
    // The same count when the shift lands on the grid.
    expect(
      scheduleAnalysis(analysis(), Date.parse('2026-05-01T12:00:30.000Z'), 60_000).windows,
    ).toHaveLength(4);
  });

  it('does not align without CloudWatch checks', () => {
    const since = Date.parse('2026-05-01T12:00:30.500Z');
    const { windows } = scheduleAnalysis(analysis({ intervalMs: 90_000 }), since);
    expect(windows.map((w) => iso(w.start))).toEqual([
      '2026-05-01T12:01:00.500Z',
      '2026-05-01T12:02:30.500Z',
      '2026-05-01T12:04:00.500Z',
    ]);
  });

  it('refuses a duration shorter than warmup plus one interval', () => {
    expect(() => scheduleAnalysis(analysis({ durationMs: 60_000 }), T0, 60_000)).toThrow(
      'The analysis duration (1m) must be at least warmup (30s) + one interval (1m).',
    );
  });
});

describe('runAnalysis', () => {
  it('passes a healthy canary after judging every interval, one GetMetricData call each', async () => {
    const { clock, calls, logger, deps } = setup(healthyTraffic);
    const result = await runAnalysis({ analysis: analysis(), targets: TARGETS }, deps);
    expect(result).toMatchObject({
      healthy: true,
      verdict: 'healthy: 3 checks passed in 4 of 4 intervals',
      failedChecks: [],
      endedEarly: false,
      plannedIntervals: 4,
    });
    // Warmup ends 12:00:30 -> first window 12:01:00; the last ends at 12:05:00.
    expect(calls.map((c) => [iso(c.StartTime!.getTime()), iso(c.EndTime!.getTime())])).toEqual([
      ['2026-05-01T12:01:00.000Z', '2026-05-01T12:02:00.000Z'],
      ['2026-05-01T12:02:00.000Z', '2026-05-01T12:03:00.000Z'],
      ['2026-05-01T12:03:00.000Z', '2026-05-01T12:04:00.000Z'],
      ['2026-05-01T12:04:00.000Z', '2026-05-01T12:05:00.000Z'],
    ]);
    expect(result.intervals.map((i) => iso(i.evaluatedAt))).toEqual([
      '2026-05-01T12:02:00.000Z',
      '2026-05-01T12:03:00.000Z',
      '2026-05-01T12:04:00.000Z',
      '2026-05-01T12:05:00.000Z',
    ]);
    expect(clock.t).toBe(Date.parse('2026-05-01T12:05:00Z'));
    expect(logger.lines).toContain('  pass: error-rate of green = 0.1% (threshold ≤ 1%)');
    expect(logger.lines).toContain(
      '  pass: targetHealth of blue = 1 healthy, 0 unhealthy (threshold ≥ 1 healthy, ≤ 0 unhealthy)',
    );
  });

  it('fails a bad canary in the first interval after warmup and stops at once', async () => {
    const { clock, calls, logger, deps } = setup(badTraffic);
    const result = await runAnalysis({ analysis: analysis(), targets: TARGETS }, deps);
    expect(result).toMatchObject({
      healthy: false,
      verdict: 'error-rate of green 4.2% > 1% in 1 of 1 interval',
      failedChecks: ['error-rate of green'],
      endedEarly: true,
      failedIntervals: 1,
    });
    expect(calls).toHaveLength(1);
    expect(iso(result.verdictAt)).toBe('2026-05-01T12:02:00.000Z');
    expect(clock.t).toBe(Date.parse('2026-05-01T12:02:00Z'));
    expect(logger.lines).toContain(
      'Interval 1/4 [2026-05-01T12:01:00.000Z, 2026-05-01T12:02:00.000Z): fail (1 failed, limit 0)',
    );
    expect(logger.lines).toContain(
      '  FAIL: error-rate of green = 4.2% (threshold ≤ 1%) — 4.2% > 1%',
    );
  });

  it('tolerates failures up to the limit and ends when it is exceeded', async () => {
    const { calls, deps } = setup(badTraffic);
    const result = await runAnalysis(
      { analysis: analysis({ failureLimit: 1 }), targets: TARGETS },
      deps,
    );
    expect(result.verdict).toBe('error-rate of green 4.2% > 1% in 2 of 2 intervals');
    expect(calls).toHaveLength(2);
    expect(iso(result.verdictAt)).toBe('2026-05-01T12:03:00.000Z');
  });

  it('fails a check that failed every interval within the limit and never passed, saying so', async () => {
    const { deps } = setup(badTraffic);
    const result = await runAnalysis(
      {
        analysis: analysis({ failureLimit: 2, durationMs: 180_000 }),
        targets: TARGETS,
      },
      deps,
    );
    expect(result.healthy).toBe(false);
    expect(result.endedEarly).toBe(false);
    expect(result.verdict).toBe(
      'error-rate of green 4.2% > 1% in 2 of 2 intervals and passed in none',
    );
    expect(result.failedChecks).toEqual(['error-rate of green']);
  });

  it('stays healthy when one failed interval is within the limit', async () => {
    let n = 0;
    const { deps } = setup((q) => {
      if (q.metricName === 'RequestCount' && q.targetGroup === GREEN.dimension) n++;
      return (n === 2 ? badTraffic : healthyTraffic)(q);
    });
    const result = await runAnalysis(
      { analysis: analysis({ failureLimit: 1 }), targets: TARGETS },
      deps,
    );
    expect(result).toMatchObject({
      healthy: true,
      verdict:
        'healthy: 3 checks passed in 3 of 4 intervals (1 failed within the failure limit of 1)',
    });
  });

  it('calls no traffic inconclusive, then fails at the end saying there was not enough traffic', async () => {
    const { calls, deps } = setup(traffic({ [BLUE.dimension]: { requests: 900 } }));
    const result = await runAnalysis({ analysis: analysis(), targets: TARGETS }, deps);
    expect(calls).toHaveLength(4);
    expect(result.intervals.map((i) => i.status)).toEqual([
      'inconclusive',
      'inconclusive',
      'inconclusive',
      'inconclusive',
    ]);
    expect(result).toMatchObject({
      healthy: false,
      endedEarly: false,
      failedChecks: ['error-rate of green'],
      verdict:
        'error-rate of green: not enough traffic to judge in 4 of 4 intervals (0 requests to green < minRequests 1)',
    });
    expect(result.checks.find((c) => c.name === 'error-rate of green')?.result).toBe(
      'not enough data',
    );
  });

  it('passes when traffic arrives after some inconclusive intervals', async () => {
    const { deps } = setup((q) =>
      q.start >= Date.parse('2026-05-01T12:03:00Z') ? healthyTraffic(q) : undefined,
    );
    const result = await runAnalysis({ analysis: analysis(), targets: TARGETS }, deps);
    expect(result).toMatchObject({
      healthy: true,
      verdict: 'healthy: 3 checks passed in 2 of 4 intervals (2 inconclusive)',
    });
  });

  it('counts from since and never queries data from before it', async () => {
    const since = Date.parse('2026-05-01T11:59:10.250Z');
    const { clock, calls, deps } = setup(healthyTraffic, T0);
    const result = await runAnalysis(
      { analysis: analysis({ warmupMs: 0, durationMs: 180_000 }), targets: TARGETS, since },
      deps,
    );
    // since 11:59:10.25 -> first whole minute 12:00; 3m with no warmup holds 3 intervals.
    expect(calls.map((c) => iso(c.StartTime!.getTime()))).toEqual([
      '2026-05-01T12:00:00.000Z',
      '2026-05-01T12:01:00.000Z',
      '2026-05-01T12:02:00.000Z',
    ]);
    expect(calls.every((c) => c.StartTime!.getTime() >= since)).toBe(true);
    expect(result.healthy).toBe(true);
    expect(clock.sleeps[0]).toBe(60_000);
  });

  it('judges each window after the CloudWatch delay, for metrics that arrive late', async () => {
    const { calls, deps } = setup(badTraffic);
    const result = await runAnalysis(
      { analysis: analysis(), targets: TARGETS, cloudWatchDelayMs: 60_000 },
      deps,
    );
    expect(calls.map((c) => iso(c.StartTime!.getTime()))).toEqual(['2026-05-01T12:01:00.000Z']);
    expect(iso(result.intervals[0]!.evaluatedAt)).toBe('2026-05-01T12:03:00.000Z');
  });

  it('judges windows that are already over without waiting', async () => {
    const since = T0 - 10 * 60_000;
    const { clock, calls, deps } = setup(healthyTraffic, T0);
    await runAnalysis({ analysis: analysis(), targets: TARGETS, since }, deps);
    expect(calls).toHaveLength(4);
    expect(clock.sleeps).toEqual([]);
  });

  it('refuses an interval that is not a multiple of the CloudWatch period before waiting', async () => {
    const { clock, deps } = setup(healthyTraffic);
    await expect(
      runAnalysis({ analysis: analysis({ intervalMs: 30_000 }), targets: TARGETS }, deps),
    ).rejects.toThrow(/interval \(30s\) must be a multiple of the CloudWatch period \(1m\)/);
    await expect(
      runAnalysis(
        { analysis: analysis({ intervalMs: 7_000 }), targets: TARGETS, cloudWatchPeriodMs: 1_000 },
        deps,
      ),
    ).rejects.toThrow(
      /interval \(7s\) must be a multiple of the CloudWatch period \(1s\) that GetMetricData accepts/,
    );
    expect(clock.sleeps).toEqual([]);
  });

  it('uses a short period where metrics have it (the sandbox serves 1 s)', async () => {
    const since = T0 + 400;
    const { calls, deps } = setup(healthyTraffic, T0);
    const result = await runAnalysis(
      {
        analysis: analysis({ warmupMs: 2_000, intervalMs: 5_000, durationMs: 16_000 }),
        targets: TARGETS,
        since,
        cloudWatchPeriodMs: 1_000,
      },
      deps,
    );
    // GetMetricData rounds a 5 s period's StartTime down to 5 s, so windows start on that grid.
    const period = (c: (typeof calls)[number]) => c.MetricDataQueries![0]!.MetricStat!.Period;
    const closes = calls.filter((c) => period(c) === 5);
    expect(closes.map((c) => iso(c.StartTime!.getTime()))).toEqual([
      '2026-05-01T12:00:05.000Z',
      '2026-05-01T12:00:10.000Z',
    ]);
    // While each interval is open, its data so far is looked at every second (1 s data) for an
    // early failure, the first from the end of the warmup (12:00:02.4, on the 1 s grid); the
    // healthy canary gives none.
    expect(
      calls
        .filter((c) => period(c) === 1)
        .map((c) => `${iso(c.StartTime!.getTime())} ${iso(c.EndTime!.getTime())}`),
    ).toEqual([
      '2026-05-01T12:00:03.000Z 2026-05-01T12:00:04.000Z',
      '2026-05-01T12:00:03.000Z 2026-05-01T12:00:05.000Z',
      '2026-05-01T12:00:03.000Z 2026-05-01T12:00:06.000Z',
      '2026-05-01T12:00:03.000Z 2026-05-01T12:00:07.000Z',
      '2026-05-01T12:00:03.000Z 2026-05-01T12:00:08.000Z',
      '2026-05-01T12:00:03.000Z 2026-05-01T12:00:09.000Z',
      '2026-05-01T12:00:10.000Z 2026-05-01T12:00:11.000Z',
      '2026-05-01T12:00:10.000Z 2026-05-01T12:00:12.000Z',
      '2026-05-01T12:00:10.000Z 2026-05-01T12:00:13.000Z',
      '2026-05-01T12:00:10.000Z 2026-05-01T12:00:14.000Z',
    ]);
    expect(result.healthy).toBe(true);
  });

  it('fails on unhealthy targets without any CloudWatch check', async () => {
    const clock = new FakeClock(T0);
    const result = await runAnalysis(
      { analysis: analysis({ checks: [TARGET_HEALTH] }), targets: TARGETS },
      {
        cloudwatch: fakeCloudWatch(() => undefined).client,
        elbv2: fakeTargetHealth({ [GREEN.arn]: ['unhealthy'], [BLUE.arn]: ['healthy'] }),
        fetch,
        clock,
        logger: new MemoryLogger(),
      },
    );
    expect(result.verdict).toBe(
      'targetHealth of green 0 healthy < 1, 1 unhealthy > 0 in 1 of 1 interval',
    );
    expect(clock.t).toBe(T0 + 90_000);
  });

  it('names two checks of the same metric apart', async () => {
    const { deps } = setup(healthyTraffic);
    const result = await runAnalysis(
      {
        analysis: analysis({ checks: [ERROR_RATE, { ...ERROR_RATE, max: 0.0005 }] }),
        targets: TARGETS,
      },
      deps,
    );
    expect(result.failedChecks).toEqual(['error-rate of green #2']);
  });

  it('stops at once when cancelled while a check is still running', async () => {
    const { deps } = setup(healthyTraffic);
    const cancel = new AbortController();
    // An HTTP probe that never answers: only the cancellation can end this interval.
    const hanging: typeof fetch = () => new Promise<Response>(() => undefined);
    const probe: Check = {
      kind: 'http',
      url: 'https://web.example.com/healthz',
      method: 'GET',
      headers: {},
      expectStatus: 200,
      count: 1,
      timeoutMs: 3_600_000,
      minSuccessRatio: 1,
    };
    const run = runAnalysis(
      {
        analysis: analysis({ warmupMs: 0, checks: [probe] }),
        targets: TARGETS,
        since: T0 - 60_000,
      },
      { ...deps, fetch: hanging, signal: cancel.signal },
    );
    setTimeout(() => cancel.abort(new Error('received SIGTERM')), 10);
    await expect(run).rejects.toThrow('received SIGTERM');
  });

  it('refuses an analysis without checks', async () => {
    const { deps } = setup(healthyTraffic);
    await expect(
      runAnalysis(
        { analysis: analysis({ checks: [] }), targets: TARGETS },
        {
          ...deps,
          elbv2: new ElasticLoadBalancingV2Client({ region: 'ap-northeast-1' }),
        },
      ),
    ).rejects.toThrow('The analysis has no checks');
  });
});

describe('runAnalysis: early failure', () => {
  /**
   * Steady traffic: requests and 5xx per second for each target group, so a query returns as
   * many as its window holds (an open interval's first seconds hold few).
   */
  const perSecond =
    (rates: Record<string, { rps: number; errorRate: number }>): MetricSource =>
    ({ metricName, targetGroup, start, end }) => {
      const r = rates[targetGroup];
      if (!r) return undefined;
      const requests = Math.round((r.rps * (end - start)) / 1000);
      if (metricName === 'RequestCount') return requests || undefined;
      if (metricName === 'HTTPCode_Target_5XX_Count')
        return Math.round(requests * r.errorRate) || undefined;
      return undefined;
    };
  // The demo's bad build at a 10% step: 6 req/s to green, 30% of them failing.
  const badBuild = perSecond({
    [GREEN.dimension]: { rps: 6, errorRate: 0.3 },
    [BLUE.dimension]: { rps: 54, errorRate: 0 },
  });
  const oneMinute = analysis({ warmupMs: 0, checks: [ERROR_RATE] });

  it('fails a bad canary a few seconds into its interval on 1 s data, and says it judged early', async () => {
    const { clock, calls, logger, deps } = setup(badBuild, T0);
    const result = await runAnalysis(
      { analysis: oneMinute, targets: TARGETS, since: T0, cloudWatchPeriodMs: 1_000 },
      deps,
    );
    // 20 requests (the least an early failure rests on) take 4 s at 6 req/s: 24 requests, 7 5xx.
    expect(result).toMatchObject({
      healthy: false,
      endedEarly: true,
      failedIntervals: 1,
      failedChecks: ['error-rate of green'],
      verdict:
        'error-rate of green 29.2% > 1% with 99.9% confidence (7 5xx of 24 requests in 4s, judged early) in 1 of 1 interval',
    });
    expect(iso(result.verdictAt)).toBe('2026-05-01T12:00:04.000Z');
    expect(result.intervals[0]).toMatchObject({
      early: { from: T0, through: T0 + 4_000 },
      status: 'fail',
      window: { start: T0, end: T0 + 60_000 },
    });
    // Looks at 1 s, 2 s, 3 s (too few requests), then 4 s; never the close.
    expect(calls.map((c) => (c.EndTime!.getTime() - T0) / 1000)).toEqual([1, 2, 3, 4]);
    expect(calls.every((c) => c.MetricDataQueries![0]!.MetricStat!.Period === 1)).toBe(true);
    expect(clock.t).toBe(T0 + 4_000);
    expect(logger.lines).toContain(
      'Interval 1/5 [2026-05-01T12:00:00.000Z, 2026-05-01T12:01:00.000Z): fail early, on its data in [2026-05-01T12:00:00.000Z, 2026-05-01T12:00:04.000Z) (1 failed, limit 0)',
    );
  });

  it('starts looking when the warmup ends, before the first window on the minute grid', async () => {
    // Shift at 12:00:07, warmup 30 s: the first 1 min window is [12:01, 12:02) (GetMetricData
    // rounds a 60 s period to the minute), but the data from 12:00:37 is after the warmup too.
    const since = T0 + 7_000;
    const { logger, deps } = setup(badBuild, since);
    const result = await runAnalysis(
      {
        analysis: analysis({ warmupMs: 30_000, checks: [ERROR_RATE] }),
        targets: TARGETS,
        since,
        cloudWatchPeriodMs: 1_000,
      },
      deps,
    );
    expect(result.intervals[0]).toMatchObject({
      window: { start: T0 + 60_000 },
      early: { from: T0 + 37_000, through: T0 + 41_000 },
    });
    expect(iso(result.verdictAt)).toBe('2026-05-01T12:00:41.000Z');
    expect(logger.lines).toContain(
      "An interval fails early when its data so far shows an error rate over max with 99.9% confidence; the first interval's early looks start at 2026-05-01T12:00:37.000Z.",
    );
  });

  it('waits for the close with failEarly: false', async () => {
    const { calls, deps } = setup(badBuild, T0);
    const result = await runAnalysis(
      {
        analysis: { ...oneMinute, failEarly: false },
        targets: TARGETS,
        since: T0,
        cloudWatchPeriodMs: 1_000,
      },
      deps,
    );
    expect(result.verdict).toBe('error-rate of green 30% > 1% in 1 of 1 interval');
    expect(iso(result.verdictAt)).toBe('2026-05-01T12:01:00.000Z');
    expect(calls).toHaveLength(1);
  });

  it('never passes early: a healthy canary at the threshold is judged at every close', async () => {
    const atTheEdge = perSecond({
      [GREEN.dimension]: { rps: 100, errorRate: 0.01 },
      [BLUE.dimension]: { rps: 900, errorRate: 0.01 },
    });
    const { calls, deps } = setup(atTheEdge, T0);
    const result = await runAnalysis(
      { analysis: oneMinute, targets: TARGETS, since: T0, cloudWatchPeriodMs: 1_000 },
      deps,
    );
    expect(result.healthy).toBe(true);
    expect(result.intervals.map((i) => [i.status, i.early, i.evaluatedAt - T0])).toEqual([
      ['pass', undefined, 60_000],
      ['pass', undefined, 120_000],
      ['pass', undefined, 180_000],
      ['pass', undefined, 240_000],
      ['pass', undefined, 300_000],
    ]);
    expect(calls).toHaveLength(5 * 60); // 59 looks and the close, each interval
  });

  it('has no early look on 1 min ALB data with 1 min intervals (the datapoint comes after the close)', async () => {
    const { calls, deps } = setup(badBuild, T0);
    const result = await runAnalysis(
      { analysis: oneMinute, targets: TARGETS, since: T0, cloudWatchDelayMs: 60_000 },
      deps,
    );
    expect(calls).toHaveLength(1);
    expect(iso(result.verdictAt)).toBe('2026-05-01T12:02:00.000Z');
  });

  it('looks at each whole minute of a 5 min interval on ALB data, once the minute is in', async () => {
    const { calls, deps } = setup(badBuild, T0);
    const result = await runAnalysis(
      {
        analysis: analysis({
          warmupMs: 0,
          intervalMs: 300_000,
          durationMs: 600_000,
          checks: [ERROR_RATE],
        }),
        targets: TARGETS,
        since: T0,
        cloudWatchDelayMs: 60_000,
      },
      deps,
    );
    // The first minute [12:00, 12:01) is in a minute after it closes: judged at 12:02.
    expect(calls.map((c) => [iso(c.StartTime!.getTime()), iso(c.EndTime!.getTime())])).toEqual([
      ['2026-05-01T12:00:00.000Z', '2026-05-01T12:01:00.000Z'],
    ]);
    expect(calls[0]!.MetricDataQueries![0]!.MetricStat!.Period).toBe(60);
    expect(iso(result.verdictAt)).toBe('2026-05-01T12:02:00.000Z');
    expect(result.intervals[0]?.early).toEqual({ from: T0, through: T0 + 60_000 });
  });

  it('passes over an early look CloudWatch cannot answer, and judges at the close', async () => {
    let n = 0;
    const { calls, deps } = setup((q) => {
      if (q.end - q.start < 60_000) throw new Error('Rate exceeded');
      n++;
      return badBuild(q);
    }, T0);
    const result = await runAnalysis(
      { analysis: oneMinute, targets: TARGETS, since: T0, cloudWatchPeriodMs: 1_000 },
      deps,
    );
    expect(n).toBeGreaterThan(0);
    expect(calls).toHaveLength(60);
    expect(result.verdict).toBe('error-rate of green 30% > 1% in 1 of 1 interval');
    expect(iso(result.verdictAt)).toBe('2026-05-01T12:01:00.000Z');
  });
});

describe('describeEarlyFailure (the plan line)', () => {
  const oneMinute = analysis({ checks: [ERROR_RATE] });

  it('says there is no early look on 1 min ALB data with 1 min intervals', () => {
    expect(describeEarlyFailure(oneMinute, 60_000, 60_000)).toBe(
      'No early failure: with 1m CloudWatch data an interval of 1m has no datapoint before it closes (a longer interval, or high-resolution metrics, would allow one).',
    );
  });

  it('says how often it looks, and how far behind', () => {
    expect(describeEarlyFailure({ ...oneMinute, intervalMs: 300_000 }, 60_000, 60_000)).toBe(
      'Early failure: the error rate of an open interval is looked at every 1m, 1m behind as CloudWatch data comes late; an interval fails at once when it is over max with 99.9% confidence (20 requests at least). Passing still needs the whole interval.',
    );
    expect(describeEarlyFailure(oneMinute, 1_000, 0)).toMatch(/^Early failure: .* every 1s; an/);
  });

  it('says nothing when turned off or when no check can fail early', () => {
    expect(describeEarlyFailure({ ...oneMinute, failEarly: false }, 1_000)).toBeUndefined();
    expect(describeEarlyFailure(analysis({ checks: [TARGET_HEALTH] }), 1_000)).toBeUndefined();
    expect(
      describeEarlyFailure(
        analysis({ checks: [{ kind: 'cloudwatch', metric: 'latency-p99', max: 0.5 }] }),
        1_000,
      ),
    ).toBeUndefined();
  });
});
