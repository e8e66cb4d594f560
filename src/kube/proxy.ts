/**
 * sync-apps' own reads and writes of the cluster (the binding's checks and apply, the singleton
 * check, the workload and endpoint reads while it waits) go to the apiserver through one
 * `kubectl proxy` that listens on a unix socket, not through a kubectl process per call.
 *
 * Why: each kubectl run costs 50-100 ms of CPU (a Go binary's start), and the reads between
 * helm returning and the binding being applied were four of them, on the path to a healthy
 * target. A request through the proxy takes 1-10 ms. kubectl still does the authentication, so
 * any kubeconfig works as before (EKS token file, exec plugin, client certificates).
 *
 * The socket is in a folder of its own that only this user can enter (mkdtemp: mode 0700), in the
 * system's temp folder (a socket path is limited to 107 bytes): whoever can reach the socket has
 * the kubeconfig's access. The proxy is stopped when the sync ends, however it ends.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExplainedError } from '../common/errors.js';
import { kubeApiOver, type KubeApi } from './api.js';

export type KubeClient = KubeApi & {
  /** Server-side apply of one object at its path (kubectl apply --server-side). */
  apply<T>(path: string, body: unknown, fieldManager: string): Promise<T>;
};

export interface KubectlProxy {
  client: KubeClient;
  /** Stops the proxy and removes its socket; safe to call more than once. */
  stop(): Promise<void>;
}

export interface StartProxyOptions {
  /** kubectl's absolute path. */
  kubectl: string;
  kubeconfig: string;
  /** The tools' environment. */
  env: Record<string, string>;
  /** For messages: the cluster's name. */
  cluster: string;
  /** How long the proxy may take to start listening (default 15 s). */
  startTimeoutMs?: number;
  /** Per request (default 30 s). */
  timeoutMs?: number;
}

export async function startKubectlProxy(options: StartProxyOptions): Promise<KubectlProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'ecc-kube-'));
  const socketPath = join(dir, 'proxy.sock');
  const child = spawn(
    options.kubectl,
    ['--kubeconfig', options.kubeconfig, 'proxy', '--unix-socket', socketPath],
    // A group of its own, stopped as a whole: kubectl may be a wrapper script (an asdf or mise
    // shim) whose kubectl child would outlive a signal to the script alone.
    { env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    stderr = (stderr + d).slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // the group is gone already
    }
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    agent.destroy();
    signalGroup('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) {
      // kubectl proxy ends at once on SIGTERM; SIGKILL after 2 s, and no wait beyond 3 s.
      const killer = setTimeout(() => signalGroup('SIGKILL'), 2_000);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000).unref())]);
      clearTimeout(killer);
    }
    child.stdout.destroy();
    child.stderr.destroy();
    await rm(dir, { recursive: true, force: true });
  };
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });

  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () =>
          reject(
            new ExplainedError(
              `kubectl proxy did not start listening within ${startTimeoutMs / 1000} s${stderr.trim() ? `: ${stderr.trim()}` : ''}`,
            ),
          ),
        startTimeoutMs,
      );
      timer.unref();
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => {
        out += d;
        if (out.includes('Starting to serve on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(new ExplainedError(`kubectl proxy could not start: ${e.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new ExplainedError(
            `kubectl proxy exited (${signal ?? `exit code ${code}`}) before it listened: ${stderr.trim() || 'no message'}`,
          ),
        );
      });
    });
  } catch (e) {
    await stop();
    throw e;
  }
  // Nothing more is read from stdout; keep the pipe drained.
  child.stdout.resume();

  const client = kubeApiOver({
    cluster: options.cluster,
    open: (method, path, headers) =>
      // The proxy checks the Host header against its --accept-hosts (localhost by default).
      request({ agent, socketPath, method, path, headers: { ...headers, host: 'localhost' } }),
    timeoutMs: options.timeoutMs ?? 30_000,
    close: () => void stop(),
  });
  return { client, stop };
}

/** The object's path for a list or get: /api/v1/… or /apis/<group>/<version>/…. */
export function resourcePath(
  r: { apiVersion: string; plural: string },
  namespace?: string,
  name?: string,
): string {
  const base = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${r.plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

/** Kinds sync-apps reads, with the API version it reads them at. */
export const RESOURCES = {
  Deployment: { apiVersion: 'apps/v1', plural: 'deployments', kind: 'Deployment' },
  StatefulSet: { apiVersion: 'apps/v1', plural: 'statefulsets', kind: 'StatefulSet' },
  DaemonSet: { apiVersion: 'apps/v1', plural: 'daemonsets', kind: 'DaemonSet' },
  CronJob: { apiVersion: 'batch/v1', plural: 'cronjobs', kind: 'CronJob' },
  Service: { apiVersion: 'v1', plural: 'services', kind: 'Service' },
  Event: { apiVersion: 'v1', plural: 'events', kind: 'Event' },
  EndpointSlice: {
    apiVersion: 'discovery.k8s.io/v1',
    plural: 'endpointslices',
    kind: 'EndpointSlice',
  },
  TargetGroupBinding: {
    apiVersion: 'elbv2.k8s.aws/v1beta1',
    plural: 'targetgroupbindings',
    kind: 'TargetGroupBinding',
  },
} as const;

export type Resource = (typeof RESOURCES)[keyof typeof RESOURCES];

/**
 * Every object of a kind (in a namespace, or in all), with `kind` set on each item as kubectl
 * sets it (the apiserver's lists leave it out).
 */
export async function listObjects<T extends { kind?: string }>(
  kube: KubeApi,
  r: Resource,
  namespace?: string,
  labelSelector?: string,
): Promise<T[]> {
  const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
  const list = await kube.get<{ items?: T[] }>(`${resourcePath(r, namespace)}${query}`);
  return (list.items ?? []).map((item) => ({ ...item, kind: r.kind }));
}

/**
 * The proxy, started at most once, on the first call to `client()` (sync-apps makes that call
 * once the tool's upgrade runs, so the proxy's start overlaps it). A failed start is reported to
 * each caller that needs the cluster.
 */
export function kubeOnDemand(start: () => Promise<KubectlProxy>): {
  client(): Promise<KubeClient>;
  stop(): Promise<void>;
} {
  let started: Promise<KubectlProxy> | undefined;
  const get = () => {
    if (!started) {
      started = start();
      started.catch(() => undefined); // reported by client(); no unhandled rejection meanwhile
    }
    return started;
  };
  return {
    client: async () => (await get()).client,
    async stop() {
      if (!started) return;
      const p = await started.catch(() => undefined);
      await p?.stop();
    },
  };
}
