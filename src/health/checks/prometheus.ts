/**
 * prometheus checks: an instant query over the HTTP API (`GET /api/v1/query`) at the end of
 * the interval window. Every series in the result must be within bounds; the value shown is
 * the one nearest to failing. An empty result is no data, not a pass.
 */
import { ConfigurationError, errorMessage } from '../../common/errors.js';
import { optional, type At, type YamlSource } from '../../yaml/source.js';
import { boundViolation, formatBounds, formatNumber } from '../format.js';
import { substitutePlaceholders } from '../placeholders.js';
import type { FetchLike, HealthTargets, IntervalWindow, Measurement } from '../types.js';
import { REDACTED, headerSecrets, redactHeaders } from './headers.js';
import { settings, type CheckKind } from './kind.js';

export interface PrometheusCheck {
  kind: 'prometheus';
  url: string;
  query: string;
  max?: number;
  min?: number;
  bearerToken?: string;
  headers: Record<string, string>;
}

export const prometheus: CheckKind<PrometheusCheck> = {
  name: 'prometheus',
  fields: ['url', 'query', 'max', 'min', 'bearerToken', 'headers'],
  parse: readPrometheus,
  prepare: (checks, { targets, intervalMs }) => {
    const prepared = checks.map(({ check, index }) =>
      preparePrometheusCheck(check, targets, intervalMs, index),
    );
    return {
      evaluate: (window, io) =>
        Promise.all(prepared.map(async (p) => [await evaluatePrometheus(p, window, io.fetch)])),
    };
  },
  describe: (check) => `prometheus: \`${check.query}\` ${formatBounds(check, formatNumber)}`,
  secrets: (check) => [
    ...(check.bearerToken ? [check.bearerToken] : []),
    ...headerSecrets(check.headers),
  ],
  redact: (check) => {
    const redacted: PrometheusCheck = { ...check, headers: redactHeaders(check.headers) };
    if (check.bearerToken !== undefined) redacted.bearerToken = REDACTED;
    return redacted;
  },
};

function readPrometheus(src: YamlSource, at: At): PrometheusCheck | undefined {
  const f = settings(src, at, prometheus);
  if (!f) return undefined;
  const before = src.diagnostics.length;
  const urlAt = src.required(f, 'url', at, 'the Prometheus server, e.g. http://prometheus:9090');
  const queryAt = src.required(f, 'query', at, 'the PromQL query whose value is compared');
  const url = urlAt && src.url(urlAt);
  const query = queryAt && src.string(queryAt);
  const max = optional(f.get('max'), (v) => src.number(v));
  const min = optional(f.get('min'), (v) => src.number(v));
  if (!f.has('max') && !f.has('min')) {
    src.reportEntry(at, `${at.label} compares nothing; set "max", "min" or both.`);
  }
  if (min !== undefined && max !== undefined && min > max) {
    src.reportValue(
      f.get('min') as At,
      `${at.label} has min ${min} above max ${max}; no value could pass.`,
    );
  }
  const bearerToken = optional(f.get('bearerToken'), (v) => src.string(v));
  const headers = optional(f.get('headers'), (v) => src.headers(v)) ?? {};
  if (src.diagnostics.length > before || url === undefined || query === undefined) return undefined;
  const check: PrometheusCheck = { kind: 'prometheus', url, query, headers };
  if (max !== undefined) check.max = max;
  if (min !== undefined) check.min = min;
  if (bearerToken !== undefined) check.bearerToken = bearerToken;
  return check;
}

/** Upper bound on one query, so a hung Prometheus cannot hold an interval forever. */
const QUERY_TIMEOUT_MS = 30_000;

export interface PreparedPrometheusCheck {
  check: PrometheusCheck;
  /** The query with every placeholder but {{interval}} filled. */
  query: string;
  name: string;
}

/** Fills placeholders up front, so a bad one fails before the warmup, not after it. */
export function preparePrometheusCheck(
  check: PrometheusCheck,
  targets: HealthTargets,
  intervalMs: number,
  index: number,
): PreparedPrometheusCheck {
  const where = `prometheus check ${index + 1}`;
  let url: URL;
  try {
    url = new URL(check.url);
  } catch {
    throw new ConfigurationError(`The ${where} has url "${check.url}", which is not a URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigurationError(`The ${where} url must be http or https, got "${check.url}".`);
  }
  const query = substitutePlaceholders(
    check.query,
    {
      targetGroup: targets.canary.dimension,
      loadBalancer: targets.canary.loadBalancers[0],
      baselineTargetGroup: targets.baseline?.dimension,
      cluster: targets.canary.eks,
      interval: `${Math.max(1, Math.round(intervalMs / 1000))}s`,
    },
    `the ${where}`,
  );
  const short = check.query.length > 60 ? `${check.query.slice(0, 57)}...` : check.query;
  return { check, query, name: `prometheus ${short}` };
}

interface PrometheusResponse {
  status?: string;
  errorType?: string;
  error?: string;
  data?: {
    resultType?: string;
    result?: unknown;
  };
}

export async function evaluatePrometheus(
  prepared: PreparedPrometheusCheck,
  window: IntervalWindow,
  fetchFn: FetchLike,
): Promise<Measurement> {
  const { check, query, name } = prepared;
  const base: Measurement = {
    name,
    kind: 'prometheus',
    status: 'pass',
    shown: 'no data',
    threshold: formatBounds(check, formatNumber),
    details: { query, time: new Date(window.end).toISOString() },
  };
  const endpoint = new URL('api/v1/query', check.url.endsWith('/') ? check.url : `${check.url}/`);
  endpoint.searchParams.set('query', query);
  endpoint.searchParams.set('time', (window.end / 1000).toFixed(3));
  const headers: Record<string, string> = { accept: 'application/json', ...check.headers };
  if (check.bearerToken) headers.authorization = `Bearer ${check.bearerToken}`;

  let status: number;
  let body: PrometheusResponse;
  try {
    const res = await fetchFn(endpoint, { headers, signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) });
    status = res.status;
    const text = await res.text();
    try {
      body = JSON.parse(text) as PrometheusResponse;
    } catch {
      return {
        ...base,
        status: 'inconclusive',
        reason: `Prometheus answered HTTP ${status} with a body that is not JSON: ${text.slice(0, 200)}`,
      };
    }
  } catch (e) {
    return {
      ...base,
      status: 'inconclusive',
      reason: `Prometheus query failed: ${errorMessage(e)}`,
    };
  }

  if (body.status !== 'success') {
    const message = `Prometheus rejected the query ${JSON.stringify(query)}: ${body.errorType ?? `HTTP ${status}`}: ${body.error ?? 'no error message'}`;
    // A query Prometheus cannot parse or run will fail the same way every interval.
    if (body.errorType === 'bad_data') throw new ConfigurationError(message);
    return { ...base, status: 'inconclusive', reason: message };
  }

  const samples = samplesOf(body.data);
  (base.details as Record<string, unknown>).series = samples;
  const values = samples.map((s) => s.value).filter((v) => !Number.isNaN(v));
  if (values.length === 0) {
    return {
      ...base,
      status: 'inconclusive',
      reason: samples.length ? 'the query returned only NaN' : 'the query returned no series',
    };
  }
  // Report the value nearest to failing: the highest against a max, the lowest against a min.
  const worst =
    check.max !== undefined
      ? values.reduce((a, b) => Math.max(a, b))
      : check.min !== undefined
        ? values.reduce((a, b) => Math.min(a, b))
        : (values[0] as number);
  const low = values.reduce((a, b) => Math.min(a, b));
  const violation =
    boundViolation(worst, check, formatNumber) ?? boundViolation(low, check, formatNumber);
  const measured: Measurement = {
    ...base,
    value: worst,
    shown:
      values.length > 1
        ? `${formatNumber(worst)} (worst of ${values.length} series)`
        : formatNumber(worst),
  };
  return violation ? { ...measured, status: 'fail', reason: violation } : measured;
}

/** Labels and value of each series in a vector or scalar result. */
function samplesOf(
  data: PrometheusResponse['data'],
): { labels: Record<string, string>; value: number }[] {
  const parse = (pair: unknown): number => {
    const raw = Array.isArray(pair) ? pair[1] : undefined;
    return typeof raw === 'string' || typeof raw === 'number' ? Number(raw) : NaN;
  };
  if (data?.resultType === 'scalar') return [{ labels: {}, value: parse(data.result) }];
  if (data?.resultType === 'vector' && Array.isArray(data.result)) {
    return data.result.map((r: { metric?: Record<string, string>; value?: unknown }) => ({
      labels: r.metric ?? {},
      value: parse(r.value),
    }));
  }
  if (data?.resultType === 'matrix') {
    throw new ConfigurationError(
      'A prometheus check query must return an instant vector or a scalar, not a range vector; ' +
        'wrap the range selector in a function such as rate() or max_over_time().',
    );
  }
  return [];
}
