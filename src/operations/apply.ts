/**
 * apply: one merged step, for every rollout file a push to the default branch changed, in path
 * order. For a file: the version before the push is what the ALB must have (compare-and-swap),
 * the version after it is what it gets. Pre-check target health, shift every route in
 * lockstep, verify with the file's analysis; on a failed verdict, an error or cancellation
 * after the shift, restore exactly what was read, confirm it, open a PR that sets the file
 * back to the live weights and tell the merged PR. A file that fails stops the run: later
 * files are not touched.
 */
import { targetsFromRolloutFile } from '../rollout-file/targets.js';
import { restoreRoutes, shiftWeights, ShiftFailedError, type ShiftResult } from '../alb/shift.js';
import { shortName } from '../aws/arn.js';
import { ConfigurationError, ExplainedError, errorMessage } from '../common/errors.js';
import type { PullRequestRef } from '../github/types.js';
import { maskCheckSecrets } from '../health/secrets.js';
import {
  buildReport,
  prepareAnalysis,
  resolveTargets,
  runAnalysis,
  summaryMarkdown,
  type AnalysisResult,
  type HealthTargets,
} from '../health/index.js';
import type {
  Annotation,
  CommandOutcome,
  RolloutDeps,
  RolloutEvent,
  RolloutSettings,
} from './context.js';
import type { PathFilter } from '../common/glob.js';
import { FORCE_LABEL, type RolloutResult } from '../actions/rollout/io.js';
import {
  healthProblem,
  precheckTargetHealth,
  readLive,
  requiredHealthy,
  tryParse,
  type HealthPrecheck,
  type LiveRoute,
} from './plan.js';
import { openAdvancePullRequest, openReconcilePullRequest } from './pull-requests.js';
import { cell } from './markdown.js';
import {
  checkFileStep,
  clusterWeights,
  formatClusterWeights,
  gainingClusters,
  sameClusterWeights,
  targetGroupWeights,
  type ClusterWeights,
} from '../rollout-file/step.js';
import type { RolloutFile } from '../rollout-file/types.js';

export type FileStatus =
  'applied' | 'unchanged' | 'rolled-back' | 'refused' | 'failed' | 'not-applied' | 'deleted';

export interface FileApply {
  path: string;
  name?: string;
  status: FileStatus;
  /** What happened, in a sentence or two. */
  message: string;
  live?: ClusterWeights;
  desired?: ClusterWeights;
  health?: HealthPrecheck[];
  appliedAt?: string;
  verdict?: string;
  analysis?: { result: AnalysisResult; markdown: string; report: unknown };
  restored?: { restored: string[]; notRestored: { arn: string; reason: string }[] };
  reconcile?: PullRequestRef;
  advance?: PullRequestRef;
  deployment?: number;
  /** Problems with the GitHub side after the ALB work was done (a PR, a comment, a deployment). */
  githubErrors: string[];
  annotations: Annotation[];
}

export interface ApplyOptions {
  filter: PathFilter;
  settings: RolloutSettings;
  autoAdvance: boolean;
}

const EMPTY_SHA = /^0+$/;

export async function runApply(
  event: Extract<RolloutEvent, { kind: 'push' }>,
  options: ApplyOptions,
  deps: RolloutDeps,
): Promise<CommandOutcome> {
  const { github, logger } = deps;
  if (event.branch !== event.defaultBranch) {
    throw new ConfigurationError(
      `apply runs on pushes to the default branch (${event.defaultBranch}), which is what the rollout files there describe; this push is to ${event.branch}. Limit the workflow to "on: push: branches: [${event.defaultBranch}]".`,
    );
  }
  if (EMPTY_SHA.test(event.before)) {
    throw new ConfigurationError(
      `The push has no "before" commit (the branch was created by it), so there is no earlier version of the rollout files to compare with. Apply changes through a pull request.`,
    );
  }
  const changed = (await github.changedFiles(event.before, event.after))
    .filter((p) => options.filter.matches(p))
    .sort();
  if (changed.length === 0) {
    logger.info(
      `The push changes no file matching ${options.filter.patterns.join(', ')}; nothing to apply.`,
    );
    return {
      result: 'unchanged',
      summary: `## Rollout apply\n\nThe push changes no rollout file (${options.filter.patterns.join(', ')}).\n`,
      report: { command: 'apply', before: event.before, after: event.after, files: [] },
      annotations: [],
    };
  }
  logger.info(`Rollout files changed by ${event.after.slice(0, 7)}: ${changed.join(', ')}`);

  let mergedPullRequests: PullRequestRef[] | undefined;
  const merged = async (): Promise<PullRequestRef[]> =>
    (mergedPullRequests ??= await github.pullRequestsForCommit(event.after));

  const files: FileApply[] = [];
  let stoppedBy: FileApply | undefined;
  for (const path of changed) {
    if (stoppedBy) {
      files.push({
        path,
        status: 'not-applied',
        message: `Not applied: ${stoppedBy.path} failed first, and a failed file stops the run so that nothing more changes. Re-run the job once ${stoppedBy.path} is sorted out: files already applied are then unchanged.`,
        githubErrors: [],
        annotations: [],
      });
      continue;
    }
    const outcome = await logger.group(`Applying ${path}`, async () => {
      try {
        return await applyFile(path, event, options, deps, merged);
      } catch (e) {
        // Only what comes before the shift can throw here: after it, every path restores.
        if (!(e instanceof ExplainedError) && e instanceof Error && e.stack) logger.debug(e.stack);
        const f: FileApply = {
          path,
          status: 'failed',
          message: `${errorMessage(e)}\nNothing was changed on the ALB.`,
          githubErrors: [],
          annotations: [],
        };
        if (e instanceof ConfigurationError) f.annotations.push(...e.diagnostics);
        return f;
      }
    });
    logger.info(`${path}: ${outcome.status}. ${outcome.message}`);
    files.push(outcome);
    if (['rolled-back', 'refused', 'failed'].includes(outcome.status)) stoppedBy = outcome;
  }

  const result = overallResult(files);
  const failed = files.filter((f) => ['rolled-back', 'refused', 'failed'].includes(f.status));
  const githubErrors = files.flatMap((f) => f.githubErrors.map((e) => `${f.path}: ${e}`));
  const outcome: CommandOutcome = {
    result,
    summary: applyMarkdown(files),
    report: {
      command: 'apply',
      before: event.before,
      after: event.after,
      result,
      files: files.map(fileReport),
    },
    annotations: files.flatMap((f) => f.annotations),
  };
  const advance = files.find((f) => f.advance)?.advance;
  const reconcile = files.find((f) => f.reconcile)?.reconcile;
  if (reconcile) outcome.pullRequest = reconcile.url;
  else if (advance) outcome.pullRequest = advance.url;
  if (failed.length > 0 || githubErrors.length > 0) {
    outcome.failure = [...failed.map((f) => `${f.path}: ${f.message}`), ...githubErrors].join('\n');
  }
  return outcome;
}

function overallResult(files: readonly FileApply[]): RolloutResult {
  if (files.some((f) => f.status === 'rolled-back')) return 'rolled-back';
  if (files.some((f) => f.status === 'refused' || f.status === 'failed')) return 'failed';
  if (files.some((f) => f.status === 'applied')) return 'applied';
  return 'unchanged';
}

async function applyFile(
  path: string,
  event: Extract<RolloutEvent, { kind: 'push' }>,
  options: ApplyOptions,
  deps: RolloutDeps,
  merged: () => Promise<PullRequestRef[]>,
): Promise<FileApply> {
  const { github, logger } = deps;
  const out: FileApply = { path, status: 'failed', message: '', githubErrors: [], annotations: [] };
  const refuse = (message: string, at?: { line: number; col: number }): FileApply => {
    out.status = 'refused';
    out.message = `${message} Nothing was changed.`;
    out.annotations.push({ file: path, line: at?.line ?? 1, col: at?.col ?? 1, message });
    return out;
  };

  const [headText, baseText] = await Promise.all([
    github.fileAt(path, event.after),
    github.fileAt(path, event.before),
  ]);
  if (headText === undefined) {
    out.status = 'deleted';
    out.message = 'The file was deleted; the ALB keeps its weights.';
    return out;
  }
  const parsed = tryParse(headText, path);
  if ('error' in parsed) {
    out.status = 'refused';
    out.message = `${parsed.error.message}\nNothing was changed.`;
    out.annotations.push(...parsed.error.diagnostics);
    return out;
  }
  const head = parsed.file;
  // The file's probes may carry credentials (a bearer token, an Authorization header); a
  // failing probe's error must not print them.
  if (deps.mask) maskCheckSecrets(head.analysis.checks, deps.mask);
  out.name = head.name;
  out.desired = head.weights;
  const order = head.clusters.map((c) => c.name);
  const show = (w: ClusterWeights): string => formatClusterWeights(w, order);
  const base = baseText === undefined ? undefined : tryParse(baseText, path);
  const before = base && 'file' in base ? base.file : undefined;
  if (!before) {
    logger.info(
      baseText === undefined
        ? 'New file: no earlier version to compare the live weights with; the routes must agree with each other.'
        : 'The earlier version is not a valid rollout file: no compare-and-swap baseline; the routes must agree with each other.',
    );
  }
  if (before && before.owner !== head.owner) {
    return refuse(
      `owner changes from ${before.owner} to ${head.owner}: moving CronJobs and singletons between clusters is a handoff this action does not do yet (it comes with sync-apps). Revert owner to ${before.owner}.`,
      head.locate(['owner']),
    );
  }

  const live = await readLive(deps, head);
  if ('problem' in live) return refuse(live.problem, head.locate(['routes']));
  for (const r of live.routes) logger.info(`live ${shortName(r.ref.arn)}: ${show(r.weights)}`);
  const first = live.routes[0] as LiveRoute;
  out.live = first.weights;
  if (live.routes.every((r) => sameClusterWeights(r.weights, head.weights))) {
    out.status = 'unchanged';
    out.message = `Every route already has ${show(head.weights)}; nothing to shift or verify.`;
    return out;
  }

  // Compare-and-swap: the version before the push is what the ALB must have now.
  const expected = before
    ? clusterWeights(head, targetGroupWeights(before, before.weights))
    : first.weights;
  const drifted = live.routes.filter((r) => !sameClusterWeights(r.weights, expected));
  if (drifted.length > 0) {
    return refuse(
      `Drift: ${drifted.map((r) => `${shortName(r.ref.arn)} has ${show(r.weights)}`).join('; ')}, but ` +
        `${before ? `the file before this push says ${show(expected)}` : `the first route has ${show(expected)}`}. ` +
        `Something changed the ALB outside the rollout. To reconcile: find out why, then either put the routes back to ${show(expected)} and re-run this job, ` +
        `or merge a PR that sets weights to the live ${show(first.weights)} first, then the step again.`,
      head.locate(['weights']),
    );
  }

  // The one-step rule, again: the plan enforces it on the PR, but a merge can land without a
  // passing plan (no required check, a direct push). The force label is read from the PR(s)
  // the merge came from, only when the step needs it.
  let step = checkFileStep(before, head, expected, false, FORCE_LABEL);
  if (!step.allowed) {
    const prs = await merged();
    if (prs.some((pr) => pr.labels?.includes(FORCE_LABEL))) {
      step = checkFileStep(before, head, expected, true, FORCE_LABEL);
    }
    if (!step.allowed) {
      const source =
        prs.length > 0
          ? `merged from ${prs.map((pr) => `#${pr.number}`).join(', ')} without the ${FORCE_LABEL} label`
          : `pushed without a pull request`;
      return refuse(
        `${step.message} The change was ${source}.`,
        head.locate(['weights', head.canary]),
      );
    }
  }
  if (step.forced) logger.warning(step.message);

  const gaining = gainingClusters(first.weights, head.weights);
  out.health = await logger.group('Target health before the shift', async () => {
    const health = await precheckTargetHealth(deps, head, gaining, requiredHealthy(head));
    for (const h of health)
      logger.info(
        `${h.ok ? 'ok' : 'NOT ENOUGH'}: ${h.cluster} ${h.shown} (needs ≥ ${h.required} healthy)`,
      );
    return health;
  });
  const unhealthy = out.health.filter((h) => !h.ok);
  if (unhealthy.length > 0) {
    return refuse(
      unhealthy.map(healthProblem).join(' '),
      head.locate(['weights', unhealthy[0]?.cluster as string]),
    );
  }

  const { elbv2, cloudwatch } = deps.aws(head.region);
  // Everything the analysis could trip over is checked before traffic moves: a mistake in the
  // file (a placeholder, an interval the CloudWatch period does not divide) refuses the step
  // rather than shifting and rolling back.
  let targets: HealthTargets;
  try {
    targets = await resolveTargets(elbv2, targetsFromRolloutFile(head));
    prepareAnalysis({
      analysis: head.analysis,
      targets,
      cloudWatchPeriodMs: options.settings.cloudWatchPeriodMs,
      cloudWatchDelayMs: options.settings.cloudWatchDelayMs,
    });
  } catch (e) {
    if (e instanceof ConfigurationError) {
      return refuse(`The analysis cannot run: ${e.message}`, head.locate(['analysis']));
    }
    throw e;
  }
  const targetGroups = head.clusters.map((c) => c.targetGroup);
  let shift: ShiftResult;
  try {
    shift = await shiftWeights(
      {
        routes: head.routes,
        desired: targetGroupWeights(head, head.weights),
        expect: targetGroupWeights(head, expected),
        dryRun: false,
        settleMs: options.settings.settleMs,
      },
      {
        client: elbv2,
        logger,
        clock: deps.clock,
        ...(deps.signal ? { signal: deps.signal } : {}),
        ...readBack(deps),
      },
    );
  } catch (e) {
    if (e instanceof ShiftFailedError) {
      out.restored = { restored: e.restored, notRestored: e.notRestored };
      return rolledBack(out, head, headText, event, deps, options, merged, {
        reason: e.cancelled ? 'the job was cancelled during the shift' : 'the shift failed',
        detail: e.message,
        live: first.weights,
      });
    }
    if (e instanceof ConfigurationError) return refuse(e.message, head.locate(['weights']));
    throw e;
  }
  out.appliedAt = shift.appliedAt?.toISOString();
  logger.info(`Shifted every route to ${show(head.weights)} at ${out.appliedAt}.`);

  let verdict: { result?: AnalysisResult; error?: unknown };
  try {
    const analysisClock = {
      now: () => deps.clock.now(),
      sleep: (ms: number) => deps.clock.sleep(ms, deps.signal),
    };
    const result = await logger.group('Verifying', async () => {
      const r = await runAnalysis(
        {
          analysis: head.analysis,
          targets,
          since: shift.appliedAt?.getTime() ?? deps.clock.now().getTime(),
          cloudWatchPeriodMs: options.settings.cloudWatchPeriodMs,
          cloudWatchDelayMs: options.settings.cloudWatchDelayMs,
        },
        {
          cloudwatch,
          elbv2,
          fetch: deps.fetch,
          clock: analysisClock,
          logger,
          ...(deps.signal ? { signal: deps.signal } : {}),
        },
      );
      out.analysis = {
        result: r,
        markdown: summaryMarkdown(r, head.analysis),
        report: buildReport(r, head.analysis, targets),
      };
      return r;
    });
    verdict = { result };
  } catch (e) {
    verdict = { error: e };
  }

  if (verdict.result?.healthy) {
    out.status = 'applied';
    out.verdict = verdict.result.verdict;
    out.message = `Applied ${show(head.weights)} on ${live.routes.length} route(s) and verified: ${verdict.result.verdict}.`;
    await githubStep(out, 'record the deployment', async () => {
      const d = await deps.github.recordDeployment({
        ref: event.after,
        environment: head.name,
        description: deploymentDescription(
          `${show(head.weights)}: ${verdict.result?.verdict ?? ''}`,
        ),
        state: 'success',
        ...(options.settings.runUrl ? { logUrl: options.settings.runUrl } : {}),
      });
      out.deployment = d.id;
    });
    await githubStep(out, 'comment on the merged PR', async () => {
      for (const pr of await merged()) {
        await deps.github.comment(pr.number, applyComment(out, options.settings.runUrl));
      }
    });
    if (options.autoAdvance) {
      await githubStep(out, 'open the advance PR', async () => {
        const tip = await deps.github.fileAt(path, event.defaultBranch);
        const tipFile = tip === undefined ? undefined : tryParse(tip, path);
        if (
          !tip ||
          !tipFile ||
          !('file' in tipFile) ||
          !sameClusterWeights(tipFile.file.weights, head.weights)
        ) {
          logger.warning(
            `${path} on ${event.defaultBranch} no longer has the weights just applied; not opening an advance PR.`,
          );
          return;
        }
        const { pr } = await openAdvancePullRequest(deps, {
          path,
          file: tipFile.file,
          text: tip,
          baseBranch: event.defaultBranch,
          cloudWatchPeriodMs: options.settings.cloudWatchPeriodMs,
          context: `Opened after the step to ${show(head.weights)} was applied and verified (${verdict.result?.verdict}).`,
          ...(options.settings.runUrl ? { runUrl: options.settings.runUrl } : {}),
        });
        if (pr) out.advance = pr;
      });
    }
    return out;
  }

  const cancelled = deps.signal?.aborted === true;
  const reason = verdict.result
    ? verdict.result.verdict
    : cancelled
      ? 'the job was cancelled during verification'
      : `verification failed: ${errorMessage(verdict.error)}`;
  if (verdict.result) out.verdict = verdict.result.verdict;
  else if (
    !cancelled &&
    verdict.error instanceof Error &&
    !(verdict.error instanceof ConfigurationError)
  ) {
    logger.debug(verdict.error.stack ?? '');
  }
  logger.warning(`Rolling back ${head.name}: ${reason}`);
  out.restored = await logger.group('Restoring the previous weights', () =>
    restoreRoutes(
      { client: elbv2, logger, clock: deps.clock, ...readBack(deps) },
      shift.before,
      targetGroups,
    ),
  );
  return rolledBack(out, head, headText, event, deps, options, merged, {
    reason,
    live: first.weights,
  });
}

/** After a restore: say what happened, open the reconcile PR, tell the merged PR. */
async function rolledBack(
  out: FileApply,
  head: RolloutFile,
  headText: string,
  event: Extract<RolloutEvent, { kind: 'push' }>,
  deps: RolloutDeps,
  options: ApplyOptions,
  merged: () => Promise<PullRequestRef[]>,
  why: { reason: string; detail?: string; live: ClusterWeights },
): Promise<FileApply> {
  const order = head.clusters.map((c) => c.name);
  const show = (w: ClusterWeights): string => formatClusterWeights(w, order);
  const notRestored = out.restored?.notRestored ?? [];
  out.status = notRestored.length === 0 ? 'rolled-back' : 'failed';
  out.message =
    notRestored.length === 0
      ? `Rolled back to ${show(why.live)} (confirmed by read-back on every route): ${why.reason}.`
      : `The step to ${show(head.weights)} failed (${why.reason}) and ${notRestored.length} route(s) could NOT be restored: ` +
        `${notRestored.map((n) => `${shortName(n.arn)} (${n.reason})`).join('; ')}. Set them back to ${show(why.live)} by hand now.`;
  if (why.detail) out.message += `\n${why.detail}`;
  out.annotations.push({
    file: out.path,
    line: head.locate(['weights']).line,
    col: head.locate(['weights']).col,
    message: out.message,
  });

  if (notRestored.length === 0) {
    await githubStep(out, 'open the reconcile PR', async () => {
      const pr = await openReconcilePullRequest(deps, {
        path: out.path,
        file: head,
        text: headText,
        baseBranch: event.defaultBranch,
        live: why.live,
        title: `rollout ${head.name}: back to ${show(why.live)} — ${truncate(why.reason, 160)}`,
        body: reconcileBody(out, head, why, options.settings.runUrl),
      });
      if (pr) out.reconcile = pr;
    });
  }
  await githubStep(out, 'record the failed deployment', async () => {
    const d = await deps.github.recordDeployment({
      ref: event.after,
      environment: head.name,
      description: deploymentDescription(`${show(head.weights)} rolled back: ${why.reason}`),
      state: 'failure',
      ...(options.settings.runUrl ? { logUrl: options.settings.runUrl } : {}),
    });
    out.deployment = d.id;
  });
  await githubStep(out, 'comment on the merged PR', async () => {
    for (const pr of await merged())
      await deps.github.comment(pr.number, applyComment(out, options.settings.runUrl));
  });
  return out;
}

/** A GitHub call after the ALB work: its failure is reported, never allowed to hide what the ALB has. */
async function githubStep(out: FileApply, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    out.githubErrors.push(`could not ${what}: ${errorMessage(e)}`);
  }
}

function readBack(deps: RolloutDeps): { readBackDelayMs?: number } {
  return deps.readBackDelayMs !== undefined ? { readBackDelayMs: deps.readBackDelayMs } : {};
}

function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

/** GitHub limits a deployment status description to 140 characters. */
function deploymentDescription(text: string): string {
  return truncate(text, 140);
}

function reconcileBody(
  out: FileApply,
  head: RolloutFile,
  why: { reason: string; detail?: string; live: ClusterWeights },
  runUrl: string | undefined,
): string {
  const order = head.clusters.map((c) => c.name);
  const show = (w: ClusterWeights): string => formatClusterWeights(w, order);
  const lines = [
    `The step of \`${out.path}\` to **${show(head.weights)}** was rolled back: **${why.reason}**.`,
    '',
    `Every route was restored to **${show(why.live)}** and confirmed by read-back. This PR sets \`weights\` in the file back to that, so git and the ALB agree again. Merging it changes nothing on the ALB.`,
    '',
  ];
  if (runUrl) lines.push(`Run: ${runUrl}`, '');
  if (why.detail) lines.push('```', why.detail, '```', '');
  if (out.analysis) lines.push(out.analysis.markdown);
  lines.push('Fix the cause, then propose the step again in a new PR.');
  return lines.join('\n');
}

const STATUS_MARK: Record<FileStatus, string> = {
  applied: '✅ applied',
  unchanged: '➖ unchanged',
  'rolled-back': '↩️ rolled back',
  refused: '❌ refused',
  failed: '❌ failed',
  'not-applied': '⏸️ not applied',
  deleted: '➖ deleted',
};

/** The comment on the merged PR about what its merge did to one rollout file. */
export function applyComment(f: FileApply, runUrl?: string): string {
  const lines = [
    `### ${STATUS_MARK[f.status]}: \`${f.path}\`${f.name ? ` (${f.name})` : ''}`,
    '',
    f.message,
    '',
  ];
  if (f.reconcile) lines.push(`Reconcile PR: ${f.reconcile.url}`, '');
  if (f.advance) lines.push(`Next step: ${f.advance.url}`, '');
  if (f.analysis) lines.push(f.analysis.markdown);
  if (runUrl) lines.push(`Run: ${runUrl}`);
  return `${lines.join('\n').trimEnd()}\n`;
}

export function applyMarkdown(files: readonly FileApply[]): string {
  const lines = [
    '## Rollout apply',
    '',
    '| file | result | weights | |',
    '| --- | --- | --- | --- |',
  ];
  for (const f of files) {
    const weights = f.desired ? formatClusterWeights(f.desired) : '—';
    lines.push(
      `| \`${cell(f.path)}\` | ${STATUS_MARK[f.status]} | ${cell(weights)} | ${cell(f.message.split('\n')[0] ?? '')} |`,
    );
  }
  lines.push('');
  for (const f of files.filter(
    (x) => x.status !== 'not-applied' && x.status !== 'unchanged' && x.status !== 'deleted',
  )) {
    lines.push(applyComment(f));
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

function fileReport(f: FileApply): Record<string, unknown> {
  const { analysis, annotations: _a, ...rest } = f;
  return { ...rest, ...(analysis ? { analysis: analysis.report } : {}) };
}
