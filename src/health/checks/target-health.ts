/**
 * targetHealth: DescribeTargetHealth of every target group that receives weight, counted as
 * ../target-health.ts describes.
 */
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { optional, type At, type YamlSource } from '../../yaml/source.js';
import { describeTargetStates } from '../target-health.js';
import type { Measurement, TargetGroupRef } from '../types.js';
import { settings, type CheckKind } from './kind.js';

export interface TargetHealthCheck {
  kind: 'targetHealth';
  minHealthy: number;
  maxUnhealthy: number;
}

export const targetHealth: CheckKind<TargetHealthCheck> = {
  name: 'targetHealth',
  fields: ['minHealthy', 'maxUnhealthy'],
  parse: readTargetHealth,
  prepare: (checks, { targets }) => ({
    evaluate: (_window, io) =>
      Promise.all(
        checks.map(({ check }) => evaluateTargetHealth(check, targets.weighted, io.elbv2)),
      ),
  }),
  describe: (check) =>
    `targetHealth: every cluster with weight has ≥ ${check.minHealthy} healthy and ≤ ${check.maxUnhealthy} unhealthy targets`,
  secrets: () => [],
  redact: (check) => check,
};

function readTargetHealth(src: YamlSource, at: At): TargetHealthCheck | undefined {
  const f = settings(src, at, targetHealth);
  if (!f) return undefined;
  const before = src.diagnostics.length;
  const minHealthy = optional(f.get('minHealthy'), (v) => src.integer(v, 0)) ?? 1;
  const maxUnhealthy = optional(f.get('maxUnhealthy'), (v) => src.integer(v, 0)) ?? 0;
  if (src.diagnostics.length > before) return undefined;
  return { kind: 'targetHealth', minHealthy, maxUnhealthy };
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
