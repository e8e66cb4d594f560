/**
 * plan: what merging a change to a rollout file would do, checked before the merge. For each
 * changed file: validate it, read the live routes, and decide whether the step may be applied
 * (the step rule, drift against the base branch's file, target health of every cluster that
 * gains weight, no owner change). Reads only; writes nothing to AWS.
 */
import { targetsFromRolloutFile } from '../rollout-file/targets.js';
import { ConfigurationError, errorMessage } from '../common/errors.js';
import { readRoutes } from '../alb/shift.js';
import { shortName } from '../aws/arn.js';
import type { RouteRef } from '../alb/forward.js';
import { describeTargetStates } from '../health/target-health.js';
import { prepareAnalysis, resolveTargets } from '../health/index.js';
import { parseRolloutFile } from '../rollout-file/index.js';
import type { RolloutFile, SourcePosition } from '../rollout-file/types.js';
import type { Annotation, CommandOutcome, RolloutDeps, RolloutEvent } from './context.js';
import { FORCE_LABEL } from '../actions/rollout/io.js';
import type { PathFilter } from '../common/glob.js';
import {
  checkFileStep,
  clusterWeights,
  gainingClusters,
  sameClusterWeights,
  targetGroupWeights,
  type ClusterWeights,
  type StepDecision,
} from '../rollout-file/step.js';
import { planMarkdown, planMarker } from './markdown.js';

export interface LiveRoute {
  ref: RouteRef;
  weights: ClusterWeights;
}

export interface HealthPrecheck {
  cluster: string;
  targetGroup: string;
  healthy: number;
  required: number;
  /** The counts as people read them: `2 healthy, 0 unhealthy (1 initial)`. */
  shown: string;
  ok: boolean;
}

export interface PlanProblem {
  message: string;
  /** Where in the head file it belongs, for an annotation. */
  at?: SourcePosition;
}

export interface FilePlan {
  path: string;
  /** ok: the step may be applied; refused: it may not; invalid: the file does not parse. */
  status: 'ok' | 'refused' | 'invalid' | 'deleted';
  name?: string;
  /** Absent on the base branch (or invalid there): no drift baseline. */
  newFile: boolean;
  head?: RolloutFile;
  /** The weights on the base branch, when the file exists (and is valid) there. */
  baseWeights?: ClusterWeights;
  desired?: ClusterWeights;
  live: LiveRoute[];
  step?: StepDecision;
  /** Routes whose live weights differ from the baseline (the base branch's file). */
  drift: { ref: RouteRef; live: ClusterWeights; expected: ClusterWeights }[];
  health: HealthPrecheck[];
  problems: PlanProblem[];
  notes: string[];
  /** True when the ALB already has the desired weights on every route. */
  noChange: boolean;
}

export interface PlanFileInput {
  path: string;
  /** The file on the base branch (or before the push); undefined when it does not exist there. */
  baseText?: string;
  /** The file as it would be after the merge; undefined when the change deletes it. */
  headText?: string;
  force: boolean;
  /** The CloudWatch period apply will use, to check the analysis as it will run. */
  cloudWatchPeriodMs: number;
}

/** The fewest healthy targets a cluster must have before it gains weight: the file's targetHealth checks, else 1. */
export function requiredHealthy(file: RolloutFile): number {
  const mins = file.analysis.checks.flatMap((c) =>
    c.kind === 'targetHealth' ? [c.minHealthy] : [],
  );
  return mins.length > 0 ? Math.max(...mins) : 1;
}

/** Target health of the given clusters, each judged against `required` healthy targets. */
export async function precheckTargetHealth(
  deps: Pick<RolloutDeps, 'aws'>,
  file: RolloutFile,
  clusters: readonly string[],
  required: number,
): Promise<HealthPrecheck[]> {
  const { elbv2 } = deps.aws(file.region);
  return Promise.all(
    clusters.map(async (name) => {
      const targetGroup = file.clusters.find((c) => c.name === name)?.targetGroup as string;
      const c = await describeTargetStates(elbv2, targetGroup);
      const aside = [
        c.initial ? `${c.initial} initial` : '',
        c.draining ? `${c.draining} draining` : '',
        c.other ? `${c.other} other` : '',
      ].filter(Boolean);
      return {
        cluster: name,
        targetGroup,
        healthy: c.healthy,
        required,
        shown: `${c.healthy} healthy, ${c.unhealthy} unhealthy${aside.length ? ` (${aside.join(', ')})` : ''}`,
        ok: c.healthy >= required,
      };
    }),
  );
}

/** The sentence for a cluster that may not gain weight yet. */
export function healthProblem(h: HealthPrecheck): string {
  return (
    `${h.cluster} would gain weight but has ${h.healthy} healthy target${h.healthy === 1 ? '' : 's'} (${h.shown}); ` +
    `at least ${h.required} must be healthy before the shift. Check the pods and the TargetGroupBinding of ${h.cluster}.`
  );
}

/** Parses a file's text, or undefined with the reason when it is not a valid rollout file. */
export function tryParse(
  text: string,
  path: string,
): { file: RolloutFile } | { error: ConfigurationError } {
  try {
    return { file: parseRolloutFile(text, path) };
  } catch (e) {
    if (e instanceof ConfigurationError) return { error: e };
    throw e;
  }
}

/** Reads the live weights of the file's routes; an AWS or route problem becomes a sentence. */
export async function readLive(
  deps: Pick<RolloutDeps, 'aws' | 'signal'>,
  file: RolloutFile,
): Promise<{ routes: LiveRoute[] } | { problem: string }> {
  const tgs = file.clusters.map((c) => c.targetGroup);
  try {
    const routes = await readRoutes(deps.aws(file.region).elbv2, file.routes, tgs, deps.signal);
    return {
      routes: routes.map((r) => ({ ref: r.ref, weights: clusterWeights(file, r.weights) })),
    };
  } catch (e) {
    if (e instanceof ConfigurationError || (e instanceof Error && '$metadata' in e)) {
      return { problem: `Could not read the live routes: ${errorMessage(e)}` };
    }
    throw e;
  }
}

export async function planFile(
  input: PlanFileInput,
  deps: Pick<RolloutDeps, 'aws' | 'signal'>,
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

  if (base && base.owner !== head.owner) {
    plan.problems.push({
      message:
        `owner changes from ${base.owner} to ${head.owner}: moving CronJobs and singletons between clusters is a handoff ` +
        `this action does not do yet (it comes with sync-apps). Keep owner: ${base.owner} here.`,
      at: head.locate(['owner']),
    });
  }

  const live = await readLive(deps, head);
  if ('problem' in live) {
    plan.problems.push({ message: live.problem, at: head.locate(['routes']) });
  } else {
    plan.live = live.routes;
    const order = head.clusters.map((c) => c.name);
    const first = live.routes[0]?.weights ?? {};
    // When the ALB already has the desired weights, merging moves no traffic: drift against the
    // base branch is what such a PR fixes (a reconcile PR), and no step is taken.
    plan.noChange = live.routes.every((r) => sameClusterWeights(r.weights, head.weights));
    if (base) {
      const expected = clusterWeights(head, targetGroupWeights(base, base.weights));
      plan.drift = live.routes
        .filter((r) => !sameClusterWeights(r.weights, expected))
        .map((r) => ({ ref: r.ref, live: r.weights, expected }));
      if (plan.drift.length > 0 && plan.noChange) {
        plan.notes.push(
          `The ALB differs from the file on the base branch (${formatWeightsList(expected, order)}) but already has the weights of this version: merging brings git in line with the ALB and changes nothing on it.`,
        );
        plan.drift = [];
      } else if (plan.drift.length > 0) {
        plan.problems.push({
          message:
            `Drift: ${plan.drift.length} of ${live.routes.length} route(s) do not have the weights of the file on the base branch ` +
            `(${formatWeightsList(expected, order)}), so apply would refuse to change them. Find out who changed the ALB, then ` +
            `either put the routes back or first merge a PR that sets weights to the live state.`,
          at: head.locate(['weights']),
        });
      }
    } else if (!plan.noChange && live.routes.some((r) => !sameClusterWeights(r.weights, first))) {
      plan.problems.push({
        message: `The routes do not agree with each other (${live.routes.map((r) => formatWeightsList(r.weights, order)).join('; ')}); apply moves them in lockstep from one state. Make them agree first.`,
        at: head.locate(['routes']),
      });
    }

    const fromWeights = base ? base.weights : first;
    const from = fromWeights[head.canary] ?? 0;
    const to = head.weights[head.canary] ?? 0;
    plan.step = plan.noChange
      ? {
          direction: 'same',
          canary: head.canary,
          from,
          to,
          limit: to,
          allowed: true,
          forced: false,
          message: `No traffic moves: the ALB already sends ${head.canary} ${to}.`,
        }
      : checkFileStep(base, head, fromWeights, input.force, FORCE_LABEL);
    if (!plan.step.allowed)
      plan.problems.push({ message: plan.step.message, at: head.locate(['weights', head.canary]) });

    const gaining = [
      ...new Set(live.routes.flatMap((r) => gainingClusters(r.weights, head.weights))),
    ];
    if (gaining.length > 0) {
      plan.health = await precheckTargetHealth(deps, head, gaining, requiredHealthy(head));
      for (const h of plan.health.filter((x) => !x.ok)) {
        plan.problems.push({ message: healthProblem(h), at: head.locate(['weights', h.cluster]) });
      }
    }
    // What apply checks before it moves traffic, so the PR shows it rather than the merge.
    if (!plan.noChange) {
      const problem = await analysisProblem(deps, head, input.cloudWatchPeriodMs);
      if (problem) plan.problems.push({ message: problem, at: head.locate(['analysis']) });
    }
  }
  if (plan.problems.length > 0) plan.status = 'refused';
  return plan;
}

/** Why the file's analysis could not run as apply would run it, or undefined when it can. */
async function analysisProblem(
  deps: Pick<RolloutDeps, 'aws'>,
  head: RolloutFile,
  cloudWatchPeriodMs: number,
): Promise<string | undefined> {
  try {
    const targets = await resolveTargets(deps.aws(head.region).elbv2, targetsFromRolloutFile(head));
    prepareAnalysis({ analysis: head.analysis, targets, cloudWatchPeriodMs });
    return undefined;
  } catch (e) {
    if (e instanceof ConfigurationError) return `The analysis cannot run: ${e.message}`;
    throw e;
  }
}

function formatWeightsList(weights: ClusterWeights, order: readonly string[]): string {
  return order
    .filter((n) => n in weights)
    .map((n) => `${n} ${weights[n]}`)
    .join(' / ');
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
  options: { filter: PathFilter; cloudWatchPeriodMs: number },
  deps: RolloutDeps,
): Promise<CommandOutcome> {
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
      result: 'unchanged',
      summary: `## Rollout plan\n\nThis PR changes no rollout file (${filter.patterns.join(', ')}).\n`,
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
        { path, baseText, headText, force, cloudWatchPeriodMs: options.cloudWatchPeriodMs },
        deps,
      );
      for (const r of p.live)
        logger.info(
          `live ${shortName(r.ref.arn)}: ${formatWeightsList(r.weights, Object.keys(r.weights))} (${r.ref.arn})`,
        );
      logger.info(
        `${path}: ${p.status}${p.problems.length ? ` (${p.problems.length} problem${p.problems.length === 1 ? '' : 's'})` : ''}`,
      );
      for (const problem of p.problems) logger.info(`  - ${problem.message}`);
      return p;
    });
    plans.push(plan);
  }
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
  const outcome: CommandOutcome = {
    result: refused.length > 0 ? 'failed' : 'planned',
    summary: body,
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

/** A plan as plain data for the JSON report (without the parsed file's functions). */
export function planReport(p: FilePlan): Record<string, unknown> {
  const { head: _head, ...rest } = p;
  return rest as unknown as Record<string, unknown>;
}
