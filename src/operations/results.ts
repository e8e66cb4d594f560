/**
 * What each rollout command saw and did, as typed data. The operations produce these; the PR
 * comments, the job summary, the JSON report and (later) the terminal output are rendered from
 * them, so no operation needs to know how it is shown.
 */
import type { RestoreReport } from '../alb/restore.js';
import type { PullRequestRef } from '../github/types.js';
import type { AnalysisResult } from '../health/index.js';
import type { ClusterWeights, StepDecision } from '../rollout-file/step.js';
import type { RolloutFile, SourcePosition } from '../rollout-file/types.js';
import type { RouteRef } from '../alb/forward.js';
import type { Annotation, RolloutResult } from './context.js';
import type { HealthPrecheck, LiveRoute } from './live.js';
import type { HandoffResult } from '../kube/handoff.js';

/** What every command ends with; the action turns it into outputs and the step's status. */
export interface OutcomeBase {
  result: RolloutResult;
  /** URL of the PR the command opened or updated. */
  pullRequest?: string;
  /** Everything the command saw and did, for the JSON report. */
  report: Record<string, unknown>;
  annotations: Annotation[];
  /** Set when the step must fail: why, in a sentence or two. */
  failure?: string;
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
  /** An owner step: per object its state on both owners and what the handoff will do. */
  handoff?: { from: string; to: string; lines: string[] };
  /** The CloudWatch period and delay apply will judge the analysis with. */
  cloudWatchPeriodMs: number;
  cloudWatchDelayMs?: number;
}

export interface PlanOutcome extends OutcomeBase {
  command: 'plan';
  plans: FilePlan[];
  /** The force label is on the PR. */
  force: boolean;
  /** The `files` globs; no plan when the PR changes no file matching them. */
  patterns: readonly string[];
}

export type FileStatus =
  'applied' | 'unchanged' | 'rolled-back' | 'refused' | 'failed' | 'not-applied' | 'deleted';

export interface FileApply {
  path: string;
  name?: string;
  status: FileStatus;
  /** What happened, in a sentence or two. */
  message: string;
  /** For an invalid file: each problem with its place, `file:line:col: what`. */
  problems?: string[];
  live?: ClusterWeights;
  desired?: ClusterWeights;
  health?: HealthPrecheck[];
  appliedAt?: string;
  verdict?: string;
  /** The verdict, the analysis it judged by (for rendering) and the JSON report of it. */
  analysis?: { result: AnalysisResult; analysis: RolloutFile['analysis']; report: unknown };
  restored?: RestoreReport;
  /** An owner step: what the handoff did, and where the singletons run now. */
  handoff?: HandoffResult;
  reconcile?: PullRequestRef;
  advance?: PullRequestRef;
  deployment?: number;
  /** Problems with the GitHub side after the ALB work was done (a PR, a comment, a deployment). */
  githubErrors: string[];
  annotations: Annotation[];
}

export interface ApplyOutcome extends OutcomeBase {
  command: 'apply';
  files: FileApply[];
  patterns: readonly string[];
}

export interface RollbackRoute {
  ref: RouteRef;
  was: ClusterWeights;
  now: ClusterWeights;
  status: 'written' | 'unchanged' | 'would-write';
}

export interface RollbackOutcome extends OutcomeBase {
  command: 'rollback';
  path: string;
  name: string;
  /** Cluster order of the file, for showing weights. */
  order: string[];
  desired: ClusterWeights;
  /** Clusters sent traffic although they had no healthy target (forced). */
  forcedOnto: string[];
  routes: RollbackRoute[];
  /** The shift failed: what it said (routes restored or not). */
  error?: string;
  reconcile?: PullRequestRef | 'not-needed';
  defaultBranch: string;
  /** The owner form: what the handoff did. */
  handoff?: HandoffResult;
}

export interface AdvanceOutcome extends OutcomeBase {
  command: 'advance';
  name: string;
  message: string;
}

export interface ChangedOutcome extends OutcomeBase {
  command: 'changed';
  /** The rollout files the push changed, sorted. */
  files: string[];
  patterns: readonly string[];
}

export type CommandOutcome =
  PlanOutcome | ApplyOutcome | RollbackOutcome | AdvanceOutcome | ChangedOutcome;

/** retire-cluster: one thing retiring a cluster deletes, and where it stands. */
export interface RetireItem {
  resource:
    | 'target-group-binding'
    | 'targets'
    | 'pod-identity-association'
    | 'nodegroup'
    | 'addon'
    | 'cluster'
    | 'oidc-provider';
  name: string;
  /**
   * delete: it exists and is deleted (would be, on a dry run); wait: it is being deleted
   * already (DELETING, a binding being finalized, targets draining); gone: nothing left to do;
   * unknown: it could not be read.
   */
  action: 'delete' | 'wait' | 'gone' | 'unknown';
  /** What was read, e.g. `ACTIVE`, `2 from blue (1 healthy, 1 draining)`. */
  state: string;
}

export interface RetireStep {
  what: string;
  startedAt: Date;
  endedAt: Date;
}

export interface RetireOutcome {
  command: 'retire-cluster';
  /** The rollout file's name of the cluster, and its EKS name. */
  cluster: string;
  eksName: string;
  region: string;
  /** The cluster's target groups, one per rollout file (service). */
  targetGroups: string[];
  dryRun: boolean;
  /**
   * retired: the cluster and everything on the plan is gone (now or by an earlier run);
   * planned: a dry run; refused: the gate said no, nothing was changed; stopped: cancelled or
   * timed out; failed: a deletion failed. The last two say in `left` what still exists.
   */
  status: 'retired' | 'planned' | 'refused' | 'stopped' | 'failed';
  /** Every reason the gate refused, each a sentence that says what to do. */
  refusals: string[];
  /** What existed when the run started, and what was (or would be) done with it. */
  plan: RetireItem[];
  steps: RetireStep[];
  /** After a stop or failure: everything read again; what is not `gone` is left. */
  left?: RetireItem[];
  /** Lines worth reading beside the plan (targets of other clusters left alone, an unknown OIDC provider). */
  notes: string[];
  /** Set when the step must fail: why, and what to do. */
  failure?: string;
  startedAt: Date;
  endedAt: Date;
}
