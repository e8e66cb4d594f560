/**
 * changed: the rollout files a push to the default branch changed, for a workflow that applies
 * each one in a job of its own (a matrix with a concurrency group per file), so unrelated
 * services never wait for each other. Reads GitHub only.
 */
import type { PathFilter } from '../common/glob.js';
import type { RolloutDeps, RolloutEvent } from './context.js';
import type { ChangedOutcome } from './results.js';

export async function runChanged(
  event: Extract<RolloutEvent, { kind: 'push' }>,
  filter: PathFilter,
  deps: Pick<RolloutDeps, 'github' | 'logger'>,
): Promise<ChangedOutcome> {
  const files = (await deps.github.changedFiles(event.before, event.after))
    .filter((p) => filter.matches(p))
    .sort();
  deps.logger.info(
    files.length === 0
      ? `The push changes no file matching ${filter.patterns.join(', ')}.`
      : `Rollout files changed by ${event.after.slice(0, 7)}: ${files.join(', ')}`,
  );
  return {
    command: 'changed',
    files,
    patterns: filter.patterns,
    result: files.length === 0 ? 'unchanged' : 'planned',
    report: { command: 'changed', before: event.before, after: event.after, files },
    annotations: [],
  };
}
