/**
 * sync-apps' wall time against its critical path on the sandbox, printed (goal ≤ 1.1×):
 *
 *   node scripts/run-ts.mjs bench/sync-apps.ts [--runs 3]
 *
 * The bundle runs as the runner runs it: helm installs the demo chart (sandbox/charts/demo-app)
 * into a fresh namespace of a sandbox cluster that runs real Kubernetes, then sync-apps waits
 * for the workloads, binds the cluster's target group (TargetGroupBinding) and waits for healthy
 * targets. Each run uses a new namespace and a new target group, as a new cluster would.
 *
 * The critical path is the waits no tool could avoid:
 *   helm upgrade --install's own run time (a timing shim in front of helm on PATH records it),
 *   + the longer of two waits that overlap (sync-apps applies the binding before it waits for
 *     the workloads, so adding them would overstate the path):
 *     the workloads becoming available after helm returned (the Deployment's status, read from
 *     the apiserver every 20 ms), and
 *     the target group's wait: from the binding's first appearance in the apiserver (read every
 *     20 ms; sync-apps applies it through its kubectl proxy) to the first healthy target
 *     (the moment the sandbox's target group marks it healthy, told as it happens): the
 *     controller registering the pods, then the health checks (interval 5 s, healthy
 *     threshold 2).
 * Everything else is overhead: process start, inputs, EKS access, helm's other calls (the
 * diff that decides whether anything changes, version, plugin and release reads), the singleton
 * check, the workload read, applying the binding, and polling slack. Without the tools
 * (`npm run kube-tools`) it says so and exits 0.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { findKubeTools, missingKubeTools } from '../sandbox/kube/tools.js';
import { runAction } from '../test/e2e/harness.js';
import { createCluster, eksClient, startKubeSandbox } from '../test/sandbox/kube-fixture.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Number(values.runs);

const missing = missingKubeTools();
const tools = findKubeTools();
if (missing || !tools) {
  console.log(`sync-apps bench skipped: ${missing}`);
  process.exit(0);
}

const sandbox = await startKubeSandbox();
const kube = sandbox.kube as NonNullable<typeof sandbox.kube>;
const dir = mkdtempSync(join(tmpdir(), 'ecc-bench-sync-'));
const elbv2 = new ElasticLoadBalancingV2Client({
  endpoint: sandbox.endpoint,
  region: sandbox.region,
  credentials: {
    accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
    secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
  },
});

// helm and kubectl behind shims that append "<tool> <subcommand> <start ms> <end ms>" to a log.
const shimDir = join(dir, 'shim');
const toolLog = join(dir, 'tool-times.log');
mkdirSync(shimDir);
for (const tool of ['helm', 'kubectl'] as const) {
  writeFileSync(
    join(shimDir, tool),
    `#!/bin/sh
start=$(date +%s%3N)
${JSON.stringify(tools.bin[tool])} "$@"
code=$?
# The subcommand: the first argument that is not a flag or a flag's value.
sub=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kubeconfig|--namespace|-n) shift 2 ;;
    -*) shift ;;
    *) sub="$1"; break ;;
  esac
done
echo "${tool} $sub $start $(date +%s%3N)" >> ${JSON.stringify(toolLog)}
exit $code
`,
  );
  chmodSync(join(shimDir, tool), 0o755);
}

const ratios: number[] = [];
console.log(`sync-apps: wall time against the critical path (${runs} runs, demo chart, helm)`);
try {
  const eks = eksClient(sandbox);
  await createCluster(sandbox, eks, 'prod-green');
  eks.destroy();
  const kubeconfig = join(dir, 'green.kubeconfig');
  writeFileSync(kubeconfig, await kube.kubeconfig(sandbox.region, 'prod-green'));
  const admin = kube.runtime(sandbox.region, 'prod-green').controlPlane?.admin;
  if (!admin) throw new Error('the sandbox cluster has no control plane');

  for (let i = 1; i <= runs; i++) {
    const namespace = `web-${i}`;
    const tg = await elbv2.send(
      new CreateTargetGroupCommand({
        Name: `bench-sync-${i}`,
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
    const targetGroup = tg.TargetGroups?.[0]?.TargetGroupArn as string;
    // A target group no listener uses has no health checks (Target.NotInUse).
    const lb = await elbv2.send(
      new CreateLoadBalancerCommand({
        Name: `bench-sync-${i}`,
        Subnets: ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'],
        Type: 'application',
      }),
    );
    const listener = await elbv2.send(
      new CreateListenerCommand({
        LoadBalancerArn: lb.LoadBalancers?.[0]?.LoadBalancerArn,
        Protocol: 'HTTP',
        Port: 80,
        DefaultActions: [{ Type: 'forward', TargetGroupArn: targetGroup }],
      }),
    );
    const listenerArn = listener.Listeners?.[0]?.ListenerArn as string;
    const rolloutFile = join(dir, `web-${i}.yaml`);
    writeFileSync(
      rolloutFile,
      `version: 1
name: web
region: ${sandbox.region}
clusters:
  blue: { eks: prod-blue, targetGroup: ${targetGroup.replace(/bench-sync-\d+/, 'other')} }
  green:
    eks: prod-green
    targetGroup: ${targetGroup}
    service: { namespace: ${namespace}, name: web, port: 80 }
routes:
  - listener: ${listenerArn}
weights: { blue: 100, green: 0 }
canary: green
steps: [10, 50, 100]
owner: blue
`,
    );
    const values = join(dir, 'values.yaml');
    writeFileSync(values, 'version: v1\n');
    writeFileSync(toolLog, '');
    sandbox.core.resetCalls();

    let availableAt: number | undefined;
    let polling = true;
    const pollDeployment = (async () => {
      while (polling && availableAt === undefined) {
        const d = await admin.find<{
          spec?: { replicas?: number };
          status?: { availableReplicas?: number; updatedReplicas?: number };
        }>(`/apis/apps/v1/namespaces/${namespace}/deployments/web`);
        const want = d?.spec?.replicas ?? 1;
        if (d && (d.status?.availableReplicas ?? 0) >= want && d.status?.updatedReplicas === want)
          availableAt = Date.now();
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // The binding is applied through sync-apps' kubectl proxy: its moment is when the apiserver
    // first shows it (read every 20 ms, so up to 20 ms late, which shortens the critical path).
    let boundAt: number | undefined;
    const pollBinding = (async () => {
      while (polling && boundAt === undefined) {
        const b = await admin.find(
          `/apis/elbv2.k8s.aws/v1beta1/namespaces/${namespace}/targetgroupbindings/web-green`,
        );
        if (b) boundAt = Date.now();
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // The moment the first target turns healthy, told by the sandbox's target group as it
    // happens (exact, and no polling load on the machine while the action runs).
    let healthyAt: number | undefined;
    const unsubscribe = sandbox.elbv2.onTargetState((c) => {
      if (c.targetGroupArn === targetGroup && c.state === 'healthy' && healthyAt === undefined)
        healthyAt = c.at;
    });

    // The shim first on PATH, before the tools' own folder.
    const toolEnv = tools.env({ PATH: process.env.PATH, HOME: process.env.HOME });
    toolEnv.PATH = `${shimDir}:${toolEnv.PATH}`;
    const t0 = Date.now();
    const run = await runAction(
      'sync-apps',
      {
        cluster: 'prod-green',
        chart: resolve('sandbox/charts/demo-app'),
        release: 'web',
        namespace,
        values,
        'rollout-file': rolloutFile,
        as: 'green',
        timeout: '3m',
      },
      {
        ...toolEnv,
        ...sandbox.env,
        RUNNER_TEMP: dir,
        HELM_CACHE_HOME: join(dir, 'helm-cache'),
        HELM_CONFIG_HOME: join(dir, 'helm-config'),
        HELM_DATA_HOME: join(dir, 'helm-data'),
        NODE_NO_WARNINGS: '1',
      },
    );
    const wall = Date.now() - t0;
    polling = false;
    await Promise.all([pollDeployment, pollBinding]);
    unsubscribe();
    if (run.exitCode !== 0) throw new Error(`sync-apps failed:\n${run.stdout}\n${run.stderr}`);

    const toolRuns = readFileSync(toolLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([tool, cmd, start, end]) => ({ tool, cmd, start: Number(start), end: Number(end) }));
    const helmRuns = toolRuns.filter((r) => r.tool === 'helm');
    const upgrade = helmRuns.find((h) => h.cmd === 'upgrade');
    const registeredAt = sandbox.core.calls.find((c) => c.operation === 'RegisterTargets')?.at;
    if (
      !upgrade ||
      boundAt === undefined ||
      availableAt === undefined ||
      healthyAt === undefined ||
      !registeredAt
    ) {
      throw new Error(
        `missing a timestamp: helm upgrade ${JSON.stringify(upgrade)}, binding ${boundAt}, available ${availableAt}, registered ${registeredAt}, healthy ${healthyAt}`,
      );
    }
    const helmMs = upgrade.end - upgrade.start;
    const availableMs = Math.max(0, availableAt - upgrade.end);
    // From the binding's apply: the controller registering the targets, then the health checks.
    const healthMs = healthyAt - boundAt;
    // The two waits overlap (the binding is applied before the workload wait): the longer counts.
    const critical = helmMs + Math.max(availableMs, healthMs);
    const otherHelm = helmRuns
      .filter((h) => h !== upgrade)
      .reduce((sum, h) => sum + (h.end - h.start), 0);
    const ratio = wall / critical;
    ratios.push(ratio);
    console.log(
      `  run ${i}: wall ${wall} ms; critical path ${critical} ms (helm upgrade ${helmMs} + the longer of workloads available ${availableMs} and target health ${healthMs}); ` +
        `${ratio.toFixed(2)}×; other helm calls ${otherHelm} ms (${helmRuns.length - 1}); ` +
        `binding applied ${boundAt - Math.max(availableAt, upgrade.end)} ms after helm returned with the workloads available, targets registered ${registeredAt - boundAt} ms after that; healthy seen after ${wall - (healthyAt - t0)} ms more`,
    );
    if (process.env.BENCH_VERBOSE)
      console.log(
        `    timeline (ms from launch): ${toolRuns
          .map((r) => `${r.tool} ${r.cmd} ${r.start - t0}-${r.end - t0}`)
          .join(
            '; ',
          )}; bound ${boundAt - t0}; registered ${registeredAt - t0}; healthy ${healthyAt - t0}; exit ${wall}`,
      );
  }
  const sorted = [...ratios].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  console.log(
    `  median ${median.toFixed(2)}× (${(sorted[0] as number).toFixed(2)}-${(sorted.at(-1) as number).toFixed(2)}) ${median <= 1.1 ? '(within the 1.1× goal)' : '(OVER the 1.1× goal)'}`,
  );
} finally {
  elbv2.destroy();
  await sandbox.close();
}
