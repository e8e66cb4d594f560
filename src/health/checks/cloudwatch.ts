/**
 * cloudwatch checks: ALB metrics of the canary (and baseline) target group from
 * AWS/ApplicationELB, every check of one interval fetched in a single GetMetricData call.
 *
 * Each query's Period is the whole interval window, so CloudWatch returns one value per query
 * that is the statistic over the window (a p99 over two minutes is not the max of two
 * one-minute p99s). The window is aligned to the metric resolution by the analysis loop and
 * never starts before the shift.
 */
import {
  GetMetricDataCommand,
  type CloudWatchClient,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import { isMap, type Node } from 'yaml';
import { formatDuration } from '../../common/duration.js';
import { ConfigurationError } from '../../common/errors.js';
import { optional, type At, type YamlSource } from '../../yaml/source.js';
import { closestMatch } from '../../yaml/suggest.js';
import {
  boundViolation,
  formatBounds,
  formatNumber,
  formatPercent,
  formatSeconds,
} from '../format.js';
import { EARLY_CONFIDENCE_TEXT, decisivelyOver, errorTailBound } from '../early.js';
import { substitutePlaceholders, type PlaceholderValues } from '../placeholders.js';
import type { HealthTargets, IntervalWindow, Measurement, TargetGroupRef } from '../types.js';
import { scalarValue, settings, type CheckKind } from './kind.js';

/** The resolution of ALB metrics in CloudWatch: one datapoint a minute. */
export const DEFAULT_CLOUDWATCH_PERIOD_MS = 60_000;
/**
 * How long after a window closes real ALB metrics are complete enough to judge: a minute or
 * more. What the actions wait by default; an AnalysisRequest without a delay waits none (the
 * sandbox's metrics are in at once).
 */
export const DEFAULT_CLOUDWATCH_DELAY_MS = 60_000;

export type CloudWatchMetric =
  'error-rate' | 'latency-p99' | 'latency-p95' | 'latency-avg' | 'request-count';

export const CLOUDWATCH_METRICS: readonly CloudWatchMetric[] = [
  'error-rate',
  'latency-p99',
  'latency-p95',
  'latency-avg',
  'request-count',
];

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

/** Periods GetMetricData accepts below one minute (high-resolution metrics). */
const SUB_MINUTE_PERIODS = [1, 5, 10, 20, 30];

/** Whether GetMetricData accepts this many seconds as a Period. */
export function isCloudWatchPeriod(seconds: number): boolean {
  return SUB_MINUTE_PERIODS.includes(seconds) || (seconds > 0 && seconds % 60 === 0);
}

export const cloudwatch: CheckKind<CloudWatchCheck> = {
  name: 'cloudwatch',
  fields: ['metric', 'queries', 'returnId', 'max', 'min', 'vsBaseline', 'minRequests'],
  parse: readCloudWatch,
  prepare: (checks, { targets, intervalMs, cloudWatchPeriodMs }) => {
    const plan = planCloudWatch(
      checks.map((c) => c.check),
      targets,
      intervalMs / 1000,
    );
    const early = planEarlyErrorRate(
      checks.map((c) => c.check),
      targets,
      (cloudWatchPeriodMs ?? DEFAULT_CLOUDWATCH_PERIOD_MS) / 1000,
    );
    return {
      evaluate: async (window, io) =>
        (await evaluateCloudWatch(io.cloudwatch, plan, window)).map((m) => [m]),
      ...(early
        ? {
            evaluateEarly: async (partial, io, alpha) =>
              early.evaluate(
                await fetchMetricValues(io.cloudwatch, early.queries, partial),
                partial,
                alpha,
              ),
          }
        : {}),
    };
  },
  describe: describeCloudWatch,
  secrets: () => [],
  redact: (check) => check,
};

function describeCloudWatch(check: CloudWatchCheck, canary: string): string {
  if (!check.metric)
    return `cloudwatch: custom query \`${check.returnId ?? ''}\` of ${canary} ${formatBounds(check, formatNumber)}`;
  const metric = check.metric;
  const parts: string[] = [];
  if (check.max !== undefined || check.min !== undefined)
    parts.push(formatBounds(check, (n) => formatMetric(metric, n)));
  if (check.vsBaseline?.maxIncrease !== undefined)
    parts.push(`≤ baseline ${formatIncrease(metric, check.vsBaseline.maxIncrease)}`);
  if (check.vsBaseline?.maxRatio !== undefined)
    parts.push(`≤ baseline ×${formatNumber(check.vsBaseline.maxRatio)}`);
  const min = check.minRequests !== undefined ? ` (judged from ${check.minRequests} requests)` : '';
  return `cloudwatch: ${metric} of ${canary} ${parts.join(', ')}${min}`;
}

/** The fields of CloudWatch's MetricDataQuery, the custom form's `queries` items. */
const METRIC_DATA_QUERY_FIELDS = [
  'Id',
  'MetricStat',
  'Expression',
  'Label',
  'ReturnData',
  'Period',
  'AccountId',
];
/** CloudWatch's own rule for a MetricDataQuery Id, as written (before our prefix). */
const WRITTEN_QUERY_ID = /^[a-z][A-Za-z0-9_]{0,254}$/;

/** A bare latency threshold is seconds; at or above this it is surely meant as milliseconds. */
const MAX_BARE_LATENCY_SECONDS = 60;

function readCloudWatch(src: YamlSource, at: At): CloudWatchCheck | undefined {
  const f = settings(src, at, cloudwatch);
  if (!f) return undefined;
  const before = src.diagnostics.length;
  const check: CloudWatchCheck = { kind: 'cloudwatch' };
  const metricAt = f.get('metric');
  const queriesAt = f.get('queries');
  const returnIdAt = f.get('returnId');

  if (metricAt && queriesAt) {
    src.reportEntry(
      queriesAt,
      `${at.label} has both "metric" and "queries"; use "metric" for a built-in metric, or "queries" with "returnId" for your own, not both.`,
    );
  } else if (!metricAt && !queriesAt) {
    src.reportEntry(
      at,
      `${at.label} needs "metric" (one of ${CLOUDWATCH_METRICS.join(', ')}) or "queries" with "returnId".`,
    );
  }
  if (metricAt) check.metric = readMetric(src, metricAt);
  if (queriesAt) {
    const queries = readQueries(src, queriesAt);
    if (queries) check.queries = queries.raw;
    if (!returnIdAt) {
      src.reportEntry(
        at,
        `Missing required key "returnId" in ${at.label}: the Id of the query whose value is compared.`,
      );
    } else {
      const returnId = src.string(returnIdAt);
      if (returnId !== undefined && queries && !queries.ids.includes(returnId)) {
        const suggestion = closestMatch(returnId, queries.ids);
        const hint = suggestion
          ? `did you mean "${suggestion}"?`
          : `the Ids are ${queries.ids.join(', ')}.`;
        src.reportValue(
          returnIdAt,
          `${returnIdAt.label} "${returnId}" is not the Id of any query; ${hint}`,
        );
      }
      if (returnId !== undefined) check.returnId = returnId;
    }
  } else if (returnIdAt) {
    src.reportEntry(
      returnIdAt,
      `${returnIdAt.label} only applies with "queries"; remove it or add the queries.`,
    );
  }

  // Thresholds are read in the metric's unit only when the metric itself is valid.
  const metricKnown = !metricAt || check.metric !== undefined;
  const unit = metricKnown ? check.metric : undefined;
  if (metricKnown) {
    const max = optional(f.get('max'), (v) => readThreshold(src, v, unit));
    const min = optional(f.get('min'), (v) => readThreshold(src, v, unit));
    if (max !== undefined) check.max = max;
    if (min !== undefined) check.min = min;
    if (min !== undefined && max !== undefined && min > max) {
      src.reportValue(
        f.get('min') as At,
        `${at.label} has min ${min} above max ${max}; no value could pass.`,
      );
    }
    const baselineAt = f.get('vsBaseline');
    // The custom form is judged only by max/min of the returnId value; a vsBaseline there
    // would be ignored, and a check with nothing else would always pass.
    if (baselineAt && queriesAt) {
      src.reportEntry(
        baselineAt,
        `${baselineAt.label} only applies to a built-in "metric"; a check with "queries" compares the "returnId" value with "max" and/or "min". ` +
          `To compare with the baseline, write it into the queries (an Expression over {{baselineTargetGroup}}) and set "max".`,
      );
    } else if (baselineAt) {
      const vsBaseline = readVsBaseline(src, baselineAt, unit);
      if (vsBaseline) check.vsBaseline = vsBaseline;
    }
  }
  const minRequests = optional(f.get('minRequests'), (v) => src.integer(v, 0));
  if (minRequests !== undefined) check.minRequests = minRequests;
  if (queriesAt && !metricAt) {
    if (!f.has('max') && !f.has('min') && !f.has('vsBaseline')) {
      src.reportEntry(at, `${at.label} compares nothing; set "max", "min" or both.`);
    }
  } else if (!f.has('max') && !f.has('min') && !f.has('vsBaseline')) {
    src.reportEntry(at, `${at.label} compares nothing; set "max", "min" or "vsBaseline".`);
  }
  return src.diagnostics.length > before ? undefined : check;
}

function readMetric(src: YamlSource, at: At): CloudWatchMetric | undefined {
  const name = src.string(at, `one of ${CLOUDWATCH_METRICS.join(', ')}`);
  if (name === undefined) return undefined;
  const metric = CLOUDWATCH_METRICS.find((m) => m === name);
  if (!metric) {
    const suggestion = closestMatch(name, CLOUDWATCH_METRICS);
    const hint = suggestion
      ? `did you mean "${suggestion}"?`
      : `use one of ${CLOUDWATCH_METRICS.join(', ')}, or "queries" for your own metric.`;
    src.reportValue(at, `${at.label} "${name}" is not a built-in metric; ${hint}`);
  }
  return metric;
}

function readQueries(src: YamlSource, at: At): { raw: unknown[]; ids: string[] } | undefined {
  const items = src.list(at, 'a list of CloudWatch MetricDataQuery objects');
  if (!items) return undefined;
  if (items.length === 0) {
    src.reportValue(at, `${at.label} is empty; list at least one MetricDataQuery.`);
    return undefined;
  }
  const before = src.diagnostics.length;
  const raw: unknown[] = [];
  const ids: string[] = [];
  for (const item of items) {
    const f = src.map(
      item,
      METRIC_DATA_QUERY_FIELDS,
      'a MetricDataQuery map (Id, and MetricStat or Expression)',
    );
    if (!f) continue;
    const idAt = src.required(
      f,
      'Id',
      item,
      "the query's name, referred to by returnId and expressions",
    );
    if (idAt) {
      const id = src.string(idAt);
      if (id !== undefined && !WRITTEN_QUERY_ID.test(id)) {
        src.reportValue(
          idAt,
          `${idAt.label} "${id}" must start with a lowercase letter and hold only letters, digits and underscores (CloudWatch's rule for Ids).`,
        );
      } else if (id !== undefined && ids.includes(id)) {
        src.reportValue(
          idAt,
          `${idAt.label} "${id}" is used by another query too; Ids must be unique.`,
        );
      } else if (id !== undefined) ids.push(id);
    }
    if (f.has('MetricStat') === f.has('Expression')) {
      src.reportValue(
        item,
        `${item.label} must have exactly one of "MetricStat" and "Expression".`,
      );
    }
    raw.push((item.node as Node).toJS(src.doc));
  }
  return src.diagnostics.length > before ? undefined : { raw, ids };
}

/**
 * A threshold in the metric's unit. Latencies are seconds, as CloudWatch reports
 * TargetResponseTime, and may also be written as durations (`800ms`); an error rate is a
 * fraction of requests; request counts cannot be negative.
 */
function readThreshold(
  src: YamlSource,
  at: At,
  metric: CloudWatchMetric | undefined,
): number | undefined {
  if (metric?.startsWith('latency-')) {
    const v = scalarValue(at.node);
    if (typeof v === 'string') {
      const ms = src.duration(at, { positive: false });
      return ms === undefined ? undefined : ms / 1000;
    }
    const seconds = src.number(at, 'a duration like 800ms, or a number of seconds');
    if (seconds === undefined) return undefined;
    if (seconds < 0) {
      src.reportValue(at, `${at.label} must not be negative, got ${seconds}.`);
      return undefined;
    }
    if (seconds >= MAX_BARE_LATENCY_SECONDS) {
      src.reportValue(
        at,
        `${at.label} is ${seconds} seconds (a bare number is seconds); write ${seconds}ms if you meant milliseconds, or ${formatDuration(seconds * 1000)} if you meant seconds.`,
      );
      return undefined;
    }
    return seconds;
  }
  if (metric === 'error-rate') {
    const rate = src.number(at, 'a fraction from 0 to 1 (0.01 is 1%)');
    if (rate === undefined) return undefined;
    if (rate < 0 || rate > 1) {
      src.reportValue(at, `${at.label} must be a fraction from 0 to 1 (0.01 is 1%), got ${rate}.`);
      return undefined;
    }
    return rate;
  }
  if (metric === 'request-count') {
    const count = src.number(at, 'a non-negative number');
    if (count !== undefined && count < 0) {
      src.reportValue(at, `${at.label} must not be negative, got ${count}.`);
      return undefined;
    }
    return count;
  }
  return src.number(at);
}

function readVsBaseline(
  src: YamlSource,
  at: At,
  metric: CloudWatchMetric | undefined,
): CloudWatchCheck['vsBaseline'] | undefined {
  const f = src.map(at, ['maxIncrease', 'maxRatio'], 'a map with maxIncrease and/or maxRatio');
  if (!f) return undefined;
  // Unknown keys are reported already; "empty" means nothing was written at all.
  if (isMap(at.node) && at.node.items.length === 0) {
    src.reportValue(
      at,
      `${at.label} is empty; set "maxIncrease" (canary minus baseline) or "maxRatio" (canary / baseline).`,
    );
    return undefined;
  }
  const before = src.diagnostics.length;
  const vsBaseline: NonNullable<CloudWatchCheck['vsBaseline']> = {};
  const increaseAt = f.get('maxIncrease');
  if (increaseAt) {
    const increase = readThreshold(src, increaseAt, metric);
    if (increase !== undefined && increase < 0) {
      src.reportValue(increaseAt, `${increaseAt.label} must not be negative, got ${increase}.`);
    } else if (increase !== undefined) vsBaseline.maxIncrease = increase;
  }
  const ratioAt = f.get('maxRatio');
  if (ratioAt) {
    const ratio = src.number(ratioAt, 'a number above 0 (1.5 allows 50% more than the baseline)');
    if (ratio !== undefined && ratio <= 0) {
      src.reportValue(
        ratioAt,
        `${ratioAt.label} must be above 0 (1.5 allows 50% more than the baseline), got ${ratio}.`,
      );
    } else if (ratio !== undefined) vsBaseline.maxRatio = ratio;
  }
  return src.diagnostics.length > before ? undefined : vsBaseline;
}

const NAMESPACE = 'AWS/ApplicationELB';

const LATENCY_STAT: Record<string, string> = {
  'latency-p99': 'p99',
  'latency-p95': 'p95',
  'latency-avg': 'Average',
};

/** What one query returned for the window. */
export interface QueryValue {
  /** Datapoints in the window, oldest first. */
  values: number[];
  /** Complete, or InternalError / Forbidden when CloudWatch could not answer this query. */
  status: string;
  message?: string;
}

export interface CloudWatchPlan {
  /** Every query of one interval; StartTime/EndTime come from the window. */
  queries: MetricDataQuery[];
  evaluate(values: ReadonlyMap<string, QueryValue>): Measurement[];
}

interface RawQuery {
  id: string;
  sum: boolean;
}

/** The per-load-balancer queries of one metric statistic for one target group. */
type SeriesIds = { loadBalancer: string; query: RawQuery }[];

/**
 * Builds the queries and evaluators for the cloudwatch checks. Throws ConfigurationError for
 * checks that cannot run against these targets (a custom query with an unknown placeholder,
 * a target group no load balancer forwards to), so the mistake shows before any waiting.
 */
export function planCloudWatch(
  checks: readonly CloudWatchCheck[],
  targets: HealthTargets,
  windowSeconds: number,
): CloudWatchPlan {
  const queries: MetricDataQuery[] = [];
  const series = seriesMaker(queries, windowSeconds);

  const evaluators: ((values: ReadonlyMap<string, QueryValue>) => Measurement)[] = [];
  checks.forEach((check, index) => {
    if (check.metric) {
      evaluators.push(planBuiltIn(check, check.metric, targets, series));
    } else {
      const custom = planCustom(check, index, targets, windowSeconds, series);
      queries.push(...custom.queries);
      evaluators.push(custom.evaluate);
    }
  });
  return {
    queries,
    evaluate: (values) => evaluators.map((evaluate) => evaluate(values)),
  };
}

/** Makes the per-load-balancer queries of a statistic once, adding each new one to `queries`. */
function seriesMaker(queries: MetricDataQuery[], periodSeconds: number): SeriesOf {
  const byKey = new Map<string, RawQuery>();
  return (tg, metricName, stat) => {
    if (tg.loadBalancers.length === 0) {
      throw new ConfigurationError(
        `Target group ${tg.label} (${tg.arn}) is not attached to any load balancer, so it has no ` +
          `AWS/ApplicationELB metrics to check; attach it to the ALB listener or rule first.`,
      );
    }
    return tg.loadBalancers.map((loadBalancer) => {
      const key = JSON.stringify([tg.dimension, loadBalancer, metricName, stat]);
      let query = byKey.get(key);
      if (!query) {
        query = { id: `m${byKey.size}`, sum: stat === 'Sum' };
        byKey.set(key, query);
        queries.push({
          Id: query.id,
          Label: `${metricName} ${stat} ${tg.label} ${loadBalancer}`,
          MetricStat: {
            Metric: {
              Namespace: NAMESPACE,
              MetricName: metricName,
              Dimensions: [
                { Name: 'TargetGroup', Value: tg.dimension },
                { Name: 'LoadBalancer', Value: loadBalancer },
              ],
            },
            Period: periodSeconds,
            Stat: stat,
          },
          ReturnData: true,
        });
      }
      return { loadBalancer, query };
    });
  };
}

type SeriesOf = (tg: TargetGroupRef, metricName: string, stat: string) => SeriesIds;

/** Whether a check can fail an open interval early (early.ts): an error-rate with a max. */
export function judgesEarly(check: CloudWatchCheck): boolean {
  return check.metric === 'error-rate' && check.max !== undefined;
}

/**
 * The early looks of the cloudwatch checks: the error-rate checks with a `max`, their request
 * and 5xx counts summed over the open interval's datapoints so far. Their query period is the
 * metrics' resolution, not the interval: a count sums exactly across periods, and CloudWatch has
 * a datapoint only for a period that is over. Undefined when no check judges early.
 */
export function planEarlyErrorRate(
  checks: readonly CloudWatchCheck[],
  targets: HealthTargets,
  periodSeconds: number,
):
  | {
      queries: MetricDataQuery[];
      evaluate(
        values: ReadonlyMap<string, QueryValue>,
        partial: IntervalWindow,
        alpha: number,
      ): Measurement[][];
    }
  | undefined {
  const early = checks.filter(judgesEarly);
  if (early.length === 0) return undefined;
  // The same queries the interval's own plan makes, at the metrics' resolution.
  const queries: MetricDataQuery[] = [];
  const read = metricReader('error-rate', targets.canary, seriesMaker(queries, periodSeconds));
  const names = checkNames(checks, targets);
  return {
    queries,
    evaluate(values, partial, alpha) {
      const reading = read(values);
      const requests = reading.requests;
      const errors = reading.errors ?? 0;
      return checks.map((check, index) => {
        if (!judgesEarly(check) || reading.unavailable || requests === 0) return [];
        const max = check.max as number;
        if (!decisivelyOver(errors, requests, max, alpha, check.minRequests)) return [];
        const rate = errors / requests;
        const show = (n: number) => formatPercent(n);
        const seconds = formatDuration(partial.end - partial.start);
        return [
          {
            name: names[index] as string,
            kind: 'cloudwatch' as const,
            status: 'fail' as const,
            value: rate,
            shown: show(rate),
            threshold: thresholdText(check, 'error-rate', targets.baseline?.label ?? 'baseline'),
            reason:
              `${show(rate)} > ${show(max)} with ${EARLY_CONFIDENCE_TEXT} confidence (${formatNumber(errors)} 5xx ` +
              `of ${formatNumber(requests)} requests in ${seconds}, judged early)`,
            details: {
              metric: 'error-rate',
              early: true,
              through: new Date(partial.end).toISOString(),
              requests,
              errors,
              tailBound: errorTailBound(errors, requests, max),
              significance: alpha,
              canary: reading,
            },
          },
        ];
      });
    },
  };
}

/** A metric of one target group over the window, summed or combined across its ALBs. */
interface MetricReading {
  requests: number;
  /** 5xx responses, for error-rate. */
  errors?: number;
  value?: number;
  /** Set when CloudWatch could not answer a query this reading needs. */
  unavailable?: string;
  perLoadBalancer: Record<string, Record<string, number | undefined>>;
}

function planBuiltIn(
  check: CloudWatchCheck,
  metric: CloudWatchMetric,
  targets: HealthTargets,
  series: SeriesOf,
): (values: ReadonlyMap<string, QueryValue>) => Measurement {
  const reader = (tg: TargetGroupRef) => metricReader(metric, tg, series);
  const readCanary = reader(targets.canary);
  const baseline = check.vsBaseline ? targets.baseline : undefined;
  const readBaseline = baseline ? reader(baseline) : undefined;
  const minRequests = check.minRequests ?? (metric === 'request-count' ? 0 : 1);
  const show = (n: number) => formatMetric(metric, n);
  const name = builtInName(check, metric, targets);
  const threshold = thresholdText(check, metric, baseline?.label ?? 'baseline');

  return (values) => {
    const canary = readCanary(values);
    const base: Measurement = {
      name,
      kind: 'cloudwatch',
      status: 'pass',
      shown: canary.value === undefined ? 'no data' : show(canary.value),
      threshold,
      details: { metric, minRequests, canary: canary },
    };
    if (canary.value !== undefined) base.value = canary.value;
    const notJudged = judgeable(canary, targets.canary.label, minRequests);
    if (notJudged) return { ...base, status: 'inconclusive', reason: notJudged };
    const value = canary.value as number;

    const violations: string[] = [];
    const bound = boundViolation(value, check, show);
    if (bound) violations.push(bound);

    if (check.vsBaseline) {
      if (!baseline || !readBaseline) {
        if (check.max === undefined && check.min === undefined) {
          return {
            ...base,
            status: 'skipped',
            reason: 'no baseline target group receives traffic to compare with',
          };
        }
      } else {
        const reading = readBaseline(values);
        (base.details as Record<string, unknown>).baseline = reading;
        const baselineNotJudged = judgeable(reading, baseline.label, minRequests);
        if (baselineNotJudged)
          return { ...base, status: 'inconclusive', reason: baselineNotJudged };
        const b = reading.value as number;
        base.shown = `${show(value)} vs ${baseline.label} ${show(b)}`;
        const { maxIncrease, maxRatio } = check.vsBaseline;
        const diff = value - b;
        if (maxIncrease !== undefined && diff > maxIncrease) {
          violations.push(
            `${show(value)} vs ${baseline.label} ${show(b)}: ${formatIncrease(metric, diff)} > ${formatIncrease(metric, maxIncrease)}`,
          );
        }
        // Equal values are a ratio of 1 even when both are zero.
        const ratio = value === b ? 1 : b === 0 ? Infinity : value / b;
        if (maxRatio !== undefined && ratio > maxRatio) {
          violations.push(
            `${show(value)} vs ${baseline.label} ${show(b)}: ×${formatNumber(ratio)} > ×${formatNumber(maxRatio)}`,
          );
        }
      }
    }
    if (violations.length) return { ...base, status: 'fail', reason: violations.join('; ') };
    return base;
  };
}

function builtInName(
  check: CloudWatchCheck,
  metric: CloudWatchMetric,
  targets: HealthTargets,
): string {
  const baseline = check.vsBaseline ? targets.baseline : undefined;
  return `${metric} of ${targets.canary.label}${check.vsBaseline ? ` vs ${baseline?.label ?? 'baseline'}` : ''}`;
}

/**
 * The names the checks' measurements have in the analysis's tables: a second check that
 * measures the same thing gets `#2`, as the analysis numbers them (only cloudwatch checks can
 * share a name, so numbering them among themselves gives the same names).
 */
function checkNames(checks: readonly CloudWatchCheck[], targets: HealthTargets): string[] {
  const seen = new Map<string, number>();
  return checks.map((check) => {
    const firstId = (check.queries?.[0] as { Id?: unknown } | undefined)?.Id;
    const name = check.metric
      ? builtInName(check, check.metric, targets)
      : `cloudwatch ${check.returnId ?? String(firstId)} of ${targets.canary.label}`;
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return n === 1 ? name : `${name} #${n}`;
  });
}

/** Why a reading cannot be judged, or undefined when it can. */
function judgeable(reading: MetricReading, label: string, minRequests: number): string | undefined {
  if (reading.unavailable) return reading.unavailable;
  if (reading.requests < minRequests) {
    return `not enough traffic to judge: ${formatNumber(reading.requests)} requests to ${label} < minRequests ${minRequests}`;
  }
  if (reading.value === undefined) return `no data for ${label} in the interval`;
  return undefined;
}

function thresholdText(check: CloudWatchCheck, metric: CloudWatchMetric, baseline: string): string {
  const show = (n: number) => formatMetric(metric, n);
  const parts: string[] = [];
  if (check.max !== undefined || check.min !== undefined) parts.push(formatBounds(check, show));
  if (check.vsBaseline?.maxIncrease !== undefined) {
    parts.push(`≤ ${baseline} ${formatIncrease(metric, check.vsBaseline.maxIncrease)}`);
  }
  if (check.vsBaseline?.maxRatio !== undefined) {
    parts.push(`≤ ${baseline} ×${formatNumber(check.vsBaseline.maxRatio)}`);
  }
  return parts.length ? parts.join(', ') : 'none';
}

function metricReader(
  metric: CloudWatchMetric,
  tg: TargetGroupRef,
  series: SeriesOf,
): (values: ReadonlyMap<string, QueryValue>) => MetricReading {
  const requests = series(tg, 'RequestCount', 'Sum');
  const errors = metric === 'error-rate' ? series(tg, 'HTTPCode_Target_5XX_Count', 'Sum') : [];
  const latencyStat = LATENCY_STAT[metric];
  const latency = latencyStat ? series(tg, 'TargetResponseTime', latencyStat) : [];

  return (values) => {
    const reading: MetricReading = { requests: 0, perLoadBalancer: {} };
    const problems: string[] = [];
    const read = (q: RawQuery): number | undefined => {
      const v = values.get(q.id);
      if (!v) return undefined;
      if (v.status !== 'Complete' && v.status !== 'PartialData') {
        problems.push(`CloudWatch answered ${v.status}${v.message ? `: ${v.message}` : ''}`);
        return undefined;
      }
      if (v.values.length === 0) return undefined;
      return q.sum ? v.values.reduce((a, b) => a + b, 0) : v.values[v.values.length - 1];
    };
    let errorCount = 0;
    let weightedLatency = 0;
    let latencyWeight = 0;
    let worstLatency: number | undefined;
    tg.loadBalancers.forEach((lb, i) => {
      // ALB publishes no datapoint for a period without requests or without 5xx: that is 0.
      const lbRequests = read((requests[i] as SeriesIds[number]).query) ?? 0;
      const row: Record<string, number | undefined> = { requests: lbRequests };
      reading.requests += lbRequests;
      if (errors.length) {
        const lbErrors = read((errors[i] as SeriesIds[number]).query) ?? 0;
        row.errors5xx = lbErrors;
        errorCount += lbErrors;
      }
      if (latency.length) {
        const lbLatency = read((latency[i] as SeriesIds[number]).query);
        row[latencyStat as string] = lbLatency;
        if (lbLatency !== undefined) {
          worstLatency = Math.max(worstLatency ?? -Infinity, lbLatency);
          weightedLatency += lbLatency * Math.max(lbRequests, 1);
          latencyWeight += Math.max(lbRequests, 1);
        }
      }
      reading.perLoadBalancer[lb] = row;
    });
    if (problems.length) {
      reading.unavailable = problems.join('; ');
      return reading;
    }
    if (metric === 'request-count') reading.value = reading.requests;
    else if (metric === 'error-rate') {
      reading.errors = errorCount;
      if (reading.requests > 0) reading.value = errorCount / reading.requests;
    } else if (latencyWeight > 0) {
      // An average combines exactly across ALBs; a percentile does not, so take the worst ALB.
      reading.value = metric === 'latency-avg' ? weightedLatency / latencyWeight : worstLatency;
    }
    return reading;
  };
}

const QUERY_ID = /^[a-z][a-zA-Z0-9_]*$/;

/**
 * The custom form: raw MetricDataQuery objects (as in the GetMetricData API) with
 * placeholders. Ids are prefixed so several custom checks can share one call; references to
 * them in Expressions are renamed to match. MetricStat.Period is set to the interval window.
 */
function planCustom(
  check: CloudWatchCheck,
  index: number,
  targets: HealthTargets,
  windowSeconds: number,
  series: SeriesOf,
): {
  queries: MetricDataQuery[];
  evaluate: (values: ReadonlyMap<string, QueryValue>) => Measurement;
} {
  const raw = check.queries ?? [];
  const where = `cloudwatch check ${index + 1}`;
  if (raw.length === 0) {
    throw new ConfigurationError(`The ${where} needs either a metric or queries.`);
  }
  const placeholders: PlaceholderValues = {
    targetGroup: targets.canary.dimension,
    loadBalancer: targets.canary.loadBalancers[0],
    baselineTargetGroup: targets.baseline?.dimension,
  };
  const parsed = raw.map((q, i) => {
    if (typeof q !== 'object' || q === null || Array.isArray(q)) {
      throw new ConfigurationError(
        `Query ${i + 1} of the ${where} must be a MetricDataQuery object.`,
      );
    }
    const text = substitutePlaceholders(JSON.stringify(q), placeholders, `the ${where}`);
    const query = JSON.parse(text) as MetricDataQuery;
    if (typeof query.Id !== 'string' || !QUERY_ID.test(query.Id)) {
      throw new ConfigurationError(
        `Query ${i + 1} of the ${where} needs an Id that starts with a lowercase letter and has ` +
          `only letters, digits and underscores (GetMetricData's rule), got ${JSON.stringify(query.Id)}.`,
      );
    }
    return query;
  });
  const ids = parsed.map((q) => q.Id as string);
  const returnId = check.returnId ?? (ids.length === 1 ? ids[0] : undefined);
  if (returnId === undefined || !ids.includes(returnId)) {
    throw new ConfigurationError(
      returnId === undefined
        ? `The ${where} has ${ids.length} queries; set returnId to the Id of the one to compare (${ids.join(', ')}).`
        : `The ${where} has returnId "${returnId}", but its queries are ${ids.join(', ')}.`,
    );
  }
  const prefix = `c${index}_`;
  const rename = (expression: string) =>
    expression.replace(/\b[a-z][a-zA-Z0-9_]*\b/g, (word) =>
      ids.includes(word) ? prefix + word : word,
    );
  const queries = parsed.map((q) => {
    const out: MetricDataQuery = { ...q, Id: prefix + q.Id, ReturnData: q.Id === returnId };
    if (out.Expression) out.Expression = rename(out.Expression);
    if (out.MetricStat) out.MetricStat = { ...out.MetricStat, Period: windowSeconds };
    return out;
  });
  const minRequests = check.minRequests ?? 0;
  const readRequests =
    minRequests > 0 ? metricReader('request-count', targets.canary, series) : undefined;
  const name = `cloudwatch ${returnId} of ${targets.canary.label}`;
  const show = formatNumber;
  const threshold = formatBounds(check, show);

  return {
    queries,
    evaluate: (values) => {
      const result = values.get(prefix + returnId);
      const latest = result?.values[result.values.length - 1];
      const base: Measurement = {
        name,
        kind: 'cloudwatch',
        status: 'pass',
        shown: latest === undefined ? 'no data' : show(latest),
        threshold,
        details: { returnId, values: result?.values ?? [], status: result?.status },
      };
      if (readRequests) {
        const reading = readRequests(values);
        (base.details as Record<string, unknown>).requests = reading.requests;
        const notJudged = judgeable(reading, targets.canary.label, minRequests);
        if (notJudged) return { ...base, status: 'inconclusive', reason: notJudged };
      }
      if (result && result.status !== 'Complete' && result.status !== 'PartialData') {
        return {
          ...base,
          status: 'inconclusive',
          reason: `CloudWatch answered ${result.status}${result.message ? `: ${result.message}` : ''}`,
        };
      }
      if (latest === undefined) {
        return {
          ...base,
          status: 'inconclusive',
          reason: `query ${returnId} returned no data in the interval`,
        };
      }
      base.value = latest;
      const violation = boundViolation(latest, check, show);
      return violation ? { ...base, status: 'fail', reason: violation } : base;
    },
  };
}

/** Fetches every query for the window: one GetMetricData call (more only if CloudWatch pages). */
export async function fetchMetricValues(
  cloudwatch: CloudWatchClient,
  queries: MetricDataQuery[],
  window: IntervalWindow,
): Promise<Map<string, QueryValue>> {
  const values = new Map<string, QueryValue>();
  let nextToken: string | undefined;
  do {
    const out = await cloudwatch.send(
      new GetMetricDataCommand({
        MetricDataQueries: queries,
        StartTime: new Date(window.start),
        EndTime: new Date(window.end),
        ScanBy: 'TimestampAscending',
        NextToken: nextToken,
      }),
    );
    for (const r of out.MetricDataResults ?? []) {
      if (!r.Id) continue;
      const entry = values.get(r.Id) ?? { values: [], status: 'Complete' };
      entry.values.push(...(r.Values ?? []));
      if (r.StatusCode && r.StatusCode !== 'Complete' && r.StatusCode !== 'PartialData') {
        entry.status = r.StatusCode;
        const message = r.Messages?.map((m) => m.Value).join('; ');
        if (message) entry.message = message;
      }
      values.set(r.Id, entry);
    }
    nextToken = out.NextToken;
  } while (nextToken);
  return values;
}

export async function evaluateCloudWatch(
  cloudwatch: CloudWatchClient,
  plan: CloudWatchPlan,
  window: IntervalWindow,
): Promise<Measurement[]> {
  if (plan.queries.length === 0) return [];
  return plan.evaluate(await fetchMetricValues(cloudwatch, plan.queries, window));
}

function formatMetric(metric: CloudWatchMetric, value: number): string {
  if (metric === 'error-rate') return formatPercent(value);
  if (metric === 'request-count') return formatNumber(value);
  return formatSeconds(value);
}

/** `+0.5%`, `-20ms`: a difference in the metric's own unit, signed. */
function formatIncrease(metric: CloudWatchMetric, diff: number): string {
  const s = formatMetric(metric, diff);
  return diff >= 0 ? `+${s}` : s;
}
