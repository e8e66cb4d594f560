/**
 * advance: opens (or updates) the PR that moves a rollout file's canary to the next entry of
 * `steps`, with the plan in its body. Reads the ALB for the plan; writes nothing to AWS.
 */
import { ConfigurationError } from '../common/errors.js';
import type { CommandOutcome, RolloutDeps, RolloutEvent, RolloutSettings } from './context.js';
import { Inputs } from '../actions/rollout/io.js';
import { tryParse } from './plan.js';
import { openAdvancePullRequest } from './pull-requests.js';

export async function runAdvance(
  event: Extract<RolloutEvent, { kind: 'workflow_dispatch' }>,
  path: string,
  settings: RolloutSettings,
  deps: RolloutDeps,
): Promise<CommandOutcome> {
  const sha = event.sha;
  const text = await deps.github.fileAt(path, sha);
  if (text === undefined) {
    throw new ConfigurationError(
      `Input "${Inputs.file}": ${path} does not exist at ${sha.slice(0, 7)}.`,
    );
  }
  const parsed = tryParse(text, path);
  if ('error' in parsed) throw parsed.error;
  const { pr, message } = await openAdvancePullRequest(deps, {
    path,
    file: parsed.file,
    text,
    baseBranch: event.defaultBranch,
    cloudWatchPeriodMs: settings.cloudWatchPeriodMs,
    ...(settings.runUrl ? { runUrl: settings.runUrl } : {}),
  });
  const outcome: CommandOutcome = {
    result: pr ? 'planned' : 'unchanged',
    summary: `## Rollout advance of ${parsed.file.name}\n\n${message}\n`,
    report: { command: 'advance', file: path, pullRequest: pr?.url ?? null, message },
    annotations: [],
  };
  if (pr) outcome.pullRequest = pr.url;
  return outcome;
}
