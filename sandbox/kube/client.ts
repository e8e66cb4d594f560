/**
 * A small Kubernetes REST client for the sandbox's own controllers (node agent, TGB controller,
 * authenticator): HTTPS with the cluster's admin client certificate, JSON in and out. Plain
 * node:https rather than @kubernetes/client-node: we need a dozen calls, and a client-cert
 * agent is three lines; the dependency would be larger than everything that uses it.
 */
import { Agent, request } from 'node:https';

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly body: string,
  ) {
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // not JSON: keep the text
    }
    super(`${method} ${path}: ${status} ${message}`);
  }
}

export interface KubeClientOptions {
  /** https://127.0.0.1:<port> */
  server: string;
  ca: string;
  cert: string;
  key: string;
}

export class KubeClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(options: KubeClientOptions) {
    this.url = new URL(options.server);
    this.agent = new Agent({
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      keepAlive: true,
      maxSockets: 8,
    });
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }
  /** GET that answers undefined for 404. */
  async find<T = unknown>(path: string): Promise<T | undefined> {
    try {
      return await this.call<T>('GET', path);
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return undefined;
      throw e;
    }
  }
  post<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }
  put<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PUT', path, body);
  }
  delete<T = unknown>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('DELETE', path, body);
  }
  mergePatch<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, body, 'application/merge-patch+json');
  }
  /** Creates, or answers quietly when it exists already (409). */
  async ensure(path: string, body: unknown): Promise<void> {
    try {
      await this.post(path, body);
    } catch (e) {
      if (!(e instanceof KubeApiError && e.status === 409)) throw e;
    }
  }

  /** A GET whose answer is text (/readyz, /livez): status and body, never a throw for non-2xx. */
  text(path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        { agent: this.agent, host: this.url.hostname, port: this.url.port, path, timeout: 5000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: timed out`)));
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }

  call<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          method,
          path,
          timeout: 30_000,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': contentType, 'content-length': payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) {
              reject(new KubeApiError(status, method, path, text));
              return;
            }
            try {
              resolve((text ? JSON.parse(text) : {}) as T);
            } catch (e) {
              reject(e instanceof Error ? e : new Error(String(e)));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

/** The minimal shape of the objects the sandbox's controllers read. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  finalizers?: string[];
  ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }>;
}
export interface KubeList<T> {
  metadata: { resourceVersion?: string };
  items: T[];
}
