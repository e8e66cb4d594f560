import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CloudWatchClient,
  GetMetricDataCommand,
  ListMetricsCommand,
  PutMetricDataCommand,
  type GetMetricDataCommandInput,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import { SandboxCore } from '../../sandbox/core.js';
import { CloudWatchService } from '../../sandbox/cloudwatch/service.js';
import { MetricStore } from '../../sandbox/metrics.js';

/** The sandbox's clock: a fixed minute, so periods and rounding are exact. */
const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);
const S = 1000;
const MIN = 60 * S;
const LB = 'app/web/0123456789abcdef';
const TG = 'targetgroup/web-blue/0123456789abcdef';
const ELB = 'AWS/ApplicationELB';

let core: SandboxCore;
let store: MetricStore;
let cw: CloudWatchClient;
let gzipCw: CloudWatchClient;

beforeAll(async () => {
  core = new SandboxCore();
  const endpoint = await core.listen();
  const config = {
    endpoint,
    region: 'ap-northeast-1',
    credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'secret' },
  };
  cw = new CloudWatchClient(config);
  // Compresses every request, so the gzip path is exercised even for small payloads.
  gzipCw = new CloudWatchClient({ ...config, requestMinCompressionSizeBytes: 1 });
});

beforeEach(() => {
  store = new MetricStore();
  core.register(new CloudWatchService({ metrics: store, now: () => NOW }));
});

afterAll(async () => {
  cw.destroy();
  gzipCw.destroy();
  await core.close();
});

function elbMetric(
  metricName: string,
  stat: string,
  period = 60,
  dimensions: Record<string, string> = { LoadBalancer: LB, TargetGroup: TG },
): MetricDataQuery['MetricStat'] {
  return {
    Metric: {
      Namespace: ELB,
      MetricName: metricName,
      Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
    },
    Period: period,
    Stat: stat,
  };
}

function putElb(metricName: string, at: number, value: number): void {
  store.put({
    namespace: ELB,
    metricName,
    dimensions: { LoadBalancer: LB, TargetGroup: TG },
    value,
    timestamp: at,
  });
}

async function query(
  queries: MetricDataQuery[],
  start = NOW - 10 * MIN,
  end = NOW,
  extra: Partial<GetMetricDataCommandInput> = {},
) {
  const out = await cw.send(
    new GetMetricDataCommand({
      MetricDataQueries: queries,
      StartTime: new Date(start),
      EndTime: new Date(end),
      ...extra,
    }),
  );
  return out;
}

async function rejection(p: Promise<unknown>): Promise<{
  name: string;
  Code: string;
  message: string;
  status: number | undefined;
}> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { Code: string; $metadata: { httpStatusCode?: number } };
    return {
      name: err.name,
      Code: err.Code,
      message: err.message,
      status: err.$metadata.httpStatusCode,
    };
  }
  throw new Error('expected the call to fail');
}

describe('GetMetricData statistics', () => {
  it('computes Sum, Average, SampleCount, Minimum, Maximum and percentiles over one period', async () => {
    // 100 response times of 1..100 ms inside the minute starting at NOW-5min.
    for (let i = 1; i <= 100; i++) putElb('TargetResponseTime', NOW - 5 * MIN + (i % 60) * S, i);
    const stats = ['Sum', 'Average', 'SampleCount', 'Minimum', 'Maximum', 'p50', 'p99', 'p99.5'];
    const out = await query(
      stats.map((stat, i) => ({ Id: `q${i}`, MetricStat: elbMetric('TargetResponseTime', stat) })),
    );
    const values = Object.fromEntries(
      (out.MetricDataResults ?? []).map((r, i) => [stats[i], r.Values]),
    );
    expect(values).toEqual({
      Sum: [5050],
      Average: [50.5],
      SampleCount: [100],
      Minimum: [1],
      Maximum: [100],
      p50: [50],
      p99: [99],
      'p99.5': [100],
    });
    expect(out.MetricDataResults?.[0]?.Timestamps).toEqual([new Date(NOW - 5 * MIN)]);
    expect(out.MetricDataResults?.[0]?.StatusCode).toBe('Complete');
  });

  it('returns one datapoint per period that has data, newest first, and none for empty periods', async () => {
    putElb('RequestCount', NOW - 9 * MIN + 5 * S, 1);
    putElb('RequestCount', NOW - 9 * MIN + 59 * S, 1);
    putElb('RequestCount', NOW - 7 * MIN, 1);
    const out = await query([{ Id: 'req', MetricStat: elbMetric('RequestCount', 'Sum') }]);
    expect(out.MetricDataResults?.[0]).toMatchObject({
      Id: 'req',
      Label: 'RequestCount',
      Timestamps: [new Date(NOW - 7 * MIN), new Date(NOW - 9 * MIN)],
      Values: [1, 2],
    });
  });

  it('orders datapoints oldest first with ScanBy TimestampAscending', async () => {
    putElb('RequestCount', NOW - 9 * MIN, 1);
    putElb('RequestCount', NOW - 7 * MIN, 3);
    const out = await query(
      [{ Id: 'req', MetricStat: elbMetric('RequestCount', 'Sum') }],
      NOW - 10 * MIN,
      NOW,
      { ScanBy: 'TimestampAscending' },
    );
    expect(out.MetricDataResults?.[0]?.Values).toEqual([1, 3]);
  });

  it('rounds StartTime down to the minute, and periods run from there', async () => {
    // Start 11:50:17 rounds to 11:50:00; with a 5-minute period the buckets are 11:50 and 11:55.
    putElb('RequestCount', NOW - 10 * MIN, 4); // 11:50:00: before StartTime, inside the rounded first bucket
    putElb('RequestCount', NOW - 5 * MIN + 30 * S, 6);
    const out = await query(
      [{ Id: 'req', MetricStat: elbMetric('RequestCount', 'Sum', 300) }],
      NOW - 10 * MIN + 17 * S,
      NOW,
    );
    expect(out.MetricDataResults?.[0]?.Timestamps).toEqual([
      new Date(NOW - 5 * MIN),
      new Date(NOW - 10 * MIN),
    ]);
    expect(out.MetricDataResults?.[0]?.Values).toEqual([6, 4]);
  });

  it('rounds StartTime to the period for high-resolution periods (10 s)', async () => {
    putElb('RequestCount', NOW - 60 * S + 21 * S, 1);
    putElb('RequestCount', NOW - 60 * S + 29 * S, 1);
    putElb('RequestCount', NOW - 60 * S + 30 * S, 1);
    const out = await query(
      [{ Id: 'req', MetricStat: elbMetric('RequestCount', 'Sum', 10) }],
      NOW - 60 * S + 23 * S,
      NOW,
      { ScanBy: 'TimestampAscending' },
    );
    expect(out.MetricDataResults?.[0]?.Timestamps).toEqual([
      new Date(NOW - 60 * S + 20 * S),
      new Date(NOW - 60 * S + 30 * S),
    ]);
    expect(out.MetricDataResults?.[0]?.Values).toEqual([2, 1]);
  });

  it('excludes data at EndTime', async () => {
    putElb('RequestCount', NOW - MIN, 1);
    putElb('RequestCount', NOW, 5);
    const out = await query([{ Id: 'req', MetricStat: elbMetric('RequestCount', 'Sum') }]);
    expect(out.MetricDataResults?.[0]?.Values).toEqual([1]);
  });

  it('matches the exact dimension set: {LoadBalancer} does not see {LoadBalancer, TargetGroup} data', async () => {
    putElb('RequestCount', NOW - 2 * MIN, 1);
    const out = await query([
      {
        Id: 'lb',
        MetricStat: elbMetric('RequestCount', 'Sum', 60, { LoadBalancer: LB }),
      },
    ]);
    expect(out.MetricDataResults?.[0]).toMatchObject({
      Id: 'lb',
      Timestamps: [],
      Values: [],
      StatusCode: 'Complete',
    });
  });

  it('returns no percentile for a period holding a negative value', async () => {
    putElb('Delta', NOW - 2 * MIN, -1);
    putElb('Delta', NOW - 2 * MIN, 5);
    const out = await query([
      { Id: 'p', MetricStat: elbMetric('Delta', 'p90') },
      { Id: 's', MetricStat: elbMetric('Delta', 'Sum') },
    ]);
    expect(out.MetricDataResults?.map((r) => r.Values)).toEqual([[], [4]]);
  });
});

describe('GetMetricData metric math', () => {
  beforeEach(() => {
    for (let i = 0; i < 10; i++) putElb('RequestCount', NOW - 3 * MIN + i * S, 1);
    for (let i = 0; i < 4; i++) putElb('RequestCount', NOW - 2 * MIN + i * S, 1);
    putElb('HTTPCode_Target_5XX_Count', NOW - 3 * MIN, 1);
  });

  it('computes an error rate element-wise, leaving out periods where an operand has no data', async () => {
    const out = await query([
      {
        Id: 'errors',
        MetricStat: elbMetric('HTTPCode_Target_5XX_Count', 'Sum'),
        ReturnData: false,
      },
      { Id: 'requests', MetricStat: elbMetric('RequestCount', 'Sum'), ReturnData: false },
      { Id: 'rate', Expression: '100 * errors / requests', Label: 'error %' },
    ]);
    expect(out.MetricDataResults).toHaveLength(1);
    expect(out.MetricDataResults?.[0]).toMatchObject({
      Id: 'rate',
      Label: 'error %',
      Timestamps: [new Date(NOW - 3 * MIN)],
      Values: [10],
    });
  });

  it('fills missing periods with FILL, so a period without errors reads 0', async () => {
    const out = await query(
      [
        {
          Id: 'errors',
          MetricStat: elbMetric('HTTPCode_Target_5XX_Count', 'Sum'),
          ReturnData: false,
        },
        { Id: 'requests', MetricStat: elbMetric('RequestCount', 'Sum'), ReturnData: false },
        { Id: 'rate', Expression: 'FILL(errors, 0) / requests' },
      ],
      NOW - 5 * MIN,
      NOW,
      { ScanBy: 'TimestampAscending' },
    );
    expect(out.MetricDataResults?.[0]?.Timestamps).toEqual([
      new Date(NOW - 3 * MIN),
      new Date(NOW - 2 * MIN),
    ]);
    expect(out.MetricDataResults?.[0]?.Values).toEqual([0.1, 0]);
  });

  it('honours precedence, parentheses, unary minus and expressions over expressions', async () => {
    const out = await query(
      [
        { Id: 'requests', MetricStat: elbMetric('RequestCount', 'Sum'), ReturnData: false },
        { Id: 'a', Expression: '(requests + 2) * 3 - -1' },
        { Id: 'b', Expression: 'a / 2' },
      ],
      NOW - 5 * MIN,
      NOW,
      { ScanBy: 'TimestampAscending' },
    );
    expect(out.MetricDataResults?.map((r) => [r.Id, r.Label, r.Values])).toEqual([
      ['a', 'a', [37, 19]],
      ['b', 'b', [18.5, 9.5]],
    ]);
  });

  it('leaves out a division by zero instead of returning Infinity', async () => {
    const out = await query([
      { Id: 'requests', MetricStat: elbMetric('RequestCount', 'Sum'), ReturnData: false },
      { Id: 'e', Expression: 'requests / 0' },
    ]);
    expect(out.MetricDataResults?.[0]?.Values).toEqual([]);
  });
});

describe('GetMetricData pagination', () => {
  it('pages by MaxDatapoints with NextToken, marking the cut result PartialData', async () => {
    for (let m = 1; m <= 3; m++) putElb('RequestCount', NOW - m * MIN, m);
    const base = {
      MetricDataQueries: [{ Id: 'req', MetricStat: elbMetric('RequestCount', 'Sum') }],
      StartTime: new Date(NOW - 10 * MIN),
      EndTime: new Date(NOW),
      MaxDatapoints: 2,
    };
    const first = await cw.send(new GetMetricDataCommand(base));
    expect(first.MetricDataResults?.[0]).toMatchObject({
      Values: [1, 2],
      StatusCode: 'PartialData',
    });
    expect(first.NextToken).toBeTypeOf('string');
    const second = await cw.send(
      new GetMetricDataCommand({ ...base, NextToken: first.NextToken as string }),
    );
    expect(second.MetricDataResults?.[0]).toMatchObject({ Values: [3], StatusCode: 'Complete' });
    expect(second.NextToken).toBeUndefined();
  });

  it('rejects a NextToken from another request with InvalidNextToken', async () => {
    const err = await rejection(
      query([{ Id: 'req', MetricStat: elbMetric('RequestCount', 'Sum') }], NOW - 10 * MIN, NOW, {
        NextToken: 'bm90LWEtdG9rZW4',
      }),
    );
    expect(err).toMatchObject({ name: 'InvalidNextToken', Code: 'InvalidNextToken', status: 400 });
  });
});

describe('GetMetricData validation', () => {
  const m = (Id: string): MetricDataQuery => ({ Id, MetricStat: elbMetric('RequestCount', 'Sum') });

  it('rejects duplicate ids', async () => {
    expect(await rejection(query([m('a'), m('a')]))).toEqual({
      name: 'ValidationException',
      Code: 'ValidationError',
      status: 400,
      message: 'The values for parameter id in MetricDataQueries are not unique.',
    });
  });

  it('rejects an id that does not start with a lowercase letter, naming each bad member', async () => {
    const err = await rejection(query([m('Requests'), m('ok'), m('5xx')]));
    expect(err).toMatchObject({ name: 'ValidationException', Code: 'ValidationError' });
    expect(err.message).toBe(
      'The value Requests for parameter MetricDataQueries.member.1.Id is not matching the expected pattern ^[a-z][a-zA-Z0-9_]*$.\n' +
        'The value 5xx for parameter MetricDataQueries.member.3.Id is not matching the expected pattern ^[a-z][a-zA-Z0-9_]*$.',
    );
  });

  it('rejects a query with both MetricStat and Expression', async () => {
    const err = await rejection(
      query([{ Id: 'a', MetricStat: elbMetric('RequestCount', 'Sum'), Expression: '1' }]),
    );
    expect(err).toMatchObject({ Code: 'ValidationError', status: 400 });
    expect(err.message).toBe(
      'The parameters MetricDataQueries.member.1.MetricStat and MetricDataQueries.member.1.Expression are mutually exclusive and you have specified both.',
    );
  });

  it('rejects a query with neither MetricStat nor Expression', async () => {
    const err = await rejection(query([{ Id: 'a' }]));
    expect(err.message).toBe(
      'Exactly one of MetricDataQueries.member.1.MetricStat and MetricDataQueries.member.1.Expression must be specified.',
    );
  });

  it('rejects a period that is not 1, 5, 10, 20, 30 or a multiple of 60', async () => {
    const err = await rejection(
      query([{ Id: 'a', MetricStat: elbMetric('RequestCount', 'Sum', 45) }]),
    );
    expect(err).toMatchObject({ Code: 'ValidationError' });
    expect(err.message).toBe(
      'The value 45 for parameter MetricDataQueries.member.1.MetricStat.Period is not valid. The period must be 1, 5, 10, 20, 30, or a multiple of 60.',
    );
    // A multiple of 60 is valid: two-minute sums over the ten minutes, newest first.
    putElb('RequestCount', NOW - 5 * MIN + 10 * S, 3);
    putElb('RequestCount', NOW - 5 * MIN + 50 * S, 4);
    putElb('RequestCount', NOW - 1 * MIN, 5);
    const out = await query([{ Id: 'a', MetricStat: elbMetric('RequestCount', 'Sum', 120) }]);
    expect(out.MetricDataResults).toEqual([
      expect.objectContaining({
        Id: 'a',
        StatusCode: 'Complete',
        Values: [5, 7],
        Timestamps: [new Date(NOW - 2 * MIN), new Date(NOW - 6 * MIN)],
      }),
    ]);
  });

  it('rejects more than 500 queries', async () => {
    const many = Array.from({ length: 501 }, (_, i) => m(`m${i}`));
    const err = await rejection(query(many));
    expect(err).toMatchObject({
      Code: 'ValidationError',
      message: 'The collection MetricDataQueries must not have a size greater than 500.',
    });
  });

  it('rejects an expression that names an unknown id', async () => {
    const err = await rejection(
      query([m('requests'), { Id: 'e', Expression: 'errors / requests' }]),
    );
    expect(err).toMatchObject({
      Code: 'ValidationError',
      message:
        'Error in expression e: Unrecognized metric or expression id errors. Ids in MetricDataQueries: requests, e.',
    });
  });

  it('rejects an expression that does not parse, with the position', async () => {
    const err = await rejection(query([m('requests'), { Id: 'e', Expression: 'requests * (2 +' }]));
    expect(err.message).toBe(
      'Error in expression e: unexpected the end of the expression at position 16.',
    );
  });

  it('rejects expressions that reference each other in a cycle', async () => {
    const err = await rejection(
      query([
        m('requests'),
        { Id: 'a', Expression: 'b + requests' },
        { Id: 'b', Expression: 'a * 2' },
      ]),
    );
    expect(err.message).toMatch(/^Error in expression [ab]: circular reference to [ab]\.$/);
  });

  it('rejects StartTime equal to EndTime', async () => {
    const err = await rejection(query([m('a')], NOW - MIN, NOW - MIN));
    expect(err).toMatchObject({
      Code: 'ValidationError',
      message: 'The parameter StartTime must not equal parameter EndTime.',
    });
  });

  it('rejects StartTime after EndTime', async () => {
    const err = await rejection(query([m('a')], NOW, NOW - MIN));
    expect(err).toMatchObject({
      Code: 'ValidationError',
      message: 'The parameter StartTime must be less than the parameter EndTime.',
    });
  });

  it('rejects an unknown statistic, and says which valid ones the sandbox lacks', async () => {
    const bad = await rejection(
      query([{ Id: 'a', MetricStat: elbMetric('RequestCount', 'Median') }]),
    );
    expect(bad.message).toBe(
      'The value Median for parameter MetricDataQueries.member.1.MetricStat.Stat is not a valid statistic.',
    );
    const unimplemented = await rejection(
      query([{ Id: 'a', MetricStat: elbMetric('RequestCount', 'tm99') }]),
    );
    expect(unimplemented.message).toMatch(/tm99 .* not implemented by the sandbox/);
  });

  it('rejects a request without queries with MissingParameter', async () => {
    const err = await rejection(query([]));
    expect(err).toMatchObject({
      name: 'MissingRequiredParameterException',
      Code: 'MissingParameter',
      message: 'The parameter MetricDataQueries is required.',
    });
  });
});

describe('PutMetricData', () => {
  const dims = [{ Name: 'Service', Value: 'web' }];

  it('round-trips values, Values with Counts, and statistic sets, gzip-compressed', async () => {
    // Observations: 10 once, 20 twice, 30 once, and a statistic set of four 10s.
    await gzipCw.send(
      new PutMetricDataCommand({
        Namespace: 'Canary/Test',
        MetricData: [
          {
            MetricName: 'Latency',
            Dimensions: dims,
            Timestamp: new Date(NOW - 2 * MIN),
            Value: 10,
          },
          {
            MetricName: 'Latency',
            Dimensions: dims,
            Timestamp: new Date(NOW - 2 * MIN + 5 * S),
            Values: [20, 30],
            Counts: [2, 1],
          },
          {
            MetricName: 'Latency',
            Dimensions: dims,
            Timestamp: new Date(NOW - 2 * MIN + 10 * S),
            StatisticValues: { SampleCount: 4, Sum: 40, Minimum: 10, Maximum: 10 },
          },
        ],
      }),
    );
    const metric = { Namespace: 'Canary/Test', MetricName: 'Latency', Dimensions: dims };
    const stats = ['SampleCount', 'Sum', 'Average', 'Minimum', 'Maximum', 'p50', 'p75', 'p90'];
    const out = await query(
      stats.map((Stat, i) => ({ Id: `s${i}`, MetricStat: { Metric: metric, Period: 60, Stat } })),
    );
    expect(out.MetricDataResults?.map((r) => r.Values?.[0])).toEqual([
      8, 120, 15, 10, 30, 10, 20, 30,
    ]);
  });

  it('keeps standard-resolution data at the minute and high-resolution data at the second', async () => {
    const at = new Date(NOW - 2 * MIN + 42 * S);
    await cw.send(
      new PutMetricDataCommand({
        Namespace: 'Canary/Test',
        MetricData: [
          { MetricName: 'Standard', Timestamp: at, Value: 1 },
          { MetricName: 'HighRes', Timestamp: at, Value: 1, StorageResolution: 1 },
        ],
      }),
    );
    const out = await query(
      ['Standard', 'HighRes'].map((MetricName, i) => ({
        Id: `q${i}`,
        MetricStat: { Metric: { Namespace: 'Canary/Test', MetricName }, Period: 1, Stat: 'Sum' },
      })),
    );
    expect(out.MetricDataResults?.map((r) => r.Timestamps)).toEqual([
      [new Date(NOW - 2 * MIN)],
      [at],
    ]);
  });

  it('gives no percentile over a statistic set whose values differ', async () => {
    await cw.send(
      new PutMetricDataCommand({
        Namespace: 'Canary/Test',
        MetricData: [
          {
            MetricName: 'Mixed',
            Timestamp: new Date(NOW - 2 * MIN),
            StatisticValues: { SampleCount: 2, Sum: 30, Minimum: 10, Maximum: 20 },
          },
        ],
      }),
    );
    const metric = { Namespace: 'Canary/Test', MetricName: 'Mixed' };
    const out = await query([
      { Id: 'p', MetricStat: { Metric: metric, Period: 60, Stat: 'p50' } },
      { Id: 'avg', MetricStat: { Metric: metric, Period: 60, Stat: 'Average' } },
    ]);
    expect(out.MetricDataResults?.map((r) => r.Values)).toEqual([[], [15]]);
  });

  it('lists what was put with ListMetrics, filtered by dimension name', async () => {
    putElb('RequestCount', NOW - MIN, 1);
    store.put({
      namespace: ELB,
      metricName: 'RequestCount',
      dimensions: { LoadBalancer: LB },
      value: 1,
      timestamp: NOW - MIN,
    });
    const out = await cw.send(
      new ListMetricsCommand({ Namespace: ELB, Dimensions: [{ Name: 'TargetGroup' }] }),
    );
    expect(out.Metrics).toEqual([
      {
        Namespace: ELB,
        MetricName: 'RequestCount',
        Dimensions: [
          { Name: 'LoadBalancer', Value: LB },
          { Name: 'TargetGroup', Value: TG },
        ],
      },
    ]);
  });

  const put = (
    MetricData: NonNullable<ConstructorParameters<typeof PutMetricDataCommand>[0]['MetricData']>,
    Namespace = 'Canary/Test',
  ) => cw.send(new PutMetricDataCommand({ Namespace, MetricData }));

  it('rejects the reserved AWS/ namespace with InvalidParameterValue', async () => {
    const err = await rejection(put([{ MetricName: 'X', Value: 1 }], 'AWS/ApplicationELB'));
    expect(err).toMatchObject({
      name: 'InvalidParameterValueException',
      Code: 'InvalidParameterValue',
      status: 400,
    });
    expect(err.message).toMatch(
      /^The value AWS\/ApplicationELB for parameter Namespace is invalid/,
    );
  });

  it('rejects Value together with StatisticValues with InvalidParameterCombination', async () => {
    const err = await rejection(
      put([
        {
          MetricName: 'X',
          Value: 1,
          StatisticValues: { SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1 },
        },
      ]),
    );
    expect(err).toEqual({
      name: 'InvalidParameterCombinationException',
      Code: 'InvalidParameterCombination',
      status: 400,
      message:
        'The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are mutually exclusive and you have specified both.',
    });
  });

  it('rejects Values and Counts of different lengths', async () => {
    const err = await rejection(put([{ MetricName: 'X', Values: [1, 2], Counts: [1] }]));
    expect(err).toMatchObject({
      Code: 'InvalidParameterValue',
      message:
        'The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size.',
    });
  });

  it('rejects a timestamp more than two weeks old and stores nothing from the request', async () => {
    const err = await rejection(
      put([
        { MetricName: 'Fresh', Value: 1, Timestamp: new Date(NOW - MIN) },
        { MetricName: 'Old', Value: 1, Timestamp: new Date(NOW - 15 * 24 * 60 * MIN) },
      ]),
    );
    expect(err).toMatchObject({ Code: 'InvalidParameterValue' });
    expect(err.message).toMatch(
      /^The parameter MetricData\.member\.2\.Timestamp must specify a time/,
    );
    expect(store.list()).toEqual([]);
  });

  it('rejects a StorageResolution other than 1 or 60', async () => {
    const err = await rejection(put([{ MetricName: 'X', Value: 1, StorageResolution: 5 }]));
    expect(err).toMatchObject({ Code: 'InvalidParameterValue' });
    expect(err.message).toMatch(
      /^The value 5 for parameter MetricData\.member\.1\.StorageResolution is invalid/,
    );
  });

  it('rejects a datum without a value with MissingParameter', async () => {
    const err = await rejection(put([{ MetricName: 'X' }]));
    expect(err).toMatchObject({
      Code: 'MissingParameter',
      message: 'The parameter MetricData.member.1.Value is required.',
    });
  });
});
