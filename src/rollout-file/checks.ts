/**
 * The health checks of `analysis.checks` (and of verify-health's `checks` input): a list whose
 * items each name one kind of check and its settings, validated against the Check union.
 */
import { isMap, isScalar, type Node } from 'yaml';
import { formatDuration } from '../common/duration.js';
import { closestMatch } from '../yaml/suggest.js';
import type {
  CloudWatchCheck,
  CloudWatchMetric,
  Check,
  HttpCheck,
  PrometheusCheck,
} from './types.js';
import type { At, YamlSource } from '../yaml/source.js';

export const CHECK_KINDS = ['targetHealth', 'cloudwatch', 'prometheus', 'http'] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

export const CLOUDWATCH_METRICS: readonly CloudWatchMetric[] = [
  'error-rate',
  'latency-p99',
  'latency-p95',
  'latency-avg',
  'request-count',
];

const FIELDS: Record<CheckKind, readonly string[]> = {
  targetHealth: ['minHealthy', 'maxUnhealthy'],
  cloudwatch: ['metric', 'queries', 'returnId', 'max', 'min', 'vsBaseline', 'minRequests'],
  prometheus: ['url', 'query', 'max', 'min', 'bearerToken', 'headers'],
  http: [
    'url',
    'method',
    'headers',
    'expectStatus',
    'bodyContains',
    'count',
    'timeout',
    'minSuccessRatio',
  ],
};

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
/** CloudWatch's own rule for a MetricDataQuery Id. */
const QUERY_ID = /^[a-z][A-Za-z0-9_]{0,254}$/;

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** A bare latency threshold is seconds; at or above this it is surely meant as milliseconds. */
const MAX_BARE_LATENCY_SECONDS = 60;

/** What a step checks when the file has no `analysis.checks`. */
export function defaultChecks(): Check[] {
  return [{ kind: 'targetHealth', minHealthy: 1, maxUnhealthy: 0 }];
}

export const HTTP_CHECK_DEFAULTS = {
  method: 'GET',
  expectStatus: 200,
  count: 1,
  timeoutMs: 5_000,
  minSuccessRatio: 1,
} as const;

export function readChecks(src: YamlSource, at: At): Check[] | undefined {
  const items = src.list(at, 'a list of checks, e.g. "- targetHealth: { minHealthy: 1 }"');
  if (!items) return undefined;
  if (items.length === 0) {
    src.reportValue(at, `${at.label} is empty; list at least one check.`);
    return undefined;
  }
  const checks: Check[] = [];
  for (const item of items) {
    const check = readCheck(src, item);
    if (check) checks.push(check);
  }
  return checks.length === items.length ? checks : undefined;
}

function readCheck(src: YamlSource, item: At): Check | undefined {
  const kinds = CHECK_KINDS.join(', ');
  if (typeof scalarValue(item.node) === 'string' && isCheckKind(scalarValue(item.node) as string)) {
    const kind = scalarValue(item.node) as string;
    src.reportValue(
      item,
      `${item.label} must be a map; write "- ${kind}: {}" to use its defaults.`,
    );
    return undefined;
  }
  const entries = src.map(item, undefined, `a map with one key naming the check (${kinds})`);
  if (!entries) return undefined;
  if (entries.size === 0) {
    src.reportValue(item, `${item.label} is empty; name one check: ${kinds}.`);
    return undefined;
  }
  let body: { kind: CheckKind; at: At } | undefined;
  let ok = true;
  for (const [name, at] of entries) {
    if (!isCheckKind(name)) {
      src.reportEntry(at, unknownKindMessage(name, item.label));
      ok = false;
    } else if (body) {
      src.reportEntry(
        at,
        `${item.label} names two checks (${body.kind} and ${name}); start each check with its own "-".`,
      );
      ok = false;
    } else {
      body = { kind: name, at };
    }
  }
  if (!ok || !body) return undefined;
  switch (body.kind) {
    case 'targetHealth':
      return readTargetHealth(src, body.at);
    case 'cloudwatch':
      return readCloudWatch(src, body.at);
    case 'prometheus':
      return readPrometheus(src, body.at);
    case 'http':
      return readHttp(src, body.at);
  }
}

function unknownKindMessage(name: string, label: string): string {
  const owners = CHECK_KINDS.filter((k) => FIELDS[k].includes(name));
  if (owners.length === 1) {
    return `Unknown check "${name}" in ${label}; "${name}" is a setting of ${owners[0]}: write "- ${owners[0]}: { ${name}: ... }".`;
  }
  const suggestion = closestMatch(name, CHECK_KINDS);
  if (suggestion) return `Unknown check "${name}" in ${label}; did you mean "${suggestion}"?`;
  return `Unknown check "${name}" in ${label}; the checks are ${CHECK_KINDS.join(', ')}.`;
}

/** The settings of one check; `targetHealth:` written with no value means all defaults. */
function settings(src: YamlSource, at: At, kind: CheckKind): Map<string, At> | undefined {
  if (at.node === null || scalarValue(at.node) === null) return new Map();
  return src.map(at, FIELDS[kind], `a map of ${kind} settings (${FIELDS[kind].join(', ')})`);
}

function readTargetHealth(src: YamlSource, at: At): Check | undefined {
  const f = settings(src, at, 'targetHealth');
  if (!f) return undefined;
  const before = src.diagnostics.length;
  const minHealthy = optional(f.get('minHealthy'), (v) => src.integer(v, 0)) ?? 1;
  const maxUnhealthy = optional(f.get('maxUnhealthy'), (v) => src.integer(v, 0)) ?? 0;
  if (src.diagnostics.length > before) return undefined;
  return { kind: 'targetHealth', minHealthy, maxUnhealthy };
}

function readCloudWatch(src: YamlSource, at: At): CloudWatchCheck | undefined {
  const f = settings(src, at, 'cloudwatch');
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
      if (id !== undefined && !QUERY_ID.test(id)) {
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

function readPrometheus(src: YamlSource, at: At): PrometheusCheck | undefined {
  const f = settings(src, at, 'prometheus');
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

function readHttp(src: YamlSource, at: At): HttpCheck | undefined {
  const f = settings(src, at, 'http');
  if (!f) return undefined;
  const before = src.diagnostics.length;
  const urlAt = src.required(
    f,
    'url',
    at,
    'the address to probe, e.g. https://web.example.com/healthz',
  );
  const url = urlAt && src.url(urlAt);
  const method = optional(f.get('method'), (v) => readMethod(src, v)) ?? HTTP_CHECK_DEFAULTS.method;
  const headers = optional(f.get('headers'), (v) => src.headers(v)) ?? {};
  const expectStatus =
    optional(f.get('expectStatus'), (v) => src.integer(v, 100, 599)) ??
    HTTP_CHECK_DEFAULTS.expectStatus;
  const bodyContains = optional(f.get('bodyContains'), (v) => src.string(v));
  const count =
    optional(f.get('count'), (v) => src.integer(v, 1, 100)) ?? HTTP_CHECK_DEFAULTS.count;
  const timeoutMs =
    optional(f.get('timeout'), (v) => src.duration(v, { positive: true })) ??
    HTTP_CHECK_DEFAULTS.timeoutMs;
  const minSuccessRatio =
    optional(f.get('minSuccessRatio'), (v) => readRatio(src, v)) ??
    HTTP_CHECK_DEFAULTS.minSuccessRatio;
  if (src.diagnostics.length > before || url === undefined) return undefined;
  const check: HttpCheck = {
    kind: 'http',
    url,
    method,
    headers,
    expectStatus,
    count,
    timeoutMs,
    minSuccessRatio,
  };
  if (bodyContains !== undefined) check.bodyContains = bodyContains;
  return check;
}

function readMethod(src: YamlSource, at: At): string | undefined {
  const method = src.string(at, `an HTTP method (${HTTP_METHODS.join(', ')})`);
  if (method === undefined) return undefined;
  if (!HTTP_METHODS.includes(method.toUpperCase())) {
    src.reportValue(at, `${at.label} must be one of ${HTTP_METHODS.join(', ')}, got "${method}".`);
    return undefined;
  }
  return method.toUpperCase();
}

function readRatio(src: YamlSource, at: At): number | undefined {
  const ratio = src.number(at, 'a number from 0 to 1 (0.9 is 90%)');
  if (ratio !== undefined && (ratio < 0 || ratio > 1)) {
    src.reportValue(at, `${at.label} must be a number from 0 to 1 (0.9 is 90%), got ${ratio}.`);
    return undefined;
  }
  return ratio;
}

/** Reads an optional entry; undefined when absent or invalid (the reader reported why). */
export function optional<T>(at: At | undefined, read: (at: At) => T | undefined): T | undefined {
  return at === undefined ? undefined : read(at);
}

function isCheckKind(name: string): name is CheckKind {
  return (CHECK_KINDS as readonly string[]).includes(name);
}

function scalarValue(node: Node | null): unknown {
  return isScalar(node) ? node.value : undefined;
}
