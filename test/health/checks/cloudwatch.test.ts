import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import {
  evaluateCloudWatch,
  planCloudWatch,
  type CloudWatchCheck,
} from '../../../src/health/checks/cloudwatch.js';
import type { HealthTargets, IntervalWindow } from '../../../src/health/index.js';
import { BLUE, GREEN, TARGETS, fakeCloudWatch, traffic } from '../fixtures.js';

const WINDOW: IntervalWindow = {
  index: 1,
  start: Date.parse('2026-05-01T12:01:00Z'),
  end: Date.parse('2026-05-01T12:02:00Z'),
};

async function evaluate(
  checks: CloudWatchCheck[],
  source: Parameters<typeof fakeCloudWatch>[0],
  targets: HealthTargets = TARGETS,
) {
  const { client, calls } = fakeCloudWatch(source);
  const plan = planCloudWatch(checks, targets, 60);
  const measurements = await evaluateCloudWatch(client, plan, WINDOW);
  return { measurements, calls };
}

const errorRate = (extra: Partial<CloudWatchCheck> = {}): CloudWatchCheck => ({
  kind: 'cloudwatch',
  metric: 'error-rate',
  max: 0.01,
  ...extra,
});

describe('cloudwatch built-in metrics', () => {
  it('fetches every check of the interval in one GetMetricData call with ALB dimensions', async () => {
    const { calls, measurements } = await evaluate(
      [errorRate(), { kind: 'cloudwatch', metric: 'latency-p99', max: 0.8 }],
      traffic({ [GREEN.dimension]: { requests: 1000, errors: 2, p99: 0.3 } }),
    );
    expect(calls).toHaveLength(1);
    const input = calls[0]!;
    expect(input.StartTime).toEqual(new Date(WINDOW.start));
    expect(input.EndTime).toEqual(new Date(WINDOW.end));
    const stats = input.MetricDataQueries!.map((q) => ({
      metric: q.MetricStat?.Metric?.MetricName,
      stat: q.MetricStat?.Stat,
      period: q.MetricStat?.Period,
      namespace: q.MetricStat?.Metric?.Namespace,
      dims: q.MetricStat?.Metric?.Dimensions,
    }));
    const dims = [
      { Name: 'TargetGroup', Value: 'targetgroup/web-green/fedcba9876543210' },
      { Name: 'LoadBalancer', Value: 'app/web/50dc6c495c0c9188' },
    ];
    // RequestCount is shared by both checks: one query, not two.
    expect(stats).toEqual([
      { metric: 'RequestCount', stat: 'Sum', period: 60, namespace: 'AWS/ApplicationELB', dims },
      {
        metric: 'HTTPCode_Target_5XX_Count',
        stat: 'Sum',
        period: 60,
        namespace: 'AWS/ApplicationELB',
        dims,
      },
      {
        metric: 'TargetResponseTime',
        stat: 'p99',
        period: 60,
        namespace: 'AWS/ApplicationELB',
        dims,
      },
    ]);
    expect(measurements.map((m) => [m.name, m.status, m.shown, m.threshold])).toEqual([
      ['error-rate of green', 'pass', '0.2%', '≤ 1%'],
      ['latency-p99 of green', 'pass', '300ms', '≤ 800ms'],
    ]);
  });

  it('fails an error rate above max and says by how much', async () => {
    const { measurements } = await evaluate(
      [errorRate()],
      traffic({ [GREEN.dimension]: { requests: 1000, errors: 42 } }),
    );
    expect(measurements[0]).toMatchObject({
      status: 'fail',
      value: 0.042,
      shown: '4.2%',
      reason: '4.2% > 1%',
    });
  });

  it('treats no 5xx datapoint with traffic as 0% errors', async () => {
    const { measurements } = await evaluate(
      [errorRate()],
      traffic({ [GREEN.dimension]: { requests: 50 } }),
    );
    expect(measurements[0]).toMatchObject({ status: 'pass', value: 0, shown: '0%' });
  });

  it('calls zero requests inconclusive, not 0% errors', async () => {
    const { measurements } = await evaluate([errorRate()], traffic({}));
    expect(measurements[0]).toMatchObject({
      status: 'inconclusive',
      shown: 'no data',
      reason: 'not enough traffic to judge: 0 requests to green < minRequests 1',
    });
  });

  it('is inconclusive below minRequests even when the rate is bad', async () => {
    const { measurements } = await evaluate(
      [errorRate({ minRequests: 100 })],
      traffic({ [GREEN.dimension]: { requests: 20, errors: 10 } }),
    );
    expect(measurements[0]).toMatchObject({
      status: 'inconclusive',
      reason: 'not enough traffic to judge: 20 requests to green < minRequests 100',
    });
  });

  it('sums counts over every ALB that forwards to the target group', async () => {
    const twoAlbs: HealthTargets = {
      ...TARGETS,
      canary: {
        ...GREEN,
        loadBalancers: ['app/web/50dc6c495c0c9188', 'app/web-internal/60dc6c495c0c9188'],
      },
    };
    const { measurements, calls } = await evaluate(
      [errorRate(), { kind: 'cloudwatch', metric: 'latency-avg', max: 1 }],
      ({ metricName, loadBalancer, stat }) => {
        const external = loadBalancer === 'app/web/50dc6c495c0c9188';
        if (metricName === 'RequestCount') return external ? 900 : 100;
        if (metricName === 'HTTPCode_Target_5XX_Count') return external ? 0 : 30;
        if (metricName === 'TargetResponseTime' && stat === 'Average') return external ? 0.1 : 0.5;
        return undefined;
      },
      twoAlbs,
    );
    expect(calls[0]!.MetricDataQueries).toHaveLength(6);
    expect(measurements[0]).toMatchObject({ status: 'fail', shown: '3%', reason: '3% > 1%' });
    // (0.1 * 900 + 0.5 * 100) / 1000
    expect(measurements[1]).toMatchObject({ status: 'pass', shown: '140ms' });
  });

  it('fails a slow p99 and shows seconds above one second', async () => {
    const { measurements } = await evaluate(
      [{ kind: 'cloudwatch', metric: 'latency-p99', max: 0.8 }],
      traffic({ [GREEN.dimension]: { requests: 100, p99: 1.25 } }),
    );
    expect(measurements[0]).toMatchObject({ status: 'fail', reason: '1.25s > 800ms' });
  });

  it('fails a request count below min, with zero requests measured as 0', async () => {
    const { measurements } = await evaluate(
      [{ kind: 'cloudwatch', metric: 'request-count', min: 10 }],
      traffic({}),
    );
    expect(measurements[0]).toMatchObject({ status: 'fail', value: 0, reason: '0 < 10' });
  });

  it('is inconclusive when CloudWatch cannot answer a query', async () => {
    const client = new CloudWatchClient({ region: 'ap-northeast-1' });
    mockClient(client)
      .on(GetMetricDataCommand)
      .resolves({
        MetricDataResults: ['m0', 'm1'].map((Id) => ({
          Id,
          StatusCode: 'InternalError',
          Messages: [{ Code: 'InternalError', Value: 'try again' }],
          Values: [],
        })),
      });
    const plan = planCloudWatch([errorRate()], TARGETS, 60);
    const [m] = await evaluateCloudWatch(client, plan, WINDOW);
    expect(m).toMatchObject({
      status: 'inconclusive',
      reason:
        'CloudWatch answered InternalError: try again; CloudWatch answered InternalError: try again',
    });
  });

  it('refuses a target group that no load balancer forwards to', () => {
    expect(() =>
      planCloudWatch([errorRate()], { ...TARGETS, canary: { ...GREEN, loadBalancers: [] } }, 60),
    ).toThrow(/green .* is not attached to any load balancer/);
  });
});

describe('cloudwatch vsBaseline', () => {
  const increase = errorRate({ max: undefined, vsBaseline: { maxIncrease: 0.005 } });

  it('passes when canary and baseline are equally bad', async () => {
    const { measurements } = await evaluate(
      [increase],
      traffic({
        [GREEN.dimension]: { requests: 1000, errors: 50 },
        [BLUE.dimension]: { requests: 9000, errors: 450 },
      }),
    );
    expect(measurements[0]).toMatchObject({
      name: 'error-rate of green vs blue',
      status: 'pass',
      shown: '5% vs blue 5%',
      threshold: '≤ blue +0.5%',
    });
  });

  it('fails when only the canary is bad', async () => {
    const { measurements } = await evaluate(
      [increase],
      traffic({
        [GREEN.dimension]: { requests: 1000, errors: 50 },
        [BLUE.dimension]: { requests: 9000, errors: 9 },
      }),
    );
    expect(measurements[0]).toMatchObject({
      status: 'fail',
      reason: '5% vs blue 0.1%: +4.9% > +0.5%',
    });
  });

  it('compares with maxRatio, where equal zeros are a ratio of 1', async () => {
    const ratio: CloudWatchCheck = {
      kind: 'cloudwatch',
      metric: 'latency-p99',
      vsBaseline: { maxRatio: 1.5 },
    };
    const slow = await evaluate(
      [ratio],
      traffic({
        [GREEN.dimension]: { requests: 100, p99: 0.9 },
        [BLUE.dimension]: { requests: 100, p99: 0.3 },
      }),
    );
    expect(slow.measurements[0]).toMatchObject({
      status: 'fail',
      reason: '900ms vs blue 300ms: ×3 > ×1.5',
    });
    const zeros = await evaluate(
      [errorRate({ max: undefined, vsBaseline: { maxRatio: 2 } })],
      traffic({ [GREEN.dimension]: { requests: 100 }, [BLUE.dimension]: { requests: 100 } }),
    );
    expect(zeros.measurements[0]).toMatchObject({ status: 'pass' });
  });

  it('is inconclusive when the baseline has no traffic', async () => {
    const { measurements } = await evaluate(
      [increase],
      traffic({ [GREEN.dimension]: { requests: 1000, errors: 1 } }),
    );
    expect(measurements[0]).toMatchObject({
      status: 'inconclusive',
      reason: 'not enough traffic to judge: 0 requests to blue < minRequests 1',
    });
  });

  it('is skipped when no baseline takes traffic (canary at 100%)', async () => {
    const { measurements, calls } = await evaluate(
      [increase],
      traffic({ [GREEN.dimension]: { requests: 1000, errors: 1 } }),
      { canary: GREEN, weighted: [GREEN] },
    );
    expect(measurements[0]).toMatchObject({
      name: 'error-rate of green vs baseline',
      status: 'skipped',
      reason: 'no baseline target group receives traffic to compare with',
    });
    expect(calls[0]!.MetricDataQueries!.every((q) => !JSON.stringify(q).includes('web-blue'))).toBe(
      true,
    );
  });
});

describe('cloudwatch custom queries', () => {
  const custom: CloudWatchCheck = {
    kind: 'cloudwatch',
    queries: [
      {
        Id: 'errors',
        MetricStat: {
          Metric: {
            Namespace: 'AWS/ApplicationELB',
            MetricName: 'HTTPCode_Target_5XX_Count',
            Dimensions: [
              { Name: 'TargetGroup', Value: '{{targetGroup}}' },
              { Name: 'LoadBalancer', Value: '{{ loadBalancer }}' },
            ],
          },
          Period: 300,
          Stat: 'Sum',
        },
      },
      { Id: 'scaled', Expression: 'errors * 2' },
    ],
    returnId: 'scaled',
    max: 10,
  };

  it('fills placeholders, keeps ids unique, sets the period and compares the returned value', async () => {
    const client = new CloudWatchClient({ region: 'ap-northeast-1' });
    const mock = mockClient(client);
    mock.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'c0_scaled',
          StatusCode: 'Complete',
          Values: [14],
          Timestamps: [new Date(WINDOW.start)],
        },
      ],
    });
    const plan = planCloudWatch([custom], TARGETS, 60);
    const [m] = await evaluateCloudWatch(client, plan, WINDOW);
    const sent = mock.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries;
    expect(sent).toEqual([
      {
        Id: 'c0_errors',
        ReturnData: false,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/ApplicationELB',
            MetricName: 'HTTPCode_Target_5XX_Count',
            Dimensions: [
              { Name: 'TargetGroup', Value: 'targetgroup/web-green/fedcba9876543210' },
              { Name: 'LoadBalancer', Value: 'app/web/50dc6c495c0c9188' },
            ],
          },
          Period: 60,
          Stat: 'Sum',
        },
      },
      { Id: 'c0_scaled', Expression: 'c0_errors * 2', ReturnData: true },
    ]);
    expect(m).toMatchObject({
      name: 'cloudwatch scaled of green',
      status: 'fail',
      value: 14,
      reason: '14 > 10',
    });
  });

  it('is inconclusive when the returned query has no data', async () => {
    const { measurements } = await evaluate([custom], () => undefined);
    expect(measurements[0]).toMatchObject({
      status: 'inconclusive',
      reason: 'query scaled returned no data in the interval',
    });
  });

  it('rejects an unknown placeholder before any call', () => {
    const bad: CloudWatchCheck = {
      ...custom,
      queries: [{ Id: 'x', Expression: "SEARCH('{{targetgroup}}', 'Sum')" }],
      returnId: 'x',
    };
    expect(() => planCloudWatch([bad], TARGETS, 60)).toThrow(
      'Unknown placeholder {{targetgroup}} in the cloudwatch check 1; known placeholders are {{targetGroup}}, {{loadBalancer}}, {{baselineTargetGroup}}.',
    );
  });

  it('rejects {{baselineTargetGroup}} when there is no baseline', () => {
    const bad: CloudWatchCheck = {
      ...custom,
      queries: [{ Id: 'x', Expression: "SEARCH('{{baselineTargetGroup}}', 'Sum')" }],
      returnId: 'x',
    };
    expect(() => planCloudWatch([bad], { canary: GREEN, weighted: [GREEN] }, 60)).toThrow(
      /Placeholder \{\{baselineTargetGroup\}\} in the cloudwatch check 1 has no value: there is no baseline target group/,
    );
  });
});
