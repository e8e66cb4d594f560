/**
 * Shared by the kube-*.test.ts files: a sandbox whose EKS clusters run real Kubernetes, EKS
 * clusters made through the real SDK, and kubectl/helm runs with a kubeconfig whose user is our
 * token minter. Without the tools (`npm run kube-tools`) the tests fail under CI and skip locally.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateClusterCommand,
  DescribeClusterCommand,
  EKSClient,
  waitUntilClusterActive,
  type Cluster,
  type CreateClusterCommandInput,
} from '@aws-sdk/client-eks';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../sandbox/index.js';
import { findKubeTools, missingKubeTools, type KubeTools } from '../../sandbox/kube/tools.js';

export const tools: KubeTools | undefined = findKubeTools();
if (!tools && process.env.CI) {
  // Under CI a missing tool is a failure, never a silent skip.
  throw new Error(missingKubeTools());
}
/** For describe.skipIf: locally, without the tools, say why the suite is skipped. */
export const skipReason = tools ? undefined : missingKubeTools();

export async function startKubeSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  return startSandbox({ kubernetes: true, eksTransitionMs: 100, ...options });
}

export function eksClient(sandbox: Sandbox): EKSClient {
  return new EKSClient({
    endpoint: sandbox.endpoint,
    region: sandbox.region,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
    },
  });
}

/** CreateCluster, then the SDK's waiter until ACTIVE (which now means: the apiserver is ready). */
export async function createCluster(
  sandbox: Sandbox,
  eks: EKSClient,
  name: string,
  extra: Partial<CreateClusterCommandInput> = {},
): Promise<Cluster> {
  await eks.send(
    new CreateClusterCommand({
      name,
      roleArn: `arn:aws:iam::${sandbox.accountId}:role/eks-cluster`,
      resourcesVpcConfig: { subnetIds: ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'] },
      accessConfig: { authenticationMode: 'API' },
      ...extra,
    }),
  );
  await waitUntilClusterActive(
    { client: eks, minDelay: 1, maxDelay: 1, maxWaitTime: 90 },
    { name },
  );
  return (await eks.send(new DescribeClusterCommand({ name }))).cluster as Cluster;
}

/** A kubeconfig file for the cluster (our exec plugin as user), in a temp folder. */
export async function kubeconfigFile(sandbox: Sandbox, name: string): Promise<string> {
  const text = await (sandbox.kube as NonNullable<Sandbox['kube']>).kubeconfig(
    sandbox.region,
    name,
  );
  const dir = mkdtempSync(join(tmpdir(), 'kube-test-'));
  const path = join(dir, `${name}.kubeconfig`);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a built tool (kubectl, helm, helmfile) with the sandbox's AWS credentials unless `env` overrides them. */
export function run(
  tool: 'kubectl' | 'helm' | 'helmfile',
  args: string[],
  options: { sandbox: Sandbox; env?: Record<string, string>; input?: string; cwd?: string },
): Promise<RunResult> {
  const t = tools as KubeTools;
  const env = t.env({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...options.sandbox.env,
    HELM_CACHE_HOME: join(tmpdir(), 'kube-test-helm-cache'),
    HELM_CONFIG_HOME: join(tmpdir(), 'kube-test-helm-config'),
    HELM_DATA_HOME: join(tmpdir(), 'kube-test-helm-data'),
    ...options.env,
  });
  return new Promise((resolve) => {
    const child = execFile(
      t.bin[tool],
      args,
      { env, cwd: options.cwd, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** kubectl that must succeed: answers stdout, or throws with stderr. */
export async function kubectl(
  sandbox: Sandbox,
  kubeconfig: string,
  args: string[],
  input?: string,
): Promise<string> {
  const r = await run('kubectl', ['--kubeconfig', kubeconfig, ...args], {
    sandbox,
    ...(input !== undefined ? { input } : {}),
  });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Whether a process id is alive (signal 0 checks without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** AWS environment variables of a new principal the sandbox's STS knows (for a token of its own). */
export function principalEnv(
  sandbox: Sandbox,
  principalArn: string,
  session: string,
): Record<string, string> {
  const creds = sandbox.sts.createCredentials(principalArn, session);
  return {
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    AWS_SESSION_TOKEN: creds.sessionToken as string,
  };
}

export function writeTemp(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kube-test-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/**
 * An ALB for apps on sandbox clusters: one IP target group per cluster (what a
 * TargetGroupBinding fills with pod IPs) and an HTTP listener forwarding to them by `weights`.
 */
export async function clusterAlb(
  sandbox: Sandbox,
  prefix: string,
  weights: Record<string, number>,
): Promise<{ targetGroups: Record<string, string>; listenerArn: string; listenerUrl: string }> {
  const elbv2 = new ElasticLoadBalancingV2Client({
    endpoint: sandbox.endpoint,
    region: sandbox.region,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
    },
  });
  try {
    const targetGroups: Record<string, string> = {};
    for (const c of Object.keys(weights)) {
      const tg = await elbv2.send(
        new CreateTargetGroupCommand({
          Name: `${prefix}-${c}`,
          Protocol: 'HTTP',
          Port: 80,
          VpcId: 'vpc-sandbox-a',
          TargetType: 'ip',
          HealthCheckPath: '/healthz',
          HealthCheckIntervalSeconds: 5,
          HealthCheckTimeoutSeconds: 4,
          HealthyThresholdCount: 2,
          UnhealthyThresholdCount: 10,
        }),
      );
      targetGroups[c] = tg.TargetGroups?.[0]?.TargetGroupArn as string;
    }
    const lb = await elbv2.send(
      new CreateLoadBalancerCommand({
        Name: prefix,
        Subnets: ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'],
        Type: 'application',
      }),
    );
    const listener = await elbv2.send(
      new CreateListenerCommand({
        LoadBalancerArn: lb.LoadBalancers?.[0]?.LoadBalancerArn,
        Protocol: 'HTTP',
        Port: 80,
        DefaultActions: [
          {
            Type: 'forward',
            ForwardConfig: {
              TargetGroups: Object.entries(weights).map(([c, w]) => ({
                TargetGroupArn: targetGroups[c],
                Weight: w,
              })),
            },
          },
        ],
      }),
    );
    const listenerArn = listener.Listeners?.[0]?.ListenerArn as string;
    return { targetGroups, listenerArn, listenerUrl: sandbox.elbv2.listenerUrl(listenerArn) };
  } finally {
    elbv2.destroy();
  }
}

/** The daily CronJob `jobs/notify` (demo app), suspended or not: the singleton the handoff,
 * status and retirement tests move between clusters. */
export const notifyCronJob = (suspend: boolean): string => `apiVersion: batch/v1
kind: CronJob
metadata: { name: notify, namespace: jobs }
spec:
  schedule: "0 3 * * *"
  suspend: ${suspend}
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - { name: notify, image: "eks-cluster-canary/demo-app:v1" }
`;

/** The `jobs` namespace with that CronJob. */
export const jobsCronJob = (suspend: boolean): string => `
apiVersion: v1
kind: Namespace
metadata: { name: jobs }
---
${notifyCronJob(suspend)}`;
