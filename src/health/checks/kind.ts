/**
 * What one kind of health check is: how it is written (its fields, read from YAML with
 * positions), how it is measured each interval, how the plan describes it, and which of its
 * settings are secrets. The registry in ./index.ts lists every kind.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { isScalar, type Node } from 'yaml';
import type { At, YamlSource } from '../../yaml/source.js';
import type { FetchLike, HealthTargets, IntervalWindow, Measurement } from '../types.js';

/** What the checks of an analysis are prepared against, before its warmup. */
export interface CheckContext {
  targets: HealthTargets;
  intervalMs: number;
  /** The CloudWatch metrics' resolution, ms (the early looks' query period). Default 60 s. */
  cloudWatchPeriodMs?: number;
}

/** What a check measures with. */
export interface CheckIO {
  cloudwatch: CloudWatchClient;
  elbv2: ElasticLoadBalancingV2Client;
  fetch: FetchLike;
}

/** A check with its place among all the analysis's checks (0-based), for error messages. */
export interface Numbered<C> {
  check: C;
  index: number;
}

/** The checks of one kind, ready to be measured interval after interval. */
export interface PreparedKind {
  /** One list of measurements per prepared check, in the order they were given. */
  evaluate(window: IntervalWindow, io: CheckIO): Promise<Measurement[][]>;
  /**
   * Present when some of the checks can fail an interval before it closes (early.ts): measures
   * the part of the interval in `partial` ([start, the data's last complete moment)) and returns
   * only decisive failures, each at significance `alpha`; one list per prepared check, empty
   * when nothing is decisive yet. Never a pass: passing needs the whole interval.
   */
  evaluateEarly?(partial: IntervalWindow, io: CheckIO, alpha: number): Promise<Measurement[][]>;
}

export interface CheckKind<C extends { kind: string }> {
  /** The key that names the check in YAML (`- cloudwatch: {...}`), and `check.kind`. */
  readonly name: C['kind'];
  /** Its settings' keys, in the order the docs list them. */
  readonly fields: readonly string[];
  /** Reads the settings under the kind's key; undefined when `src` reported a problem. */
  parse(src: YamlSource, at: At): C | undefined;
  /**
   * Prepares every check of this kind in the analysis at once (CloudWatch fetches them all in
   * one call per interval). Throws ConfigurationError for what is wrong before any waiting:
   * placeholders without a value, a target group without metrics.
   */
  prepare(checks: readonly Numbered<C>[], context: CheckContext): PreparedKind;
  /** One line for the plan; `canary` is the canary's name. */
  describe(check: C, canary: string): string;
  /** Values to mask in the log: credentials only, as masking is by value everywhere. */
  secrets(check: C): string[];
  /** The check as written to a report, summary or PR: whatever could be a secret blanked. */
  redact(check: C): C;
}

/** The settings of one check; a kind's key written with no value means all defaults. */
export function settings(
  src: YamlSource,
  at: At,
  kind: { name: string; fields: readonly string[] },
): Map<string, At> | undefined {
  if (at.node === null || scalarValue(at.node) === null) return new Map();
  return src.map(at, kind.fields, `a map of ${kind.name} settings (${kind.fields.join(', ')})`);
}

export function scalarValue(node: Node | null): unknown {
  return isScalar(node) ? node.value : undefined;
}
