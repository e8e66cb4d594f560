/**
 * sync-apps as the runner runs it (node dist/sync-apps/index.js with INPUT_*), against sandbox
 * EKS clusters that run real Kubernetes, with the built kubectl, helm (and helm-diff) and
 * helmfile. Blue owns the singletons; green is the new cluster.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { Sandbox } from '../../sandbox/index.js';
import type { KubeTools } from '../../sandbox/kube/tools.js';
import {
  clusterAlb,
  createCluster,
  eksClient,
  kubectl,
  skipReason,
  startKubeSandbox,
  tools,
  waitUntil,
} from '../sandbox/kube-fixture.js';
import { runAction, startAction, type ActionRun } from './harness.js';

const CHART = resolve('sandbox/charts/demo-app');

describe.skipIf(skipReason)('sync-apps on sandbox clusters', () => {
  let sandbox: Sandbox;
  let dir: string;
  let rolloutFile: string;
  let listenerUrl: string;
  const kubeconfigs: Record<string, string> = {};
  const targetGroups: Record<string, string> = {};

  beforeAll(async () => {
    sandbox = await startKubeSandbox();
    const eks = eksClient(sandbox);
    await Promise.all([
      createCluster(sandbox, eks, 'prod-blue'),
      createCluster(sandbox, eks, 'prod-green'),
    ]);
    eks.destroy();
    dir = mkdtempSync(join(tmpdir(), 'sync-apps-e2e-'));
    for (const c of ['blue', 'green']) {
      kubeconfigs[c] = join(dir, `${c}.kubeconfig`);
      writeFileSync(
        kubeconfigs[c],
        await (sandbox.kube as NonNullable<Sandbox['kube']>).kubeconfig(
          sandbox.region,
          `prod-${c}`,
        ),
      );
    }
    const alb = await clusterAlb(sandbox, 'web', { blue: 0, green: 100 });
    Object.assign(targetGroups, alb.targetGroups);
    const listenerArn = alb.listenerArn;
    listenerUrl = alb.listenerUrl;
    rolloutFile = join(dir, 'web.yaml');
    writeFileSync(
      rolloutFile,
      `version: 1
name: web
region: ${sandbox.region}
clusters:
  blue:
    eks: prod-blue
    targetGroup: ${targetGroups.blue}
    service: { namespace: web, name: web, port: http }
  green:
    eks: prod-green
    targetGroup: ${targetGroups.green}
    service: { namespace: web, name: web, port: 80 }
routes:
  - listener: ${listenerArn}
weights: { blue: 0, green: 100 }
canary: green
steps: [10, 25, 50, 100]
owner: blue
singletons:
  selector: { app.kubernetes.io/singleton: "true" }
analysis:
  warmup: 0s
  interval: 5s
  duration: 10s
  checks:
    - targetHealth: { minHealthy: 2 }
`,
    );
  }, 180_000);

  afterAll(async () => {
    await sandbox?.close();
  }, 60_000);

  function sync(
    inputs: Record<string, string>,
    extraEnv: Record<string, string> = {},
  ): Promise<ActionRun> {
    const t = tools as KubeTools;
    return runAction(
      'sync-apps',
      { timeout: '3m', ...inputs },
      {
        ...t.env({ PATH: process.env.PATH, HOME: process.env.HOME }),
        ...sandbox.env,
        RUNNER_TEMP: dir,
        HELM_CACHE_HOME: join(dir, 'helm-cache'),
        HELM_CONFIG_HOME: join(dir, 'helm-config'),
        HELM_DATA_HOME: join(dir, 'helm-data'),
        ...extraEnv,
      },
    );
  }

  /** `kubectl get <resource> --watch` from before the first write: every version of every object. */
  function watch(
    cluster: string,
    resource: string,
    namespace: string,
  ): { child: ChildProcess; seen: () => Record<string, unknown>[] } {
    const t = tools as KubeTools;
    const child = spawn(
      t.bin.kubectl,
      [
        '--kubeconfig',
        kubeconfigs[cluster] as string,
        'get',
        resource,
        '--namespace',
        namespace,
        '--watch',
        '--output',
        'json',
      ],
      { env: { ...t.env({ PATH: process.env.PATH, HOME: process.env.HOME }), ...sandbox.env } },
    );
    let text = '';
    child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
    return {
      child,
      // kubectl prints one pretty JSON object per event; split at top-level closing braces.
      seen: () =>
        text
          .split(/(?<=^\})\n/m)
          .filter((s) => s.trim() !== '')
          .map((s) => JSON.parse(s) as Record<string, unknown>),
    };
  }

  const k = (cluster: string, args: string[]) =>
    kubectl(sandbox, kubeconfigs[cluster] as string, args);

  it('helm on green (not the owner): the CronJob is never seen unsuspended and no Job is created; the singleton has 0 replicas; the ALB reaches the pods', async () => {
    await k('green', ['create', 'namespace', 'web']);
    const cronJobs = watch('green', 'cronjobs', 'web');
    const jobs = watch('green', 'jobs', 'web');
    await new Promise((r) => setTimeout(r, 1_000));
    const values = join(dir, 'green-values.yaml');
    writeFileSync(values, 'version: v1\n');
    const first = await sync({
      cluster: 'prod-green',
      chart: CHART,
      release: 'web',
      namespace: 'web',
      values,
      'rollout-file': rolloutFile,
      as: 'green',
    });
    expect(first.stderr + first.stdout).not.toContain('s3cr3t-value-never-logged');
    expect(first.exitCode, first.stdout).toBe(0);
    // The EKS token the action minted for the tools is masked before anything could log it.
    expect(first.stdout).toMatch(/^::add-mask::k8s-aws-v1\.[A-Za-z0-9_-]+$/m);
    expect(first.outputs.changed).toBe('true');
    // Not installed yet: no helm diff (nothing to diff against); the diff lists what was installed.
    expect(first.stdout).toContain('so it is installed without a helm diff');
    expect(first.stdout).not.toContain('[command]helm diff upgrade');
    expect(readFileSync(first.outputs.diff as string, 'utf8')).toContain(
      '+ new Deployment web/web\n',
    );
    // The binding went on as helm's writes landed, after the singletons of exactly what helm
    // applied (the post-renderer's list) were checked stopped.
    expect(first.stdout).toContain("Applied as soon as helm's writes had landed.");
    expect(first.stdout).toContain(
      'Every CronJob and singleton Deployment applied here is stopped.',
    );
    const resources = JSON.parse(first.outputs.resources as string) as {
      kind: string;
      namespace: string;
      name: string;
      status: string;
    }[];
    expect(resources).toContainEqual({
      kind: 'CronJob',
      namespace: 'web',
      name: 'web-report',
      status: 'stopped (suspend: true)',
    });
    expect(resources.find((r) => r.kind === 'Deployment')?.status).toMatch(/^available/);
    const health = JSON.parse(first.outputs['target-health'] as string) as { healthyHere: number };
    expect(health.healthyHere).toBeGreaterThanOrEqual(2);
    expect(first.summary).toContain('Stopped off the owner');

    // Traffic through the ALB's data plane reaches green's pods.
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        fetch(listenerUrl).then(async (r) => ({
          status: r.status,
          version: r.headers.get('x-app-version'),
        })),
      ),
    );
    expect(answers.every((a) => a.status === 200 && a.version === 'v1')).toBe(true);

    // Past the next minute boundary the CronJob controller would have started a Job.
    const boundary = 60_000 - (Date.now() % 60_000) + 5_000;
    await new Promise((r) => setTimeout(r, boundary));
    cronJobs.child.kill();
    jobs.child.kill();
    const versions = cronJobs.seen();
    expect(versions.length).toBeGreaterThan(0);
    for (const v of versions) expect((v.spec as { suspend?: boolean }).suspend).toBe(true);
    expect(jobs.seen()).toEqual([]);
    expect(await k('green', ['get', 'jobs', '--namespace', 'web', '--output', 'name'])).toBe('');
  }, 240_000);

  it('helm: a second apply changes nothing; diff mode reports a change and changes nothing', async () => {
    const values = join(dir, 'green-values.yaml');
    const again = await sync({
      cluster: 'prod-green',
      chart: CHART,
      release: 'web',
      namespace: 'web',
      values,
      'rollout-file': rolloutFile,
      as: 'green',
    });
    expect(again.exitCode, again.stdout).toBe(0);
    expect(again.outputs.changed).toBe('false');
    expect(again.stdout).toContain('nothing to change; not upgraded');

    const v2 = join(dir, 'green-v2.yaml');
    writeFileSync(v2, 'version: v2\nsecret: { token: another-s3cr3t }\n');
    const diff = await sync({
      cluster: 'prod-green',
      chart: CHART,
      release: 'web',
      namespace: 'web',
      values: v2,
      mode: 'diff',
      'rollout-file': rolloutFile,
      as: 'green',
    });
    expect(diff.exitCode, diff.stdout).toBe(0);
    expect(diff.outputs.changed).toBe('true');
    const text = readFileSync(diff.outputs.diff as string, 'utf8');
    expect(text).toContain('demo-app:v2');
    expect(text).not.toContain('another-s3cr3t');
    expect(diff.stdout).not.toContain('another-s3cr3t');
    // The CronJob stays suspended in the diff too: the post-renderer ran for it.
    expect(text).not.toMatch(/[-+]\s+suspend/);
    const image = await k('green', [
      'get',
      'deployment',
      'web',
      '--namespace',
      'web',
      '--output',
      'jsonpath={.spec.template.spec.containers[0].image}',
    ]);
    expect(image).toBe('eks-cluster-canary/demo-app:v1');
  }, 120_000);

  it('helm: a version that never becomes ready is reported naming the Deployment, and helm rolls back', async () => {
    const bad = join(dir, 'green-bad.yaml');
    writeFileSync(bad, 'version: v3\nargs: [--unhealthy]\n');
    const r = await sync({
      cluster: 'prod-green',
      chart: CHART,
      release: 'web',
      namespace: 'web',
      values: bad,
      timeout: '25s',
      'rollout-file': rolloutFile,
      as: 'green',
    });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('Deployment web/web');
    expect(r.stdout).toMatch(/helm rolled back/);
    const image = await k('green', [
      'get',
      'deployment',
      'web',
      '--namespace',
      'web',
      '--output',
      'jsonpath={.spec.template.spec.containers[0].image}',
    ]);
    expect(image).toBe('eks-cluster-canary/demo-app:v1');
  }, 120_000);

  it('helmfile on blue (the owner): the chart as written, and its CronJob runs', async () => {
    const helmfile = join(dir, 'helmfile.yaml');
    writeFileSync(
      helmfile,
      `releases:\n  - name: web\n    namespace: web\n    chart: ${CHART}\n    values:\n      - version: v1\n`,
    );
    const first = await sync({
      cluster: 'prod-blue',
      helmfile,
      'rollout-file': rolloutFile,
      as: 'blue',
    });
    expect(first.exitCode, first.stdout).toBe(0);
    expect(first.outputs.changed).toBe('true');
    expect(first.stdout + first.stderr).not.toContain('s3cr3t-value-never-logged');
    const suspend = await k('blue', [
      'get',
      'cronjob',
      'web-report',
      '--namespace',
      'web',
      '--output',
      'jsonpath={.spec.suspend}',
    ]);
    expect(suspend).toBe('false');
    const again = await sync({
      cluster: 'prod-blue',
      helmfile,
      'rollout-file': rolloutFile,
      as: 'blue',
    });
    expect(again.exitCode, again.stdout).toBe(0);
    expect(again.outputs.changed).toBe('false');
    await waitUntil(
      'a Job of the CronJob on the owner',
      async () =>
        (await k('blue', ['get', 'jobs', '--namespace', 'web', '--output', 'name'])).trim() !== '',
      90_000,
      1_000,
    );
  }, 240_000);

  it('helmfile diff on green changes nothing and says what would change', async () => {
    const helmfile = join(dir, 'helmfile-green.yaml');
    writeFileSync(
      helmfile,
      `releases:\n  - name: web\n    namespace: web\n    chart: ${CHART}\n    values:\n      - version: v4\n`,
    );
    const r = await sync({
      cluster: 'prod-green',
      helmfile,
      mode: 'diff',
      'rollout-file': rolloutFile,
      as: 'green',
    });
    expect(r.exitCode, r.stdout).toBe(0);
    expect(r.outputs.changed).toBe('true');
    expect(readFileSync(r.outputs.diff as string, 'utf8')).toContain('demo-app:v4');
    const image = await k('green', [
      'get',
      'deployment',
      'web',
      '--namespace',
      'web',
      '--output',
      'jsonpath={.spec.template.spec.containers[0].image}',
    ]);
    expect(image).toBe('eks-cluster-canary/demo-app:v1');
  }, 120_000);

  it('helmfile off the owner refuses a release with its own postRenderer (helmfile would skip ours)', async () => {
    const helmfile = join(dir, 'helmfile-own-renderer.yaml');
    writeFileSync(
      helmfile,
      `releases:\n  - name: web\n    namespace: web\n    chart: ${CHART}\n    postRenderer: /bin/cat\n`,
    );
    const r = await sync({
      cluster: 'prod-green',
      helmfile,
      'rollout-file': rolloutFile,
      as: 'green',
    });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('release web (/bin/cat) has its own postRenderer');
  }, 60_000);

  it('kubectl manifests on green: CronJob suspended and singleton at 0 replicas from the first write; a second apply is a no-op', async () => {
    const manifests = resolve('test/fixtures/sync-apps/manifests');
    const r = await sync({
      cluster: 'prod-green',
      manifests,
      'rollout-file': rolloutFile,
      as: 'green',
    });
    expect(r.exitCode, r.stdout).toBe(0);
    expect(r.outputs.changed).toBe('true');
    expect(
      await k('green', [
        'get',
        'cronjob',
        'plain-report',
        '--namespace',
        'plain',
        '--output',
        'jsonpath={.spec.suspend}',
      ]),
    ).toBe('true');
    expect(
      await k('green', [
        'get',
        'deployment',
        'leader',
        '--namespace',
        'plain',
        '--output',
        'jsonpath={.spec.replicas}',
      ]),
    ).toBe('0');
    const managers = await k('green', [
      'get',
      'cronjob',
      'plain-report',
      '--namespace',
      'plain',
      '--show-managed-fields',
      '--output',
      'jsonpath={.metadata.managedFields[*].manager}',
    ]);
    expect(managers).toContain('eks-cluster-canary');
    const again = await sync({
      cluster: 'prod-green',
      manifests,
      'rollout-file': rolloutFile,
      as: 'green',
    });
    expect(again.exitCode, again.stdout).toBe(0);
    expect(again.outputs.changed).toBe('false');
  }, 120_000);

  it('a workload that is not available after the binding was applied: the error says the binding is left, the weight, and how to remove it', async () => {
    // kubectl applies and returns at once; the binding is applied before the workload wait.
    const manifests = join(dir, 'late.yaml');
    writeFileSync(
      manifests,
      `apiVersion: v1
kind: Namespace
metadata: { name: late }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: late, namespace: late }
spec:
  replicas: 1
  selector: { matchLabels: { app: late } }
  template:
    metadata: { labels: { app: late } }
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: app
          image: eks-cluster-canary/demo-app:late
          ports: [{ name: http, containerPort: 8080 }]
          readinessProbe:
            httpGet: { path: /healthz, port: http }
            initialDelaySeconds: 300
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: late }
spec:
  selector: { app: late }
  ports: [{ port: 80, targetPort: http }]
`,
    );
    const lateFile = join(dir, 'late-rollout.yaml');
    writeFileSync(
      lateFile,
      readFileSync(rolloutFile, 'utf8')
        .replace('name: web\n', 'name: late\n')
        .replace(
          'service: { namespace: web, name: web, port: 80 }',
          'service: { namespace: late, name: web, port: 80 }',
        )
        .replace('weights: { blue: 0, green: 100 }', 'weights: { blue: 100, green: 0 }'),
    );
    const r = await sync({
      cluster: 'prod-green',
      manifests,
      'rollout-file': lateFile,
      as: 'green',
      timeout: '15s',
    });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('Deployment late/late');
    expect(r.stdout).toContain(
      `TargetGroupBinding late/late-green was applied before this failure and is left in place: it registers only ready pods of Service late/web in ${targetGroups.green}, which gets traffic only by the rollout file's weights (this cluster's is 0, so nothing reaches them). To remove it: kubectl delete targetgroupbinding late-green -n late`,
    );
    expect(
      await k('green', [
        'get',
        'targetgroupbinding',
        'late-green',
        '--namespace',
        'late',
        '--output',
        'jsonpath={.spec.targetGroupARN}',
      ]),
    ).toBe(targetGroups.green);
    await k('green', ['delete', 'namespace', 'late', '--wait=false']);
    await k('green', ['delete', 'targetgroupbinding', 'late-green', '--namespace', 'late']).catch(
      () => '',
    );
  }, 120_000);

  it('refuses to bind a target group the rollout file gives to another cluster', async () => {
    await kubectl(
      sandbox,
      kubeconfigs.green as string,
      ['apply', '--filename', '-'],
      JSON.stringify({
        apiVersion: 'elbv2.k8s.aws/v1beta1',
        kind: 'TargetGroupBinding',
        metadata: { name: 'stray', namespace: 'web' },
        spec: {
          serviceRef: { name: 'web', port: 80 },
          targetGroupARN: targetGroups.blue,
          targetType: 'ip',
        },
      }),
    );
    const values = join(dir, 'green-values.yaml');
    const r = await sync({
      cluster: 'prod-green',
      chart: CHART,
      release: 'web',
      namespace: 'web',
      values,
      'rollout-file': rolloutFile,
      as: 'green',
    });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(
      'TargetGroupBinding web/stray in this cluster binds the target group of cluster "blue"',
    );
    await k('green', ['delete', 'targetgroupbinding', 'stray', '--namespace', 'web']);
  }, 120_000);

  it('a token that expires during a long helm wait is refreshed by the exec plugin', async () => {
    // A plugin whose tokens the cluster accepts for 6 s, and a release that needs ~20 s to be ready.
    const plugin = join(dir, 'short-token.mjs');
    await build({
      entryPoints: [resolve('test/fixtures/sync-apps/short-token.ts')],
      outfile: plugin,
      bundle: true,
      platform: 'node',
      format: 'esm',
      logLevel: 'warning',
    });
    const green = parse(readFileSync(kubeconfigs.green as string, 'utf8')) as {
      users: { user: { exec: { command: string; args: string[] } } }[];
    };
    const exec = (green.users[0] as { user: { exec: { command: string; args: string[] } } }).user
      .exec;
    exec.command = process.execPath;
    exec.args = [plugin, '--cluster', 'prod-green', '--region', sandbox.region];
    const kubeconfig = join(dir, 'short-token.kubeconfig');
    writeFileSync(kubeconfig, stringify(green));
    const log = join(dir, 'short-token.log');
    writeFileSync(log, '');
    const values = join(dir, 'slow.yaml');
    writeFileSync(
      values,
      'version: slow\nreplicas: 1\ncronJob: { enabled: false }\nreadiness: { initialDelaySeconds: 20 }\n',
    );
    const r = await sync(
      { kubeconfig, chart: CHART, release: 'slow', namespace: 'slow', values, timeout: '2m' },
      { SHORT_TOKEN_LOG: log, SHORT_TOKEN_SECONDS: '6' },
    );
    expect(r.exitCode, r.stdout).toBe(0);
    const pids = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    const perProcess = new Map<string, number>();
    for (const pid of pids) perProcess.set(pid, (perProcess.get(pid) ?? 0) + 1);
    // helm upgrade --wait ran for 20 s on one client: it minted again when its token expired.
    expect(Math.max(...perProcess.values())).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it('a cancelled sync stops helm and everything it started, and says what state was left', async () => {
    const t = tools as KubeTools;
    const values = join(dir, 'cancel.yaml');
    writeFileSync(
      values,
      'version: cancel\nreplicas: 1\ncronJob: { enabled: false }\nreadiness: { initialDelaySeconds: 60 }\n',
    );
    const started = startAction(
      'sync-apps',
      {
        cluster: 'prod-green',
        chart: CHART,
        release: 'cancelme',
        namespace: 'cancel',
        values,
        timeout: '3m',
      },
      {
        ...t.env({ PATH: process.env.PATH, HOME: process.env.HOME }),
        ...sandbox.env,
        RUNNER_TEMP: dir,
        HELM_CACHE_HOME: join(dir, 'helm-cache'),
        HELM_CONFIG_HOME: join(dir, 'helm-config'),
        HELM_DATA_HOME: join(dir, 'helm-data'),
      },
    );
    const running = (...parts: string[]) =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ');
            return parts.every((part) => cmd.includes(part));
          } catch {
            return false;
          }
        });
    const helmUpgrades = () => running('upgrade --install cancelme');
    // sync-apps' own kubectl proxy for this run (its kubeconfig is in this test's RUNNER_TEMP).
    const proxies = () => running(`--kubeconfig ${dir}`, 'proxy --unix-socket');
    await waitUntil('helm upgrade running', async () => helmUpgrades().length > 0, 60_000, 200);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(proxies()).toHaveLength(1);
    started.child.kill('SIGINT');
    const r = await started.done;
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('Cancelled (received SIGINT)');
    expect(r.stdout).toContain(
      'release cancelme in cancel may be left pending-upgrade or pending-install',
    );
    await waitUntil('helm gone', async () => helmUpgrades().length === 0, 10_000, 200);
    // The action waited for its proxy to stop before it exited.
    expect(proxies()).toEqual([]);
  }, 120_000);

  it('a missing tool is a clear error saying what to install', async () => {
    const r = await sync(
      { cluster: 'prod-green', helmfile: 'helmfile.yaml' },
      { PATH: '/usr/bin:/bin' },
    );
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('helmfile was not found on PATH: install helmfile before this step');
  }, 60_000);

  it('helmfile without the helm-diff plugin is a clear error saying how to install it', async () => {
    const r = await sync(
      { cluster: 'prod-green', helmfile: join(dir, 'helmfile.yaml') },
      { HELM_PLUGINS: join(dir, 'no-plugins') },
    );
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(
      'helmfile needs the helm-diff plugin, which helm does not have: install the helm-diff plugin before this step: helm plugin install https://github.com/databus23/helm-diff',
    );
  }, 60_000);
});
