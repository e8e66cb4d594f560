/**
 * What a kubelet (and, here, the scheduler) does for one sandbox cluster, kept small: registers a
 * Node and renews its Lease, binds pending pods to it, gives each pod its own local address
 * (198.18.x.y, made local like 127.0.0.0/8 by one route: see pod-network.ts) and runs its
 * containers:
 *
 * - An image named `eks-cluster-canary/demo-app[:tag]` (any registry prefix) runs the demo app
 *   (sandbox/app/cli.ts) as a real process: `--version <tag> --host <podIP> --port
 *   <first containerPort>` plus the container's args, and `--job` when a Job owns the pod, so it
 *   runs once and ends with the exit code the args ask for (`--duration-ms`, `--exit-code`).
 * - Any other image is reported Running and Ready without running anything.
 *
 * Readiness follows the container's httpGet readinessProbe (period, thresholds, initial delay);
 * without one a demo-app server is ready once it accepts connections. restartPolicy is honoured.
 * Deleting a pod sends SIGTERM, SIGKILL after its grace period, then removes the object, as the
 * kubelet does. Not modelled: init containers (treated as done), volumes, resource limits,
 * liveness/startup probes, exec/logs/port-forward (there is no kubelet API), env from Secrets or
 * ConfigMaps (literal values and the downward API's name, namespace, podIP and nodeName work).
 *
 * It polls (every `pollMs`, default 250 ms) rather than watches: one list of pods per tick costs
 * the apiserver little at sandbox scale, a level-triggered reconcile has no resync or
 * resourceVersion bookkeeping to get wrong, and 250 ms is well inside what the tests wait for.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { podNetwork } from './pod-network.js';
import { KubeApiError, type KubeClient, type KubeList, type ObjectMeta } from './client.js';

const HAS_SETPRIV = existsSync('/usr/bin/setpriv');

export const DEMO_APP_IMAGE =
  /^(?:[^/]+\/)*eks-cluster-canary\/demo-app(?::([\w.-]+))?(?:@sha256:[0-9a-f]{64})?$/;

interface ContainerPort {
  containerPort: number;
  name?: string;
}
interface Probe {
  httpGet?: { path?: string; port: number | string; host?: string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: ContainerPort[];
  env?: EnvVar[];
  readinessProbe?: Probe;
}
export interface Pod {
  metadata: ObjectMeta;
  spec: {
    nodeName?: string;
    schedulerName?: string;
    restartPolicy?: 'Always' | 'OnFailure' | 'Never';
    terminationGracePeriodSeconds?: number;
    containers: Container[];
  };
  status?: { phase?: string; podIP?: string };
}

interface ContainerRuntime {
  spec: Container;
  demo: boolean;
  child?: ChildProcess;
  startedAt?: string;
  ready: boolean;
  restartCount: number;
  terminated?: { exitCode: number; reason: string; startedAt: string; finishedAt: string };
  probe?: { timer: NodeJS.Timeout; successes: number; failures: number };
  restartTimer?: NodeJS.Timeout;
}

interface PodRuntime {
  uid: string;
  namespace: string;
  name: string;
  ip: string;
  startTime: string;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  containers: ContainerRuntime[];
  lastStatus?: string;
  /** Condition type → its status and when it last changed (stable between ticks). */
  conditionTimes: Map<string, { status: string; at: string }>;
  terminating?: Promise<void>;
  stopped: boolean;
}

export interface NodeAgentOptions {
  client: KubeClient;
  nodeName: string;
  /** node and the bundled demo app (sandbox/app/cli.ts) to run demo-app containers with. */
  demoApp: { node: string; script: string };
  /** Where container output goes (<namespace>_<pod>_<container>.log). */
  logDir: string;
  pollMs?: number;
  log?: (line: string) => void;
}

export class NodeAgent {
  private readonly pods = new Map<string, PodRuntime>();
  private timer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private ticking = false;
  private readonly pollMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly options: NodeAgentOptions) {
    this.pollMs = options.pollMs ?? 250;
    this.log = options.log ?? (() => {});
    mkdirSync(options.logDir, { recursive: true });
  }

  async start(): Promise<void> {
    await this.register();
    await this.renewLease();
    this.leaseTimer = setInterval(() => {
      this.renewLease().catch((e: unknown) => this.log(`node lease: ${String(e)}`));
    }, 10_000);
    const loop = (): void => {
      if (this.closed) return;
      this.tick()
        .catch((e: unknown) =>
          this.log(`node agent: ${e instanceof Error ? e.message : String(e)}`),
        )
        .finally(() => {
          if (!this.closed) this.timer = setTimeout(loop, this.pollMs);
        });
    };
    loop();
  }

  /** Stops every pod process (the cluster is going away: no grace beyond a short SIGTERM wait). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    await Promise.all([...this.pods.values()].map((p) => this.stopProcesses(p, 2)));
    for (const p of this.pods.values()) releaseIp(p.ip);
    this.pods.clear();
  }

  /** Pids of running pod processes, for tests and the bench. */
  processes(): Array<{ pod: string; container: string; pid: number }> {
    const out: Array<{ pod: string; container: string; pid: number }> = [];
    for (const p of this.pods.values()) {
      for (const c of p.containers) {
        if (c.child?.pid !== undefined && c.child.exitCode === null) {
          out.push({ pod: `${p.namespace}/${p.name}`, container: c.spec.name, pid: c.child.pid });
        }
      }
    }
    return out;
  }

  // ---- the node --------------------------------------------------------------------------

  private async register(): Promise<void> {
    const name = this.options.nodeName;
    const client = this.options.client;
    await client.ensure('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'node.kubernetes.io/instance-type': 't3.medium',
        },
      },
      spec: {},
    });
    const now = new Date().toISOString();
    const condition = (type: string, status: string, reason: string, message: string): unknown => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: now,
    });
    await client.mergePatch(`/api/v1/nodes/${name}/status`, {
      status: {
        capacity: { cpu: '8', memory: '32Gi', pods: '250', 'ephemeral-storage': '100Gi' },
        allocatable: { cpu: '8', memory: '32Gi', pods: '250', 'ephemeral-storage': '100Gi' },
        conditions: [
          condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'sandbox node agent'),
          condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'sandbox node agent'),
          condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'sandbox node agent'),
          condition('Ready', 'True', 'KubeletReady', 'the sandbox node agent is running pods'),
        ],
        addresses: [
          { type: 'InternalIP', address: '127.0.0.1' },
          { type: 'Hostname', address: name },
        ],
        nodeInfo: {
          kubeletVersion: 'sandbox-node-agent',
          kubeProxyVersion: '',
          operatingSystem: 'linux',
          architecture: 'amd64',
          containerRuntimeVersion: 'sandbox://processes',
          kernelVersion: '',
          osImage: 'eks-cluster-canary sandbox',
          machineID: '',
          systemUUID: '',
          bootID: '',
        },
      },
    });
  }

  private async renewLease(): Promise<void> {
    const name = this.options.nodeName;
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
    const renewTime = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    const spec = { holderIdentity: name, leaseDurationSeconds: 40, renewTime };
    try {
      await this.options.client.mergePatch(path, { spec });
    } catch (e) {
      if (!(e instanceof KubeApiError && e.status === 404)) throw e;
      await this.options.client.ensure(
        '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases',
        {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace: 'kube-node-lease' },
          spec,
        },
      );
    }
  }

  // ---- the reconcile loop ------------------------------------------------------------------

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const list = await this.options.client.get<KubeList<Pod>>('/api/v1/pods');
      const seen = new Set<string>();
      for (const pod of list.items) {
        const uid = pod.metadata.uid as string;
        seen.add(uid);
        try {
          await this.reconcile(pod);
        } catch (e) {
          if (e instanceof KubeApiError && (e.status === 404 || e.status === 409)) continue;
          this.log(`pod ${pod.metadata.namespace}/${pod.metadata.name}: ${String(e)}`);
        }
      }
      for (const [uid, runtime] of this.pods) {
        if (!seen.has(uid) && !runtime.terminating) {
          // Deleted with no grace (force): stop what runs for it.
          this.pods.delete(uid);
          void this.stopProcesses(runtime, 0).then(() => releaseIp(runtime.ip));
        }
      }
    } finally {
      this.ticking = false;
    }
  }

  private async reconcile(pod: Pod): Promise<void> {
    const { namespace, name, uid } = pod.metadata as Required<
      Pick<ObjectMeta, 'namespace' | 'name' | 'uid'>
    >;
    const client = this.options.client;
    if (!pod.spec.nodeName) {
      if ((pod.spec.schedulerName ?? 'default-scheduler') !== 'default-scheduler') return;
      if (pod.metadata.deletionTimestamp) return;
      await client.post(`/api/v1/namespaces/${namespace}/pods/${name}/binding`, {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name, namespace, uid },
        target: { apiVersion: 'v1', kind: 'Node', name: this.options.nodeName },
      });
      return;
    }
    if (pod.spec.nodeName !== this.options.nodeName) return;
    let runtime = this.pods.get(uid);
    if (pod.metadata.deletionTimestamp) {
      if (runtime?.terminating) return;
      const grace =
        pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
      const stopping = runtime ? this.stopProcesses(runtime, grace) : Promise.resolve();
      const done = stopping.then(async () => {
        if (runtime) releaseIp(runtime.ip);
        this.pods.delete(uid);
        await client
          .delete(`/api/v1/namespaces/${namespace}/pods/${name}`, {
            apiVersion: 'v1',
            kind: 'DeleteOptions',
            gracePeriodSeconds: 0,
            preconditions: { uid },
          })
          .catch((e: unknown) => {
            if (!(e instanceof KubeApiError && (e.status === 404 || e.status === 409))) throw e;
          });
      });
      if (!runtime) {
        await done;
        return;
      }
      // Not awaited: a pod's grace period must not hold up the other pods.
      runtime.terminating = done.catch((e: unknown) =>
        this.log(`deleting pod ${namespace}/${name}: ${String(e)}`),
      );
      return;
    }
    if (!runtime) {
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
      runtime = await this.startPod(pod);
    }
    await this.writeStatus(runtime);
  }

  private async startPod(pod: Pod): Promise<PodRuntime> {
    const ports = pod.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
    const ip = await allocateIp(ports);
    const runtime: PodRuntime = {
      uid: pod.metadata.uid as string,
      namespace: pod.metadata.namespace as string,
      name: pod.metadata.name,
      ip,
      startTime: new Date().toISOString(),
      restartPolicy: pod.spec.restartPolicy ?? 'Always',
      stopped: false,
      conditionTimes: new Map(),
      containers: pod.spec.containers.map((spec) => ({
        spec,
        demo: DEMO_APP_IMAGE.test(spec.image),
        ready: false,
        restartCount: 0,
      })),
    };
    this.pods.set(runtime.uid, runtime);
    const ownedByJob = (pod.metadata.ownerReferences ?? []).some((o) => o.kind === 'Job');
    for (const c of runtime.containers) {
      if (c.demo) {
        this.runContainer(runtime, c, pod, ownedByJob);
      } else {
        c.startedAt = new Date().toISOString();
        c.ready = true;
      }
    }
    this.log(`pod ${runtime.namespace}/${runtime.name} on ${ip}`);
    return runtime;
  }

  private runContainer(pod: PodRuntime, c: ContainerRuntime, spec: Pod, job: boolean): void {
    const tag = DEMO_APP_IMAGE.exec(c.spec.image)?.[1] ?? 'latest';
    const args = c.spec.args ?? [];
    const port = c.spec.ports?.[0]?.containerPort;
    const argv = [
      this.options.demoApp.script,
      ...(args.includes('--version') ? [] : ['--version', tag]),
      '--host',
      pod.ip,
      ...(port !== undefined && !args.includes('--port') ? ['--port', String(port)] : []),
      ...(job && !args.includes('--job') ? ['--job'] : []),
      ...args,
    ];
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    for (const e of c.spec.env ?? []) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      const value =
        e.value ??
        (field === 'metadata.name'
          ? pod.name
          : field === 'metadata.namespace'
            ? pod.namespace
            : field === 'status.podIP'
              ? pod.ip
              : field === 'spec.nodeName'
                ? this.options.nodeName
                : undefined);
      if (value !== undefined) env[e.name] = value;
    }
    const fd = openSync(
      join(this.options.logDir, `${pod.namespace}_${pod.name}_${c.spec.name}.log`),
      'a',
    );
    // With a parent-death signal where util-linux's setpriv exists (it execs, so the pid is the
    // app's): a crashed sandbox does not leave pods listening.
    const child = HAS_SETPRIV
      ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'SIGTERM', this.options.demoApp.node, ...argv], {
          stdio: ['ignore', fd, fd],
          env,
        })
      : spawn(this.options.demoApp.node, argv, { stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    const startedAt = new Date().toISOString();
    c.child = child;
    c.startedAt = startedAt;
    c.terminated = undefined;
    c.ready = false;
    this.startReadiness(pod, c, spec);
    child.once('exit', (code, signal) => {
      if (c.child !== child) return;
      c.ready = false;
      if (c.probe) clearTimeout(c.probe.timer);
      const exitCode = code ?? (signal === 'SIGKILL' ? 137 : 143);
      c.terminated = {
        exitCode,
        reason: exitCode === 0 ? 'Completed' : 'Error',
        startedAt,
        finishedAt: new Date().toISOString(),
      };
      if (pod.stopped || this.closed) return;
      const restart =
        pod.restartPolicy === 'Always' || (pod.restartPolicy === 'OnFailure' && exitCode !== 0);
      if (restart) {
        const backoff = Math.min(10_000, 1000 * 2 ** Math.min(c.restartCount, 4));
        c.restartTimer = setTimeout(() => {
          if (pod.stopped || this.closed) return;
          c.restartCount += 1;
          this.runContainer(pod, c, spec, job);
        }, backoff);
      }
    });
  }

  private startReadiness(pod: PodRuntime, c: ContainerRuntime, spec: Pod): void {
    const probe = c.spec.readinessProbe;
    const port = c.spec.ports?.[0]?.containerPort;
    if (!probe?.httpGet) {
      if (port === undefined) {
        c.ready = true;
        return;
      }
      // No probe: ready once the server accepts connections.
      const poll = (): void => {
        if (c.child?.exitCode !== null || pod.stopped) return;
        tcpOpen(pod.ip, port).then(
          (open) => {
            if (open) c.ready = true;
            else setTimeout(poll, 100);
          },
          () => setTimeout(poll, 100),
        );
      };
      setTimeout(poll, 50);
      return;
    }
    const get = probe.httpGet;
    const probePort =
      typeof get.port === 'number'
        ? get.port
        : /^\d+$/.test(get.port)
          ? Number(get.port)
          : spec.spec.containers.flatMap((x) => x.ports ?? []).find((p) => p.name === get.port)
              ?.containerPort;
    const period = Math.max(1, probe.periodSeconds ?? 10) * 1000;
    const timeout = Math.max(1, probe.timeoutSeconds ?? 1) * 1000;
    const successThreshold = probe.successThreshold ?? 1;
    const failureThreshold = probe.failureThreshold ?? 3;
    const state = { timer: setTimeout(() => {}, 0), successes: 0, failures: 0 };
    c.probe = state;
    const run = (): void => {
      if (c.child?.exitCode !== null || pod.stopped) return;
      const ok =
        probePort === undefined
          ? Promise.resolve(false)
          : httpProbe(get.host ?? pod.ip, probePort, get.path ?? '/', timeout);
      ok.then(
        (success) => {
          if (success) {
            state.failures = 0;
            state.successes += 1;
            if (state.successes >= successThreshold) c.ready = true;
          } else {
            state.successes = 0;
            state.failures += 1;
            if (state.failures >= failureThreshold) c.ready = false;
          }
          state.timer = setTimeout(run, period);
        },
        () => {
          state.timer = setTimeout(run, period);
        },
      );
    };
    state.timer = setTimeout(run, (probe.initialDelaySeconds ?? 0) * 1000);
  }

  private async stopProcesses(pod: PodRuntime, graceSeconds: number): Promise<void> {
    pod.stopped = true;
    await Promise.all(
      pod.containers.map(async (c) => {
        if (c.probe) clearTimeout(c.probe.timer);
        if (c.restartTimer) clearTimeout(c.restartTimer);
        c.ready = false;
        const child = c.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const inTime = await Promise.race([
          exited.then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), graceSeconds * 1000)),
        ]);
        if (!inTime) {
          child.kill('SIGKILL');
          await exited;
        }
      }),
    );
  }

  // ---- status --------------------------------------------------------------------------------

  private async writeStatus(pod: PodRuntime): Promise<void> {
    const status = this.statusOf(pod);
    const text = JSON.stringify(status);
    if (text === pod.lastStatus) return;
    await this.options.client.mergePatch(
      `/api/v1/namespaces/${pod.namespace}/pods/${pod.name}/status`,
      { status },
    );
    pod.lastStatus = text;
  }

  private statusOf(pod: PodRuntime): Record<string, unknown> {
    const containers = pod.containers.map((c) => {
      const running = c.demo
        ? c.child !== undefined && c.child.exitCode === null && c.child.signalCode === null
        : true;
      const state = running
        ? { running: { startedAt: c.startedAt } }
        : c.terminated
          ? { terminated: c.terminated }
          : { waiting: { reason: 'ContainerCreating' } };
      const waitingRestart =
        !running &&
        c.terminated &&
        c.restartTimer !== undefined &&
        (pod.restartPolicy === 'Always' ||
          (pod.restartPolicy === 'OnFailure' && c.terminated.exitCode !== 0));
      return {
        name: c.spec.name,
        image: c.spec.image,
        imageID: '',
        containerID: c.child?.pid !== undefined ? `sandbox://${c.child.pid}` : 'sandbox://none',
        ready: running && c.ready,
        started: running,
        restartCount: c.restartCount,
        state: waitingRestart
          ? {
              waiting: {
                reason: 'CrashLoopBackOff',
                message: `exited with ${c.terminated?.exitCode}`,
              },
            }
          : state,
        ...(c.terminated && (running || waitingRestart)
          ? { lastState: { terminated: c.terminated } }
          : {}),
      };
    });
    const allTerminated = pod.containers.every(
      (c) => c.demo && c.terminated && !(c.child && c.child.exitCode === null),
    );
    const restarting = pod.containers.some(
      (c) =>
        c.terminated &&
        (pod.restartPolicy === 'Always' ||
          (pod.restartPolicy === 'OnFailure' && c.terminated.exitCode !== 0)),
    );
    let phase = 'Running';
    if (allTerminated && !restarting) {
      phase = pod.containers.every((c) => c.terminated?.exitCode === 0) ? 'Succeeded' : 'Failed';
    }
    const ready = phase === 'Running' && containers.every((c) => c.ready);
    const now = new Date().toISOString();
    const cond = (type: string, ok: boolean, reason?: string): Record<string, unknown> => {
      const status = ok ? 'True' : 'False';
      let seen = pod.conditionTimes.get(type);
      if (!seen || seen.status !== status) {
        seen = { status, at: now };
        pod.conditionTimes.set(type, seen);
      }
      return {
        type,
        status,
        lastProbeTime: null,
        lastTransitionTime: seen.at,
        ...(reason ? { reason } : {}),
      };
    };
    const done = phase === 'Succeeded' || phase === 'Failed';
    return {
      phase,
      hostIP: '127.0.0.1',
      hostIPs: [{ ip: '127.0.0.1' }],
      podIP: pod.ip,
      podIPs: [{ ip: pod.ip }],
      startTime: pod.startTime,
      conditions: [
        cond('PodReadyToStartContainers', !done),
        cond('Initialized', true),
        cond('Ready', ready, done ? 'PodCompleted' : ready ? undefined : 'ContainersNotReady'),
        cond(
          'ContainersReady',
          ready,
          done ? 'PodCompleted' : ready ? undefined : 'ContainersNotReady',
        ),
        cond('PodScheduled', true),
      ],
      containerStatuses: containers,
    };
  }
}

// ---- pod addresses ---------------------------------------------------------------------------

/** Addresses in use by this process's pods (all clusters share the pod range). */
const usedIps = new Set<string>();
/**
 * Where this process starts allocating: spread by pid so two sandboxes (two test workers) rarely
 * start from the same address; a candidate whose ports are taken is skipped anyway.
 */
let nextIp = 256 * (1 + (process.pid % 250)) + 1;

async function allocateIp(ports: number[]): Promise<string> {
  const { prefix } = podNetwork();
  for (let attempts = 0; attempts < 65_000; attempts++) {
    const n = nextIp;
    nextIp = nextIp >= 65_000 ? 257 : nextIp + 1;
    const o3 = (n >> 8) & 255;
    const o4 = n & 255;
    if (o3 === 0 || o4 === 0 || o4 === 255) continue;
    const ip = `${prefix}.${o3}.${o4}`;
    if (usedIps.has(ip)) continue;
    if (!(await portsFree(ip, ports))) continue;
    usedIps.add(ip);
    return ip;
  }
  throw new Error('no free address for a pod');
}

function releaseIp(ip: string): void {
  usedIps.delete(ip);
}

async function portsFree(ip: string, ports: number[]): Promise<boolean> {
  for (const port of new Set(ports)) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, ip, () => s.close(() => resolve(true)));
    });
    if (!free) return false;
  }
  return true;
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** An HTTP readiness probe as the kubelet runs it: 200-399 is success. */
function httpProbe(host: string, port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(
      { host, port, path, timeout: timeoutMs, headers: { 'user-agent': 'kube-probe/1.35' } },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
