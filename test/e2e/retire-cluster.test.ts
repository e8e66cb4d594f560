/**
 * The retire-cluster bundle as the runner runs it (node dist/retire-cluster/index.js with
 * INPUT_*), against a sandbox whose EKS clusters run real Kubernetes. Blue is made by the
 * create-cluster bundle (node groups, add-ons, pod identity association, OIDC provider), runs the
 * demo app bound to its target group by a TargetGroupBinding (the sandbox's controller registers
 * the pods), and a CronJob. Green has the traffic. The gate refuses (live weight, owner, a live
 * CronJob) changing nothing; a dry run deletes nothing; a run cancelled while the targets drain
 * says what is left and the next run finishes; a run after that has nothing to do.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateOpenIDConnectProviderCommand, IAMClient } from '@aws-sdk/client-iam';
import type { Sandbox } from '../../sandbox/index.js';
import { sandboxClusterConfig } from '../eks/sandbox-config.js';
import {
  alive,
  eksClient,
  kubectl,
  skipReason,
  startKubeSandbox,
  waitUntil,
} from '../sandbox/kube-fixture.js';
import {
  cancelLikeRunner,
  runAction,
  startAction,
  waitForOutput,
  type ActionRun,
} from './harness.js';

const EKS_NAME = 'prod-blue';
const OTHER_ISSUER = 'https://oidc.eks.ap-northeast-1.amazonaws.com/id/SOMEONEELSE';

describe.skipIf(skipReason !== undefined)(`retire-cluster bundle ${skipReason ?? ''}`, () => {
  let sandbox: Sandbox;
  let eks: EKSClient;
  let elbv2: ElasticLoadBalancingV2Client;
  let iam: IAMClient;
  let dir: string;
  let kubeconfig: string;
  let listenerArn: string;
  const tgs: Record<string, string> = {};

  beforeAll(async () => {
    // Health checks and the deregistration delay (300 s) at 1/50: targets drain in 6 s.
    sandbox = await startKubeSandbox({ healthCheckTimeScale: 0.02 });
    eks = eksClient(sandbox);
    const credentials = {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
    };
    elbv2 = new ElasticLoadBalancingV2Client({
      endpoint: sandbox.endpoint,
      region: sandbox.region,
      credentials,
    });
    iam = new IAMClient({ endpoint: sandbox.endpoint, region: sandbox.region, credentials });
    dir = mkdtempSync(join(tmpdir(), 'ecc-retire-e2e-'));

    // Blue as create-cluster makes it: node groups, add-ons, a pod identity association, OIDC.
    const config = join(dir, 'blue.yaml');
    writeFileSync(config, sandboxClusterConfig({ name: EKS_NAME }));
    kubeconfig = join(dir, 'blue.kubeconfig');
    const created = await runAction(
      'create-cluster',
      { config, 'poll-interval': '200ms', timeout: '2m', kubeconfig },
      sandbox.env,
    );
    expect(created.exitCode, created.stdout + created.stderr).toBe(0);
    // Another cluster's OIDC provider, which retiring blue must leave alone.
    await iam.send(
      new CreateOpenIDConnectProviderCommand({
        Url: OTHER_ISSUER,
        ClientIDList: ['sts.amazonaws.com'],
      }),
    );

    for (const c of ['blue', 'green']) {
      const tg = await elbv2.send(
        new CreateTargetGroupCommand({
          Name: `web-${c}`,
          Protocol: 'HTTP',
          Port: 80,
          VpcId: 'vpc-sandbox-a',
          TargetType: 'ip',
          HealthCheckPath: '/healthz',
          HealthCheckIntervalSeconds: 5,
          HealthCheckTimeoutSeconds: 4,
          HealthyThresholdCount: 2,
        }),
      );
      tgs[c] = tg.TargetGroups?.[0]?.TargetGroupArn as string;
    }
    const lb = await elbv2.send(
      new CreateLoadBalancerCommand({
        Name: 'web',
        Subnets: ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'],
        Type: 'application',
      }),
    );
    const listener = await elbv2.send(
      new CreateListenerCommand({
        LoadBalancerArn: lb.LoadBalancers?.[0]?.LoadBalancerArn,
        Protocol: 'HTTP',
        Port: 80,
        DefaultActions: [forwardTo({ blue: 0, green: 100 })],
      }),
    );
    listenerArn = listener.Listeners?.[0]?.ListenerArn as string;

    await kubectl(sandbox, kubeconfig, ['apply', '-f', '-'], apps(tgs.blue as string, false));
    await kubectl(sandbox, kubeconfig, [
      '-n',
      'web',
      'rollout',
      'status',
      'deployment/web',
      '--timeout=60s',
    ]);
    await waitUntil(
      "blue's two pods healthy in its target group",
      async () => (await targetsOf('blue')).filter((t) => t.endsWith('healthy')).length === 2,
      60_000,
      500,
    );
  }, 240_000);

  afterAll(async () => {
    elbv2?.destroy();
    iam?.destroy();
    eks?.destroy();
    await sandbox?.close();
  }, 60_000);

  function forwardTo(w: { blue: number; green: number }): {
    Type: 'forward';
    ForwardConfig: { TargetGroups: { TargetGroupArn: string; Weight: number }[] };
  } {
    return {
      Type: 'forward',
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: tgs.blue as string, Weight: w.blue },
          { TargetGroupArn: tgs.green as string, Weight: w.green },
        ],
      },
    };
  }

  function rolloutFile(owner: string): string {
    const path = join(dir, `web-${owner}.yaml`);
    writeFileSync(
      path,
      `version: 1
name: web
region: ${sandbox.region}
clusters:
  blue:
    eks: ${EKS_NAME}
    targetGroup: ${tgs.blue}
    service: { namespace: web, name: web, port: 80 }
  green:
    eks: prod-green
    targetGroup: ${tgs.green}
routes:
  - listener: ${listenerArn}
weights: { blue: 0, green: 100 }
canary: green
steps: [10, 25, 50, 100]
owner: ${owner}
singletons:
  namespaces: [jobs]
analysis:
  warmup: 0s
  interval: 5s
  duration: 10s
  checks:
    - targetHealth: { minHealthy: 2 }
`,
    );
    return path;
  }

  function retire(extra: Record<string, string> = {}, owner = 'green') {
    return startAction(
      'retire-cluster',
      {
        'rollout-file': rolloutFile(owner),
        as: 'blue',
        'poll-interval': '200ms',
        timeout: '3m',
        ...extra,
      },
      sandbox.env,
    );
  }

  async function targetsOf(c: string): Promise<string[]> {
    const r = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgs[c] }));
    return (r.TargetHealthDescriptions ?? []).map(
      (d) => `${d.Target?.Id}:${d.Target?.Port} ${d.TargetHealth?.State}`,
    );
  }

  function writeCalls(): string[] {
    return Object.keys(sandbox.core.callCounts())
      .filter((k) => /:(Create|Update|Delete|Modify|Register|Deregister)/.test(k))
      .sort();
  }

  function plan(run: ActionRun): string[] {
    return (
      JSON.parse(run.outputs.plan ?? '[]') as { resource: string; name: string; action: string }[]
    ).map((p) => `${p.resource} ${p.name}: ${p.action}`);
  }

  async function bindings(): Promise<string> {
    return kubectl(sandbox, kubeconfig, [
      'get',
      'targetgroupbindings.elbv2.k8s.aws',
      '--all-namespaces',
      '-o',
      'name',
    ]);
  }

  it('refuses a live weight, the owner and a live CronJob at once, and changes nothing', async () => {
    await elbv2.send(
      new ModifyListenerCommand({
        ListenerArn: listenerArn,
        DefaultActions: [forwardTo({ blue: 10, green: 90 })],
      }),
    );
    sandbox.core.resetCalls();
    const run = await retire({}, 'blue').done;
    expect(run.exitCode, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toContain('::error::Refused to retire blue; nothing was changed:');
    expect(run.stdout).toMatch(/web-blue\.yaml:17:8: blue is the owner/);
    expect(run.stdout).toContain(
      `The ALB still sends blue traffic: listener ${listenerArn} forwards with weight 10 to web-blue (live: blue 10 / green 90)`,
    );
    expect(run.stdout).toContain(
      'The singleton handoff is not done on blue: CronJob jobs/notify on blue is not suspended',
    );
    expect(run.outputs).toMatchObject({ 'cluster-name': EKS_NAME, deleted: 'false' });
    expect(run.summary).toContain('retire-cluster blue (prod-blue): refused, nothing changed');
    expect(writeCalls()).toEqual([]);
    expect(await bindings()).toContain('targetgroupbinding.elbv2.k8s.aws/web-blue');
    expect((await targetsOf('blue')).filter((t) => t.endsWith('healthy'))).toHaveLength(2);

    // The migration's last PRs: blue's weight 0 applied, the handoff done (CronJob suspended).
    await elbv2.send(
      new ModifyListenerCommand({
        ListenerArn: listenerArn,
        DefaultActions: [forwardTo({ blue: 0, green: 100 })],
      }),
    );
    await kubectl(sandbox, kubeconfig, ['apply', '-f', '-'], apps(tgs.blue as string, true));
  }, 60_000);

  it('a dry run plans every deletion and deletes nothing', async () => {
    sandbox.core.resetCalls();
    const run = await retire({ 'dry-run': 'true' }).done;
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.outputs.deleted).toBe('false');
    expect(plan(run)).toEqual([
      'target-group-binding web/web-blue: delete',
      'targets web-blue: wait',
      'pod-identity-association web/web: delete',
      'nodegroup apps: delete',
      'nodegroup system: delete',
      'addon aws-ebs-csi-driver: delete',
      'addon coredns: delete',
      'addon eks-pod-identity-agent: delete',
      'addon kube-proxy: delete',
      'addon metrics-server: delete',
      'addon vpc-cni: delete',
      `cluster ${EKS_NAME}: delete`,
      expect.stringMatching(
        /^oidc-provider arn:aws:iam::123456789012:oidc-provider\/127\.0\.0\.1:\d+.*: delete$/,
      ),
    ]);
    expect(run.summary).toContain(
      'retire-cluster blue (prod-blue): plan (dry run, nothing changed)',
    );
    expect(writeCalls()).toEqual([]);
    expect(await bindings()).toContain('targetgroupbinding.elbv2.k8s.aws/web-blue');
  }, 60_000);

  it('cancelled while the targets drain it says what is left; the next run retires blue', async () => {
    const kube = sandbox.kube as NonNullable<Sandbox['kube']>;
    const { controlPlane, agent } = kube.runtime(sandbox.region, EKS_NAME);
    const pids = [
      ...Object.values(controlPlane?.pids() ?? {}),
      ...(agent?.processes() ?? []).map((p) => p.pid),
    ].filter((p): p is number => p !== undefined);
    expect(pids.length).toBeGreaterThanOrEqual(5); // etcd, apiserver, controller-manager, 2 pods

    const started = retire();
    await waitForOutput(
      started,
      (out) => out.includes('✓ delete TargetGroupBinding web/web-blue'),
      60_000,
    );
    const cancelled = await cancelLikeRunner(started);
    expect(cancelled.exitCode, cancelled.stdout).toBe(1);
    expect(cancelled.signalsSent).toEqual(['SIGINT']);
    // The binding may still be finalizing when the report is read: it is listed then.
    expect(cancelled.stdout).toContain(
      '::error::Stopped (received SIGINT). Done: delete TargetGroupBinding web/web-blue. Still there: ',
    );
    expect(cancelled.stdout).toContain('targets web-blue (2 registered from blue (');
    expect(cancelled.stdout).toContain(`pod-identity-association web/web (a-`);
    expect(cancelled.stdout).toContain(`cluster ${EKS_NAME} (ACTIVE)`);
    expect(cancelled.stdout).toContain('Run again to continue from here.');
    expect(cancelled.outputs.deleted).toBe('false');
    expect(cancelled.summary).toContain('### Left');
    // The controller finishes the binding's deletion (its finalizer) after the run stopped.
    await waitUntil(
      'the controller to finalize the binding',
      async () => (await bindings()) === '',
    );
    expect((await eks.send(new DescribeClusterCommand({ name: EKS_NAME }))).cluster?.status).toBe(
      'ACTIVE',
    );

    const run = await retire().done;
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.outputs).toMatchObject({ 'cluster-name': EKS_NAME, deleted: 'true' });
    // The binding is gone; its targets drain for 6 s (gone if this run started late).
    expect(plan(run).slice(0, 2)).toEqual([
      expect.stringMatching(/^targets web-blue: (wait|gone)$/),
      'pod-identity-association web/web: delete',
    ]);
    const order = [
      '✓ targets of blue deregistered from web-blue',
      '✓ delete pod identity association web/web',
      '✓ node group apps deleted',
      '✓ add-on vpc-cni deleted',
      `✓ delete cluster ${EKS_NAME}`,
      `✓ cluster ${EKS_NAME} deleted`,
      '✓ delete IAM OIDC provider',
    ].map((line) => run.stdout.indexOf(line));
    expect(
      order.every((i) => i >= 0),
      run.stdout,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(run.summary).toMatch(/retire-cluster blue \(prod-blue\): retired in \d+/);
    expect(run.summary).toContain('### Done');

    // What a user would check: no target of blue, no cluster, no processes, the other provider kept.
    expect(await targetsOf('blue')).toEqual([]);
    await expect(eks.send(new DescribeClusterCommand({ name: EKS_NAME }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    expect(pids.filter(alive)).toEqual([]);
    expect([...sandbox.iam.oidcProviders.keys()]).toEqual([
      `arn:aws:iam::${sandbox.accountId}:oidc-provider/${OTHER_ISSUER.slice('https://'.length)}`,
    ]);

    const again = await retire().done;
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.outputs.deleted).toBe('true');
    expect(again.stdout).toContain(`blue (${EKS_NAME}) is retired already: nothing to do.`);
  }, 180_000);
});

/** The demo app behind a Service bound to blue's target group, and a CronJob the handoff stops. */
function apps(targetGroupArn: string, suspended: boolean): string {
  return `apiVersion: v1
kind: Namespace
metadata: { name: web }
---
apiVersion: v1
kind: Namespace
metadata: { name: jobs }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: eks-cluster-canary/demo-app:v1
          ports: [{ containerPort: 8080, name: http }]
          readinessProbe: { httpGet: { path: /healthz, port: http }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: web }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: http }]
---
apiVersion: elbv2.k8s.aws/v1beta1
kind: TargetGroupBinding
metadata: { name: web-blue, namespace: web }
spec:
  serviceRef: { name: web, port: 80 }
  targetGroupARN: ${targetGroupArn}
  targetType: ip
---
apiVersion: batch/v1
kind: CronJob
metadata: { name: notify, namespace: jobs }
spec:
  schedule: "0 3 * * *"
  suspend: ${suspended}
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - { name: notify, image: "eks-cluster-canary/demo-app:v1" }
`;
}
