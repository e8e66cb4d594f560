/**
 * The rollout file, version 1, after parsing and validation. See docs/rollout-file.md and
 * DESIGN.md. Everything here has been checked: weights are integers 0-100 summing to 100,
 * every ARN is well-formed and in `region`, names refer to declared clusters.
 */
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

export interface SourcePosition {
  line: number;
  col: number;
}

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

/** Durations are in milliseconds. */
export interface Analysis {
  warmupMs: number;
  intervalMs: number;
  durationMs: number;
  failureLimit: number;
  checks: Check[];
}

export type Check =
  | { kind: 'targetHealth'; minHealthy: number; maxUnhealthy: number }
  | CloudWatchCheck
  | PrometheusCheck
  | HttpCheck;

export type CloudWatchMetric =
  'error-rate' | 'latency-p99' | 'latency-p95' | 'latency-avg' | 'request-count';

export interface CloudWatchCheck {
  kind: 'cloudwatch';
  /** A built-in metric, or absent when `queries` (custom MetricDataQuery JSON) is used. */
  metric?: CloudWatchMetric;
  /** Custom form: raw MetricDataQuery objects with {{targetGroup}} etc. placeholders. */
  queries?: unknown[];
  /** Custom form: the id of the query whose value is compared. */
  returnId?: string;
  /** Thresholds; latencies are in seconds (as CloudWatch reports TargetResponseTime). */
  max?: number;
  min?: number;
  vsBaseline?: { maxIncrease?: number; maxRatio?: number };
  /** Below this many requests in the interval the result is inconclusive. */
  minRequests?: number;
}

export interface PrometheusCheck {
  kind: 'prometheus';
  url: string;
  query: string;
  max?: number;
  min?: number;
  bearerToken?: string;
  headers: Record<string, string>;
}

export interface HttpCheck {
  kind: 'http';
  url: string;
  method: string;
  headers: Record<string, string>;
  expectStatus: number;
  bodyContains?: string;
  count: number;
  timeoutMs: number;
  minSuccessRatio: number;
}
