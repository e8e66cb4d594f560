/**
 * Prometheus checks: request shape and answer handling against a scripted HTTP API, then the
 * same checks against a real Prometheus server (Debian's `prometheus` package) that scrapes an
 * endpoint this test serves.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  evaluatePrometheus,
  preparePrometheusCheck,
  type PrometheusCheck,
} from '../../../src/health/checks/prometheus.js';
import type { IntervalWindow } from '../../../src/health/index.js';
import { TARGETS } from '../fixtures.js';

const WINDOW: IntervalWindow = { index: 1, start: 1_777_000_000_000, end: 1_777_000_060_000 };

const check = (extra: Partial<PrometheusCheck>): PrometheusCheck => ({
  kind: 'prometheus',
  url: 'http://prometheus:9090',
  query: 'up',
  headers: {},
  ...extra,
});

/** A fetch that answers with `body` and records what was asked. */
function scripted(body: unknown, status = 200) {
  const requests: { url: string; headers: Record<string, string> }[] = [];
  const fetchFn = (async (url: URL | string, init?: RequestInit) => {
    requests.push({ url: String(url), headers: init?.headers as Record<string, string> });
    return new Response(JSON.stringify(body), { status });
  }) as typeof fetch;
  return { fetchFn, requests };
}

const vector = (...values: string[]) => ({
  status: 'success',
  data: {
    resultType: 'vector',
    result: values.map((v, i) => ({ metric: { pod: `p${i}` }, value: [1_777_000_060, v] })),
  },
});

describe('prometheus (scripted API)', () => {
  it('queries at the end of the window with placeholders filled, token and headers', async () => {
    const prepared = preparePrometheusCheck(
      check({
        url: 'http://prometheus:9090/prom/',
        query:
          'sum(rate(x{cluster="{{cluster}}",tg="{{targetGroup}}",lb="{{loadBalancer}}"}[{{interval}}]))',
        bearerToken: 's3cret',
        headers: { 'X-Scope-OrgID': 'team-a' },
        max: 1,
      }),
      TARGETS,
      60_000,
      0,
    );
    const { fetchFn, requests } = scripted(vector('0.5'));
    const m = await evaluatePrometheus(prepared, WINDOW, fetchFn);
    const url = new URL(requests[0]!.url);
    expect(url.origin + url.pathname).toBe('http://prometheus:9090/prom/api/v1/query');
    expect(url.searchParams.get('query')).toBe(
      'sum(rate(x{cluster="prod-1-32",tg="targetgroup/web-green/fedcba9876543210",lb="app/web/50dc6c495c0c9188"}[60s]))',
    );
    expect(url.searchParams.get('time')).toBe('1777000060.000');
    expect(requests[0]!.headers).toMatchObject({
      authorization: 'Bearer s3cret',
      'X-Scope-OrgID': 'team-a',
    });
    expect(m).toMatchObject({ status: 'pass', value: 0.5, shown: '0.5', threshold: '≤ 1' });
  });

  it('judges the worst series against max and min', async () => {
    const p = preparePrometheusCheck(check({ max: 1 }), TARGETS, 60_000, 0);
    const high = await evaluatePrometheus(p, WINDOW, scripted(vector('0.2', '3', '0.9')).fetchFn);
    expect(high).toMatchObject({
      status: 'fail',
      value: 3,
      shown: '3 (worst of 3 series)',
      reason: '3 > 1',
    });
    const q = preparePrometheusCheck(check({ min: 1 }), TARGETS, 60_000, 0);
    const low = await evaluatePrometheus(q, WINDOW, scripted(vector('2', '0.5')).fetchFn);
    expect(low).toMatchObject({ status: 'fail', value: 0.5, reason: '0.5 < 1' });
  });

  it('reads a scalar result', async () => {
    const p = preparePrometheusCheck(check({ max: 1 }), TARGETS, 60_000, 0);
    const m = await evaluatePrometheus(
      p,
      WINDOW,
      scripted({ status: 'success', data: { resultType: 'scalar', result: [1, '0.25'] } }).fetchFn,
    );
    expect(m).toMatchObject({ status: 'pass', value: 0.25 });
  });

  it('calls an empty result or NaN inconclusive, never a pass', async () => {
    const p = preparePrometheusCheck(check({ max: 1 }), TARGETS, 60_000, 0);
    expect(await evaluatePrometheus(p, WINDOW, scripted(vector()).fetchFn)).toMatchObject({
      status: 'inconclusive',
      reason: 'the query returned no series',
    });
    expect(await evaluatePrometheus(p, WINDOW, scripted(vector('NaN')).fetchFn)).toMatchObject({
      status: 'inconclusive',
      reason: 'the query returned only NaN',
    });
  });

  it('is inconclusive when Prometheus is unreachable or failing', async () => {
    const p = preparePrometheusCheck(check({ max: 1 }), TARGETS, 60_000, 0);
    const down = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    expect(await evaluatePrometheus(p, WINDOW, down)).toMatchObject({
      status: 'inconclusive',
      reason: 'Prometheus query failed: fetch failed',
    });
    const overloaded = scripted(
      { status: 'error', errorType: 'timeout', error: 'query timed out' },
      503,
    );
    expect(await evaluatePrometheus(p, WINDOW, overloaded.fetchFn)).toMatchObject({
      status: 'inconclusive',
      reason: 'Prometheus rejected the query "up": timeout: query timed out',
    });
  });

  it('rejects {{cluster}} without an EKS cluster name and unknown placeholders', () => {
    const noEks = { ...TARGETS, canary: { ...TARGETS.canary, eks: undefined } };
    expect(() =>
      preparePrometheusCheck(check({ query: 'up{cluster="{{cluster}}"}' }), noEks, 60_000, 1),
    ).toThrow(/Placeholder \{\{cluster\}\} in the prometheus check 2 has no value/);
    expect(() =>
      preparePrometheusCheck(check({ query: 'up{x="{{namespace}}"}' }), TARGETS, 60_000, 0),
    ).toThrow(/Unknown placeholder \{\{namespace\}\} in the prometheus check 1/);
  });
});

/** The Prometheus binary, or undefined when it is not installed. */
function prometheusBinary(): string | undefined {
  try {
    return (
      execFileSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

const PROMETHEUS = prometheusBinary();
const INSTALL = 'Install it with: apt-get update && apt-get install -y prometheus';
// On a developer machine a missing binary skips these tests with a note; CI installs it, so
// there a missing binary fails them rather than letting the real-server tests go unrun.
const ON_CI = Boolean(process.env.CI);
if (!PROMETHEUS && !ON_CI) {
  console.error(
    `\n*** SKIPPING real-Prometheus tests: no \`prometheus\` binary on PATH. ${INSTALL} ***\n`,
  );
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe.skipIf(!PROMETHEUS && !ON_CI)('prometheus (real server)', () => {
  let exporter: Server;
  let prometheus: ChildProcess;
  let dir: string;
  let promUrl: string;
  let errorRatio = 0.05;

  beforeAll(async () => {
    if (!PROMETHEUS) throw new Error(`CI has no \`prometheus\` binary on PATH. ${INSTALL}`);
    exporter = createServer((_req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(
        [
          '# TYPE demo_error_ratio gauge',
          `demo_error_ratio{cluster="prod-1-32"} ${errorRatio}`,
          `demo_error_ratio{cluster="prod-1-31"} 0.001`,
          '',
        ].join('\n'),
      );
    });
    await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
    const exporterPort = (exporter.address() as AddressInfo).port;
    dir = mkdtempSync(join(tmpdir(), 'vh-prom-'));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: demo',
        `    static_configs: [{ targets: ["127.0.0.1:${exporterPort}"] }]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    // Ready when a scrape of the exporter is queryable.
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const res = await fetch(`${promUrl}/api/v1/query?query=demo_error_ratio`);
        const body = (await res.json()) as { data?: { result?: unknown[] } };
        if ((body.data?.result?.length ?? 0) > 0) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error('Prometheus did not scrape the exporter within 20 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 30_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    if (exporter) {
      exporter.closeAllConnections();
      await new Promise((r) => exporter.close(r));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const nowWindow = (): IntervalWindow => ({
    index: 1,
    start: Date.now() - 5_000,
    end: Date.now(),
  });

  it('fails a canary whose error ratio is over max, by its cluster name', async () => {
    const p = preparePrometheusCheck(
      check({ url: promUrl, query: 'max(demo_error_ratio{cluster="{{cluster}}"})', max: 0.01 }),
      TARGETS,
      5_000,
      0,
    );
    const m = await evaluatePrometheus(p, nowWindow(), fetch);
    expect(m).toMatchObject({ status: 'fail', value: 0.05, reason: '0.05 > 0.01' });
  });

  it('passes once the canary recovers', async () => {
    errorRatio = 0.002;
    const p = preparePrometheusCheck(
      check({ url: promUrl, query: 'max(demo_error_ratio{cluster="{{cluster}}"})', max: 0.01 }),
      TARGETS,
      5_000,
      0,
    );
    // The next 1 s scrape brings the recovered value; poll instead of guessing a delay.
    const deadline = Date.now() + 5_000;
    let m = await evaluatePrometheus(p, nowWindow(), fetch);
    while (m.status !== 'pass' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      m = await evaluatePrometheus(p, nowWindow(), fetch);
    }
    expect(m).toMatchObject({ status: 'pass', value: 0.002 });
  });

  it('is inconclusive for a series that does not exist', async () => {
    const p = preparePrometheusCheck(
      check({ url: promUrl, query: 'demo_error_ratio{cluster="nope"}', max: 0.01 }),
      TARGETS,
      5_000,
      0,
    );
    expect(await evaluatePrometheus(p, nowWindow(), fetch)).toMatchObject({
      status: 'inconclusive',
      reason: 'the query returned no series',
    });
  });

  it('turns a query Prometheus cannot parse into a configuration error', async () => {
    const p = preparePrometheusCheck(
      check({ url: promUrl, query: 'max(demo_error_ratio{', max: 0.01 }),
      TARGETS,
      5_000,
      0,
    );
    await expect(evaluatePrometheus(p, nowWindow(), fetch)).rejects.toThrow(
      /Prometheus rejected the query "max\(demo_error_ratio\{": bad_data: .*parse error/,
    );
  });

  it('rejects a range vector with advice', async () => {
    const p = preparePrometheusCheck(
      check({ url: promUrl, query: 'demo_error_ratio[{{interval}}]', max: 0.01 }),
      TARGETS,
      5_000,
      0,
    );
    await expect(evaluatePrometheus(p, nowWindow(), fetch)).rejects.toThrow(
      /must return an instant vector or a scalar, not a range vector/,
    );
  });
});
