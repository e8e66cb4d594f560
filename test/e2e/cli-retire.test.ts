/**
 * The CLI bundle's `retire` against a sandbox whose EKS clusters run real Kubernetes, with the
 * fixtures of the action's e2e test (retire-fixture.ts): blue runs the demo app bound to its
 * target group by a TargetGroupBinding and a CronJob; green has the traffic. Bad flags exit 2;
 * the gate refuses with every reason (exit 3) changing nothing; a dry run deletes nothing
 * (--json); Ctrl-C while the targets drain says what is left (exit 130); the next run retires
 * blue (binding and targets gone, DescribeCluster ResourceNotFound), and one more has nothing to
 * do. Needs `npm run bundle`.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../sandbox/index.js';
import {
  clusterAlb,
  createCluster,
  eksClient,
  kubeconfigFile,
  kubectl,
  skipReason,
  startKubeSandbox,
  waitUntil,
} from '../sandbox/kube-fixture.js';
import { CLI_BUNDLE, runCli, type CliOptions, type CliRun } from './cli-harness.js';
import { retireApps, webRolloutFile } from './retire-fixture.js';

const EKS_NAME = 'prod-blue';
const WEB = 'rollouts/web.yaml';

describe.skipIf(skipReason !== undefined)(`CLI retire ${skipReason ?? ''}`, () => {
  let sandbox: Sandbox;
  let eks: EKSClient;
  let elbv2: ElasticLoadBalancingV2Client;
  let dir: string;
  let kubeconfig: string;
  let listenerArn: string;
  let tgs: Record<string, string>;

  const cli = (args: string[], onStart?: CliOptions['onStart']): Promise<CliRun> =>
    runCli(args, { cwd: dir, env: sandbox.env, ...(onStart ? { onStart } : {}) });
  /** The usual flags: blue, polled fast enough for a test. */
  const retire = (extra: string[] = [], onStart?: CliOptions['onStart']): Promise<CliRun> =>
    cli(
      ['retire', WEB, '--as', 'blue', '--poll-interval', '200ms', '--timeout', '2m', ...extra],
      onStart,
    );
  const writeFile = (path: string, text: string): void => writeFileSync(join(dir, path), text);
  const web = (owner: string): string =>
    webRolloutFile({
      region: sandbox.region,
      eks: EKS_NAME,
      targetGroups: tgs,
      listenerArn,
      owner,
    });
  const setLive = (blue: number): Promise<unknown> =>
    elbv2.send(
      new ModifyListenerCommand({
        ListenerArn: listenerArn,
        DefaultActions: [
          {
            Type: 'forward',
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: tgs.blue, Weight: blue },
                { TargetGroupArn: tgs.green, Weight: 100 - blue },
              ],
            },
          },
        ],
      }),
    );
  const targetsOfBlue = async (): Promise<string[]> =>
    (
      (await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgs.blue })))
        .TargetHealthDescriptions ?? []
    ).map((d) => `${d.Target?.Id}:${d.Target?.Port} ${d.TargetHealth?.State}`);
  const bindings = (): Promise<string> =>
    kubectl(sandbox, kubeconfig, [
      'get',
      'targetgroupbindings.elbv2.k8s.aws',
      '--all-namespaces',
      '-o',
      'name',
    ]);
  const writeCalls = (): string[] =>
    Object.keys(sandbox.core.callCounts())
      .filter((k) => /:(Create|Update|Delete|Modify|Register|Deregister)/.test(k))
      .sort();

  beforeAll(async () => {
    if (!existsSync(CLI_BUNDLE)) throw new Error(`${CLI_BUNDLE} is missing: run "npm run bundle".`);
    // Health checks and the deregistration delay (300 s) at 1/50: targets drain in 6 s.
    sandbox = await startKubeSandbox({ healthCheckTimeScale: 0.02 });
    eks = eksClient(sandbox);
    elbv2 = new ElasticLoadBalancingV2Client({
      endpoint: sandbox.endpoint,
      region: sandbox.region,
      credentials: {
        accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
        secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
      },
    });
    await createCluster(sandbox, eks, EKS_NAME);
    kubeconfig = await kubeconfigFile(sandbox, EKS_NAME);
    const alb = await clusterAlb(sandbox, 'web', { blue: 0, green: 100 });
    tgs = alb.targetGroups;
    listenerArn = alb.listenerArn;
    dir = mkdtempSync(join(tmpdir(), 'ecc-cli-retire-'));
    mkdirSync(join(dir, 'rollouts'));
    await kubectl(sandbox, kubeconfig, ['apply', '-f', '-'], retireApps(tgs.blue as string, false));
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
      async () => (await targetsOfBlue()).filter((t) => t.endsWith(' healthy')).length === 2,
      60_000,
      500,
    );
  }, 180_000);

  afterAll(async () => {
    elbv2?.destroy();
    eks?.destroy();
    await sandbox?.close();
  }, 60_000);

  it('bad usage exits 2 naming the flag or the file, before any AWS call', async () => {
    writeFile(WEB, web('green'));
    writeFile('rollouts/other.yaml', web('green').replace(`eks: ${EKS_NAME}`, 'eks: prod-other'));
    sandbox.core.resetCalls();
    const cases: [string[], string][] = [
      [['retire', '--as', 'blue'], 'retire needs the rollout files that name the cluster'],
      [['retire', WEB], 'retire needs --as <cluster>'],
      [
        ['retire', WEB, '--as', 'red'],
        `--as is "red", which is not a cluster of ${WEB}; its clusters are blue, green.`,
      ],
      [
        ['retire', WEB, 'rollouts/other.yaml', '--as', 'blue'],
        `${WEB} says blue is EKS cluster ${EKS_NAME}, rollouts/other.yaml says prod-other: give the files of one EKS cluster per run.`,
      ],
      [
        ['retire', WEB, '--as', 'blue', '--timeout', '1m', '--poll-interval', '2m'],
        '--poll-interval must be shorter than --timeout.',
      ],
      [['retire', WEB, '--as', 'blue', '--timeout', 'soon'], '--timeout must be a duration'],
      [
        ['retire', 'rollouts/missing.yaml', '--as', 'blue'],
        'rollouts/missing.yaml" does not exist',
      ],
      [['retire', WEB, '--as', 'blue', '--force'], "Unknown option '--force'"],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    // The sandbox's binding controller polls target health by itself; the CLI called nothing.
    expect(
      Object.keys(sandbox.core.callCounts()).filter((c) => !c.endsWith(':DescribeTargetHealth')),
    ).toEqual([]);

    const help = await cli(['retire', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^eks-cluster-canary retire <files\.\.\.> --as <cluster> /);
    expect(help.stdout).toContain('refuses with every reason and changes nothing (exit');
  }, 60_000);

  it('refuses a weight in the file and on the ALB, the owner and a live CronJob at once: exit 3, nothing changed', async () => {
    writeFile(
      WEB,
      web('blue').replace('weights: { blue: 0, green: 100 }', 'weights: { blue: 10, green: 90 }'),
    );
    await setLive(10);
    sandbox.core.resetCalls();
    const r = await retire();
    expect(r.code, r.stderr).toBe(3);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`retire blue (${EKS_NAME}): refused, nothing changed`);
    const refused = lines.filter((l) => l.startsWith('  refused: '));
    expect(refused).toHaveLength(4);
    expect(refused[0]).toMatch(new RegExp(`^  refused: ${WEB}:\\d+:\\d+: blue is the owner`));
    expect(refused[1]).toMatch(
      new RegExp(`^  refused: ${WEB}:\\d+:\\d+: the rollout file gives blue weight 10\\.`),
    );
    expect(r.stdout).toContain(
      `The ALB still sends blue traffic: listener ${listenerArn} forwards with weight 10 to web-blue (live: blue 10 / green 90)`,
    );
    expect(r.stdout).toContain(
      'The singleton handoff is not done on blue: CronJob jobs/notify on blue is not suspended',
    );
    // Progress and the reasons as warnings on stderr, the result on stdout.
    expect(r.stderr).toContain('warning: ');
    expect(r.stderr).toContain('delete  target-group-binding web/web-blue');
    expect(writeCalls()).toEqual([]);
    expect(await bindings()).toContain('targetgroupbinding.elbv2.k8s.aws/web-blue');
    expect((await targetsOfBlue()).filter((t) => t.endsWith(' healthy'))).toHaveLength(2);

    // The migration's last PRs: blue's weight 0 applied, the owner moved and the CronJob stopped.
    writeFile(WEB, web('green'));
    await setLive(0);
    await kubectl(sandbox, kubeconfig, ['apply', '-f', '-'], retireApps(tgs.blue as string, true));
  }, 60_000);

  it('--dry-run --json: the plan, every deletion, and nothing deleted', async () => {
    sandbox.core.resetCalls();
    const r = await retire(['--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Record<string, unknown> & {
      plan: { resource: string; name: string; action: string; state: string }[];
    };
    expect(report).toMatchObject({
      command: 'retire-cluster',
      cluster: 'blue',
      eksName: EKS_NAME,
      region: sandbox.region,
      targetGroups: [tgs.blue],
      dryRun: true,
      status: 'planned',
      refusals: [],
      steps: [],
      notes: [],
    });
    expect(Object.keys(report)).toEqual([
      'command',
      'cluster',
      'eksName',
      'region',
      'targetGroups',
      'dryRun',
      'status',
      'refusals',
      'plan',
      'steps',
      'notes',
      'startedAt',
      'endedAt',
    ]);
    expect(Date.parse(report.startedAt as string)).toBeLessThanOrEqual(
      Date.parse(report.endedAt as string),
    );
    expect(report.plan.map((p) => `${p.resource} ${p.name}: ${p.action}`)).toEqual([
      'target-group-binding web/web-blue: delete',
      'targets web-blue: wait',
      `cluster ${EKS_NAME}: delete`,
      expect.stringMatching(/^oidc-provider https:\/\/.*: gone$/),
    ]);
    expect(report.plan[1]?.state).toBe(
      '2 registered from blue (2 healthy); deregistered by the controller',
    );
    expect(writeCalls()).toEqual([]);
    expect(await bindings()).toContain('targetgroupbinding.elbv2.k8s.aws/web-blue');
  }, 60_000);

  it('Ctrl-C while the targets drain says what is left (exit 130); the next run retires blue; then nothing to do', async () => {
    const cancelled = await retire([], (kill, err) => {
      const wait = setInterval(() => {
        if (err().includes('✓ delete TargetGroupBinding web/web-blue')) {
          clearInterval(wait);
          kill('SIGINT');
        }
      }, 50);
    });
    expect(cancelled.code, cancelled.stderr).toBe(130);
    expect(cancelled.stderr).toContain(
      'Received SIGINT: stopping the waits and reporting what is left.',
    );
    const out = cancelled.stdout.split('\n');
    expect(out[0]).toBe(`retire blue (${EKS_NAME}): stopped`);
    expect(out[2]).toMatch(
      /^ {2}Stopped \(received SIGINT\)\. Done: delete TargetGroupBinding web\/web-blue\. Still there: .*Run again to continue from here\.$/,
    );
    expect(cancelled.stdout).toContain('  done: delete TargetGroupBinding web/web-blue (');
    expect(cancelled.stdout).toMatch(/\n {2}left:\n/);
    expect(cancelled.stdout).toMatch(/\n {4}wait {4}targets web-blue: 2 registered from blue \(/);
    expect(cancelled.stdout).toContain(`\n    delete  cluster ${EKS_NAME}: ACTIVE`);
    // The controller finishes the binding's deletion (its finalizer) after the run stopped.
    await waitUntil(
      'the controller to finalize the binding',
      async () => (await bindings()) === '',
    );
    expect((await eks.send(new DescribeClusterCommand({ name: EKS_NAME }))).cluster?.status).toBe(
      'ACTIVE',
    );

    // Out of time while the targets drain: what is left, exit 1 (not an interrupt).
    const late = await retire(['--timeout', '1s']);
    expect(late.code, late.stderr).toBe(1);
    expect(late.stdout.split('\n')[0]).toMatch(
      new RegExp(`^retire blue \\(${EKS_NAME}\\): (failed|stopped)$`),
    );
    expect(late.stdout).toMatch(
      /Timed out waiting for targets of blue to leave web-blue|Stopped \(timed out after 1s\)/,
    );
    expect(late.stdout).toContain(`\n    delete  cluster ${EKS_NAME}: ACTIVE`);

    const run = await retire();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^retire blue \\(${EKS_NAME}\\): retired in \\d`));
    expect(run.stdout).toContain('  done: targets of blue deregistered from web-blue (');
    expect(run.stdout).toContain(`  done: delete cluster ${EKS_NAME} (`);
    expect(run.stdout).toContain(`  done: cluster ${EKS_NAME} deleted (`);
    // Progress on stderr, in order.
    const order = [
      '✓ targets of blue deregistered from web-blue',
      `✓ delete cluster ${EKS_NAME}`,
      `✓ cluster ${EKS_NAME} deleted`,
    ].map((line) => run.stderr.indexOf(line));
    expect(
      order.every((i) => i >= 0),
      run.stderr,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(await targetsOfBlue()).toEqual([]);
    await expect(eks.send(new DescribeClusterCommand({ name: EKS_NAME }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });

    const again = await retire(['--json']);
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as {
      status: string;
      left?: unknown;
      steps: unknown[];
      plan: { resource: string; action: string }[];
    };
    expect(report.status).toBe('retired');
    expect(report.left).toBeUndefined();
    expect(report.steps).toEqual([]);
    expect(report.plan.find((p) => p.resource === 'cluster')?.action).toBe('gone');
    expect(again.stderr).toContain(`blue (${EKS_NAME}) is retired already: nothing to do.`);
  }, 120_000);
});
