/**
 * http checks: `count` requests, one after another, each with its own timeout. A request
 * succeeds when the status is `expectStatus` and, if set, the body contains `bodyContains`.
 * The check passes when the share of successes is at least `minSuccessRatio`.
 */
import { errorMessage } from '../common/errors.js';
import type { HttpCheck } from '../rollout-file/types.js';
import { formatPercent, formatSeconds } from './format.js';
import type { FetchLike, Measurement } from './types.js';

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
