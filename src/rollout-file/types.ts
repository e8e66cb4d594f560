/**
 * The rollout file, version 1, after parsing and validation. See docs/rollout-file.md and
 * DESIGN.md. Everything here has been checked: weights are integers 0-100 summing to 100,
 * every ARN is well-formed and in `region`, names refer to declared clusters.
 */
import type { Analysis } from '../health/checks/index.js';

// The analysis and its checks are health's; named here too for code that reads a rollout file.
export type { Analysis, Check } from '../health/checks/index.js';

export interface RolloutFile {
  /** The path the file was read from, as given (used in diagnostics and annotations). */
  path: string;
  version: 1;
  name: string;
  region: string;
  /** In file order. */
  clusters: ClusterSpec[];
  /** In file order; no duplicates. */
  routes: RouteRef[];
  /** Cluster name -> integer percent; every declared cluster has one; sums to 100. */
  weights: Record<string, number>;
  /** The cluster being promoted. */
  canary: string;
  /** Canary weights in strictly increasing order, each 0-100. */
  steps: number[];
  /** The cluster that runs CronJobs and singletons. */
  owner: string;
  analysis: Analysis;
  /** Which CronJobs and Deployments run on the owner only (absent: every CronJob, no Deployment). */
  singletons?: Singletons;
  /** Where a value sits in the file, for annotations on later checks (plan, drift). */
  locate(path: readonly (string | number)[]): SourcePosition;
}

export type { SourcePosition } from '../yaml/source.js';
import type { SourcePosition } from '../yaml/source.js';

export interface ClusterSpec {
  name: string;
  /** EKS cluster name. */
  eks: string;
  targetGroup: string;
  /** The Service whose ready endpoints sync-apps binds into `targetGroup` (a TargetGroupBinding). */
  service?: ServiceRef;
}

export interface ServiceRef {
  namespace: string;
  name: string;
  /** The Service port: its number or its name. */
  port: number | string;
}

/**
 * What sync-apps keeps stopped on every cluster but the owner: every CronJob in `namespaces`
 * (all namespaces when absent) is created suspended, and every Deployment there whose labels
 * match `selector` is created with 0 replicas.
 */
export interface Singletons {
  /** Undefined: every namespace. */
  namespaces?: string[];
  /** Label key -> value (matchLabels); undefined: no Deployment is a singleton. */
  selector?: Record<string, string>;
  /** How long a handoff waits for the old owner's running Jobs and pods; default 10 minutes. */
  drainTimeoutMs?: number;
  /** `delete`: a handoff deletes the old owner's running Jobs instead of waiting; default `wait`. */
  activeJobs?: 'wait' | 'delete';
}

/** The drain timeout when the file sets none. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10 * 60_000;

export interface RouteRef {
  kind: 'listener' | 'rule';
  arn: string;
}
