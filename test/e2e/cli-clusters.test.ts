/**
 * The CLI bundle's cluster commands against one sandbox whose EKS clusters run real Kubernetes,
 * in a throwaway git repository: `create-cluster` makes green (then changes nothing), `token` is
 * the exec plugin of the kubeconfig it writes (kubectl works with it), `sync` puts the demo chart
 * on green and binds its target group, `status` shows the CronJob per cluster, and `handoff`
 * moves it from blue to green (Ctrl-C while it drains hands it back). Needs `npm run bundle`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { EKSClient } from '@aws-sdk/client-eks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../sandbox/index.js';
import type { KubeTools } from '../../sandbox/kube/tools.js';
import { parseRolloutFile } from '../../src/rollout-file/index.js';
import { sandboxClusterConfig } from '../eks/sandbox-config.js';
import {
  clusterAlb,
  createCluster,
  eksClient,
  jobsCronJob,
  kubeconfigFile,
  kubectl,
  skipReason,
  startKubeSandbox,
  tools,
} from '../sandbox/kube-fixture.js';
import { CLI_BUNDLE, runCli, type CliOptions, type CliRun } from './cli-harness.js';

const CHART = resolve('sandbox/charts/demo-app');
const PATH = 'rollouts/web.yaml';

describe.skipIf(skipReason !== undefined)(`CLI cluster commands ${skipReason ?? ''}`, () => {
  let sandbox: Sandbox;
  let eks: EKSClient;
  let dir: string;
  let env: Record<string, string | undefined>;
  let listenerUrl: string;
  const kubeconfigs: Record<string, string> = {};

  const cli = (args: string[], onStart?: CliOptions['onStart']): Promise<CliRun> =>
    runCli(args, { cwd: dir, env, ...(onStart ? { onStart } : {}) });
  const git = (...args: string[]): string =>
    execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], {
      cwd: dir,
      encoding: 'utf8',
    });
  const k = (cluster: string, args: string[], input?: string): Promise<string> =>
    kubectl(sandbox, kubeconfigs[cluster] as string, args, input);
  const suspendOf = (cluster: string): Promise<string> =>
    k(cluster, ['get', 'cronjob', 'notify', '-n', 'jobs', '-o', 'jsonpath={.spec.suspend}']);

  beforeAll(async () => {
    if (!existsSync(CLI_BUNDLE)) throw new Error(`${CLI_BUNDLE} is missing: run "npm run bundle".`);
    sandbox = await startKubeSandbox();
    eks = eksClient(sandbox);
    // Blue exists already; green is made by the CLI's create-cluster below.
    await createCluster(sandbox, eks, 'prod-blue');
    kubeconfigs.blue = await kubeconfigFile(sandbox, 'prod-blue');
    dir = mkdtempSync(join(tmpdir(), 'ecc-cli-clusters-'));
    env = {
      ...(tools as KubeTools).env({ PATH: process.env.PATH, HOME: process.env.HOME }),
      ...sandbox.env,
      HELM_CACHE_HOME: join(dir, '.helm-cache'),
      HELM_CONFIG_HOME: join(dir, '.helm-config'),
      HELM_DATA_HOME: join(dir, '.helm-data'),
    };
    const alb = await clusterAlb(sandbox, 'cli', { blue: 0, green: 100 });
    listenerUrl = alb.listenerUrl;
    mkdirSync(join(dir, 'rollouts'));
    const file = (eksOf: Record<string, string>): string => `version: 1
name: web
region: ${sandbox.region}
clusters:
  blue:
    eks: ${eksOf.blue}
    targetGroup: ${alb.targetGroups.blue}
    service: { namespace: web, name: web, port: 80 }
  green:
    eks: ${eksOf.green}
    targetGroup: ${alb.targetGroups.green}
    service: { namespace: web, name: web, port: 80 }
routes:
  - listener: ${alb.listenerArn}
weights: { blue: 0, green: 100 }
canary: green
steps: [10, 50, 100]
owner: blue
singletons:
  namespaces: [jobs]
analysis:
  warmup: 0s
  interval: 1s
  duration: 1s
  checks:
    - targetHealth: { minHealthy: 1 }
`;
    writeFileSync(join(dir, PATH), file({ blue: 'prod-blue', green: 'prod-green' }));
    // A second file whose blue is an EKS cluster that does not exist: status must still show green.
    writeFileSync(
      join(dir, 'rollouts/gone.yaml'),
      file({ blue: 'prod-gone', green: 'prod-green' }),
    );
    writeFileSync(join(dir, 'green.yaml'), sandboxClusterConfig({ name: 'prod-green' }));
    writeFileSync(join(dir, 'values.yaml'), 'cronJob: { enabled: false }\n');
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'rollout files and the ClusterConfig');
  }, 120_000);
  afterAll(async () => {
    eks?.destroy();
    await sandbox?.close();
  }, 60_000);

  it('bad usage exits 2 naming the flag and what to do', async () => {
    const cases: [string[], string][] = [
      [['handoff', PATH], 'handoff needs --owner <cluster>'],
      [['handoff', PATH, '--owner', 'red'], '--owner is "red", which is not a cluster of'],
      [['create-cluster'], 'create-cluster takes one eksctl ClusterConfig file'],
      [['create-cluster', 'green.yaml', '--timeout', 'soon'], '--timeout must be a duration'],
      [['sync', 'prod-green', '--chart', CHART], '--chart needs --release and --namespace too.'],
      [['sync', 'prod-green'], 'Say what to deploy: --helmfile <file>'],
      [
        ['sync', '--chart', CHART, '--release', 'web', '--namespace', 'web'],
        'sync needs the cluster',
      ],
      [['sync', 'prod-green', '--manifests', '.', '--as', 'green'], '--as needs --rollout-file'],
      [['token'], 'token needs the EKS cluster name'],
      [['token', 'a', '--frobnicate'], "Unknown option '--frobnicate'"],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('create-cluster: an invalid config is refused at file:line:col; a dry run changes nothing; then it creates green, and again changes nothing', async () => {
    writeFileSync(
      join(dir, 'bad.yaml'),
      sandboxClusterConfig({ name: 'prod-bad' }).replace('version: "1.33"', 'version: 1.30'),
    );
    sandbox.core.resetCalls();
    const bad = await cli(['create-cluster', 'bad.yaml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bad.yaml:6:12: metadata.version is the number 1.3 to YAML');
    expect(sandbox.core.callCounts()).toEqual({});

    const writes = (): string[] =>
      Object.keys(sandbox.core.callCounts()).filter((c) => /:(Create|Update|Associate)/.test(c));
    const kubeconfig = join(dir, 'green.kubeconfig');
    const args = ['create-cluster', 'green.yaml', '--poll-interval', '200ms', '--timeout', '2m'];
    const dry = await cli([...args, '--dry-run', '--json', '--kubeconfig', kubeconfig]);
    expect(dry.code, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout) as {
      result: string;
      changed: boolean;
      plan: { resource: string; action: string }[];
    };
    expect(planned.result).toBe('planned');
    expect(planned.plan[0]).toMatchObject({ resource: 'cluster', action: 'create' });
    expect(writes()).toEqual([]);
    expect(existsSync(kubeconfig)).toBe(false);

    const made = await cli([...args, '--kubeconfig', kubeconfig]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^create-cluster prod-green: done in /);
    expect(made.stdout).toContain('create: cluster prod-green');
    expect(made.stdout).toContain(`kubeconfig: ${kubeconfig}`);
    expect(made.stderr).toContain('create cluster prod-green');
    kubeconfigs.green = kubeconfig;

    sandbox.core.resetCalls();
    const again = await cli([...args, '--kubeconfig', kubeconfig, '--json']);
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as {
      result: string;
      changed: boolean;
      outputs: { status: string; endpoint: string };
      kubeconfig: string;
    };
    expect(report).toMatchObject({ result: 'unchanged', changed: false, kubeconfig });
    expect(report.outputs.status).toBe('ACTIVE');
    expect(writes()).toEqual([]);
  }, 180_000);

  it('token prints an ExecCredential, and the kubeconfig create-cluster wrote runs it for kubectl', async () => {
    const r = await cli(['token', 'prod-green', '--region', sandbox.region]);
    expect(r.code, r.stderr).toBe(0);
    const cred = JSON.parse(r.stdout) as {
      kind: string;
      apiVersion: string;
      status: { token: string; expirationTimestamp: string };
    };
    expect(cred.kind).toBe('ExecCredential');
    expect(cred.apiVersion).toBe('client.authentication.k8s.io/v1beta1');
    expect(cred.status.token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    expect(Date.parse(cred.status.expirationTimestamp)).toBeGreaterThan(Date.now());

    // The user of that kubeconfig is this bundle's token command: valid beyond this process.
    const config = readFileSync(kubeconfigs.green as string, 'utf8');
    expect(config).toContain(CLI_BUNDLE);
    expect(config).toMatch(/- token\n\s+- --cluster\n\s+- prod-green/);
    expect((await k('green', ['get', 'namespace', 'default', '-o', 'name'])).trim()).toBe(
      'namespace/default',
    );
  }, 60_000);

  it('sync puts the demo chart on green and binds its target group: the ALB reaches the pods', async () => {
    const r = await cli([
      'sync',
      'prod-green',
      '--chart',
      CHART,
      '--release',
      'web',
      '--namespace',
      'web',
      '--values',
      'values.yaml',
      '--rollout-file',
      PATH,
      '--as',
      'green',
      '--timeout',
      '3m',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).not.toContain('s3cr3t-value-never-logged');
    const report = JSON.parse(r.stdout) as {
      tool: string;
      owner: boolean;
      changed: boolean;
      resources: { kind: string; status: string }[];
      binding: { targetGroupArn: string; healthyHere: number; applied: boolean };
    };
    expect(report).toMatchObject({ tool: 'helm', owner: false, changed: true });
    expect(report.resources.find((x) => x.kind === 'Deployment')?.status).toMatch(/^available/);
    expect(report.binding.healthyHere).toBeGreaterThanOrEqual(2);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => fetch(listenerUrl).then((a) => a.status)),
    );
    expect(answers).toEqual([200, 200, 200, 200, 200]);

    const diff = await cli([
      'sync',
      'prod-green',
      '--chart',
      CHART,
      '--release',
      'web',
      '--namespace',
      'web',
      '--values',
      'values.yaml',
      '--rollout-file',
      PATH,
      '--as',
      'green',
      '--mode',
      'diff',
    ]);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toMatch(/^sync \(diff\) with helm on green: nothing to change/);
  }, 240_000);

  const cronJob = (suspend: boolean): string => jobsCronJob(suspend);

  /** The last step `status --json` shows for the file, from the tags on its routes. */
  async function lastStep(): Promise<Record<string, unknown> | null | undefined> {
    const out = await cli(['status', PATH, '--json']);
    expect(out.code, out.stderr).toBe(0);
    return (JSON.parse(out.stdout) as { lastStep?: Record<string, unknown> | null }[])[0]?.lastStep;
  }

  it('status shows each cluster’s CronJob state and an unreachable cluster without hiding the rest', async () => {
    await k('blue', ['apply', '-f', '-'], cronJob(false));
    await k('green', ['apply', '-f', '-'], cronJob(true));
    const text = await cli(['status']);
    expect(text.code, text.stderr).toBe(0);
    const [gone, web] = text.stdout.split('\n\n');
    expect(web).toContain('singletons on blue (the owner):');
    expect(web).toMatch(
      /singletons on blue \(the owner\):\n {4}CronJob jobs\/notify: active, schedule "0 3 \* \* \*", last schedule never, 0 running Job\(s\)\n/,
    );
    expect(web).toMatch(/singletons on green:\n {4}CronJob jobs\/notify: suspended/);
    expect(gone).toMatch(
      /singletons on blue: UNREACHABLE \(cannot read its apiserver: .*prod-gone/,
    );
    expect(gone).toMatch(/singletons on green:\n {4}CronJob jobs\/notify: suspended/);
    expect(gone).toContain('live blue 0 / green 100');

    const json = await cli(['status', PATH, '--json']);
    const [file] = JSON.parse(json.stdout) as {
      owner: string;
      singletons: { cluster: string; objects: Record<string, unknown>[] }[];
    }[];
    expect(file?.owner).toBe('blue');
    expect(file?.singletons).toEqual([
      {
        cluster: 'blue',
        objects: [
          {
            kind: 'CronJob',
            namespace: 'jobs',
            name: 'notify',
            live: true,
            suspend: false,
            schedule: '0 3 * * *',
            runningJobs: 0,
          },
        ],
      },
      {
        cluster: 'green',
        objects: [
          {
            kind: 'CronJob',
            namespace: 'jobs',
            name: 'notify',
            live: false,
            suspend: true,
            schedule: '0 3 * * *',
            runningJobs: 0,
          },
        ],
      },
    ]);
  }, 60_000);

  it('handoff: Ctrl-C while it drains hands the CronJob back (exit 130); then it moves to green and --write records it; back to blue prints the change', async () => {
    const uid = await k('blue', [
      'get',
      'cronjob',
      'notify',
      '-n',
      'jobs',
      '-o',
      'jsonpath={.metadata.uid}',
    ]);
    await k(
      'blue',
      ['apply', '-f', '-'],
      `apiVersion: batch/v1
kind: Job
metadata:
  name: notify-manual
  namespace: jobs
  ownerReferences: [{ apiVersion: batch/v1, kind: CronJob, name: notify, uid: ${uid}, controller: true }]
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - { name: notify, image: "eks-cluster-canary/demo-app:v1", args: [--duration-ms, "60000"] }
`,
    );
    const cancelled = await cli(['handoff', PATH, '--owner', 'green'], (kill, err) => {
      const wait = setInterval(() => {
        if (err().includes('waiting for Job jobs/notify-manual')) {
          clearInterval(wait);
          kill('SIGINT');
        }
      }, 50);
    });
    expect(cancelled.code, cancelled.stderr).toBe(130);
    expect(cancelled.stderr).toContain(
      'Received SIGINT: handing the CronJobs and singletons back to the old owner first.',
    );
    expect(cancelled.stdout).toContain(`${PATH}: rolled-back.`);
    expect(cancelled.stdout).toContain('every object runs on blue again');
    expect(await suspendOf('blue')).toBe('false');
    expect(await suspendOf('green')).toBe('true');
    expect(git('status', '--porcelain', '--', 'rollouts')).toBe('');
    expect(await lastStep()).toMatchObject({
      op: 'handoff',
      owner: 'green',
      from: 'blue',
      verdict: 'rolled-back',
    });

    await k('blue', ['delete', 'job', 'notify-manual', '-n', 'jobs', '--wait=true']);
    const moved = await cli(['handoff', PATH, '--owner', 'green', '--write', '--json']);
    expect(moved.code, moved.stderr).toBe(0);
    expect(await suspendOf('blue')).toBe('true');
    expect(await suspendOf('green')).toBe('false');
    expect(moved.stderr).toContain(`Wrote ${PATH}: web: owner blue → green (handed over)`);
    expect(parseRolloutFile(readFileSync(join(dir, PATH), 'utf8'), PATH).owner).toBe('green');
    const report = JSON.parse(moved.stdout) as { files: { status: string }[] };
    expect(report.files[0]?.status).toBe('applied');
    expect(await lastStep()).toMatchObject({
      op: 'handoff',
      owner: 'green',
      from: 'blue',
      verdict: 'passed',
      by: expect.stringMatching(/^cli:/),
    });
    git('commit', '-qam', 'web: owner green');

    const back = await cli(['handoff', PATH, '--owner', 'blue']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain(`${PATH}: applied.`);
    expect(back.stderr).toContain(`${PATH} must become (run again with --write to write it):`);
    expect(back.stderr).toMatch(/\nowner: blue\n/);
    expect(await suspendOf('blue')).toBe('false');
    expect(await suspendOf('green')).toBe('true');
    expect(parseRolloutFile(readFileSync(join(dir, PATH), 'utf8'), PATH).owner).toBe('green');

    // HEAD says green while blue runs it now: no owner step to gate; rollback --owner is the way.
    const refused = await cli(['handoff', PATH, '--owner', 'green']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(
      `${PATH} at HEAD already says owner: green, so there is no owner step to run. If CronJobs or singletons still run on another cluster, "rollback ${PATH} --owner green" hands them over without the gate. Nothing was changed.`,
    );
    expect(await suspendOf('blue')).toBe('false');
  }, 180_000);

  // Last: the cluster it leaves runs until the sandbox closes.
  it('create-cluster: Ctrl-C mid-wait says exactly what exists and exits 130', async () => {
    writeFileSync(join(dir, 'cancel.yaml'), sandboxClusterConfig({ name: 'prod-cancel' }));
    const stopped = await cli(
      ['create-cluster', 'cancel.yaml', '--poll-interval', '200ms', '--json'],
      (kill, err) => {
        const wait = setInterval(() => {
          if (err().includes('✓ create cluster prod-cancel')) {
            clearInterval(wait);
            kill('SIGINT');
          }
        }, 50);
      },
    );
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toContain(
      'Received SIGINT: stopping the waits and reporting what exists.',
    );
    const report = JSON.parse(stopped.stdout) as {
      result: string;
      message: string;
      states: { resource: string; name: string; state: string }[];
    };
    expect(report.result).toBe('stopped');
    expect(report.message).toMatch(/^Stopped \(received SIGINT\)\. State now: cluster prod-cancel/);
    expect(report.states[0]).toMatchObject({ resource: 'cluster', name: 'prod-cancel' });
    expect(['CREATING', 'ACTIVE']).toContain(report.states[0]?.state);
  }, 60_000);
});
