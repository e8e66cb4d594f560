/**
 * GetMetricData with CloudWatch's semantics: validation and its error codes, StartTime rounding,
 * one datapoint per period that has data (no zeros for empty periods), metric math over other
 * query ids, ReturnData, Label, ScanBy and MaxDatapoints/NextToken pagination.
 */
import { createHash } from 'node:crypto';
import { isSupportedStat, type MetricStore } from '../metrics.js';
import { CloudWatchError } from './errors.js';
import {
  evaluate,
  ExpressionError,
  parseExpression,
  referencedIds,
  type MathValue,
  type Node as ExpressionTree,
  type TimeSeries,
} from './expression.js';

export interface MetricDataQueryInput {
  Id?: string;
  MetricStat?: {
    Metric?: {
      Namespace?: string;
      MetricName?: string;
      Dimensions?: { Name?: string; Value?: string }[];
    };
    Period?: number;
    Stat?: string;
    Unit?: string;
  };
  Expression?: string;
  Label?: string;
  ReturnData?: boolean;
  Period?: number;
  AccountId?: string;
}

export interface GetMetricDataInput {
  MetricDataQueries?: MetricDataQueryInput[];
  /** Epoch seconds (the JSON protocol's timestamp format). */
  StartTime?: number;
  EndTime?: number;
  NextToken?: string;
  ScanBy?: string;
  MaxDatapoints?: number;
}

export interface MetricDataResultOutput {
  Id: string;
  Label: string;
  /** Epoch seconds. */
  Timestamps: number[];
  Values: number[];
  StatusCode: 'Complete' | 'PartialData';
  Messages: { Code: string; Value: string }[];
}

export interface GetMetricDataOutput {
  MetricDataResults: MetricDataResultOutput[];
  NextToken?: string;
  Messages: { Code: string; Value: string }[];
}

const MAX_QUERIES = 500;
const DEFAULT_MAX_DATAPOINTS = 100_800;
const ID_PATTERN = /^[a-z][a-zA-Z0-9_]*$/;
const HIGH_RESOLUTION_PERIODS = [1, 5, 10, 20, 30];
const EXTENDED_STAT = /^(?:(?:tm|wm|tc|ts|pr)\d|(?:TM|WM|TC|TS|PR|tm|wm|tc|ts|pr)\(|IQR$)/;
const MINUTE = 60_000;
const DAY = 24 * 3600_000;

export function getMetricData(
  store: MetricStore,
  input: GetMetricDataInput,
  now: number,
): GetMetricDataOutput {
  const queries = input.MetricDataQueries ?? [];
  if (queries.length === 0) {
    throw new CloudWatchError('MissingParameter', 'The parameter MetricDataQueries is required.');
  }
  if (queries.length > MAX_QUERIES) {
    throw new CloudWatchError(
      'ValidationError',
      `The collection MetricDataQueries must not have a size greater than ${MAX_QUERIES}.`,
    );
  }
  for (const name of ['StartTime', 'EndTime'] as const) {
    if (typeof input[name] !== 'number') {
      throw new CloudWatchError('MissingParameter', `The parameter ${name} is required.`);
    }
  }
  const startMs = Math.round((input.StartTime as number) * 1000);
  const endMs = Math.round((input.EndTime as number) * 1000);
  if (startMs === endMs) {
    throw new CloudWatchError(
      'ValidationError',
      'The parameter StartTime must not equal parameter EndTime.',
    );
  }
  if (startMs > endMs) {
    throw new CloudWatchError(
      'ValidationError',
      'The parameter StartTime must be less than the parameter EndTime.',
    );
  }
  const scanBy = input.ScanBy ?? 'TimestampDescending';
  if (scanBy !== 'TimestampDescending' && scanBy !== 'TimestampAscending') {
    throw new CloudWatchError(
      'ValidationError',
      `The value ${scanBy} for parameter ScanBy is not valid. Valid values: TimestampDescending, TimestampAscending.`,
    );
  }
  const maxDatapoints = input.MaxDatapoints ?? DEFAULT_MAX_DATAPOINTS;
  if (!Number.isInteger(maxDatapoints) || maxDatapoints < 1) {
    throw new CloudWatchError(
      'ValidationError',
      `The value ${maxDatapoints} for parameter MaxDatapoints must be a positive integer.`,
    );
  }

  validateQueries(queries);
  const expressions = parseExpressions(queries);

  const byId = new Map(queries.map((q) => [q.Id as string, q]));
  const computed = new Map<string, MathValue>();
  const evaluating = new Set<string>();
  const valueOf = (id: string): MathValue => {
    const done = computed.get(id);
    if (done !== undefined) return done;
    const q = byId.get(id) as MetricDataQueryInput;
    let value: MathValue;
    if (q.MetricStat) {
      value = metricSeries(store, q.MetricStat, startMs, endMs, now);
    } else {
      if (evaluating.has(id)) {
        throw new CloudWatchError(
          'ValidationError',
          `Error in expression ${id}: circular reference to ${id}.`,
        );
      }
      evaluating.add(id);
      try {
        value = evaluate(expressions.get(id) as ExpressionTree, valueOf);
      } catch (e) {
        if (e instanceof ExpressionError) {
          throw new CloudWatchError('ValidationError', `Error in expression ${id}: ${e.message}.`);
        }
        throw e;
      } finally {
        evaluating.delete(id);
      }
      if (typeof value === 'number') {
        throw new CloudWatchError(
          'ValidationError',
          `Error in expression ${id}: the expression must reference at least one metric, it evaluates to the number ${value}.`,
        );
      }
    }
    computed.set(id, value);
    return value;
  };

  const results: MetricDataResultOutput[] = [];
  for (const q of queries) {
    if (q.ReturnData === false) continue;
    const series = valueOf(q.Id as string) as TimeSeries;
    const order = series.timestamps.map((_, i) => i);
    if (scanBy === 'TimestampDescending') order.reverse();
    results.push({
      Id: q.Id as string,
      Label: q.Label ?? q.MetricStat?.Metric?.MetricName ?? (q.Id as string),
      Timestamps: order.map((i) => (series.timestamps[i] as number) / 1000),
      Values: order.map((i) => series.values[i] as number),
      StatusCode: 'Complete',
      Messages: [],
    });
  }
  return paginate(results, input, maxDatapoints);
}

function validateQueries(queries: MetricDataQueryInput[]): void {
  const problems: string[] = [];
  queries.forEach((q, index) => {
    const at = `MetricDataQueries.member.${index + 1}`;
    if (q.Id === undefined || q.Id === '') {
      problems.push(`The parameter ${at}.Id is required.`);
    } else if (!ID_PATTERN.test(q.Id)) {
      problems.push(
        `The value ${q.Id} for parameter ${at}.Id is not matching the expected pattern ^[a-z][a-zA-Z0-9_]*$.`,
      );
    }
    if (q.MetricStat && q.Expression !== undefined) {
      problems.push(
        `The parameters ${at}.MetricStat and ${at}.Expression are mutually exclusive and you have specified both.`,
      );
      return;
    }
    if (!q.MetricStat && q.Expression === undefined) {
      problems.push(`Exactly one of ${at}.MetricStat and ${at}.Expression must be specified.`);
      return;
    }
    const stat = q.MetricStat;
    if (!stat) return;
    const metric = stat.Metric;
    if (!metric?.Namespace)
      problems.push(`The parameter ${at}.MetricStat.Metric.Namespace is required.`);
    if (!metric?.MetricName)
      problems.push(`The parameter ${at}.MetricStat.Metric.MetricName is required.`);
    (metric?.Dimensions ?? []).forEach((d, j) => {
      if (!d.Name || d.Value === undefined) {
        problems.push(
          `The parameters ${at}.MetricStat.Metric.Dimensions.member.${j + 1}.Name and Value are required.`,
        );
      }
    });
    const period = stat.Period;
    if (period === undefined) {
      problems.push(`The parameter ${at}.MetricStat.Period is required.`);
    } else if (
      !Number.isInteger(period) ||
      period < 1 ||
      (period % 60 !== 0 && !HIGH_RESOLUTION_PERIODS.includes(period))
    ) {
      problems.push(
        `The value ${period} for parameter ${at}.MetricStat.Period is not valid. The period must be 1, 5, 10, 20, 30, or a multiple of 60.`,
      );
    }
    if (stat.Stat === undefined) {
      problems.push(`The parameter ${at}.MetricStat.Stat is required.`);
    } else if (EXTENDED_STAT.test(stat.Stat)) {
      problems.push(
        `The statistic ${stat.Stat} for parameter ${at}.MetricStat.Stat is valid in CloudWatch but not implemented by the sandbox (it implements Sum, Average, SampleCount, Minimum, Maximum and pNN.NN).`,
      );
    } else if (!isSupportedStat(stat.Stat)) {
      problems.push(
        `The value ${stat.Stat} for parameter ${at}.MetricStat.Stat is not a valid statistic.`,
      );
    }
  });
  if (problems.length > 0) throw new CloudWatchError('ValidationError', problems.join('\n'));

  const seen = new Set<string>();
  for (const q of queries) {
    if (seen.has(q.Id as string)) {
      throw new CloudWatchError(
        'ValidationError',
        'The values for parameter id in MetricDataQueries are not unique.',
      );
    }
    seen.add(q.Id as string);
  }
}

function parseExpressions(queries: MetricDataQueryInput[]): Map<string, ExpressionTree> {
  const ids = new Set(queries.map((q) => q.Id as string));
  const out = new Map<string, ExpressionTree>();
  for (const q of queries) {
    if (q.Expression === undefined) continue;
    const id = q.Id as string;
    let tree: ExpressionTree;
    try {
      tree = parseExpression(q.Expression);
    } catch (e) {
      if (e instanceof ExpressionError) {
        throw new CloudWatchError('ValidationError', `Error in expression ${id}: ${e.message}.`);
      }
      throw e;
    }
    for (const ref of referencedIds(tree)) {
      if (ref === id) {
        throw new CloudWatchError(
          'ValidationError',
          `Error in expression ${id}: an expression cannot reference its own id ${id}.`,
        );
      }
      if (!ids.has(ref)) {
        throw new CloudWatchError(
          'ValidationError',
          `Error in expression ${id}: Unrecognized metric or expression id ${ref}. Ids in MetricDataQueries: ${[...ids].join(', ')}.`,
        );
      }
    }
    out.set(id, tree);
  }
  return out;
}

function metricSeries(
  store: MetricStore,
  stat: NonNullable<MetricDataQueryInput['MetricStat']>,
  startMs: number,
  endMs: number,
  now: number,
): TimeSeries {
  const period = stat.Period as number;
  const gridStart = alignStart(startMs, period, now);
  const empty: TimeSeries = { timestamps: [], values: [], period, gridStart, gridEnd: endMs };
  // CloudWatch keeps sub-minute data for 3 hours; older ranges need a period of a minute or more.
  if (period < 60 && now - gridStart > 3 * 3600_000) return empty;
  const metric = stat.Metric as {
    Namespace: string;
    MetricName: string;
    Dimensions?: { Name?: string; Value?: string }[];
  };
  const dimensions: Record<string, string> = {};
  for (const d of metric.Dimensions ?? []) dimensions[d.Name as string] = d.Value as string;
  const series = store.query({
    namespace: metric.Namespace,
    metricName: metric.MetricName,
    dimensions,
    start: gridStart,
    end: endMs,
    period,
    stat: stat.Stat as string,
    ...(stat.Unit !== undefined ? { unit: stat.Unit } : {}),
  });
  return { ...series, period, gridStart, gridEnd: endMs };
}

/**
 * CloudWatch's rounding of StartTime (API reference, GetMetricData StartTime): periods of 1, 5,
 * 10, 20 and 30 seconds round down to that division of a minute; otherwise down to the minute
 * (start less than 15 days ago), 5 minutes (15 to 63 days) or the hour (older).
 */
export function alignStart(startMs: number, period: number, now: number): number {
  let unit: number;
  if (HIGH_RESOLUTION_PERIODS.includes(period)) unit = period * 1000;
  else if (now - startMs < 15 * DAY) unit = MINUTE;
  else if (now - startMs < 63 * DAY) unit = 5 * MINUTE;
  else unit = 60 * MINUTE;
  return Math.floor(startMs / unit) * unit;
}

function paginate(
  results: MetricDataResultOutput[],
  input: GetMetricDataInput,
  maxDatapoints: number,
): GetMetricDataOutput {
  const fingerprint = requestFingerprint(input);
  let offset = 0;
  if (input.NextToken !== undefined) {
    const token = decodeToken(input.NextToken);
    if (!token || token.fingerprint !== fingerprint) {
      throw new CloudWatchError(
        'InvalidNextToken',
        'The NextToken is not valid for this request: pass the NextToken of the previous response to the same request.',
      );
    }
    offset = token.offset;
  }
  const total = results.reduce((n, r) => n + r.Values.length, 0);
  if (offset === 0 && total <= maxDatapoints) {
    return { MetricDataResults: results, Messages: [] };
  }
  const page: MetricDataResultOutput[] = [];
  let skip = offset;
  let room = maxDatapoints;
  for (const r of results) {
    const n = r.Values.length;
    // Results without datapoints are listed once, on the first page.
    if (n === 0) {
      if (offset === 0) page.push(r);
      continue;
    }
    if (skip >= n) {
      skip -= n;
      continue;
    }
    if (room === 0) continue;
    const from = skip;
    const to = Math.min(n, from + room);
    skip = 0;
    room -= to - from;
    page.push({
      ...r,
      Timestamps: r.Timestamps.slice(from, to),
      Values: r.Values.slice(from, to),
      StatusCode: to < n ? 'PartialData' : 'Complete',
    });
  }
  const next = offset + maxDatapoints;
  return {
    MetricDataResults: page,
    Messages: [],
    ...(next < total ? { NextToken: encodeToken({ offset: next, fingerprint }) } : {}),
  };
}

function requestFingerprint(input: GetMetricDataInput): string {
  const { NextToken: _token, ...rest } = input;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

function encodeToken(token: { offset: number; fingerprint: string }): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(text: string): { offset: number; fingerprint: string } | undefined {
  try {
    const t = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (
      typeof t === 'object' &&
      t !== null &&
      typeof (t as { offset?: unknown }).offset === 'number' &&
      typeof (t as { fingerprint?: unknown }).fingerprint === 'string'
    ) {
      return t as { offset: number; fingerprint: string };
    }
  } catch {
    // Not a token this sandbox issued.
  }
  return undefined;
}
