/**
 * Which target groups the analysis looks at, and their CloudWatch dimensions. The
 * LoadBalancer dimension of a target group is not in its ARN: it comes from
 * DescribeTargetGroups' LoadBalancerArns (one per ALB that forwards to it).
 */
import {
  DescribeTargetGroupsCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { isArnError, parseElbArn } from '../aws/arn.js';
import { ConfigurationError } from '../common/errors.js';
import type { HealthTargets, TargetGroupRef } from './types.js';

export interface TargetGroupSpec {
  label: string;
  arn: string;
  eks?: string;
}

export interface TargetSpec {
  canary: TargetGroupSpec;
  baseline?: TargetGroupSpec;
  /** Every target group that receives weight; the canary is added first if missing. */
  weighted: TargetGroupSpec[];
}

/** What each ARN is called in an error message: where the user wrote it. */
export interface TargetGroupSources {
  canary: string;
  baseline: string;
}

const UNNAMED_SOURCES: TargetGroupSources = {
  canary: 'The canary target group',
  baseline: 'The baseline target group',
};

/**
 * From target group ARNs, labelled by their names. `sources` names the ARNs in errors, e.g.
 * the inputs they came from.
 */
export function targetsFromArns(
  canaryArn: string,
  baselineArn?: string,
  sources: TargetGroupSources = UNNAMED_SOURCES,
): TargetSpec {
  const spec = (arn: string, source: string): TargetGroupSpec => {
    const parsed = parseElbArn(arn, 'targetgroup');
    if (isArnError(parsed)) throw new ConfigurationError(`${source}: ${parsed.error}`);
    return { label: parsed.name, arn };
  };
  const canary = spec(canaryArn, sources.canary);
  if (baselineArn === undefined) return { canary, weighted: [canary] };
  const baseline = spec(baselineArn, sources.baseline);
  if (baseline.arn === canary.arn) {
    throw new ConfigurationError(
      `${sources.canary} and ${sources.baseline} name the same target group.`,
    );
  }
  return { canary, baseline, weighted: [canary, baseline] };
}

/** Looks up every target group's load balancers in one DescribeTargetGroups call. */
export async function resolveTargets(
  elbv2: ElasticLoadBalancingV2Client,
  spec: TargetSpec,
): Promise<HealthTargets> {
  const all = [spec.canary, ...(spec.baseline ? [spec.baseline] : []), ...spec.weighted];
  const arns = [...new Set(all.map((t) => t.arn))];
  let found;
  try {
    found = await elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: arns }));
  } catch (e) {
    if (e instanceof Error && e.name === 'TargetGroupNotFoundException') {
      throw new ConfigurationError(`${e.message} (looked up: ${arns.join(', ')})`);
    }
    throw e;
  }
  const refs = new Map<string, TargetGroupRef>();
  for (const t of all) {
    if (refs.has(t.arn)) continue;
    const parsed = parseElbArn(t.arn, 'targetgroup');
    if (isArnError(parsed)) throw new ConfigurationError(parsed.error);
    const described = found.TargetGroups?.find((g) => g.TargetGroupArn === t.arn);
    if (!described) {
      throw new ConfigurationError(`Target group ${t.arn} (${t.label}) was not found.`);
    }
    const loadBalancers = (described.LoadBalancerArns ?? []).flatMap((lbArn) => {
      const lb = parseElbArn(lbArn, 'loadbalancer');
      return isArnError(lb) || !lb.loadBalancerDimension ? [] : [lb.loadBalancerDimension];
    });
    const ref: TargetGroupRef = {
      label: t.label,
      arn: t.arn,
      dimension: parsed.targetGroupDimension as string,
      loadBalancers,
    };
    if (t.eks) ref.eks = t.eks;
    refs.set(t.arn, ref);
  }
  const get = (t: TargetGroupSpec) => refs.get(t.arn) as TargetGroupRef;
  const weighted = [spec.canary, ...spec.weighted.filter((t) => t.arn !== spec.canary.arn)].map(
    get,
  );
  const out: HealthTargets = { canary: get(spec.canary), weighted };
  if (spec.baseline) out.baseline = get(spec.baseline);
  return out;
}
