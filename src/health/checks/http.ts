/**
 * http checks: `count` requests, one after another, each with its own timeout. A request
 * succeeds when the status is `expectStatus` and, if set, the body contains `bodyContains`.
 * The check passes when the share of successes is at least `minSuccessRatio`.
 */
import { errorMessage } from '../../common/errors.js';
import { optional, type At, type YamlSource } from '../../yaml/source.js';
import { formatPercent, formatSeconds } from '../format.js';
import type { FetchLike, Measurement } from '../types.js';
import { headerSecrets, redactHeaders } from './headers.js';
import { settings, type CheckKind } from './kind.js';

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

export const HTTP_CHECK_DEFAULTS = {
  method: 'GET',
  expectStatus: 200,
  count: 1,
  timeoutMs: 5_000,
  minSuccessRatio: 1,
} as const;

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export const http: CheckKind<HttpCheck> = {
  name: 'http',
  fields: [
    'url',
    'method',
    'headers',
    'expectStatus',
    'bodyContains',
    'count',
    'timeout',
    'minSuccessRatio',
  ],
  parse: readHttp,
  prepare: (checks) => ({
    evaluate: (_window, io) =>
      Promise.all(checks.map(async ({ check }) => [await evaluateHttp(check, io.fetch)])),
  }),
  describe: (check) =>
    `http: ${check.method} ${check.url} answers ${check.expectStatus}${check.count > 1 ? ` (${formatPercent(check.minSuccessRatio)} of ${check.count})` : ''}`,
  secrets: (check) => headerSecrets(check.headers),
  redact: (check) => ({ ...check, headers: redactHeaders(check.headers) }),
};

function readHttp(src: YamlSource, at: At): HttpCheck | undefined {
  const f = settings(src, at, http);
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

export function httpCheckName(check: HttpCheck): string {
  return `http ${check.method} ${check.url}`;
}

export async function evaluateHttp(check: HttpCheck, fetchFn: FetchLike): Promise<Measurement> {
  const outcomes: string[] = [];
  let ok = 0;
  for (let i = 0; i < check.count; i++) {
    const outcome = await probe(check, fetchFn);
    if (outcome === 'ok') ok++;
    outcomes.push(outcome);
  }
  const ratio = check.count === 0 ? 0 : ok / check.count;
  const measurement: Measurement = {
    name: httpCheckName(check),
    kind: 'http',
    status: ratio >= check.minSuccessRatio ? 'pass' : 'fail',
    value: ratio,
    shown: `${ok}/${check.count} ok`,
    threshold: `≥ ${formatPercent(check.minSuccessRatio)} ok`,
    details: { outcomes },
  };
  if (measurement.status === 'fail') {
    const firstFailure = outcomes.find((o) => o !== 'ok');
    measurement.reason = `${formatPercent(ratio)} ok < ${formatPercent(check.minSuccessRatio)}${firstFailure ? ` (${firstFailure})` : ''}`;
  }
  return measurement;
}

/** `ok`, or what went wrong with this one request. */
async function probe(check: HttpCheck, fetchFn: FetchLike): Promise<string> {
  try {
    const res = await fetchFn(check.url, {
      method: check.method,
      headers: check.headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(check.timeoutMs),
    });
    const body = await res.text();
    if (res.status !== check.expectStatus) {
      return `status ${res.status}, expected ${check.expectStatus}`;
    }
    if (check.bodyContains !== undefined && !body.includes(check.bodyContains)) {
      return `body does not contain ${JSON.stringify(check.bodyContains)}`;
    }
    return 'ok';
  } catch (e) {
    if (e instanceof DOMException && e.name === 'TimeoutError') {
      return `no response within ${formatSeconds(check.timeoutMs / 1000)}`;
    }
    const cause = e instanceof Error && e.cause ? `: ${errorMessage(e.cause)}` : '';
    return `request failed: ${errorMessage(e)}${cause}`;
  }
}
