/**
 * advance: opens (or updates) the PR that moves a rollout file's canary to the next entry of
 * `steps`, with the plan in its body. Reads the ALB for the plan; writes nothing to AWS.
 */
import { ConfigurationError } from '../common/errors.js';
import {
  PLAIN_OPTION_NAMES,
  type RolloutDeps,
  type RolloutEvent,
  type RolloutSettings,
} from './context.js';
import { tryParse } from './live.js';
import { openAdvancePullRequest } from './pull-requests.js';
import type { AdvanceOutcome } from './results.js';

export async function runAdvance(
  event: Extract<RolloutEvent, { kind: 'workflow_dispatch' }>,
  path: string,
  settings: RolloutSettings,
  deps: RolloutDeps,
): Promise<AdvanceOutcome> {
  const sha = event.sha;
  const text = await deps.github.fileAt(path, sha);
  if (text === undefined) {
    const name = (settings.optionNames ?? PLAIN_OPTION_NAMES).file;
    throw new ConfigurationError(
      `${name.charAt(0).toUpperCase()}${name.slice(1)}: ${path} does not exist at ${sha.slice(0, 7)}.`,
    );
  }
  const parsed = tryParse(text, path);
  if ('error' in parsed) throw parsed.error;
  const { pr, message } = await openAdvancePullRequest(deps, {
    path,
    file: parsed.file,
    text,
    baseBranch: event.defaultBranch,
    // The plan in the PR body judges the analysis as apply will run it (defect: it used the
    // 60 s CloudWatch default even when apply runs with high-resolution metrics).
    cloudWatchPeriodMs: settings.cloudWatchPeriodMs,
    cloudWatchDelayMs: settings.cloudWatchDelayMs,
    ...(settings.runUrl ? { runUrl: settings.runUrl } : {}),
  });
  const outcome: AdvanceOutcome = {
    command: 'advance',
    name: parsed.file.name,
    message,
    result: pr ? 'planned' : 'unchanged',
    report: { command: 'advance', file: path, pullRequest: pr?.url ?? null, message },
    annotations: [],
  };
  if (pr) outcome.pullRequest = pr.url;
  return outcome;
}
