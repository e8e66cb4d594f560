/**
 * Starts the whole sandbox: one endpoint that answers ELBv2, EKS, CloudWatch and STS the way
 * AWS does, plus JSON control routes under /_sandbox/ that tests, the demo and a child process
 * use to inject faults and read call counts. Hand `env` to a child process and the real AWS
 * SDK inside it talks to the sandbox.
 */
import { SandboxCore, type ControlRoute, type Fault } from './core.js';
import { CloudWatchService } from './cloudwatch/service.js';
import { EksService } from './eks/service.js';
import { Elbv2Service } from './elbv2/service.js';
import { MetricStore } from './metrics.js';
import { StsService } from './sts/service.js';
import { IamService } from './iam/service.js';
import { KubeClusters } from './kube/clusters.js';
import { NotificationCounter } from './notifications.js';
import { findKubeTools, missingKubeTools } from './kube/tools.js';

export interface SandboxOptions {
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** How long an ALB weight change takes to reach the data plane. */
  propagationDelayMs?: number;
  /** Multiplies ALB health-check intervals and timeouts (e.g. 0.01 in tests). */
  healthCheckTimeScale?: number;
  /** How long EKS resources stay CREATING / DELETING. Default 2000 ms. */
  eksTransitionMs?: number;
  accountId?: string;
  /** The region put in `env` (AWS_REGION). Default ap-northeast-1. */
  region?: string;
  /**
   * Run real Kubernetes behind every EKS cluster (etcd, kube-apiserver, kube-controller-manager,
   * a node agent, a TargetGroupBinding controller; see sandbox/README.md). Needs the tools of
   * `npm run kube-tools`; without them clusters stay records and DescribeCluster says why in
   * `health.issues`. Default false: clusters are records only (fast, as before).
   */
  kubernetes?: boolean;
  /** Where the sandbox reports what it does in the background (cluster starts). Default: nothing. */
  log?: (line: string) => void;
}

export interface Sandbox {
  /** The AWS endpoint URL, e.g. http://127.0.0.1:4566. */
  endpoint: string;
  region: string;
  accountId: string;
  /** Environment for a child process whose AWS SDK should use the sandbox. */
  env: Record<string, string>;
  core: SandboxCore;
  elbv2: Elbv2Service;
  metrics: MetricStore;
  eks: EksService;
  cloudwatch: CloudWatchService;
  sts: StsService;
  iam: IamService;
  /** The clusters' Kubernetes, when started with `kubernetes: true`. */
  kube: KubeClusters | undefined;
  /** The demo's push notifications, counted per CronJob slot (`--notify` of the demo app's Jobs). */
  notifications: NotificationCounter;
  close(): Promise<void>;
}

/** Credentials the sandbox accepts (it checks the SigV4 scope, not the signature). */
export const SANDBOX_ACCESS_KEY_ID = 'AKIASANDBOX000000000';
export const SANDBOX_SECRET_ACCESS_KEY = 'sandbox-secret-access-key';

const FAULT_KINDS: readonly Fault['kind'][] = [
  'throttle',
  'error5xx',
  'latency',
  'reset',
  'rateLimit',
  'error5xxApplied',
];

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const accountId = options.accountId ?? '123456789012';
  const region = options.region ?? 'ap-northeast-1';
  const metrics = new MetricStore();
  const sts = new StsService({ accountId });
  const elbv2 = new Elbv2Service({
    metrics,
    accountId,
    ...(options.propagationDelayMs !== undefined
      ? { propagationDelayMs: options.propagationDelayMs }
      : {}),
    ...(options.healthCheckTimeScale !== undefined
      ? { healthCheckTimeScale: options.healthCheckTimeScale }
      : {}),
  });
  sts.addCredential({
    accessKeyId: SANDBOX_ACCESS_KEY_ID,
    secretAccessKey: SANDBOX_SECRET_ACCESS_KEY,
    arn: sts.callerArn,
    userId: sts.userId,
    account: accountId,
  });
  let endpoint = '';
  // The token webhook reads access entries from the EKS service created below.
  const eksRef: { current?: EksService } = {};
  let kube: KubeClusters | undefined;
  if (options.kubernetes) {
    const missing = missingKubeTools();
    if (missing) options.log?.(`sandbox: EKS clusters will have no Kubernetes. ${missing}`);
    kube = new KubeClusters({
      tools: findKubeTools(),
      ...(missing ? { missingReason: missing } : {}),
      sts,
      access: (r, n) => eksRef.current?.accessView(r, n),
      aws: () => ({
        endpoint,
        accessKeyId: SANDBOX_ACCESS_KEY_ID,
        secretAccessKey: SANDBOX_SECRET_ACCESS_KEY,
      }),
      ...(options.log ? { log: options.log } : {}),
    });
  }
  const eks = new EksService({
    accountId,
    callerArn: sts.callerArn,
    ...(options.eksTransitionMs !== undefined ? { transitionMs: options.eksTransitionMs } : {}),
    ...(kube ? { kubernetes: kube } : {}),
  });
  eksRef.current = eks;
  const cloudwatch = new CloudWatchService({ metrics });
  const iam = new IamService({ accountId });

  const core = new SandboxCore();
  for (const service of [elbv2, eks, cloudwatch, sts, iam]) core.register(service);
  const signingNames = [elbv2, eks, cloudwatch, sts, iam].map((s) => s.signingName);
  for (const route of controlRoutes(core, signingNames)) core.addControlRoute(route);
  for (const route of elbv2.controlRoutes()) core.addControlRoute(route);
  if (kube) for (const route of kubeRoutes(kube, region)) core.addControlRoute(route);
  const notifications = new NotificationCounter();
  for (const route of notifications.routes()) core.addControlRoute(route);

  try {
    endpoint = await core.listen(options.port ?? 0);
  } catch (e) {
    await elbv2.close();
    await kube?.close();
    throw e;
  }
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: SANDBOX_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: SANDBOX_SECRET_ACCESS_KEY,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    // Never reach for instance credentials or a real account's profile.
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  return {
    endpoint,
    region,
    accountId,
    env,
    core,
    elbv2,
    metrics,
    eks,
    cloudwatch,
    sts,
    iam,
    kube,
    notifications,
    async close() {
      await core.close();
      await kube?.close();
      await elbv2.close();
    },
  };
}

function kubeRoutes(kube: KubeClusters, defaultRegion: string): ControlRoute[] {
  const which = (q: URLSearchParams): { region: string; name: string } => {
    const name = q.get('name');
    if (!name) throw new Error('name= (the EKS cluster name) is required');
    return { name, region: q.get('region') ?? defaultRegion };
  };
  return [
    {
      method: 'GET',
      path: '/_sandbox/eks/kubeconfig',
      handle: async (_body, q) => {
        const { region, name } = which(q);
        const path = await kube.writeKubeconfig(region, name);
        return { path, kubeconfig: await kube.kubeconfig(region, name) };
      },
    },
    {
      method: 'GET',
      path: '/_sandbox/eks/kubernetes',
      handle: (_body, q) => {
        const { region, name } = which(q);
        const { controlPlane, agent } = kube.runtime(region, name);
        return {
          state: kube.state(region, name),
          pids: controlPlane?.pids() ?? {},
          pods: agent?.processes() ?? [],
          dataDir: controlPlane?.dataDir,
        };
      },
    },
  ];
}

function controlRoutes(core: SandboxCore, signingNames: string[]): ControlRoute[] {
  return [
    {
      method: 'POST',
      path: '/_sandbox/faults',
      handle: (body) => {
        const fault = parseFault(body, signingNames);
        core.injectFault(fault);
        return { injected: fault };
      },
    },
    {
      method: 'DELETE',
      path: '/_sandbox/faults',
      handle: () => {
        core.clearFaults();
        return { cleared: true };
      },
    },
    { method: 'GET', path: '/_sandbox/calls', handle: () => core.callCounts() },
    {
      method: 'POST',
      path: '/_sandbox/calls/reset',
      handle: () => {
        core.resetCalls();
        return { reset: true };
      },
    },
  ];
}

/** Checks a fault sent over HTTP, so a typo fails loudly instead of injecting nothing. */
export function parseFault(body: unknown, signingNames: string[]): Fault {
  if (typeof body !== 'object' || body === null) {
    throw new Error(
      'a fault must be a JSON object like {"service":"eks","operation":"*","kind":"throttle"}',
    );
  }
  const f = body as Record<string, unknown>;
  if (typeof f.service !== 'string' || !signingNames.includes(f.service)) {
    throw new Error(
      `fault.service must be one of ${signingNames.join(', ')}; got ${JSON.stringify(f.service)}`,
    );
  }
  if (typeof f.operation !== 'string' || f.operation === '') {
    throw new Error('fault.operation must be an API operation name (e.g. ModifyRule) or "*"');
  }
  if (!FAULT_KINDS.includes(f.kind as Fault['kind'])) {
    throw new Error(
      `fault.kind must be one of ${FAULT_KINDS.join(', ')}; got ${JSON.stringify(f.kind)}`,
    );
  }
  if (
    f.operations !== undefined &&
    !(Array.isArray(f.operations) && f.operations.every((o) => typeof o === 'string' && o !== ''))
  ) {
    throw new Error('fault.operations must be a list of API operation names (e.g. ["ModifyRule"])');
  }
  for (const key of ['times', 'after', 'latencyMs', 'ratePerSecond', 'burst'] as const) {
    const v = f[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw new Error(`fault.${key} must be a non-negative number; got ${JSON.stringify(v)}`);
    }
  }
  return f as unknown as Fault;
}
