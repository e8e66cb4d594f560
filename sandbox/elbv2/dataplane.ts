/**
 * The ALB data plane: each listener is a real HTTP server on 127.0.0.1. A request is matched
 * against the listener's rules in priority order, then the default rule, and the matching
 * rule's actions are carried out: forward (weighted choice of target group, then round robin
 * over its healthy targets), fixed-response or redirect. authenticate-* actions are not
 * modelled: the data plane skips them.
 *
 * Errors the ELB itself returns follow ALB: 503 when the chosen group has no registered
 * targets (or every weight is 0), 502 when the target refuses or resets the connection, 504
 * when it does not answer within the idle timeout.
 *
 * Group-level stickiness (TargetGroupStickinessConfig) is honoured with the AWSALBTG cookie:
 * a client that carries a valid cookie for a group of the forward action goes back to that
 * group, whatever its current weight, until the cookie expires. Target-level stickiness
 * (the target group's `stickiness.*` attributes) is not modelled.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { closeServer } from '../core.js';
import type { MetricStore } from '../metrics.js';
import type { Action, Condition, ForwardConfig, Rule } from './model.js';
import { targetHost, type TargetGroupRuntime } from './health.js';

/** What a listener's server needs from the service, read afresh on every request. */
export interface ListenerView {
  listenerArn: string;
  /** The port the API reports (clients think they talk to it; used in redirects and headers). */
  apiPort: number;
  /** `app/<name>/<id>` for metrics. */
  loadBalancerDimension(): string;
  /** Rules in evaluation order (priority ascending, default last) with the actions in force. */
  rulesInForce(now: number): Array<{ rule: Rule; actions: Action[] }>;
  targetGroup(arn: string): { runtime: TargetGroupRuntime; dimension: string } | undefined;
  /** Milliseconds the ELB waits for a target before answering 504. */
  idleTimeoutMs(): number;
}

const STATUS_TEXT: Record<number, string> = {
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
};

export class ListenerServer {
  private server: Server | undefined;
  private realPort = 0;

  constructor(
    private readonly view: ListenerView,
    private readonly metrics: MetricStore,
  ) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        console.error('sandbox elbv2: data plane error', e);
        if (!res.headersSent) this.elbError(res, 502);
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.realPort = (server.address() as AddressInfo).port;
  }

  url(): string {
    return `http://127.0.0.1:${this.realPort}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await closeServer(server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const now = Date.now();
    const url = new URL(req.url ?? '/', 'http://alb');
    const matched = this.view
      .rulesInForce(now)
      .find(({ rule }) => rule.conditions.every((c) => conditionMatches(c, req, url)));
    const lb = this.view.loadBalancerDimension();
    this.count('RequestCount', { LoadBalancer: lb });
    const terminal = matched?.actions.find(
      (a) => a.type === 'forward' || a.type === 'redirect' || a.type === 'fixed-response',
    );
    if (!terminal) {
      this.elbError(res, 503);
      return;
    }
    if (terminal.type === 'fixed-response' && terminal.fixedResponse) {
      const status = Number(terminal.fixedResponse.statusCode);
      this.countElbCode(status);
      res.writeHead(status, {
        server: 'awselb/2.0',
        'content-type': terminal.fixedResponse.contentType ?? 'text/plain',
      });
      res.end(terminal.fixedResponse.messageBody ?? '');
      return;
    }
    if (terminal.type === 'redirect' && terminal.redirect) {
      const status = terminal.redirect.statusCode === 'HTTP_301' ? 301 : 302;
      this.countElbCode(status);
      res.writeHead(status, {
        server: 'awselb/2.0',
        location: redirectLocation(terminal.redirect, req, url, this.view.apiPort),
        'content-type': 'text/html',
      });
      res.end();
      return;
    }
    if (terminal.forward) await this.forward(terminal.forward, req, res, now);
  }

  private async forward(
    config: ForwardConfig,
    req: IncomingMessage,
    res: ServerResponse,
    started: number,
  ): Promise<void> {
    const lb = this.view.loadBalancerDimension();
    const chosen = chooseTargetGroup(config, req.headers.cookie, started);
    const group = chosen ? this.view.targetGroup(chosen) : undefined;
    if (!chosen || !group) {
      this.elbError(res, 503);
      return;
    }
    const tgDims = { LoadBalancer: lb, TargetGroup: group.dimension };
    this.count('RequestCount', tgDims);
    const target = group.runtime.pick();
    if (!target) {
      this.elbError(res, 503);
      return;
    }

    const stickyCookies = config.stickiness.enabled
      ? stickinessCookies(chosen, started, config.stickiness.durationSeconds ?? 1)
      : [];
    const headers: OutgoingHttpHeaders = { ...req.headers };
    const clientIp = req.socket.remoteAddress ?? '127.0.0.1';
    headers['x-forwarded-for'] = req.headers['x-forwarded-for']
      ? `${String(req.headers['x-forwarded-for'])}, ${clientIp}`
      : clientIp;
    headers['x-forwarded-proto'] = 'http';
    headers['x-forwarded-port'] = String(this.view.apiPort);
    headers['x-amzn-trace-id'] =
      `Root=1-${Math.floor(started / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;

    await new Promise<void>((resolve) => {
      let timedOut = false;
      const sentAt = Date.now();
      const upstream = httpRequest(
        {
          host: targetHost(target.id),
          port: target.port,
          method: req.method,
          path: req.url,
          headers,
          agent: false,
        },
        (targetRes) => {
          const status = targetRes.statusCode ?? 502;
          const seconds = (Date.now() - sentAt) / 1000;
          this.put('TargetResponseTime', tgDims, seconds, 'Seconds');
          this.put('TargetResponseTime', { LoadBalancer: lb }, seconds, 'Seconds');
          const metric = `HTTPCode_Target_${Math.floor(status / 100)}XX_Count`;
          this.count(metric, tgDims);
          this.count(metric, { LoadBalancer: lb });
          const outHeaders: OutgoingHttpHeaders = { ...targetRes.headers };
          if (stickyCookies.length > 0) {
            const existing = targetRes.headers['set-cookie'] ?? [];
            outHeaders['set-cookie'] = [...existing, ...stickyCookies];
          }
          res.writeHead(status, outHeaders);
          targetRes.pipe(res);
          targetRes.on('end', resolve);
          targetRes.on('error', () => {
            res.destroy();
            resolve();
          });
        },
      );
      upstream.setTimeout(this.view.idleTimeoutMs(), () => {
        timedOut = true;
        upstream.destroy();
      });
      upstream.on('error', () => {
        if (!res.headersSent) this.elbError(res, timedOut ? 504 : 502);
        else res.destroy();
        resolve();
      });
      req.pipe(upstream);
    });
  }

  private elbError(res: ServerResponse, status: 502 | 503 | 504): void {
    this.countElbCode(status);
    const title = `${status} ${STATUS_TEXT[status]}`;
    res.writeHead(status, { server: 'awselb/2.0', 'content-type': 'text/html' });
    res.end(
      `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n</body>\r\n</html>\r\n`,
    );
  }

  /** Responses the ELB itself produced (errors, fixed responses, redirects): LB level only. */
  private countElbCode(status: number): void {
    this.count(`HTTPCode_ELB_${Math.floor(status / 100)}XX_Count`, {
      LoadBalancer: this.view.loadBalancerDimension(),
    });
  }

  private count(metricName: string, dimensions: Record<string, string>): void {
    this.put(metricName, dimensions, 1, 'Count');
  }

  private put(
    metricName: string,
    dimensions: Record<string, string>,
    value: number,
    unit: string,
  ): void {
    this.metrics.put({
      namespace: 'AWS/ApplicationELB',
      metricName,
      dimensions,
      value,
      timestamp: Date.now(),
      unit,
    });
  }
}

/**
 * The target group for one request: the sticky one if the client's AWSALBTG cookie names a
 * group of this action and has not expired, otherwise a weighted random choice (a weight-0
 * group never wins). Undefined when every weight is 0.
 */
export function chooseTargetGroup(
  config: ForwardConfig,
  cookieHeader: string | undefined,
  now: number,
  random: () => number = Math.random,
): string | undefined {
  if (config.stickiness.enabled) {
    const sticky = readStickinessCookie(cookieHeader, now);
    if (sticky && config.targetGroups.some((t) => t.targetGroupArn === sticky)) return sticky;
  }
  const total = config.targetGroups.reduce((n, t) => n + t.weight, 0);
  if (total === 0) return undefined;
  let r = random() * total;
  for (const t of config.targetGroups) {
    if (t.weight === 0) continue;
    if (r < t.weight) return t.targetGroupArn;
    r -= t.weight;
  }
  return config.targetGroups.filter((t) => t.weight > 0).at(-1)?.targetGroupArn;
}

function stickinessCookies(targetGroupArn: string, now: number, durationSeconds: number): string[] {
  const expires = now + durationSeconds * 1000;
  const value = Buffer.from(JSON.stringify({ tg: targetGroupArn, exp: expires })).toString(
    'base64url',
  );
  const date = new Date(expires).toUTCString();
  return [
    `AWSALBTG=${value}; Expires=${date}; Path=/`,
    `AWSALBTGCORS=${value}; Expires=${date}; Path=/; SameSite=None`,
  ];
}

function readStickinessCookie(cookieHeader: string | undefined, now: number): string | undefined {
  const m = /(?:^|;\s*)AWSALBTG=([^;]+)/.exec(cookieHeader ?? '');
  if (!m) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(m[1] as string, 'base64url').toString('utf8')) as {
      tg?: unknown;
      exp?: unknown;
    };
    if (typeof parsed.tg === 'string' && typeof parsed.exp === 'number' && parsed.exp > now) {
      return parsed.tg;
    }
  } catch {
    // A cookie the ELB did not write is ignored, as ALB ignores a tampered one.
  }
  return undefined;
}

/** ALB wildcards: `*` any run of characters, `?` exactly one. */
export function wildcardMatches(pattern: string, value: string, caseInsensitive: boolean): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, caseInsensitive ? 'is' : 's').test(value);
}

export function conditionMatches(c: Condition, req: IncomingMessage, url: URL): boolean {
  switch (c.field) {
    case 'path-pattern':
      return c.values.some((p) => wildcardMatches(p, url.pathname, false));
    case 'host-header': {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      return c.values.some((p) => wildcardMatches(p, host, true));
    }
    case 'http-header': {
      const raw = req.headers[(c.httpHeaderName ?? '').toLowerCase()];
      const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
      return values.some((v) => c.values.some((p) => wildcardMatches(p, v, true)));
    }
    case 'http-request-method':
      return c.values.includes(req.method ?? '');
    case 'query-string':
      return (c.queryString ?? []).some(({ key, value }) =>
        [...url.searchParams].some(
          ([k, v]) =>
            (key === undefined || wildcardMatches(key, k, true)) && wildcardMatches(value, v, true),
        ),
      );
    case 'source-ip': {
      const ip = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
      return c.values.some((cidr) => inCidr(ip, cidr));
    }
  }
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    const octet = Number(p);
    if (!/^\d{1,3}$/.test(p) || octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

export function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsRaw] = cidr.split('/');
  const addr = ipv4ToInt(ip);
  const net = ipv4ToInt(base ?? '');
  const bits = Number(bitsRaw ?? '32');
  if (addr === undefined || net === undefined || !(bits >= 0 && bits <= 32)) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(addr / size) === Math.floor(net / size);
}

/** Fills ALB's `#{protocol}`, `#{host}`, `#{port}`, `#{path}`, `#{query}` placeholders. */
function redirectLocation(
  r: NonNullable<Action['redirect']>,
  req: IncomingMessage,
  url: URL,
  apiPort: number,
): string {
  const host = (req.headers.host ?? '127.0.0.1').replace(/:\d+$/, '');
  const fill = (s: string): string =>
    s
      .replace(/#\{protocol\}/g, 'http')
      .replace(/#\{host\}/g, host)
      .replace(/#\{port\}/g, String(apiPort))
      .replace(/#\{path\}/g, url.pathname.replace(/^\//, ''))
      .replace(/#\{query\}/g, url.search.replace(/^\?/, ''));
  const protocol = fill(r.protocol).toLowerCase();
  const port = fill(r.port);
  const defaultPort = protocol === 'https' ? '443' : '80';
  const query = fill(r.query);
  return `${protocol}://${fill(r.host)}${port === defaultPort ? '' : `:${port}`}${fill(r.path)}${query ? `?${query}` : ''}`;
}
