/**
 * The apiserver, spoken to directly over HTTPS with an EKS bearer token and the cluster's CA, for
 * the singleton handoff. Not kubectl: the handoff makes a few dozen small reads and writes whose
 * failures it must tell apart — a request that never reached the apiserver (connection refused:
 * the write certainly did not land, so restoring the old owner is safe) from one whose answer was
 * lost (the write may have landed) — and it writes the CronJob status subresource, which kubectl
 * can do only with a flag that differs across versions. A process per call would also cost more
 * than the handoff's goal of finishing within 2 s of the longest Job.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';

export class KubeApiError extends Error {
  constructor(
    readonly cluster: string,
    readonly status: number,
    readonly method: string,
    readonly path: string,
    body: string,
  ) {
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // not JSON: keep the text
    }
    super(`${cluster}: ${method} ${path}: ${status} ${message}`);
    this.name = 'KubeApiError';
  }
}

/** The apiserver did not answer. `sent: false`: the request never reached it (nothing changed). */
export class KubeUnreachableError extends Error {
  constructor(
    readonly cluster: string,
    readonly method: string,
    readonly path: string,
    readonly sent: boolean,
    cause: string,
  ) {
    super(
      `${cluster}: ${method} ${path}: the apiserver did not answer (${cause})${sent ? '' : '; the request never reached it'}`,
    );
    this.name = 'KubeUnreachableError';
  }
}

/** What the handoff needs from one cluster's apiserver. */
export interface KubeApi {
  /** The rollout file's name of the cluster, for messages. */
  readonly cluster: string;
  get<T>(path: string): Promise<T>;
  /** GET that answers undefined for 404. */
  find<T>(path: string): Promise<T | undefined>;
  post<T>(path: string, body: unknown): Promise<T>;
  mergePatch<T>(path: string, body: unknown): Promise<T>;
  delete(path: string, body?: unknown): Promise<void>;
  close(): void;
}

export interface HttpsKubeApiOptions {
  cluster: string;
  /** https://… (DescribeCluster's endpoint). */
  endpoint: string;
  /** The cluster CA, PEM. */
  caPem: string;
  /** A bearer token, asked for before each request (the caller caches and renews). */
  token(): Promise<string>;
  /** Per request; default 10 s. */
  timeoutMs?: number;
}

/** Errors of a connection that never opened: the request was not sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

export function httpsKubeApi(options: HttpsKubeApiOptions): KubeApi {
  const url = new URL(options.endpoint);
  const agent = new Agent({ ca: options.caPem, keepAlive: true, maxSockets: 8 });
  const timeoutMs = options.timeoutMs ?? 10_000;
  return kubeApiOver({
    cluster: options.cluster,
    headers: async () => ({ authorization: `Bearer ${await options.token()}` }),
    open: (method, path, headers) =>
      httpsRequest({ agent, host: url.hostname, port: url.port || 443, method, path, headers }),
    timeoutMs,
    close: () => agent.destroy(),
  });
}

export interface KubeTransport {
  cluster: string;
  /** Headers asked for before each request (a bearer token). */
  headers?: () => Promise<Record<string, string>>;
  /** Opens one request, not yet sent, to the apiserver or to a proxy of it. */
  open(method: string, path: string, headers: Record<string, string | number>): ClientRequest;
  timeoutMs: number;
  close(): void;
}

/**
 * A KubeApi over any transport: the apiserver's answer as JSON, a KubeApiError for a status
 * outside 2xx, a KubeUnreachableError when no answer came (saying whether the request was sent).
 */
export function kubeApiOver(
  transport: KubeTransport,
): KubeApi & { apply<T>(path: string, body: unknown, fieldManager: string): Promise<T> } {
  const { cluster, timeoutMs } = transport;
  const call = async <T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const extra = transport.headers ? await transport.headers() : {};
    return new Promise<T>((resolve, reject) => {
      const req = transport.open(method, path, {
        accept: 'application/json',
        ...extra,
        ...(payload ? { 'content-type': contentType, 'content-length': payload.length } : {}),
      });
      let connected = false;
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            reject(new KubeApiError(cluster, status, method, path, text));
            return;
          }
          try {
            resolve((text ? JSON.parse(text) : {}) as T);
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
        res.on('error', (e) =>
          reject(new KubeUnreachableError(cluster, method, path, true, e.message)),
        );
      });
      req.on('socket', (socket) => {
        // A reused keep-alive socket is connected already; a new one says so once.
        if (!socket.connecting) connected = true;
        else socket.once('connect', () => (connected = true));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) => {
        const sent = connected || !(e.code !== undefined && NOT_SENT.has(e.code));
        reject(new KubeUnreachableError(cluster, method, path, sent, e.code ?? e.message));
      });
      req.end(payload);
    });
  };

  return {
    cluster,
    get: (path) => call('GET', path),
    async find(path) {
      try {
        return await call('GET', path);
      } catch (e) {
        if (e instanceof KubeApiError && e.status === 404) return undefined;
        throw e;
      }
    },
    post: (path, body) => call('POST', path, body),
    mergePatch: (path, body) => call('PATCH', path, body, 'application/merge-patch+json'),
    // Server-side apply, as `kubectl apply --server-side --field-manager <m>` (no forced
    // conflicts). JSON is YAML, so the body goes as JSON with apply's content type.
    apply: (path, body, fieldManager) =>
      call(
        'PATCH',
        `${path}${path.includes('?') ? '&' : '?'}fieldManager=${encodeURIComponent(fieldManager)}`,
        body,
        'application/apply-patch+yaml',
      ),
    async delete(path, body) {
      await call('DELETE', path, body);
    },
    close: () => transport.close(),
  };
}
