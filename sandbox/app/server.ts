/**
 * The demo app the sandbox's ALB sends traffic to: one per cluster version, each labelled with
 * its version so a response shows which side answered. Its failure rate, latency and health
 * can be changed while it runs (POST /_control), which is how the demo makes a canary go bad.
 *
 *   GET  /          JSON with the version; fails with 500 for `errorRate` of requests,
 *                   after waiting `latencyMs`. Every path other than those below behaves so.
 *   GET  /healthz   200, or 500 when made unhealthy (not delayed, not counted in /metrics)
 *   GET  /metrics   Prometheus text: requests by status code, latency histogram
 *   GET  /_control  the current behaviour;  POST /_control {errorRate?, latencyMs?, healthy?}
 *
 * Failures are spread evenly, not drawn at random: with errorRate 0.25 exactly every fourth
 * request fails, so a short test or a short demo step sees the configured rate.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoBehaviour {
  /** Fraction of requests answered with 500, 0 to 1. */
  errorRate: number;
  /** Added to every app request before it is answered. */
  latencyMs: number;
  /** What /healthz reports. */
  healthy: boolean;
}

export interface DemoAppOptions {
  /** Default 0: a free port. */
  port?: number;
  host?: string;
  /** The label responses carry, e.g. "v1" or "1.32". */
  version: string;
  errorRate?: number;
  latencyMs?: number;
  healthy?: boolean;
}

export interface DemoApp {
  url: string;
  port: number;
  version: string;
  behaviour(): DemoBehaviour;
  /** Changes behaviour as POST /_control does; throws on an invalid value. */
  setBehaviour(patch: Partial<DemoBehaviour>): DemoBehaviour;
  close(): Promise<void>;
}

/** Upper bounds (seconds) of the latency histogram, Prometheus client defaults. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export async function startDemoApp(options: DemoAppOptions): Promise<DemoApp> {
  const version = options.version;
  const behaviour = validate(
    {
      errorRate: options.errorRate ?? 0,
      latencyMs: options.latencyMs ?? 0,
      healthy: options.healthy ?? true,
    },
    {},
  );
  const requestsByCode = new Map<number, number>();
  const bucketCounts = BUCKETS.map(() => 0);
  let durationSum = 0;
  let durationCount = 0;
  /** Accumulated error budget: a request fails each time it reaches 1. */
  let errorDebt = 0;

  const record = (code: number, seconds: number): void => {
    requestsByCode.set(code, (requestsByCode.get(code) ?? 0) + 1);
    BUCKETS.forEach((le, i) => {
      if (seconds <= le) bucketCounts[i] = (bucketCounts[i] as number) + 1;
    });
    durationSum += seconds;
    durationCount += 1;
  };

  const metricsText = (): string => {
    const label = `version="${escapeLabel(version)}"`;
    const lines = [
      '# HELP http_requests_total HTTP requests answered by the demo app, by status code.',
      '# TYPE http_requests_total counter',
    ];
    for (const [code, n] of [...requestsByCode].sort((a, b) => a[0] - b[0])) {
      lines.push(`http_requests_total{code="${code}",${label}} ${n}`);
    }
    lines.push(
      '# HELP http_request_duration_seconds Time to answer an HTTP request.',
      '# TYPE http_request_duration_seconds histogram',
    );
    BUCKETS.forEach((le, i) => {
      lines.push(`http_request_duration_seconds_bucket{${label},le="${le}"} ${bucketCounts[i]}`);
    });
    lines.push(
      `http_request_duration_seconds_bucket{${label},le="+Inf"} ${durationCount}`,
      `http_request_duration_seconds_sum{${label}} ${durationSum}`,
      `http_request_duration_seconds_count{${label}} ${durationCount}`,
    );
    return `${lines.join('\n')}\n`;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://app').pathname;
    if (path === '/healthz') {
      return json(res, behaviour.healthy ? 200 : 500, {
        status: behaviour.healthy ? 'ok' : 'unhealthy',
        version,
      });
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metricsText());
      return;
    }
    if (path === '/_control') {
      if (req.method === 'GET') return json(res, 200, behaviour);
      if (req.method !== 'POST') return json(res, 405, { error: 'use GET or POST' });
      try {
        const patch = JSON.parse((await readBody(req)) || '{}') as Partial<DemoBehaviour>;
        Object.assign(behaviour, validate(behaviour, patch));
        return json(res, 200, behaviour);
      } catch (e) {
        return json(res, 400, { error: e instanceof Error ? e.message : String(e) });
      }
    }
    const started = performance.now();
    if (behaviour.latencyMs > 0) await sleep(behaviour.latencyMs);
    errorDebt += behaviour.errorRate;
    const fail = errorDebt >= 1 - 1e-9;
    if (fail) errorDebt -= 1;
    const code = fail ? 500 : 200;
    record(code, (performance.now() - started) / 1000);
    res.setHeader('x-app-version', version);
    if (fail) return json(res, 500, { error: 'injected failure', version });
    return json(res, 200, { version, path, message: `hello from ${version}` });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      console.error('demo app: internal error', e);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    port,
    version,
    behaviour: () => ({ ...behaviour }),
    setBehaviour(patch) {
      Object.assign(behaviour, validate(behaviour, patch));
      return { ...behaviour };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The behaviour after applying `patch`, or an error naming the bad field. */
function validate(current: DemoBehaviour, patch: Partial<DemoBehaviour>): DemoBehaviour {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new Error('the body must be a JSON object like {"errorRate":0.1}');
  }
  const next = { ...current, ...patch };
  const unknown = Object.keys(patch).filter(
    (k) => !['errorRate', 'latencyMs', 'healthy'].includes(k),
  );
  if (unknown.length > 0) {
    throw new Error(`unknown field ${unknown.join(', ')}: use errorRate, latencyMs, healthy`);
  }
  if (typeof next.errorRate !== 'number' || !(next.errorRate >= 0 && next.errorRate <= 1)) {
    throw new Error(
      `errorRate must be a number from 0 to 1; got ${JSON.stringify(next.errorRate)}`,
    );
  }
  if (
    typeof next.latencyMs !== 'number' ||
    !(next.latencyMs >= 0) ||
    !Number.isFinite(next.latencyMs)
  ) {
    throw new Error(
      `latencyMs must be a non-negative number; got ${JSON.stringify(next.latencyMs)}`,
    );
  }
  if (typeof next.healthy !== 'boolean') {
    throw new Error(`healthy must be true or false; got ${JSON.stringify(next.healthy)}`);
  }
  return next;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
