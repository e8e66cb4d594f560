import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateHttp, type HttpCheck } from '../../../src/health/checks/http.js';

let server: Server;
let base: string;
let hits = 0;
const seenHeaders: Record<string, unknown>[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seenHeaders.push({ ...req.headers, method: req.method });
    if (req.url === '/healthz') return void res.end('ok: v2');
    if (req.url === '/flaky') {
      hits++;
      res.statusCode = hits % 2 === 0 ? 503 : 200;
      return void res.end('flaky');
    }
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 500);
    res.statusCode = 404;
    res.end('no');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const check = (extra: Partial<HttpCheck>): HttpCheck => ({
  kind: 'http',
  url: `${base}/healthz`,
  method: 'GET',
  headers: {},
  expectStatus: 200,
  count: 1,
  timeoutMs: 2000,
  minSuccessRatio: 1,
  ...extra,
});

describe('http', () => {
  it('passes with the expected status and body, sending method and headers', async () => {
    const m = await evaluateHttp(
      check({ headers: { 'X-Canary': '1' }, bodyContains: 'v2', count: 2 }),
      fetch,
    );
    expect(m).toMatchObject({
      name: `http GET ${base}/healthz`,
      status: 'pass',
      value: 1,
      shown: '2/2 ok',
      threshold: '≥ 100% ok',
    });
    expect(seenHeaders.at(-1)).toMatchObject({ 'x-canary': '1', method: 'GET' });
  });

  it('fails when the body lacks the text', async () => {
    const m = await evaluateHttp(check({ bodyContains: 'v3' }), fetch);
    expect(m).toMatchObject({
      status: 'fail',
      reason: '0% ok < 100% (body does not contain "v3")',
    });
  });

  it('judges the success ratio against minSuccessRatio', async () => {
    hits = 0;
    const strict = await evaluateHttp(check({ url: `${base}/flaky`, count: 4 }), fetch);
    expect(strict).toMatchObject({
      status: 'fail',
      shown: '2/4 ok',
      reason: '50% ok < 100% (status 503, expected 200)',
    });
    hits = 0;
    const lenient = await evaluateHttp(
      check({ url: `${base}/flaky`, count: 4, minSuccessRatio: 0.5 }),
      fetch,
    );
    expect(lenient).toMatchObject({ status: 'pass', shown: '2/4 ok' });
  });

  it('counts a timeout and a refused connection as failures', async () => {
    const slow = await evaluateHttp(check({ url: `${base}/slow`, timeoutMs: 100 }), fetch);
    expect(slow).toMatchObject({
      status: 'fail',
      reason: '0% ok < 100% (no response within 100ms)',
    });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = await evaluateHttp(check({ url: `http://127.0.0.1:${port}/` }), fetch);
    expect(refused.status).toBe('fail');
    expect(refused.reason).toMatch(/request failed: fetch failed: .*ECONNREFUSED/);
  });
});
