/**
 * Changing the `weights` of a rollout file for the reconcile and advance PRs. Only the weight
 * numbers change: each value is replaced where it sits in the text, so comments, key order,
 * flow or block style and every other line stay exactly as the author wrote them.
 */
import { isMap, isScalar, parseDocument, type Node } from 'yaml';
import { ExplainedError } from '../common/errors.js';

/** `text` with `weights.<cluster>` set to `weights[cluster]` for every cluster given. */
export function setWeights(text: string, path: string, weights: Record<string, number>): string {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0) {
    throw new ExplainedError(
      `${path} cannot be edited: it is not valid YAML (${doc.errors[0]?.message}).`,
    );
  }
  const root = doc.contents;
  const weightsNode = isMap(root) ? (root.get('weights', true) as Node | undefined) : undefined;
  if (!isMap(weightsNode)) {
    throw new ExplainedError(`${path} cannot be edited: it has no "weights" map.`);
  }
  const edits: { start: number; end: number; value: string }[] = [];
  for (const [cluster, weight] of Object.entries(weights)) {
    const node = weightsNode.get(cluster, true) as Node | undefined;
    if (!isScalar(node) || !node.range) {
      throw new ExplainedError(
        `${path} cannot be edited: weights.${cluster} is not a plain number in the file (an alias or missing), so it cannot be changed in place.`,
      );
    }
    edits.push({ start: node.range[0], end: node.range[1], value: String(weight) });
  }
  // From the end backwards, so earlier offsets stay valid.
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) {
    out = out.slice(0, e.start) + e.value + out.slice(e.end);
  }
  return out;
}

/** `text` with `owner` set to `owner`, in place like setWeights (for the owner reconcile PR). */
export function setOwner(text: string, path: string, owner: string): string {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0) {
    throw new ExplainedError(
      `${path} cannot be edited: it is not valid YAML (${doc.errors[0]?.message}).`,
    );
  }
  const root = doc.contents;
  const node = isMap(root) ? (root.get('owner', true) as Node | undefined) : undefined;
  if (!isScalar(node) || !node.range) {
    throw new ExplainedError(`${path} cannot be edited: "owner" is not a plain value in the file.`);
  }
  return text.slice(0, node.range[0]) + owner + text.slice(node.range[1]);
}
