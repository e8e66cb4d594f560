/**
 * The pure rules of a rollout step: how far one merge may move the canary, what the next step
 * is, and the weights in the two shapes we use (cluster name -> weight in the file, target
 * group ARN -> weight on the ALB).
 */
import type { Weights } from '../alb/forward.js';
import type { RolloutFile } from './types.js';

/** Cluster name -> integer percent, as in the file's `weights`. */
export type ClusterWeights = Record<string, number>;

export interface StepDecision {
  direction: 'forward' | 'backward' | 'same';
  canary: string;
  from: number;
  to: number;
  /** The highest canary weight one merge may reach from `from`: the next entry of `steps`. */
  limit: number;
  allowed: boolean;
  /** Allowed only because the PR carries the force label. */
  forced: boolean;
  message: string;
}

/**
 * One merge moves the canary at most one step forward: from `from` it may rise to the next
 * entry of `steps` above `from` (or anything below it), never beyond. Moving back toward the
 * baseline is always allowed. `force` lets a larger step through, and says so.
 */
export function checkStep(
  canary: string,
  steps: readonly number[],
  from: number,
  to: number,
  force: boolean,
  forceLabel: string,
): StepDecision {
  const next = steps.find((s) => s > from);
  const limit = next ?? from;
  const base = { canary, from, to, limit };
  if (to === from) {
    return {
      ...base,
      direction: 'same',
      allowed: true,
      forced: false,
      message: `${canary} stays at ${from}.`,
    };
  }
  if (to < from) {
    return {
      ...base,
      direction: 'backward',
      allowed: true,
      forced: false,
      message: `${canary} ${from} → ${to}: back toward the baseline, which is always allowed.`,
    };
  }
  if (to <= limit) {
    const how = to === limit ? 'one step forward' : `forward, within the next step (${limit})`;
    return {
      ...base,
      direction: 'forward',
      allowed: true,
      forced: false,
      message: `${canary} ${from} → ${to}: ${how}.`,
    };
  }
  const why =
    next === undefined
      ? `${from} is at or above the last entry of steps (${steps.at(-1)}), so the canary may not rise further`
      : `one merge may raise ${canary} only to ${next}, the next entry of steps [${steps.join(', ')}] after ${from}`;
  if (force) {
    return {
      ...base,
      direction: 'forward',
      allowed: true,
      forced: true,
      message: `${canary} ${from} → ${to} is larger than one step (${why}); allowed by the label ${forceLabel}.`,
    };
  }
  return {
    ...base,
    direction: 'forward',
    allowed: false,
    forced: false,
    message:
      `${canary} ${from} → ${to} is too large a step: ${why}. ` +
      (next === undefined
        ? ''
        : `Set ${canary} to ${next} in this PR and take the next step in another, `) +
      `${next === undefined ? 'Add' : 'or add'} the label ${forceLabel} to the PR if this jump is intended.`,
  };
}

/**
 * The one-step rule for a change of the file from `base` to `head`, with the canary weights
 * moving from `from` (the base file's, or the live ones for a new file) to `head.weights`. The
 * rule is judged by the base file's `canary` and `steps`: a PR that changed them together with
 * the weights could otherwise call any jump "back toward the baseline" or "one step". Such a PR
 * is refused unless forced; changing them alone, in a PR that moves no traffic, is fine.
 */
export function checkFileStep(
  base: RolloutFile | undefined,
  head: RolloutFile,
  from: ClusterWeights,
  force: boolean,
  forceLabel: string,
): StepDecision {
  const rules = base ?? head;
  const decision = checkStep(
    rules.canary,
    rules.steps,
    from[rules.canary] ?? 0,
    head.weights[rules.canary] ?? 0,
    force,
    forceLabel,
  );
  if (!base || sameClusterWeights(from, head.weights)) return decision;
  const changed = [
    ...(base.canary !== head.canary ? [`canary (${base.canary} → ${head.canary})`] : []),
    ...(base.steps.join(',') !== head.steps.join(',')
      ? [`steps ([${base.steps.join(', ')}] → [${head.steps.join(', ')}])`]
      : []),
  ];
  if (changed.length === 0) return decision;
  const what = changed.join(' and ');
  if (force) {
    return {
      ...decision,
      allowed: true,
      forced: true,
      message: `${decision.message} The PR also changes ${what}; allowed by the label ${forceLabel}.`,
    };
  }
  return {
    ...decision,
    allowed: false,
    forced: false,
    message:
      `The PR changes ${what} together with the weights, so the one-step rule cannot be judged. ` +
      `Change ${what} in a PR of its own that moves no traffic, then step the weights, or add the label ${forceLabel} if this is intended.`,
  };
}

/** The next step of the file's canary, or undefined when it is at (or past) the last one. */
export function nextStep(
  file: RolloutFile,
): { from: number; to: number; index: number; weights: ClusterWeights } | undefined {
  const from = file.weights[file.canary] ?? 0;
  const index = file.steps.findIndex((s) => s > from);
  if (index < 0) return undefined;
  const to = file.steps[index] as number;
  return { from, to, index, weights: moveCanary(file, to) };
}

/**
 * The file's weights with the canary at `to`. What the canary gains comes from the other
 * clusters, the one with the most weight first (the baseline); what it gives back goes to the
 * cluster with the most weight among the others (or the first other cluster when all have 0).
 */
export function moveCanary(file: RolloutFile, to: number): ClusterWeights {
  const weights: ClusterWeights = { ...file.weights };
  const from = weights[file.canary] ?? 0;
  const others = file.clusters
    .map((c) => c.name)
    .filter((n) => n !== file.canary)
    .sort((a, b) => (weights[b] ?? 0) - (weights[a] ?? 0));
  weights[file.canary] = to;
  let take = to - from;
  if (take < 0) {
    const receiver = others[0] as string;
    weights[receiver] = (weights[receiver] ?? 0) - take;
    return weights;
  }
  for (const name of others) {
    const give = Math.min(take, weights[name] ?? 0);
    weights[name] = (weights[name] ?? 0) - give;
    take -= give;
  }
  return weights;
}

/** Cluster weights as the ALB holds them: target group ARN -> weight, in the file's cluster order. */
export function targetGroupWeights(file: RolloutFile, weights: ClusterWeights): Weights {
  return Object.fromEntries(file.clusters.map((c) => [c.targetGroup, weights[c.name] ?? 0]));
}

/** ALB weights named by the file's clusters; a target group the file does not know keeps its ARN. */
export function clusterWeights(file: RolloutFile, weights: Weights): ClusterWeights {
  const out: ClusterWeights = {};
  for (const c of file.clusters)
    if (c.targetGroup in weights) out[c.name] = weights[c.targetGroup] as number;
  for (const [tg, w] of Object.entries(weights)) {
    if (!file.clusters.some((c) => c.targetGroup === tg)) out[tg] = w;
  }
  return out;
}

export function sameClusterWeights(a: ClusterWeights, b: ClusterWeights): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}

/** `blue 90 / green 10`, in the file's cluster order when a file is given. */
export function formatClusterWeights(weights: ClusterWeights, order?: readonly string[]): string {
  const names = order
    ? [...order, ...Object.keys(weights).filter((k) => !order.includes(k))]
    : Object.keys(weights);
  return names
    .filter((n) => n in weights)
    .map((n) => `${n} ${weights[n]}`)
    .join(' / ');
}

/** The clusters whose weight rises from `from` to `to`. */
export function gainingClusters(from: ClusterWeights, to: ClusterWeights): string[] {
  return Object.keys(to).filter((n) => (to[n] ?? 0) > (from[n] ?? 0));
}
