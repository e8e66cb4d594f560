import { describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/common/logger.js';
import { buildReport, runAnalysis, summaryMarkdown } from '../../src/health/index.js';
import type { Analysis, Check } from '../../src/health/index.js';
import { BLUE, FakeClock, GREEN, TARGETS, fakeCloudWatch, fakeTargetHealth } from './fixtures.js';

const T0 = Date.parse('2026-05-01T12:00:00Z');

const PROBE: Check = {
  kind: 'http',
  url: 'https://web.example.com/healthz',
  method: 'GET',
  headers: { Authorization: 'Bearer probe-token-1234', 'X-Canary': 'always' },
  expectStatus: 200,
  count: 1,
  timeoutMs: 5_000,
  minSuccessRatio: 1,
};
const PROMETHEUS: Check = {
  kind: 'prometheus',
  url: 'https://prometheus.example.com',
  query: 'up',
  min: 1,
  bearerToken: 'prom-token-5678',
  headers: { 'X-Scope-OrgID': 'tenant-9' },
};
const SECRETS = ['probe-token-1234', 'always', 'prom-token-5678', 'tenant-9'];

/** Answers the probe with 200 and Prometheus with one series of 1; records each request's headers. */
function fakeFetch(): { fetch: typeof fetch; sent: Record<string, string>[] } {
  const sent: Record<string, string>[] = [];
  const fn: typeof fetch = async (input, init) => {
    sent.push(Object.fromEntries(new Headers(init?.headers).entries()));
    const url = String(input);
    if (url.startsWith('https://prometheus.example.com/')) {
      return Response.json({
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: {}, value: [T0 / 1000, '1'] }] },
      });
    }
    return new Response('ok', { status: 200 });
  };
  return { fetch: fn, sent };
}

async function analyse() {
  const analysis: Analysis = {
    warmupMs: 0,
    intervalMs: 60_000,
    durationMs: 60_000,
    failureLimit: 0,
    checks: [PROBE, PROMETHEUS],
  };
  const { fetch, sent } = fakeFetch();
  const result = await runAnalysis(
    { analysis, targets: TARGETS, since: T0 },
    {
      cloudwatch: fakeCloudWatch(() => undefined).client,
      elbv2: fakeTargetHealth({ [GREEN.arn]: ['healthy'], [BLUE.arn]: ['healthy'] }),
      fetch,
      clock: new FakeClock(T0),
      logger: new MemoryLogger(),
    },
  );
  return { analysis, result, sent };
}

describe('buildReport', () => {
  it('blanks the header values of http and prometheus checks and the bearer token', async () => {
    const { analysis, result, sent } = await analyse();
    expect(result.healthy).toBe(true);
    // The checks really sent the values that must not reach the report.
    expect(sent).toContainEqual(
      expect.objectContaining({ authorization: 'Bearer probe-token-1234', 'x-canary': 'always' }),
    );
    expect(sent).toContainEqual(
      expect.objectContaining({
        authorization: 'Bearer prom-token-5678',
        'x-scope-orgid': 'tenant-9',
      }),
    );

    const report = buildReport(result, analysis, TARGETS);
    expect(report.analysis.checks).toEqual([
      { ...PROBE, headers: { Authorization: '***', 'X-Canary': '***' } },
      { ...PROMETHEUS, bearerToken: '***', headers: { 'X-Scope-OrgID': '***' } },
    ]);
    const written = JSON.stringify(report, null, 2);
    for (const secret of SECRETS) expect(written).not.toContain(secret);
    // The checks themselves are left as they were: the analysis may still be running them.
    expect(analysis.checks).toEqual([PROBE, PROMETHEUS]);
  });

  it('leaves a check without secrets as it is', async () => {
    const { result } = await analyse();
    const plain: Check = { ...PROBE, headers: {} };
    const analysis: Analysis = {
      warmupMs: 0,
      intervalMs: 60_000,
      durationMs: 60_000,
      failureLimit: 0,
      checks: [plain, { kind: 'targetHealth', minHealthy: 1, maxUnhealthy: 0 }],
    };
    expect(buildReport(result, analysis, TARGETS).analysis.checks).toEqual(analysis.checks);
  });
});

describe('summaryMarkdown', () => {
  it('shows no header value or token', async () => {
    const { analysis, result } = await analyse();
    const markdown = summaryMarkdown(result, analysis);
    expect(markdown).toContain('| http GET https://web.example.com/healthz |');
    for (const secret of SECRETS) expect(markdown).not.toContain(secret);
  });
});
