/**
 * The sandbox's front door: one HTTP server that the real AWS SDK clients reach through
 * `AWS_ENDPOINT_URL`. Requests are routed by the service in the SigV4 credential scope
 * (`Credential=AKID/20261121/us-east-1/elasticloadbalancing/aws4_request`), as AWS's own
 * endpoints are per service. Each service parses its own wire protocol and renders its own
 * errors; this module counts calls per operation and injects faults before a service sees them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

export interface ServiceRequest {
  /** SigV4 signing name: elasticloadbalancing, eks, monitoring, sts. */
  service: string;
  region: string;
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  requestId: string;
}

export interface ServiceResponse {
  status: number;
  headers?: Record<string, string>;
  body: string | Buffer;
}

export interface SandboxService {
  /** The SigV4 signing name this service answers to. */
  readonly signingName: string;
  /** The API operation a request is for (e.g. `ModifyRule`), or undefined if it names none. */
  operationOf(req: ServiceRequest): string | undefined;
  /** Renders an error in this service's protocol, with AWS's code and message. */
  errorResponse(
    req: ServiceRequest,
    status: number,
    code: string,
    message: string,
  ): ServiceResponse;
  handle(req: ServiceRequest, operation: string): Promise<ServiceResponse>;
}

/** A fault injected for one operation (or every operation of a service with `operation: '*'`). */
export interface Fault {
  service: string;
  operation: string;
  /**
   * throttle: AWS's throttling error (HTTP 400 Throttling / ThrottlingException);
   * error5xx: HTTP 500 InternalFailure; latency: delay `latencyMs`, then answer normally;
   * reset: destroy the connection; rateLimit: a token bucket as AWS throttles (below);
   * error5xxApplied: carry the call out (a write lands), then answer 500 InternalFailure, as
   * AWS may when it fails after committing: the caller cannot tell from the answer.
   */
  kind: 'throttle' | 'error5xx' | 'latency' | 'reset' | 'rateLimit' | 'error5xxApplied';
  /** How many matching calls it applies to before it expires; unlimited when absent. */
  times?: number;
  /** Skip this many matching calls before it starts applying (e.g. fail the 2nd ModifyRule). */
  after?: number;
  latencyMs?: number;
  /**
   * rateLimit: AWS's token bucket (e.g. the ELB user guide's "Request throttling"). Each call
   * takes a token; a call that finds none is throttled; the bucket holds at most `burst` tokens
   * (default `ratePerSecond`) and gets `ratePerSecond` back every second. Several operations
   * given as a list share one bucket, as AWS's categories do (ModifyRule and ModifyListener are
   * both "mutating"); a call matching several rateLimit faults takes a token from each, as an
   * ELB call takes one from its category's bucket and one from the account's.
   */
  ratePerSecond?: number;
  burst?: number;
  /** rateLimit: more operations sharing this fault's bucket, besides `operation`. */
  operations?: string[];
}

interface ActiveFault extends Fault {
  seen: number;
  applied: number;
  /** rateLimit: tokens in the bucket at `refilledAt`. */
  tokens: number;
  refilledAt: number;
}

export interface CallRecord {
  service: string;
  operation: string;
  status: number;
  at: number;
}

/** The throttling error each protocol's AWS service returns. */
const THROTTLE_CODE: Record<string, string> = {
  elasticloadbalancing: 'Throttling',
  sts: 'Throttling',
  monitoring: 'Throttling',
  eks: 'ThrottlingException',
};

export class SandboxCore {
  readonly calls: CallRecord[] = [];
  private readonly services = new Map<string, SandboxService>();
  private faults: ActiveFault[] = [];
  private server: Server | undefined;
  /** Extra handlers for paths outside the AWS APIs (e.g. /_sandbox/...). */
  private readonly controlRoutes: ControlRoute[] = [];

  register(service: SandboxService): void {
    this.services.set(service.signingName, service);
  }

  addControlRoute(route: ControlRoute): void {
    this.controlRoutes.push(route);
  }

  injectFault(fault: Fault): void {
    const burst = fault.burst ?? fault.ratePerSecond ?? 1;
    this.faults.push({ ...fault, seen: 0, applied: 0, tokens: burst, refilledAt: Date.now() });
  }

  clearFaults(): void {
    this.faults = [];
  }

  resetCalls(): void {
    this.calls.length = 0;
  }

  /** Calls per `service:operation` since the last reset. */
  callCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const c of this.calls) {
      const key = `${c.service}:${c.operation}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => {
      this.dispatch(req, res).catch((e: unknown) => {
        console.error('sandbox: internal error', e);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('sandbox internal error');
      });
    });
    // SDK clients keep connections alive; do not let idle sockets hold close() up.
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const { port: bound } = server.address() as AddressInfo;
    return `http://${host}:${bound}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await closeServer(server);
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://sandbox');
    for (const route of this.controlRoutes) {
      if (route.method === req.method && route.path === url.pathname) {
        // A bad control request (malformed JSON, an unknown fault kind) is the caller's
        // mistake: answer 400 with the reason rather than a bare 500.
        let out: unknown;
        try {
          const parsed: unknown = body.length ? JSON.parse(body.toString('utf8')) : undefined;
          out = await route.handle(parsed, url.searchParams);
        } catch (e) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out ?? {}));
        return;
      }
    }

    const scope = signingScope(req.headers.authorization);
    if (!scope) {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          __type: 'MissingAuthenticationTokenException',
          message: 'Missing Authentication Token: the request must be signed with SigV4.',
        }),
      );
      return;
    }
    const service = this.services.get(scope.service);
    const request: ServiceRequest = {
      service: scope.service,
      region: scope.region,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      requestId: randomUUID(),
    };
    if (!service) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`The sandbox does not implement the service "${scope.service}".`);
      return;
    }
    const operation = service.operationOf(request) ?? 'Unknown';
    let response: ServiceResponse | 'reset';
    const fault = this.matchFault(scope.service, operation);
    if (fault?.kind === 'reset') {
      response = 'reset';
    } else if (fault?.kind === 'throttle' || fault?.kind === 'rateLimit') {
      response = service.errorResponse(
        request,
        400,
        THROTTLE_CODE[scope.service] ?? 'Throttling',
        'Rate exceeded',
      );
    } else if (fault?.kind === 'error5xx') {
      response = service.errorResponse(
        request,
        500,
        'InternalFailure',
        'The request processing has failed because of an unknown error, exception or failure.',
      );
    } else {
      if (fault?.kind === 'latency') await sleep(fault.latencyMs ?? 1000);
      response = await service.handle(request, operation);
      if (fault?.kind === 'error5xxApplied') {
        response = service.errorResponse(
          request,
          500,
          'InternalFailure',
          'The request processing has failed because of an unknown error, exception or failure.',
        );
      }
    }
    this.calls.push({
      service: scope.service,
      operation,
      status: response === 'reset' ? 0 : response.status,
      at: Date.now(),
    });
    if (response === 'reset') {
      req.socket.destroy();
      return;
    }
    res.writeHead(response.status, {
      'x-amzn-requestid': request.requestId,
      ...response.headers,
    });
    res.end(response.body);
  }

  private matchFault(service: string, operation: string): ActiveFault | undefined {
    const now = Date.now();
    const matching = this.faults.filter(
      (f) =>
        f.service === service &&
        (f.operation === '*' || f.operation === operation || f.operations?.includes(operation)),
    );
    // The call needs a token from every bucket it falls in; a throttled call takes none.
    const buckets = matching.filter((f) => f.kind === 'rateLimit');
    for (const f of buckets) {
      const rate = f.ratePerSecond ?? 1;
      f.tokens = Math.min(f.burst ?? rate, f.tokens + ((now - f.refilledAt) / 1000) * rate);
      f.refilledAt = now;
    }
    const empty = buckets.find((f) => f.tokens < 1);
    if (empty) return empty;
    for (const f of buckets) f.tokens -= 1;
    for (const f of matching) {
      if (f.kind === 'rateLimit') continue;
      f.seen += 1;
      if (f.seen <= (f.after ?? 0)) continue;
      if (f.times !== undefined && f.applied >= f.times) continue;
      f.applied += 1;
      return f;
    }
    return undefined;
  }
}

export interface ControlRoute {
  method: string;
  path: string;
  handle(body: unknown, query: URLSearchParams): Promise<unknown> | unknown;
}

function signingScope(
  authorization: string | undefined,
): { service: string; region: string } | undefined {
  const m = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization ?? '');
  return m ? { region: m[1] as string, service: m[2] as string } : undefined;
}

/** Closes a server now: idle keep-alive connections (SDK clients keep them) are dropped too. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
