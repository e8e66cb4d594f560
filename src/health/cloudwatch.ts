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
import { ConfigurationError } from '../common/errors.js';
import type { CloudWatchCheck, CloudWatchMetric } from '../rollout-file/types.js';
import {
  boundViolation,
  formatBounds,
  formatIncrease,
  formatMetric,
  formatNumber,
} from './format.js';
import { substitutePlaceholders, type PlaceholderValues } from './placeholders.js';
import type { HealthTargets, IntervalWindow, Measurement, TargetGroupRef } from './types.js';

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
  const byKey = new Map<string, RawQuery>();

  const series = (tg: TargetGroupRef, metricName: string, stat: string): SeriesIds => {
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
            Period: windowSeconds,
            Stat: stat,
          },
          ReturnData: true,
        });
      }
      return { loadBalancer, query };
    });
  };

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

type SeriesOf = (tg: TargetGroupRef, metricName: string, stat: string) => SeriesIds;

/** A metric of one target group over the window, summed or combined across its ALBs. */
interface MetricReading {
  requests: number;
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
  const name = `${metric} of ${targets.canary.label}${check.vsBaseline ? ` vs ${baseline?.label ?? 'baseline'}` : ''}`;
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
