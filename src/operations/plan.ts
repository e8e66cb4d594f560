/**
 * plan: what merging a change to a rollout file would do, checked before the merge. For each
 * changed file: validate it, read the live routes, and decide whether the step may be applied
 * (the step rule, drift against the base branch's file, target health of every cluster that
 * gains weight, no owner change). Reads only; writes nothing to AWS.
 */
import { errorMessage } from '../common/errors.js';
import type { PathFilter } from '../common/glob.js';
import type { GitHubApi } from '../github/types.js';
import { overlapsWith } from '../rollout-file/overlap.js';
import { formatClusterWeights } from '../rollout-file/step.js';
import type { RolloutFile } from '../rollout-file/types.js';
import { FORCE_LABEL, type Annotation, type RolloutDeps, type RolloutEvent } from './context.js';
import { gateStep } from './gate.js';
import { describePlan } from './handoff.js';
import { DEFAULT_DRAIN_TIMEOUT_MS } from '../rollout-file/types.js';
import { readLive, tryParse } from './live.js';
import { planMarkdown, planMarker } from './markdown.js';
import type { FilePlan, PlanOutcome } from './results.js';

export type { FilePlan, PlanProblem } from './results.js';

export interface PlanFileInput {
  path: string;
  /** The file on the base branch (or before the push); undefined when it does not exist there. */
  baseText?: string;
  /** The file as it would be after the merge; undefined when the change deletes it. */
  headText?: string;
  force: boolean;
  /** How messages name the base version: `on the base branch` by default. */
  baseLabel?: string;
  /** The CloudWatch period and delay apply will use, to check the analysis as it will run. */
  cloudWatchPeriodMs: number;
  cloudWatchDelayMs?: number;
}

export async function planFile(
  input: PlanFileInput,
  deps: Pick<RolloutDeps, 'aws' | 'signal' | 'kube' | 'clock'>,
): Promise<FilePlan> {
  const plan: FilePlan = {
    path: input.path,
    status: 'ok',
    newFile: input.baseText === undefined,
    live: [],
    drift: [],
    health: [],
    problems: [],
    notes: [],
    noChange: false,
    cloudWatchPeriodMs: input.cloudWatchPeriodMs,
    ...(input.cloudWatchDelayMs !== undefined
      ? { cloudWatchDelayMs: input.cloudWatchDelayMs }
      : {}),
  };
  if (input.headText === undefined) {
    plan.status = 'deleted';
    plan.notes.push('The file is deleted: the ALB keeps its weights; nothing is applied.');
    return plan;
  }
  const parsed = tryParse(input.headText, input.path);
  if ('error' in parsed) {
    plan.status = 'invalid';
    plan.problems.push(
      ...(parsed.error.diagnostics.length > 0
        ? parsed.error.diagnostics.map((d) => ({
            message: d.message,
            at: { line: d.line, col: d.col },
          }))
        : [{ message: parsed.error.message }]),
    );
    return plan;
  }
  const head = parsed.file;
  plan.head = head;
  plan.name = head.name;
  plan.desired = head.weights;

  let base: RolloutFile | undefined;
  if (input.baseText !== undefined) {
    const parsedBase = tryParse(input.baseText, input.path);
    if ('file' in parsedBase) {
      base = parsedBase.file;
      plan.baseWeights = base.weights;
    } else {
      plan.newFile = true;
      plan.notes.push(
        'The file on the base branch is not a valid rollout file, so there is no drift baseline: live weights are compared with this version.',
      );
    }
  } else {
    plan.notes.push(
      'New file: there is no version on the base branch to check drift against, so the live weights are compared with this version.',
    );
  }

  const live = await readLive(deps, head);
  if ('problem' in live) {
    plan.problems.push({ message: live.problem, at: head.locate(['routes']) });
  } else {
    plan.live = live.routes;
    const gate = await gateStep(
      {
        head,
        ...(base ? { base } : {}),
        baseLabel: input.baseLabel ?? 'on the base branch',
        live: live.routes,
        force: async () => ({ forced: input.force }),
        cloudWatchPeriodMs: input.cloudWatchPeriodMs,
        ...(input.cloudWatchDelayMs !== undefined
          ? { cloudWatchDelayMs: input.cloudWatchDelayMs }
          : {}),
      },
      deps,
    );
    plan.noChange = gate.noChange;
    plan.drift = gate.drift;
    plan.step = gate.step;
    plan.health = gate.health;
    plan.problems.push(...gate.problems);
    plan.notes.push(...gate.notes);
    if (gate.handoff) {
      plan.handoff = {
        from: gate.handoff.from,
        to: gate.handoff.to,
        lines: describePlan(
          gate.handoff.plan,
          head.singletons?.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
          deps.clock.now(),
        ),
      };
    }
  }
  if (plan.problems.length > 0) plan.status = 'refused';
  return plan;
}

/** Annotations for the problems of every plan that has a position for them. */
export function planAnnotations(plans: readonly FilePlan[]): Annotation[] {
  return plans.flatMap((p) =>
    p.problems.map((problem) => ({
      file: p.path,
      line: problem.at?.line ?? 1,
      col: problem.at?.col ?? 1,
      message: problem.message,
    })),
  );
}

/** plan on a pull_request: every changed rollout file, one sticky comment, annotations. */
export async function runPlan(
  event: Extract<RolloutEvent, { kind: 'pull_request' }>,
  options: { filter: PathFilter; cloudWatchPeriodMs: number; cloudWatchDelayMs?: number },
  deps: RolloutDeps,
): Promise<PlanOutcome> {
  const { filter } = options;
  const { github, logger } = deps;
  const changed = (await github.changedFiles(event.baseSha, event.headSha))
    .filter((p) => filter.matches(p))
    .sort();
  const force = event.labels.includes(FORCE_LABEL);
  if (changed.length === 0) {
    logger.info(
      `PR #${event.number} changes no file matching ${filter.patterns.join(', ')}; nothing to plan.`,
    );
    return {
      command: 'plan',
      plans: [],
      force,
      patterns: filter.patterns,
      result: 'unchanged',
      report: { command: 'plan', pullRequest: event.number, files: [] },
      annotations: [],
    };
  }
  const plans: FilePlan[] = [];
  for (const path of changed) {
    const plan = await logger.group(`Planning ${path}`, async () => {
      const [baseText, headText] = await Promise.all([
        github.fileAt(path, event.baseSha),
        github.fileAt(path, event.headSha),
      ]);
      const p = await planFile(
        {
          path,
          baseText,
          headText,
          force,
          cloudWatchPeriodMs: options.cloudWatchPeriodMs,
          ...(options.cloudWatchDelayMs !== undefined
            ? { cloudWatchDelayMs: options.cloudWatchDelayMs }
            : {}),
        },
        deps,
      );
      const order = p.head?.clusters.map((c) => c.name);
      for (const r of p.live)
        logger.info(`live ${r.ref.arn}: ${formatClusterWeights(r.weights, order)}`);
      logger.info(
        `${path}: ${p.status}${p.problems.length ? ` (${p.problems.length} problem${p.problems.length === 1 ? '' : 's'})` : ''}`,
      );
      for (const problem of p.problems) logger.info(`  - ${problem.message}`);
      return p;
    });
    plans.push(plan);
  }
  await logger.group('Checking for rollout files that share routes', () =>
    addOverlaps(plans, { github, ref: event.headSha, filter }),
  );
  const body = planMarkdown(plans, { force, marker: planMarker(filter.patterns) });
  // The plan is in the summary and the annotations even when the comment cannot be posted
  // (a read-only token, e.g. on a PR from a fork); the step then fails and says why.
  let commentUrl: string | undefined;
  let commentError: string | undefined;
  try {
    const posted = await github.upsertStickyComment(
      event.number,
      planMarker(filter.patterns),
      body,
    );
    logger.info(`Plan ${posted.created ? 'posted' : 'updated'}: ${posted.url}`);
    commentUrl = posted.url;
  } catch (e) {
    commentError = `The plan comment could not be posted: ${errorMessage(e)}`;
  }
  const refused = plans.filter((p) => p.status === 'refused' || p.status === 'invalid');
  const outcome: PlanOutcome = {
    command: 'plan',
    plans,
    force,
    patterns: filter.patterns,
    result: refused.length > 0 ? 'failed' : 'planned',
    report: {
      command: 'plan',
      pullRequest: event.number,
      comment: commentUrl ?? null,
      files: plans.map(planReport),
    },
    annotations: planAnnotations(plans),
  };
  const failures = refused.map(
    (p) => `The plan refuses ${p.path}:\n${p.problems.map((x) => `- ${x.message}`).join('\n')}`,
  );
  if (commentError) failures.push(commentError);
  if (failures.length > 0) outcome.failure = failures.join('\n');
  return outcome;
}

/**
 * Refuses each planned file that shares a listener, rule or target group with another rollout
 * file at `ref` (any file matching the filter, changed or not): two files would move the same
 * traffic, and the apply of one would see the other's step as drift.
 */
export async function addOverlaps(
  plans: FilePlan[],
  ctx: { github: GitHubApi; ref: string; filter: PathFilter },
): Promise<void> {
  const planned = plans.filter((p) => p.head);
  if (planned.length === 0) return;
  const paths = (await ctx.github.listFiles(ctx.ref)).filter((p) => ctx.filter.matches(p));
  const others: RolloutFile[] = [];
  for (const path of paths) {
    const own = planned.find((p) => p.path === path)?.head;
    if (own) {
      others.push(own);
      continue;
    }
    const text = await ctx.github.fileAt(path, ctx.ref);
    const parsed = text === undefined ? undefined : tryParse(text, path);
    // An invalid file elsewhere is that file's own plan's business, not this one's.
    if (parsed && 'file' in parsed) others.push(parsed.file);
  }
  for (const plan of planned) {
    for (const o of overlapsWith(plan.head as RolloutFile, others)) {
      plan.problems.push({ message: o.message, at: o.at });
      plan.status = 'refused';
    }
  }
}

/** A plan as plain data for the JSON report (without the parsed file's functions). */
export function planReport(p: FilePlan): Record<string, unknown> {
  const { head: _head, live, ...rest } = p;
  return { ...rest, live: live.map((r) => ({ ref: r.ref, weights: r.weights })) };
}
