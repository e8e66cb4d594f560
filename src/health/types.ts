/**
 * What the health analysis works on and what it produces. Domain code takes its I/O (AWS
 * clients, fetch, clock, logger) as arguments; these types are the values passed between.
 */
/**
 * The names of the check kinds (checks/index.ts holds the kinds themselves and checks that this
 * list matches its registry). Named here so the values below need not import the kinds, which
 * import these values.
 */
export type CheckKindName = 'targetHealth' | 'cloudwatch' | 'prometheus' | 'http';

/** The one clock of the whole step (common/clock.ts); the analysis binds its sleeps to its signal. */
export type { Clock } from '../common/clock.js';

export type FetchLike = typeof fetch;

/** A target group the analysis looks at, with the CloudWatch dimensions of its metrics. */
export interface TargetGroupRef {
  /** Cluster name from the rollout file (`green`), or the target group's name. */
  label: string;
  arn: string;
  /** CloudWatch TargetGroup dimension: `targetgroup/<name>/<id>`. */
  dimension: string;
  /**
   * CloudWatch LoadBalancer dimensions (`app/<name>/<id>`) of every ALB that forwards to it,
   * from DescribeTargetGroups' LoadBalancerArns. ALB publishes per-target-group metrics only
   * with both dimensions, so a target group behind two ALBs has two series of each metric.
   */
  loadBalancers: string[];
  /** EKS cluster name, when a rollout file names it (the `{{cluster}}` placeholder). */
  eks?: string;
}

export interface HealthTargets {
  canary: TargetGroupRef;
  /** What the canary is compared with (`vsBaseline`); absent when nothing else takes traffic. */
  baseline?: TargetGroupRef;
  /** Every target group that receives weight, canary first: what targetHealth inspects. */
  weighted: TargetGroupRef[];
}

/** The stretch of time one interval judges: [start, end), epoch ms. */
export interface IntervalWindow {
  /** 1-based. */
  index: number;
  start: number;
  end: number;
}

/**
 * pass and fail are verdicts; inconclusive means there was not enough data to judge (too few
 * requests, an empty query result); skipped means the check does not apply (a baseline
 * comparison when no baseline receives traffic).
 */
export type MeasurementStatus = 'pass' | 'fail' | 'inconclusive' | 'skipped';

/** One check's result for one target in one interval. */
export interface Measurement {
  /** What was measured, stable across intervals: `error-rate of green`. */
  name: string;
  kind: CheckKindName;
  status: MeasurementStatus;
  /** The number compared with the threshold, when there was one. */
  value?: number;
  /** `value` as people read it: `4.2%`, `812ms`, `3 healthy`. */
  shown: string;
  /** The threshold as people read it: `≤ 1%`. */
  threshold: string;
  /** Why it did not pass, as a comparison or sentence: `4.2% > 1%`. */
  reason?: string;
  /** Everything else measured (request counts, per-series values), for the JSON report. */
  details?: Record<string, unknown>;
}

export interface IntervalResult {
  window: IntervalWindow;
  /** Epoch ms when the measurements were taken. */
  evaluatedAt: number;
  /**
   * Set when the interval failed before it closed (early failure): the data judged, [from,
   * through) in epoch ms; the first interval's starts when the warmup ends, which may be before
   * the window (aligned to the CloudWatch grid) starts. The measurements are then those of the
   * checks that failed early.
   */
  early?: { from: number; through: number };
  status: Exclude<MeasurementStatus, 'skipped'>;
  measurements: Measurement[];
}

/** How one measurement fared over the whole analysis. */
export interface CheckOutcome {
  name: string;
  kind: CheckKindName;
  threshold: string;
  passed: number;
  failed: number;
  inconclusive: number;
  skipped: number;
  /** The last measured value as shown, for the summary table. */
  lastShown: string;
  /** The verdict for this check: failed intervals beyond the limit, or never judged. */
  result: 'pass' | 'fail' | 'not enough data' | 'skipped';
}

export interface AnalysisResult {
  healthy: boolean;
  /** The verdict in words: `error-rate of green 4.2% > 1% in 2 of 2 intervals`. */
  verdict: string;
  /** Epoch ms when the verdict was reached. */
  verdictAt: number;
  /** Names of the checks that made the verdict unhealthy; empty when healthy. */
  failedChecks: string[];
  /** True when failures ended the analysis before its duration was over. */
  endedEarly: boolean;
  /** Epoch ms: the shift time the analysis counts from (`since`, or when it started). */
  since: number;
  plannedIntervals: number;
  failedIntervals: number;
  failureLimit: number;
  intervals: IntervalResult[];
  checks: CheckOutcome[];
}
