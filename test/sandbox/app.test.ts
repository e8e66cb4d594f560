import { afterEach, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../../sandbox/app/server.js';

let app: DemoApp | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function get(
  path: string,
): Promise<{ status: number; body: string; version: string | null }> {
  const res = await fetch(`${(app as DemoApp).url}${path}`);
  return { status: res.status, body: await res.text(), version: res.headers.get('x-app-version') };
}

async function control(body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${(app as DemoApp).url}/_control`, {
    method: 'POST',
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe('demo app', () => {
  it('answers GET / with its version label', async () => {
    app = await startDemoApp({ version: 'v1.32' });
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.version).toBe('v1.32');
    expect(JSON.parse(res.body)).toEqual({
      version: 'v1.32',
      path: '/',
      message: 'hello from v1.32',
    });
  });

  it('fails exactly the configured fraction of requests, spread evenly', async () => {
    app = await startDemoApp({ version: 'v2', errorRate: 0.25 });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await get('/')).status);
    expect(statuses).toEqual([200, 200, 200, 500, 200, 200, 200, 500]);
  });

  it('changes error rate, latency and health at runtime through POST /_control', async () => {
    app = await startDemoApp({ version: 'v2' });
    expect((await get('/healthz')).status).toBe(200);

    expect(await control({ errorRate: 1, healthy: false, latencyMs: 120 })).toEqual({
      status: 200,
      json: { errorRate: 1, latencyMs: 120, healthy: false },
    });
    const started = performance.now();
    const res = await get('/');
    expect(performance.now() - started).toBeGreaterThanOrEqual(115);
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ error: 'injected failure', version: 'v2' });
    const health = await get('/healthz');
    expect(health.status).toBe(500);
    expect(JSON.parse(health.body)).toEqual({ status: 'unhealthy', version: 'v2' });
  });

  it('rejects an invalid control change and keeps its behaviour', async () => {
    app = await startDemoApp({ version: 'v2', errorRate: 0.1 });
    expect(await control({ errorRate: 1.5 })).toEqual({
      status: 400,
      json: { error: 'errorRate must be a number from 0 to 1; got 1.5' },
    });
    expect(await control({ errorRatio: 0.5 })).toEqual({
      status: 400,
      json: { error: 'unknown field errorRatio: use errorRate, latencyMs, healthy' },
    });
    expect(app.behaviour()).toEqual({ errorRate: 0.1, latencyMs: 0, healthy: true });
  });

  it('exposes request counts by code and a latency histogram in Prometheus text format', async () => {
    app = await startDemoApp({ version: 'v1', errorRate: 0.5, latencyMs: 300 });
    for (let i = 0; i < 4; i++) await get('/');
    await get('/healthz');
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    const lines = metrics.body.split('\n');
    expect(lines).toContain('# TYPE http_requests_total counter');
    expect(lines).toContain('http_requests_total{code="200",version="v1"} 2');
    expect(lines).toContain('http_requests_total{code="500",version="v1"} 2');
    expect(lines).toContain('# TYPE http_request_duration_seconds histogram');
    // Every request waited 300 ms: none in the 250 ms bucket, all four in the 500 ms one, which
    // leaves 200 ms per request for a busy machine. The health check is not a timed request.
    expect(lines).toContain('http_request_duration_seconds_bucket{version="v1",le="0.25"} 0');
    expect(lines).toContain('http_request_duration_seconds_bucket{version="v1",le="0.5"} 4');
    expect(lines).toContain('http_request_duration_seconds_bucket{version="v1",le="+Inf"} 4');
    expect(lines).toContain('http_request_duration_seconds_count{version="v1"} 4');
    const sum = Number(
      lines.find((l) => l.startsWith('http_request_duration_seconds_sum'))?.split(' ')[1],
    );
    // A timer may fire a fraction of a millisecond early by performance.now().
    expect(sum).toBeGreaterThanOrEqual(4 * 0.299);
    expect(sum).toBeLessThanOrEqual(4 * 0.5);
  });
});
