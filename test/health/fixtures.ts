/** Targets, a fake clock and a CloudWatch stand-in for the health unit tests. */
import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  type TargetHealthStateEnum,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import type { Clock, HealthTargets, TargetGroupRef } from '../../src/health/index.js';

const P = 'arn:aws:elasticloadbalancing:ap-northeast-1:123456789012';
export const GREEN: TargetGroupRef = {
  label: 'green',
  arn: `${P}:targetgroup/web-green/fedcba9876543210`,
  dimension: 'targetgroup/web-green/fedcba9876543210',
  loadBalancers: ['app/web/50dc6c495c0c9188'],
  eks: 'prod-1-32',
};
export const BLUE: TargetGroupRef = {
  label: 'blue',
  arn: `${P}:targetgroup/web-blue/0123456789abcdef`,
  dimension: 'targetgroup/web-blue/0123456789abcdef',
  loadBalancers: ['app/web/50dc6c495c0c9188'],
  eks: 'prod-1-31',
};
export const TARGETS: HealthTargets = { canary: GREEN, baseline: BLUE, weighted: [GREEN, BLUE] };

/** A clock whose sleep only moves time forward, recording each sleep. */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(public t: number) {}
  now(): Date {
    return new Date(this.t);
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
  }
}

/** What a metric's series holds for one query window, or undefined for no datapoint. */
export type MetricSource = (q: {
  metricName: string;
  stat: string;
  targetGroup: string;
  loadBalancer: string;
  start: number;
  end: number;
}) => number | undefined;

/**
 * A CloudWatch client whose GetMetricData answers each MetricStat query from `source`, one
 * datapoint per query (the window is one period), and records every call's input.
 */
export function fakeCloudWatch(source: MetricSource): {
  client: CloudWatchClient;
  calls: GetMetricDataCommandInput[];
} {
  const client = new CloudWatchClient({ region: 'ap-northeast-1' });
  const calls: GetMetricDataCommandInput[] = [];
  mockClient(client)
    .on(GetMetricDataCommand)
    .callsFake((input: GetMetricDataCommandInput) => {
      calls.push(input);
      const start = (input.StartTime as Date).getTime();
      const end = (input.EndTime as Date).getTime();
      const results: MetricDataResult[] = (input.MetricDataQueries ?? []).map((q) => {
        const stat = q.MetricStat;
        const dims = Object.fromEntries(
          (stat?.Metric?.Dimensions ?? []).map((d) => [d.Name, d.Value]),
        );
        const value = stat
          ? source({
              metricName: stat.Metric?.MetricName ?? '',
              stat: stat.Stat ?? '',
              targetGroup: dims.TargetGroup ?? '',
              loadBalancer: dims.LoadBalancer ?? '',
              start,
              end,
            })
          : undefined;
        return {
          Id: q.Id,
          Label: q.Label,
          StatusCode: 'Complete',
          Timestamps: value === undefined ? [] : [new Date(start)],
          Values: value === undefined ? [] : [value],
        };
      });
      return { MetricDataResults: results };
    });
  return { client, calls };
}

/** An ELBv2 client whose DescribeTargetHealth answers from `states` per target group ARN. */
export function fakeTargetHealth(
  states: Record<string, (TargetHealthStateEnum | `${TargetHealthStateEnum}`)[]>,
): ElasticLoadBalancingV2Client {
  const client = new ElasticLoadBalancingV2Client({ region: 'ap-northeast-1' });
  mockClient(client)
    .on(DescribeTargetHealthCommand)
    .callsFake((input: { TargetGroupArn: string }) => ({
      TargetHealthDescriptions: (states[input.TargetGroupArn] ?? []).map((State, i) => ({
        Target: { Id: `10.0.0.${i + 1}`, Port: 8080 },
        TargetHealth: { State, ...(State === 'healthy' ? {} : { Reason: `Target.${State}` }) },
      })),
    }));
  return client;
}

/** Traffic per target group: requests, 5xx and latency statistics, constant over time. */
export function traffic(
  byTargetGroup: Record<string, { requests: number; errors?: number; p99?: number; avg?: number }>,
): MetricSource {
  return ({ metricName, stat, targetGroup }) => {
    const t = byTargetGroup[targetGroup];
    if (!t || t.requests === 0) return undefined;
    if (metricName === 'RequestCount') return t.requests;
    if (metricName === 'HTTPCode_Target_5XX_Count') return t.errors || undefined;
    if (metricName === 'TargetResponseTime') return stat === 'Average' ? t.avg : t.p99;
    return undefined;
  };
}
