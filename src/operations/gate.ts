/**
 * The step gate: may the change from `base` to `head` be applied to the ALB as it is now? One
 * function for plan (on the PR) and apply (on the merge), so both judge a step the same way:
 * an owner change only on its own (and then the singletons' state on both owners), no drift from the file before the change, the one-step rule, enough
 * healthy targets in every cluster that gains weight, and an analysis that can run. Reads
 * only; every problem is reported at once, each at its place in the file.
 */
import { untilAborted } from '../common/cancel.js';
import { ConfigurationError } from '../common/errors.js';
import { shortName } from '../aws/arn.js';
import { prepareAnalysis, resolveTargets, type HealthTargets } from '../health/index.js';
import {
  checkFileStep,
  clusterWeights,
  formatClusterWeights,
  gainingClusters,
  sameClusterWeights,
  targetGroupWeights,
  type ClusterWeights,
  type StepDecision,
} from '../rollout-file/step.js';
import { targetsFromRolloutFile } from '../rollout-file/targets.js';
import type { RolloutFile, SourcePosition } from '../rollout-file/types.js';
import type { HandoffPlan } from '../kube/handoff.js';
import { FORCE_LABEL, type RolloutDeps } from './context.js';
import { readHandoff } from './handoff.js';
import {
  healthProblem,
  precheckTargetHealth,
  requiredHealthy,
  type HealthPrecheck,
  type LiveRoute,
} from './live.js';

export type GateProblemKind = 'owner' | 'drift' | 'disagree' | 'step' | 'health' | 'analysis';

export interface GateProblem {
  kind: GateProblemKind;
  message: string;
  /** Where in the head file it belongs, for an annotation. */
  at: SourcePosition;
}

export interface GateInput {
  head: RolloutFile;
  /** The valid file before the change: the compare-and-swap baseline. Absent for a new file. */
  base?: RolloutFile;
  /** How the messages name `base`: `on the base branch`, `before this push`. */
  baseLabel: string;
  live: LiveRoute[];
  /**
   * Asked only when the step is larger than one step: may it be forced (the force label), and
   * if not, a sentence that says where the label was looked for.
   */
  force(): Promise<{ forced: boolean; why?: string }>;
  cloudWatchPeriodMs: number;
  cloudWatchDelayMs?: number;
}

export interface GateResult {
  /** Every route already has the head's weights: merging moves no traffic. */
  noChange: boolean;
  /** What every route must have now: the base file's weights, else the first route's. */
  expected: ClusterWeights;
  drift: { ref: LiveRoute['ref']; live: ClusterWeights; expected: ClusterWeights }[];
  step: StepDecision;
  /** Target health of every cluster that gains weight on some route. */
  health: HealthPrecheck[];
  /** The analysis's target groups, resolved, when it can run (apply verifies with them). */
  targets?: HealthTargets;
  problems: GateProblem[];
  notes: string[];
  /** An owner step: the clusters and what the handoff will do with each object. */
  handoff?: { from: string; to: string; plan: HandoffPlan };
}

export async function gateStep(
  input: GateInput,
  deps: Pick<RolloutDeps, 'aws' | 'signal' | 'kube'>,
): Promise<GateResult> {
  const { head, base, live } = input;
  const order = head.clusters.map((c) => c.name);
  const show = (w: ClusterWeights): string => formatClusterWeights(w, order);
  const problems: GateProblem[] = [];
  const notes: string[] = [];

  let handoff: GateResult['handoff'];
  if (base && base.owner !== head.owner) {
    if (!sameClusterWeights(base.weights, head.weights)) {
      problems.push({
        kind: 'owner',
        message:
          `owner changes from ${base.owner} to ${head.owner} and the weights change too (${show(base.weights)} → ${show(head.weights)}). ` +
          `One merge either moves traffic or hands CronJobs and singletons over, never both: a failed step could not be undone as one. ` +
          `Split it: keep owner: ${base.owner} in this PR and change it in the next one (or the reverse).`,
        at: head.locate(['owner']),
      });
    } else {
      const read = await readHandoff(head, base.owner, head.owner, deps);
      if ('error' in read) {
        problems.push({
          kind: 'owner',
          message: `owner changes from ${base.owner} to ${head.owner}, a handoff of the CronJobs and singletons. ${read.error}`,
          at: head.locate(['owner']),
        });
      } else {
        handoff = { from: base.owner, to: head.owner, plan: read.plan };
        for (const p of read.plan.problems) {
          problems.push({
            kind: 'owner',
            message: p.message,
            at: head.locate(head.singletons ? ['singletons'] : ['owner']),
          });
        }
        for (const i of read.plan.items) {
          if (i.plan === 'resume') {
            notes.push(
              `${i.ref.kind} ${i.ref.namespace}/${i.ref.name}: a handoff to ${head.owner} was left in flight (stopped on both, marked on ${base.owner}); this step finishes it.`,
            );
          } else if (i.plan === 'done') {
            notes.push(
              `${i.ref.kind} ${i.ref.namespace}/${i.ref.name} already runs on ${head.owner} only: nothing to do for it.`,
            );
          }
        }
      }
    }
  }

  const first = live[0]?.weights ?? {};
  const noChange =
    live.length > 0 && live.every((r) => sameClusterWeights(r.weights, head.weights));
  const expected = base ? clusterWeights(head, targetGroupWeights(base, base.weights)) : first;
  let drift = live
    .filter((r) => !sameClusterWeights(r.weights, expected))
    .map((r) => ({ ref: r.ref, live: r.weights, expected }));
  if (drift.length > 0 && noChange) {
    // The ALB already has what the change asks for: merging brings git in line with the ALB
    // (a reconcile PR) and writes nothing, so drift is no reason to refuse.
    notes.push(
      `The ALB differs from the file ${input.baseLabel} (${show(expected)}) but already has the weights of this version: merging brings git in line with the ALB and changes nothing on it.`,
    );
    drift = [];
  } else if (drift.length > 0 && base) {
    problems.push({
      kind: 'drift',
      message:
        `Drift: ${drift.map((d) => `${shortName(d.ref.arn)} has ${show(d.live)}`).join('; ')}, but the file ${input.baseLabel} says ${show(expected)}` +
        ` (${drift.length} of ${live.length} route(s) differ). Something changed the ALB outside the rollout, so apply refuses to change it. ` +
        `To reconcile: find out why, then either put the routes back to ${show(expected)}, ` +
        `or first merge a PR that sets weights to the live ${show(drift[0]?.live ?? first)}, then the step again.`,
      at: head.locate(['weights']),
    });
  } else if (drift.length > 0) {
    problems.push({
      kind: 'disagree',
      message: `The routes do not agree with each other (${live.map((r) => `${shortName(r.ref.arn)} has ${show(r.weights)}`).join('; ')}) and there is no earlier version of the file to say which is right; apply moves them in lockstep from one state. Make them agree first.`,
      at: head.locate(['routes']),
    });
  }

  const step = await stepDecision(input, expected, noChange);
  if (!step.allowed) {
    problems.push({
      kind: 'step',
      message: step.message,
      at: head.locate(['weights', head.canary]),
    });
  }

  const gaining = [...new Set(live.flatMap((r) => gainingClusters(r.weights, head.weights)))];
  const health =
    gaining.length > 0
      ? await precheckTargetHealth(deps, head, gaining, requiredHealthy(head))
      : [];
  for (const h of health.filter((x) => !x.ok)) {
    problems.push({
      kind: 'health',
      message: healthProblem(h),
      at: head.locate(['weights', h.cluster]),
    });
  }

  const result: GateResult = {
    noChange,
    expected,
    drift,
    step,
    health,
    problems,
    notes,
    ...(handoff ? { handoff } : {}),
  };
  // What the analysis could trip over is checked before traffic moves: a mistake in the file
  // (a placeholder, an interval the CloudWatch period does not divide) refuses the step rather
  // than shifting and rolling back.
  if (!noChange) {
    try {
      const targets = await untilAborted(
        resolveTargets(deps.aws(head.region).elbv2, targetsFromRolloutFile(head)),
        deps.signal,
      );
      prepareAnalysis({
        analysis: head.analysis,
        targets,
        cloudWatchPeriodMs: input.cloudWatchPeriodMs,
        ...(input.cloudWatchDelayMs !== undefined
          ? { cloudWatchDelayMs: input.cloudWatchDelayMs }
          : {}),
      });
      result.targets = targets;
    } catch (e) {
      if (!(e instanceof ConfigurationError)) throw e;
      problems.push({
        kind: 'analysis',
        message: `The analysis cannot run: ${e.message}`,
        at: head.locate(['analysis']),
      });
    }
  }
  return result;
}

/** The one-step rule from the weights the ALB must have now; forced only when it has to be. */
async function stepDecision(
  input: GateInput,
  expected: ClusterWeights,
  noChange: boolean,
): Promise<StepDecision> {
  const { head, base } = input;
  if (noChange) {
    const to = head.weights[head.canary] ?? 0;
    return {
      direction: 'same',
      canary: head.canary,
      from: expected[head.canary] ?? 0,
      to,
      limit: to,
      allowed: true,
      forced: false,
      message: `No traffic moves: the ALB already sends ${head.canary} ${to}.`,
    };
  }
  const plain = checkFileStep(base, head, expected, false, FORCE_LABEL);
  if (plain.allowed) return plain;
  const force = await input.force();
  if (force.forced) return checkFileStep(base, head, expected, true, FORCE_LABEL);
  return force.why ? { ...plain, message: `${plain.message} ${force.why}` } : plain;
}
