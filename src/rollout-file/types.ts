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
}

export interface RouteRef {
  kind: 'listener' | 'rule';
  arn: string;
}
