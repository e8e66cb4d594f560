/**
 * The two PRs the action opens. A reconcile PR sets a file's weights to what the ALB has after
 * a rollback, so git and the ALB agree again; an advance PR moves the canary to the next entry
 * of `steps`. Both edit only the weight numbers of the file on the default branch's tip (so a
 * change merged meanwhile is kept), on a branch per rollout that later runs update in place.
 */
import { formatDuration } from '../common/duration.js';
import type { RolloutDeps } from './context.js';
import { setOwner, setWeights } from '../rollout-file/edit.js';
import { tryParse } from './live.js';
import { planFile } from './plan.js';
import { planMarkdown } from './markdown.js';
import {
  formatClusterWeights,
  nextStep,
  sameClusterWeights,
  type ClusterWeights,
} from '../rollout-file/step.js';
import type { RolloutFile } from '../rollout-file/types.js';
import type { PullRequestRef } from '../github/types.js';

export function reconcileBranch(name: string): string {
  return `rollout/${name}/reconcile`;
}

export function advanceBranch(name: string): string {
  return `rollout/${name}/advance`;
}

/** The file's text at the tip of `branch`, or `fallback` when it is not there. */
async function currentText(
  deps: Pick<RolloutDeps, 'github'>,
  path: string,
  branch: string,
  fallback: string,
): Promise<string> {
  return (await deps.github.fileAt(path, branch)) ?? fallback;
}

/**
 * Opens (or updates) the PR that sets `path`'s weights to `live`. Returns undefined when the
 * file on `baseBranch` already says `live` (nothing to reconcile).
 */
export async function openReconcilePullRequest(
  deps: Pick<RolloutDeps, 'github' | 'logger'>,
  request: {
    path: string;
    file: RolloutFile;
    /** The file's text as applied, used when the default branch no longer has the file. */
    text: string;
    baseBranch: string;
    live: ClusterWeights;
    title: string;
    body: string;
  },
): Promise<(PullRequestRef & { created: boolean }) | undefined> {
  const text = await currentText(deps, request.path, request.baseBranch, request.text);
  const current = tryParse(text, request.path);
  if ('file' in current && sameClusterWeights(current.file.weights, request.live)) {
    deps.logger.info(
      `${request.path} on ${request.baseBranch} already has weights ${formatClusterWeights(request.live)}; no reconcile PR needed.`,
    );
    return undefined;
  }
  const files = [{ path: request.path, content: setWeights(text, request.path, request.live) }];
  const pr = await deps.github.openOrUpdatePullRequest({
    branch: reconcileBranch(request.file.name),
    base: request.baseBranch,
    title: request.title,
    body: request.body,
    commitMessage: `${request.file.name}: set weights to the live ${formatClusterWeights(
      request.live,
      request.file.clusters.map((c) => c.name),
    )}\n\n${request.title}`,
    files,
    labels: ['rollout/reconcile'],
  });
  deps.logger.info(`Reconcile PR ${pr.created ? 'opened' : 'updated'}: ${pr.url}`);
  return pr;
}

export interface AdvanceRequest {
  path: string;
  file: RolloutFile;
  text: string;
  baseBranch: string;
  /** Why the PR is opened, for its body: "after the verified step to 10". */
  context?: string;
  runUrl?: string;
  /** The CloudWatch period and delay apply will use, for the plan in the body. */
  cloudWatchPeriodMs: number;
  cloudWatchDelayMs?: number;
}

/**
 * Opens (or updates) the PR that moves the canary to its next step, with the plan in the
 * body. Returns undefined (and says why) when the canary is at the last step.
 */
export async function openAdvancePullRequest(
  deps: RolloutDeps,
  request: AdvanceRequest,
): Promise<{ pr?: PullRequestRef & { created: boolean }; message: string }> {
  const { file } = request;
  const next = nextStep(file);
  if (!next) {
    const message = `${file.name} is at the last step: ${file.canary} has ${file.weights[file.canary] ?? 0}, and steps end at ${file.steps.at(-1)}. Nothing to advance.`;
    deps.logger.info(message);
    return { message };
  }
  const order = file.clusters.map((c) => c.name);
  const newText = setWeights(request.text, request.path, next.weights);
  const plan = await planFile(
    {
      path: request.path,
      baseText: request.text,
      headText: newText,
      force: false,
      cloudWatchPeriodMs: request.cloudWatchPeriodMs,
      ...(request.cloudWatchDelayMs !== undefined
        ? { cloudWatchDelayMs: request.cloudWatchDelayMs }
        : {}),
    },
    deps,
  );
  const title = `rollout ${file.name}: ${file.canary} ${next.from} → ${next.to} (step ${next.index + 1} of ${file.steps.length})`;
  const body = [
    `Moves \`${request.path}\` from ${formatClusterWeights(file.weights, order)} to **${formatClusterWeights(next.weights, order)}**, the next entry of \`steps\` [${file.steps.join(', ')}].`,
    request.context ? `\n${request.context}` : '',
    `\nMerging applies the step: target health pre-check, the shift on every route at once, then ${formatDuration(file.analysis.durationMs)} of checks; a failed check rolls it back automatically.`,
    request.runUrl ? `\nOpened by ${request.runUrl}.` : '',
    '',
    planMarkdown([plan], { force: false, heading: 'Plan (at the time this PR was opened)' }),
  ].join('\n');
  if (plan.problems.length > 0) {
    deps.logger.warning(
      `The next step of ${file.name} cannot be applied as things are now: ${plan.problems.map((p) => p.message).join(' ')}`,
    );
  }
  const pr = await deps.github.openOrUpdatePullRequest({
    branch: advanceBranch(file.name),
    base: request.baseBranch,
    title,
    body,
    commitMessage: title,
    files: [{ path: request.path, content: newText }],
    labels: ['rollout/advance'],
  });
  const message = `Advance PR ${pr.created ? 'opened' : 'updated'}: ${title} — ${pr.url}`;
  deps.logger.info(message);
  return { pr, message };
}

/**
 * Opens (or updates) the PR that sets `path`'s owner back to `owner` after a handoff was
 * restored. Returns undefined when the file on `baseBranch` already says so.
 */
export async function openOwnerReconcilePullRequest(
  deps: Pick<RolloutDeps, 'github' | 'logger'>,
  request: {
    path: string;
    file: RolloutFile;
    text: string;
    baseBranch: string;
    owner: string;
    title: string;
    body: string;
  },
): Promise<(PullRequestRef & { created: boolean }) | undefined> {
  const text = await currentText(deps, request.path, request.baseBranch, request.text);
  const current = tryParse(text, request.path);
  if ('file' in current && current.file.owner === request.owner) {
    deps.logger.info(
      `${request.path} on ${request.baseBranch} already says owner: ${request.owner}; no reconcile PR needed.`,
    );
    return undefined;
  }
  const pr = await deps.github.openOrUpdatePullRequest({
    branch: reconcileBranch(request.file.name),
    base: request.baseBranch,
    title: request.title,
    body: request.body,
    commitMessage: `${request.file.name}: owner back to ${request.owner}, which runs the CronJobs and singletons\n\n${request.title}`,
    files: [{ path: request.path, content: setOwner(text, request.path, request.owner) }],
    labels: ['rollout/reconcile'],
  });
  deps.logger.info(`Reconcile PR ${pr.created ? 'opened' : 'updated'}: ${pr.url}`);
  return pr;
}
