/**
 * targetHealth: DescribeTargetHealth of every target group that receives weight. Targets are
 * counted as the ALB's HealthyHostCount / UnHealthyHostCount count them: `healthy` is healthy;
 * `unhealthy` and `unhealthy.draining` (still in service while it drains) are unhealthy;
 * `initial` (not yet passed a health check) and `draining` (deregistering, no new requests)
 * are neither, and are shown beside the counts because they explain a low healthy count.
 */
import {
  DescribeTargetHealthCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Check } from '../rollout-file/types.js';
import type { Measurement, TargetGroupRef } from './types.js';

export type TargetHealthCheck = Extract<Check, { kind: 'targetHealth' }>;

export interface TargetStateCounts {
  healthy: number;
  unhealthy: number;
  initial: number;
  draining: number;
  /** unused, unavailable, or a state this code does not know. */
  other: number;
  /** Target id:port -> state and reason, for the report. */
  targets: Record<string, string>;
}

export async function describeTargetStates(
  elbv2: ElasticLoadBalancingV2Client,
  targetGroupArn: string,
): Promise<TargetStateCounts> {
  const out = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  const counts: TargetStateCounts = {
    healthy: 0,
    unhealthy: 0,
    initial: 0,
    draining: 0,
    other: 0,
    targets: {},
  };
  for (const d of out.TargetHealthDescriptions ?? []) {
    const state = d.TargetHealth?.State ?? 'unknown';
    if (state === 'healthy') counts.healthy++;
    else if (state === 'unhealthy' || state === 'unhealthy.draining') counts.unhealthy++;
    else if (state === 'initial') counts.initial++;
    else if (state === 'draining') counts.draining++;
    else counts.other++;
    const id = `${d.Target?.Id ?? '?'}${d.Target?.Port ? `:${d.Target.Port}` : ''}`;
    const reason = d.TargetHealth?.Reason;
    counts.targets[id] = reason ? `${state} (${reason})` : state;
  }
  return counts;
}

export async function evaluateTargetHealth(
  check: TargetHealthCheck,
  targetGroups: readonly TargetGroupRef[],
  elbv2: ElasticLoadBalancingV2Client,
): Promise<Measurement[]> {
  return Promise.all(
    targetGroups.map(async (tg) => {
      const c = await describeTargetStates(elbv2, tg.arn);
      const problems: string[] = [];
      if (c.healthy < check.minHealthy) problems.push(`${c.healthy} healthy < ${check.minHealthy}`);
      if (c.unhealthy > check.maxUnhealthy) {
        problems.push(`${c.unhealthy} unhealthy > ${check.maxUnhealthy}`);
      }
      const aside = [
        c.initial ? `${c.initial} initial` : '',
        c.draining ? `${c.draining} draining` : '',
        c.other ? `${c.other} other` : '',
      ].filter(Boolean);
      const measurement: Measurement = {
        name: `targetHealth of ${tg.label}`,
        kind: 'targetHealth',
        status: problems.length ? 'fail' : 'pass',
        value: c.healthy,
        shown: `${c.healthy} healthy, ${c.unhealthy} unhealthy${aside.length ? ` (${aside.join(', ')})` : ''}`,
        threshold: `≥ ${check.minHealthy} healthy, ≤ ${check.maxUnhealthy} unhealthy`,
        details: { targetGroupArn: tg.arn, ...c },
      };
      if (problems.length) measurement.reason = problems.join(', ');
      return measurement;
    }),
  );
}
