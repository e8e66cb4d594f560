/**
 * Two rollout files must never move the same traffic: a listener or rule that both shift, or a
 * target group that both weight, would be shifted by two steps at once and each step's
 * compare-and-swap would see the other's write as drift. Pure: the caller parses the files.
 */
import { shortName } from '../aws/arn.js';
import type { RolloutFile, SourcePosition } from './types.js';

export interface Overlap {
  /** The file being planned. */
  path: string;
  /** The other file that moves the same thing. */
  other: string;
  kind: 'listener' | 'rule' | 'target group';
  arn: string;
  /** Where in `path` the shared thing is written. */
  at: SourcePosition;
  message: string;
}

/** Every route or target group of `file` that one of `others` also uses. */
export function overlapsWith(file: RolloutFile, others: readonly RolloutFile[]): Overlap[] {
  const found: Overlap[] = [];
  for (const other of others) {
    if (other.path === file.path) continue;
    file.routes.forEach((route, i) => {
      if (!other.routes.some((r) => r.arn === route.arn)) return;
      found.push(overlap(file, other, route.kind, route.arn, file.locate(['routes', i])));
    });
    for (const cluster of file.clusters) {
      if (!other.clusters.some((c) => c.targetGroup === cluster.targetGroup)) continue;
      found.push(
        overlap(
          file,
          other,
          'target group',
          cluster.targetGroup,
          file.locate(['clusters', cluster.name, 'targetGroup']),
        ),
      );
    }
  }
  return found;
}

function overlap(
  file: RolloutFile,
  other: RolloutFile,
  kind: Overlap['kind'],
  arn: string,
  at: SourcePosition,
): Overlap {
  return {
    path: file.path,
    other: other.path,
    kind,
    arn,
    at,
    message:
      `${file.path} and ${other.path} both ${kind === 'target group' ? 'weight' : 'shift'} ${kind} ${shortName(arn)} (${arn}): ` +
      `two rollout files would move the same traffic, and their steps would undo each other. ` +
      `Keep each ${kind} in one rollout file (one file per service).`,
  };
}
