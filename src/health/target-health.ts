/**
 * The targets of a target group by state, from DescribeTargetHealth: what the targetHealth
 * check judges, and what plan and rollback look at before traffic moves. Targets are counted
 * as the ALB's HealthyHostCount / UnHealthyHostCount count them: `healthy` is healthy;
 * `unhealthy` and `unhealthy.draining` (still in service while it drains) are unhealthy;
 * `initial` (not yet passed a health check) and `draining` (deregistering, no new requests)
 * are neither, and are shown beside the counts because they explain a low healthy count.
 */
import {
  DescribeTargetHealthCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';

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
