/**
 * The target groups a rollout file's analysis looks at: the canary, the baseline (the other
 * cluster with the most weight) and every cluster with weight.
 */
import { ConfigurationError } from '../common/errors.js';
import type { TargetGroupSpec, TargetSpec } from '../health/targets.js';
import type { RolloutFile } from './types.js';

/**
 * From a rollout file: the canary cluster; as baseline the other cluster with the most weight
 * (none when the canary has all of it); every cluster with weight for targetHealth.
 */
export function targetsFromRolloutFile(file: RolloutFile): TargetSpec {
  const spec = (name: string): TargetGroupSpec => {
    const c = file.clusters.find((x) => x.name === name);
    if (!c)
      throw new ConfigurationError(`${file.path}: canary "${name}" is not a declared cluster.`);
    return { label: c.name, arn: c.targetGroup, eks: c.eks };
  };
  const canary = spec(file.canary);
  let baseline: TargetGroupSpec | undefined;
  let baselineWeight = 0;
  for (const c of file.clusters) {
    const w = file.weights[c.name] ?? 0;
    if (c.name !== file.canary && w > baselineWeight) {
      baseline = spec(c.name);
      baselineWeight = w;
    }
  }
  const weighted = file.clusters
    .filter((c) => c.name !== file.canary && (file.weights[c.name] ?? 0) > 0)
    .map((c) => spec(c.name));
  const out: TargetSpec = { canary, weighted: [canary, ...weighted] };
  if (baseline) out.baseline = baseline;
  return out;
}
