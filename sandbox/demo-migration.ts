/**
 * `npm run demo:migration`: the whole migration from an old EKS cluster (blue) to a new one
 * (green) on the local sandbox, with real Kubernetes behind its EKS, every step a pull request
 * on the GitHub stand-in and every action run from its committed bundle as a runner runs it
 * (`node dist/<action>/index.js` with INPUT_*, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY), while a load
 * generator sends 60 requests/s through the sandbox ALB and the app's CronJob sends one push
 * notification a minute to the sandbox's counter.
 *
 * Stages (STAGES below): blue as it runs today; green's cluster (create-cluster); the apps on
 * green (sync-apps); a bad build of green caught at 10% (rollout apply rolls back); the canary
 * 10 → 25 → 50 → 100 (rollout apply, auto-advance); the CronJob handed over (owner: green);
 * blue retired (retire-cluster: its TargetGroupBinding removed, the cluster deleted).
 *
 * Every claim it prints is checked: the plans and their comments, each action's result, the
 * weights read back from the ALB and the split seen by the traffic, no failed request outside
 * the bad-canary stage, exactly one notification per minute slot across both clusters from the
 * CronJob's creation to the end, the CronJob suspended where it must be, the PRs and
 * deployments on the GitHub stand-in. It exits non-zero if any check fails.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { startSandbox, type Sandbox } from './index.js';
import {
  DEMO_ANALYSIS,
  DEMO_TOKEN,
  LoadGenerator,
  PROPAGATION_MS,
  Reporter,
  checkSplit,
  liveWeights,
  mergeAndApply,
  openPullRequest,
  plan,
  pull,
  runBundle,
  show,
  sleep,
  totals,
  type BundleRun,
  type RolloutDemo,
} from './demo-kit.js';
import { startFakeGitHub } from './github/server.js';
import { BUILD_HINT, findKubeTools, missingKubeTools, type KubeTools } from './kube/tools.js';
import { createWebService } from './scenario.js';

type Color = 'blue' | 'green';
const EKS: Record<Color, string> = { blue: 'prod-1-33', green: 'prod-1-34' };
const K8S: Record<Color, string> = { blue: '1.33', green: '1.34' };
const FILES = {
  rollout: 'rollouts/web.yaml',
  cluster: (c: Color): string => `clusters/${c}.yaml`,
  helmfile: 'apps/helmfile.yaml.gotmpl',
};
const CHART = resolve('sandbox/charts/demo-app');
const CRONJOB = 'web-report';
const NAMESPACE = 'web';

const reporter = new Reporter();
const load = new LoadGenerator();
const work = mkdtempSync(join(tmpdir(), 'eks-cluster-canary-migration-'));
const say = (line = ''): void => reporter.say(line);
const bold = (s: string): string => reporter.bold(s);
const at = (): string => `[${reporter.elapsed()}]`;

interface Migration extends RolloutDemo {
  sandbox: Sandbox;
  tools: KubeTools;
  eks: EKSClient;
  /** The kubeconfig create-cluster wrote for each cluster. */
  kubeconfigs: Partial<Record<Color, string>>;
  /** When blue's CronJob was created: the first slot after it must notify, and every one after. */
  cronJobCreatedAt?: number;
  /** The bad-canary stage, when failed requests are expected. */
  badCanary?: { from: number; to: number };
  /** The handoff's apply, start to end: slots before run on blue, after on green. */
  handoff?: { from: number; to: number };
  /** The app build each cluster runs (its `x-app-version` is `<build>@<cluster>`). */
  builds: Record<Color, { build: string; errorRate: string }>;
  owner: Color;
  weights: { blue: number; green: number };
}

// ---- the repository's files -------------------------------------------------------------------

function clusterConfig(c: Color, account: string): string {
  return `# The ${c} cluster: Kubernetes ${K8S[c]}
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: ${EKS[c]}
  region: ap-northeast-1
  version: "${K8S[c]}"
  tags: { team: sre, color: ${c} }
vpc:
  subnets:
    private:
      ap-northeast-1a: { id: subnet-0a000000000000001a }
      ap-northeast-1c: { id: subnet-0a000000000000001c }
iam:
  serviceRoleARN: arn:aws:iam::${account}:role/eks-cluster
  withOIDC: true
addons:
  - name: vpc-cni
  - name: coredns
managedNodeGroups:
  - name: apps
    instanceType: m6i.large
    desiredCapacity: 2
    minSize: 2
    maxSize: 4
    privateNetworking: true
    iam:
      instanceRoleARN: arn:aws:iam::${account}:role/eks-node
`;
}

/** The apps' helmfile: one environment per cluster it deploys to. */
function helmfile(m: Migration, clusters: Color[]): string {
  const envs = clusters.flatMap((c) => [
    `  ${c}:`,
    '    values:',
    `      - build: ${m.builds[c].build}`,
    `        errorRate: "${m.builds[c].errorRate}"`,
  ]);
  return `# The apps, one helmfile environment per cluster: sync-apps runs it with --environment <cluster>.
environments:
${envs.join('\n')}
---
releases:
  - name: web
    namespace: ${NAMESPACE}
    chart: ${CHART}
    values:
      - version: {{ .Values.build }}
        args: [--version, "{{ .Values.build }}@{{ .Environment.Name }}", --error-rate, "{{ .Values.errorRate }}"]
        cronJob:
          notify: ${m.sandbox.endpoint}/_sandbox/notifications
`;
}

function rolloutFile(m: Migration): string {
  return `# web: blue runs Kubernetes ${K8S.blue}, green ${K8S.green}\n${m.web
    .rolloutFile(m.weights, DEMO_ANALYSIS)
    .replace('owner: blue', `owner: ${m.owner}`)}`;
}

/** The files of `ref` on the GitHub stand-in, written out as a checkout would. */
function checkout(m: Migration, ref: string): string {
  const sha = m.github.state.refs[ref] ?? ref;
  const dir = join(work, `checkout-${sha.slice(0, 12)}`);
  const paths = [FILES.rollout, FILES.helmfile, FILES.cluster('blue'), FILES.cluster('green')];
  for (const path of paths) {
    const text = m.github.fileAt(sha, path);
    if (text === undefined) continue;
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

// ---- the actions ------------------------------------------------------------------------------

function createCluster(
  m: Migration,
  c: Color,
  config: string,
  dryRun: boolean,
): Promise<BundleRun> {
  return runBundle(
    work,
    'create-cluster',
    {
      config,
      'dry-run': String(dryRun),
      'poll-interval': '250ms',
      timeout: '2m',
      kubeconfig: join(work, `${c}.kubeconfig`),
    },
    m.aws,
  );
}

function syncApps(m: Migration, c: Color, dir: string, mode: 'apply' | 'diff'): Promise<BundleRun> {
  return runBundle(
    work,
    'sync-apps',
    {
      cluster: EKS[c],
      helmfile: join(dir, FILES.helmfile),
      environment: c,
      'rollout-file': join(dir, FILES.rollout),
      as: c,
      mode,
      timeout: '3m',
    },
    {
      ...m.tools.env({ PATH: process.env.PATH, HOME: process.env.HOME }),
      ...m.aws,
      HELM_CACHE_HOME: join(work, 'helm-cache'),
      HELM_CONFIG_HOME: join(work, 'helm-config'),
      HELM_DATA_HOME: join(work, 'helm-data'),
    },
  );
}

const SYNC_LINES =
  /owns the singletons|is not the owner|^helmfile (apply|diff):|^(Deployment|CronJob) |Would bind|TargetGroupBinding|healthy target\(s\)|is stopped|^::error::/;
const CREATE_LINES = /^(create|update|unchanged|drift) |^✓ |^::error::/;
const HANDOFF_PLAN_LINES = /^(Base branch|\*\*Owner handoff|- CronJob|- Deployment|- [✅❌])/u;
const HANDOFF_APPLY_LINES =
  /: (stopped|started|restored) |lastScheduleTime|waiting for|^::error::|: (applied|unchanged|rolled-back)\./;

/** A pull request's checks: create-cluster's dry run, or sync-apps' diff. */
function prHeader(m: Migration, number: number, what: string): void {
  say(bold(`\n${at()} PR #${number} "${pull(m, number).title}": ${what}`));
}

function merge(m: Migration, number: number, what: string): string {
  const before = m.github.state.refs.main as string;
  const after = m.github.mergePullRequest(number);
  say(bold(`${at()} merged (${before.slice(0, 7)}..${after.slice(0, 7)}): ${what}`));
  return after;
}

// ---- what the demo reads to check its claims ---------------------------------------------------

function kubectl(m: Migration, c: Color, args: string[]): Promise<string> {
  const kubeconfig = m.kubeconfigs[c];
  if (!kubeconfig) throw new Error(`no kubeconfig for ${c} yet`);
  return new Promise((resolveOut, reject) =>
    execFile(
      m.tools.bin.kubectl,
      ['--kubeconfig', kubeconfig, ...args],
      { env: { ...m.tools.env({ PATH: process.env.PATH, HOME: process.env.HOME }), ...m.aws } },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || error.message}`))
          : resolveOut(stdout),
    ),
  );
}

async function cronJobSuspended(m: Migration, c: Color): Promise<string> {
  return kubectl(m, c, [
    'get',
    'cronjob',
    CRONJOB,
    '-n',
    NAMESPACE,
    '-o',
    'jsonpath={.spec.suspend}',
  ]).catch((e: unknown) => `error: ${String(e)}`);
}

/** `ip:port` of every ready pod of the app on the cluster, sorted. */
async function readyPods(m: Migration, c: Color): Promise<string[]> {
  const out = await kubectl(m, c, [
    'get',
    'pods',
    '-n',
    NAMESPACE,
    '-l',
    'app.kubernetes.io/name=web',
    '-o',
    'jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
  ]);
  return out
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'True')
    .map((f) => `${f[1]}:8080`)
    .sort();
}

async function healthyTargets(m: Migration, c: Color): Promise<string[]> {
  const out = await m.web.client.send(
    new DescribeTargetHealthCommand({ TargetGroupArn: m.web.targetGroups[c] }),
  );
  return (out.TargetHealthDescriptions ?? [])
    .filter((d) => d.TargetHealth?.State === 'healthy')
    .map((d) => `${d.Target?.Id}:${d.Target?.Port}`)
    .sort();
}

/** The CronJob's slot (minutes since the epoch) and the cluster of each notification. */
function notificationsBySlot(m: Migration): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const n of m.sandbox.notifications.received) {
    const slot = /-(\d{8,})-[a-z0-9]{5}$/.exec(n.pod);
    if (!slot) continue;
    const list = out.get(Number(slot[1])) ?? [];
    list.push(clusterOfNode(n.node));
    out.set(Number(slot[1]), list);
  }
  return out;
}

/** blue or green from the sending pod's node (`sandbox-<EKS name>`); anything else as it is. */
function clusterOfNode(node: string | undefined): string {
  const c = (Object.keys(EKS) as Color[]).find((k) => node === `sandbox-${EKS[k]}`);
  return c ?? node ?? 'an unknown node';
}

const hhmm = (minute: number): string => new Date(minute * 60_000).toISOString().slice(11, 16);

/** Prints each notification as it arrives: which cluster ran the slot's Job. */
function watchNotifications(m: Migration): NodeJS.Timeout {
  let seen = 0;
  return setInterval(() => {
    const received = m.sandbox.notifications.received;
    for (; seen < received.length; seen++) {
      const n = received[seen];
      if (!n) continue;
      const slot = /-(\d{8,})-[a-z0-9]{5}$/.exec(n.pod);
      say(
        `   ⏰ ${at()} slot ${slot ? `${hhmm(Number(slot[1]))} UTC` : '?'}: the CronJob's Job ran on ${clusterOfNode(n.node)} (${n.pod}) and sent 1 notification`,
      );
    }
  }, 500);
}

// ---- the stages -------------------------------------------------------------------------------

async function blueToday(m: Migration): Promise<void> {
  m.github.commit(
    'main',
    {
      [FILES.cluster('blue')]: clusterConfig('blue', m.sandbox.accountId),
      [FILES.helmfile]: helmfile(m, ['blue']),
    },
    'blue: the cluster and its apps, as they run today',
  );
  const dir = checkout(m, 'main');
  say(`${at()} create-cluster on main's ${FILES.cluster('blue')} (blue exists before the demo)`);
  const created = await createCluster(m, 'blue', join(dir, FILES.cluster('blue')), false);
  m.kubeconfigs.blue = created.outputs.kubeconfig;
  reporter.check(
    `blue's cluster ${EKS.blue} is ACTIVE with a kubeconfig`,
    created.exitCode === 0 && (await clusterStatus(m, 'blue')) === 'ACTIVE' && !!m.kubeconfigs.blue,
    `exit ${created.exitCode}, ${await clusterStatus(m, 'blue')}`,
  );
  say(`${at()} sync-apps on blue (helmfile environment blue)`);
  const synced = await syncApps(m, 'blue', dir, 'apply');
  show(reporter, synced, SYNC_LINES);
  const created2 = await kubectl(m, 'blue', [
    'get',
    'cronjob',
    CRONJOB,
    '-n',
    NAMESPACE,
    '-o',
    'jsonpath={.metadata.creationTimestamp}',
  ]).catch(() => '');
  m.cronJobCreatedAt = Date.parse(created2);
  const pods = await readyPods(m, 'blue');
  const targets = await healthyTargets(m, 'blue');
  reporter.check(
    "blue runs the app, its target group holds blue's pods, its CronJob is live",
    synced.exitCode === 0 &&
      pods.length === 2 &&
      pods.join() === targets.join() &&
      (await cronJobSuspended(m, 'blue')) === 'false',
    `exit ${synced.exitCode}, pods ${pods.join(' ')}, healthy targets ${targets.join(' ')}`,
  );
  load.start(m.web.url, 60);
  await sleep(3000);
  say(`   traffic through the ALB, last 2 s: ${load.line(2000)}`);
  say(
    `   the CronJob ${NAMESPACE}/${CRONJOB} runs every minute on blue; its first slot is ${hhmm(Math.floor(m.cronJobCreatedAt / 60_000) + 1)} UTC`,
  );
}

async function clusterStatus(m: Migration, c: Color): Promise<string> {
  try {
    return (await m.eks.send(new DescribeClusterCommand({ name: EKS[c] }))).cluster?.status ?? '?';
  } catch (e) {
    return (e as Error).name;
  }
}

async function createGreen(m: Migration): Promise<void> {
  const number = openPullRequest(m, 'clusters: green (Kubernetes 1.34)', {
    [FILES.cluster('green')]: clusterConfig('green', m.sandbox.accountId),
  });
  prHeader(m, number, 'create-cluster plans it (dry-run)');
  const pr = pull(m, number);
  const planned = await createCluster(
    m,
    'green',
    join(checkout(m, pr.headSha), FILES.cluster('green')),
    true,
  );
  show(reporter, planned, CREATE_LINES);
  reporter.check(
    'the dry run plans the cluster and creates nothing',
    planned.exitCode === 0 &&
      (JSON.parse(planned.outputs.plan ?? '[]') as { action: string }[]).every(
        (p) => p.action === 'create',
      ) &&
      (await clusterStatus(m, 'green')) === 'ResourceNotFoundException',
    `exit ${planned.exitCode}, ${(JSON.parse(planned.outputs.plan ?? '[]') as unknown[]).length} resources to create, DescribeCluster: ${await clusterStatus(m, 'green')}`,
  );
  const after = merge(m, number, 'create-cluster applies it');
  const created = await createCluster(
    m,
    'green',
    join(checkout(m, after), FILES.cluster('green')),
    false,
  );
  show(reporter, created, /^✓ |^::error::/);
  m.kubeconfigs.green = created.outputs.kubeconfig;
  const nodes = m.kubeconfigs.green
    ? await kubectl(m, 'green', ['get', 'nodes', '-o', 'name']).catch((e: unknown) => String(e))
    : 'no kubeconfig';
  reporter.check(
    `green's cluster ${EKS.green} is ACTIVE and its kubeconfig works`,
    created.exitCode === 0 &&
      created.outputs.changed === 'true' &&
      (await clusterStatus(m, 'green')) === 'ACTIVE' &&
      nodes.includes(`node/sandbox-${EKS.green}`),
    `exit ${created.exitCode}, ${await clusterStatus(m, 'green')}, kubectl get nodes: ${nodes.trim()}`,
  );
}

/** A helmfile PR: sync-apps diff on the PR, then apply on green after the merge. */
async function helmfilePullRequest(m: Migration, title: string): Promise<BundleRun> {
  const number = openPullRequest(m, title, { [FILES.helmfile]: helmfile(m, ['blue', 'green']) });
  prHeader(m, number, 'sync-apps diffs it on green');
  const diff = await syncApps(m, 'green', checkout(m, pull(m, number).headSha), 'diff');
  show(reporter, diff, /^helmfile diff:|Would bind|^::error::/);
  reporter.check(
    'the diff says what would change on green',
    diff.exitCode === 0 && diff.outputs.changed === 'true',
    `exit ${diff.exitCode}, changed ${diff.outputs.changed}`,
  );
  const after = merge(m, number, 'sync-apps applies it on green');
  const synced = await syncApps(m, 'green', checkout(m, after), 'apply');
  show(reporter, synced, SYNC_LINES);
  return synced;
}

async function appsOnGreen(m: Migration): Promise<void> {
  const objectsBefore = await kubectl(m, 'green', ['get', 'namespaces', '-o', 'name']);
  const synced = await helmfilePullRequest(m, 'apps: deploy web to green');
  reporter.check(
    'the diff created nothing on green',
    !objectsBefore.includes(`namespace/${NAMESPACE}`),
    `namespaces before the apply: ${objectsBefore.trim().replace(/\n/g, ' ')}`,
  );
  const pods = await readyPods(m, 'green');
  const targets = await healthyTargets(m, 'green');
  reporter.check(
    "sync-apps deploys green and green's target group gets green's pods",
    synced.exitCode === 0 && pods.length === 2 && pods.join() === targets.join(),
    `exit ${synced.exitCode}, pods ${pods.join(' ')}, healthy targets ${targets.join(' ')}`,
  );
  const suspended = {
    green: await cronJobSuspended(m, 'green'),
    blue: await cronJobSuspended(m, 'blue'),
  };
  reporter.check(
    'the CronJob arrives suspended on green (blue owns it) and stays live on blue',
    suspended.green === 'true' && suspended.blue === 'false',
    `suspend: green ${suspended.green}, blue ${suspended.blue}`,
  );
  await checkWeights(m, 'green has no traffic yet');
}

async function checkWeights(m: Migration, why: string): Promise<void> {
  const live = await liveWeights(m.web);
  const want = `${m.weights.blue}/${m.weights.green}`;
  reporter.check(
    `the ALB is at blue ${m.weights.blue}/green ${m.weights.green}: ${why}`,
    live === want,
    `live ${live}`,
  );
}

async function badCanary(m: Migration): Promise<void> {
  m.builds.green = { build: 'v2', errorRate: '0.3' };
  const bad = await helmfilePullRequest(m, 'apps: green runs build v2');
  reporter.check(
    'build v2 runs on green (30% of its answers fail; green has no traffic yet)',
    bad.exitCode === 0,
    `exit ${bad.exitCode}`,
  );
  m.weights = { blue: 90, green: 10 };
  const number = openPullRequest(m, 'web: green 10%', { [FILES.rollout]: rolloutFile(m) });
  await plan(m, number);
  m.badCanary = { from: Date.now(), to: Number.POSITIVE_INFINITY };
  const apply = await mergeAndApply(m, number, {});
  await sleep(PROPAGATION_MS + 1500);
  m.badCanary.to = Date.now();
  m.weights = { blue: 100, green: 0 };
  reporter.check(
    'apply catches the bad canary, rolls back and fails the job',
    apply.exitCode === 1 && apply.outputs.result === 'rolled-back',
    `exit ${apply.exitCode}, result ${apply.outputs.result}`,
  );
  await checkWeights(m, 'restored');
  const reconcile = m.github.state.pulls.find(
    (p) => p.head === `rollout/${m.web.name}/reconcile` && p.state === 'open',
  );
  const comment = m.github.state.comments.find(
    (c) => c.issueNumber === number && c.body.includes('rolled back'),
  );
  reporter.check(
    'a reconcile PR puts the file back to blue 100 and names the failed check; the merged PR is told',
    reconcile !== undefined && /error-rate of green/.test(reconcile.title) && comment !== undefined,
    reconcile ? `#${reconcile.number} "${reconcile.title}"` : 'no reconcile PR',
  );
  const bad10 = load.between(m.badCanary.from, m.badCanary.to);
  say(
    `   requests during the bad canary: ${Object.entries(bad10)
      .map(([v, c]) => `${v} ${c.requests} (${c.errors} failed)`)
      .join(', ')}`,
  );

  m.builds.green = { build: 'v1', errorRate: '0' };
  const fixed = await helmfilePullRequest(m, 'apps: green back to build v1');
  reporter.check('green runs build v1 again', fixed.exitCode === 0, `exit ${fixed.exitCode}`);
  if (!reconcile) return;
  const merged = await mergeAndApply(m, reconcile.number, {});
  reporter.check(
    'merging the reconcile PR changes nothing on the ALB',
    merged.exitCode === 0 && merged.outputs.result === 'unchanged',
    `result ${merged.outputs.result}`,
  );
}

async function canary(m: Migration): Promise<void> {
  m.weights = { blue: 90, green: 10 };
  let number = openPullRequest(m, 'web: green 10% (build v1)', { [FILES.rollout]: rolloutFile(m) });
  for (const green of [10, 25, 50, 100]) {
    await plan(m, number);
    const apply = await mergeAndApply(m, number, { 'auto-advance': 'true' });
    m.weights = { blue: 100 - green, green };
    reporter.check(
      `apply shifts to blue ${100 - green}/green ${green} and verifies it`,
      apply.exitCode === 0 && apply.outputs.result === 'applied',
      `exit ${apply.exitCode}, result ${apply.outputs.result}`,
    );
    await checkWeights(m, 'read back');
    say(`   traffic, last 3 s: ${load.line(3000)}`);
    checkSplit(reporter, load, green, `${m.builds.green.build}@green`);
    const advance = m.github.state.pulls.find(
      (p) => p.head === `rollout/${m.web.name}/advance` && p.state === 'open',
    );
    if (green === 100) {
      reporter.check(
        'at the last step no advance PR is opened',
        advance === undefined,
        'none open',
      );
      break;
    }
    reporter.check(
      'auto-advance opens the PR for the next step',
      advance !== undefined,
      advance ? `#${advance.number} "${advance.title}"` : 'none',
    );
    if (!advance || apply.exitCode !== 0) throw new Error('the canary stopped');
    number = advance.number;
  }
}

async function handoff(m: Migration): Promise<void> {
  const before = {
    green: await cronJobSuspended(m, 'green'),
    blue: await cronJobSuspended(m, 'blue'),
  };
  reporter.check(
    'before the handoff the CronJob is suspended on green and live on blue',
    before.green === 'true' && before.blue === 'false',
    `suspend: green ${before.green}, blue ${before.blue}`,
  );
  m.owner = 'green';
  const number = openPullRequest(m, 'web: owner green', { [FILES.rollout]: rolloutFile(m) });
  await plan(m, number, HANDOFF_PLAN_LINES);
  const from = Date.now();
  const apply = await mergeAndApply(m, number, {}, HANDOFF_APPLY_LINES);
  m.handoff = { from, to: Date.now() };
  const after = {
    green: await cronJobSuspended(m, 'green'),
    blue: await cronJobSuspended(m, 'blue'),
  };
  reporter.check(
    'the handoff applies: the CronJob is suspended on blue and live on green',
    apply.exitCode === 0 && after.green === 'false' && after.blue === 'true',
    `exit ${apply.exitCode}, result ${apply.outputs.result}, suspend: green ${after.green}, blue ${after.blue}`,
  );
  await checkWeights(m, 'the handoff moves no traffic');
  // Show the new owner at work: wait for green's first notification, which is the slot that
  // starts next (or the one that started during the handoff, if green ran it already).
  const firstOnGreen = (): number | undefined =>
    [...notificationsBySlot(m)].find(([, clusters]) => clusters.includes('green'))?.[0];
  const deadline = (Math.floor(Date.now() / 60_000) + 1) * 60_000 + 30_000;
  if (firstOnGreen() === undefined)
    say(
      `${at()} waiting for the next slot, ${hhmm(Math.floor(Date.now() / 60_000) + 1)} UTC, to run on green`,
    );
  while (Date.now() < deadline && firstOnGreen() === undefined) await sleep(500);
  await sleep(1000);
  const slot = firstOnGreen();
  reporter.check(
    'after the handoff the CronJob runs on green, once per slot',
    slot !== undefined && (notificationsBySlot(m).get(slot) ?? []).join() === 'green',
    slot === undefined
      ? `no notification from green by ${new Date(deadline).toISOString().slice(11, 19)} UTC`
      : `green's first slot ${hhmm(slot)} UTC, sent by: ${(notificationsBySlot(m).get(slot) ?? []).join(', ')}`,
  );
}

function retireCluster(m: Migration, dir: string, dryRun: boolean): Promise<BundleRun> {
  return runBundle(
    work,
    'retire-cluster',
    {
      'rollout-file': join(dir, FILES.rollout),
      as: 'blue',
      'dry-run': String(dryRun),
      'poll-interval': '250ms',
      timeout: '2m',
    },
    m.aws,
  );
}

const RETIRE_LINES = /^(delete|wait|gone|unknown) |^✓ |retired|^::error::/;

async function retireBlue(m: Migration): Promise<void> {
  await checkWeights(m, 'blue has no traffic left');
  const registered = await healthyTargets(m, 'blue');
  say(`   blue's target group still holds blue's pods at weight 0: ${registered.join(' ')}`);
  const number = openPullRequest(m, 'clusters: retire blue', { [FILES.cluster('blue')]: null });
  prHeader(m, number, 'retire-cluster checks and plans it (dry-run)');
  const planned = await retireCluster(m, checkout(m, pull(m, number).headSha), true);
  show(reporter, planned, RETIRE_LINES);
  reporter.check(
    'the dry run passes the gate (weight 0, not the owner, CronJob suspended) and deletes nothing',
    planned.exitCode === 0 &&
      planned.outputs.deleted === 'false' &&
      (await clusterStatus(m, 'blue')) === 'ACTIVE' &&
      (await healthyTargets(m, 'blue')).length === registered.length,
    `exit ${planned.exitCode}, deleted ${planned.outputs.deleted}, ${(JSON.parse(planned.outputs.plan ?? '[]') as unknown[]).length} resources on the plan, blue ${await clusterStatus(m, 'blue')}`,
  );
  const after = merge(m, number, 'retire-cluster retires blue');
  const retired = await retireCluster(m, checkout(m, after), false);
  show(reporter, retired, RETIRE_LINES);
  const left = await m.web.client.send(
    new DescribeTargetHealthCommand({ TargetGroupArn: m.web.targetGroups.blue }),
  );
  reporter.check(
    'blue is retired: its TargetGroupBinding deregistered its pods and the cluster is deleted',
    retired.exitCode === 0 &&
      retired.outputs.deleted === 'true' &&
      (left.TargetHealthDescriptions ?? []).length === 0 &&
      (await clusterStatus(m, 'blue')) === 'ResourceNotFoundException',
    `exit ${retired.exitCode}, deleted ${retired.outputs.deleted}, targets left in web-blue: ${(left.TargetHealthDescriptions ?? []).length}, DescribeCluster ${EKS.blue}: ${await clusterStatus(m, 'blue')}`,
  );
  say(`   traffic, last 3 s: ${load.line(3000)}`);
}

/** The stages in order; each prints its header, does its PRs and checks its claims. */
const STAGES: { title: string; run: (m: Migration) => Promise<void> }[] = [
  { title: 'Blue as it runs today: the app, the CronJob, live traffic', run: blueToday },
  { title: "1. A PR adds green's ClusterConfig: create-cluster", run: createGreen },
  { title: '2. A PR adds green to the helmfile: sync-apps', run: appsOnGreen },
  { title: '3. A bad build of green caught at 10%: rollout apply rolls it back', run: badCanary },
  { title: '4. The canary: 10 → 25 → 50 → 100, one merged PR per step', run: canary },
  { title: '5. A PR moves owner to green: the CronJob handoff', run: handoff },
  {
    title: '6. Retire blue: its TargetGroupBinding removed, the cluster deleted',
    run: retireBlue,
  },
];

// ---- the checks over the whole run --------------------------------------------------------------

function checkTraffic(m: Migration, from: number, to: number): void {
  const bad = m.badCanary ?? { from: 0, to: 0 };
  const outside = totals({
    ...prefix('before', load.between(from, Math.floor(bad.from / 1000) * 1000)),
    ...prefix('after', load.between(Math.ceil(bad.to / 1000) * 1000, to)),
  });
  const inside = totals(
    load.between(Math.floor(bad.from / 1000) * 1000, Math.ceil(bad.to / 1000) * 1000),
  );
  reporter.check(
    'no request failed outside the bad-canary stage',
    outside.requests > 0 && outside.errors === 0,
    `${outside.errors} of ${outside.requests} failed outside it; ${inside.errors} of ${inside.requests} during it`,
  );
}

function prefix<T>(p: string, o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [`${p} ${k}`, v]));
}

function checkSlots(m: Migration): void {
  const bySlot = notificationsBySlot(m);
  const created = m.cronJobCreatedAt ?? Date.now();
  const first = Math.floor(created / 60_000) + 1;
  // A slot's Job sends its notification within seconds: every slot that started 20 s ago or
  // more is counted, and any later one that has already sent its notification.
  const last = Math.max(Math.floor((Date.now() - 20_000) / 60_000), ...bySlot.keys());
  say(bold(`\nNotifications, one per minute slot from ${hhmm(first)} to ${hhmm(last)} UTC:`));
  const wrong: string[] = [];
  for (let slot = first; slot <= last; slot++) {
    const clusters = bySlot.get(slot) ?? [];
    const t = slot * 60_000;
    const expected: Color | undefined = !m.handoff
      ? 'blue'
      : t < m.handoff.from
        ? 'blue'
        : t > m.handoff.to
          ? 'green'
          : undefined;
    say(`   ${hhmm(slot)} UTC: ${clusters.length === 0 ? 'none' : clusters.join(' + ')}`);
    if (clusters.length !== 1 || (expected && clusters[0] !== expected))
      wrong.push(
        `${hhmm(slot)}: ${clusters.join('+') || 'none'}${expected ? ` (expected ${expected})` : ''}`,
      );
  }
  for (const [slot, clusters] of bySlot) {
    if ((slot < first || slot > last) && clusters.length > 1)
      wrong.push(`${hhmm(slot)}: ${clusters.join('+')}`);
  }
  reporter.check(
    'exactly one notification per minute slot across both clusters, from blue before the handoff and green after',
    last >= first && wrong.length === 0,
    wrong.length === 0
      ? `${last - first + 1} slots, ${m.sandbox.notifications.received.length} notifications`
      : wrong.join('; '),
  );
}

function checkGitHub(m: Migration): void {
  const { pulls, deployments, comments } = m.github.state;
  const open = pulls.filter((p) => p.state === 'open');
  const merged = pulls.filter((p) => p.merged);
  reporter.check(
    'every PR is merged: none is left open on the GitHub stand-in',
    open.length === 0 && merged.length === pulls.length,
    `${merged.length} merged of ${pulls.length}: ${pulls.map((p) => `#${p.number} ${p.title}`).join('; ')}`,
  );
  // GitHub marks a deployment inactive once a newer one to the same environment succeeds: the
  // outcome of each is the success or failure in its status history.
  const outcomes = deployments.map(
    (d) => d.statuses.find((s) => s.state === 'success' || s.state === 'failure')?.state ?? 'none',
  );
  const expected = ['failure', 'success', 'success', 'success', 'success', 'success'];
  reporter.check(
    'deployments: a failure for the bad canary, then a success for each of the 4 steps and the handoff',
    outcomes.join() === expected.join(),
    `${deployments.length} deployments: ${outcomes.join(', ')}`,
  );
  const planned = comments.filter((c) => c.body.includes('eks-cluster-canary plan'));
  const rollbackNotice = comments.filter((c) => c.body.includes('rolled back'));
  say(
    `   on the GitHub stand-in: ${pulls.length} PRs, ${planned.length} plan comments, ${rollbackNotice.length} rollback comment(s), ${deployments.length} deployments`,
  );
}

async function main(): Promise<void> {
  say(bold('eks-cluster-canary: the whole migration from blue to green on the local sandbox'));
  const missing = missingKubeTools();
  const tools = findKubeTools();
  if (missing || !tools) {
    // `npm run demo:migration` builds them first; run directly, say what to do.
    console.error(`demo:migration needs real Kubernetes. ${missing ?? BUILD_HINT}`);
    process.exitCode = 1;
    return;
  }
  const sandbox = await startSandbox({
    kubernetes: true,
    healthCheckTimeScale: 0.05,
    propagationDelayMs: PROPAGATION_MS,
    eksTransitionMs: 300,
    log: (line) => say(`   sandbox: ${line}`),
  });
  const web = await createWebService(sandbox, {
    clusters: (['blue', 'green'] as const).map((c) => ({
      name: c,
      version: K8S[c],
      instances: 0,
      eks: EKS[c],
      service: `{ namespace: ${NAMESPACE}, name: web, port: http }`,
    })),
  });
  const github = await startFakeGitHub({
    owner: 'acme',
    repo: 'infra',
    token: DEMO_TOKEN,
    files: {},
  });
  const eks = new EKSClient({
    endpoint: sandbox.endpoint,
    region: sandbox.region,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
    },
  });
  const m: Migration = {
    reporter,
    load,
    work,
    web,
    github,
    aws: sandbox.env,
    sandbox,
    tools,
    eks,
    kubeconfigs: {},
    builds: { blue: { build: 'v1', errorRate: '0' }, green: { build: 'v1', errorRate: '0' } },
    owner: 'blue',
    weights: { blue: 100, green: 0 },
  };
  github.commit('main', { [FILES.rollout]: rolloutFile(m) }, 'web: blue 100');
  say(
    `sandbox at ${sandbox.endpoint} with real Kubernetes behind EKS; GitHub stand-in at ${github.url} (acme/infra)`,
  );
  say(
    `ALB "${web.name}" forwards to target groups web-blue and web-green (empty until a TargetGroupBinding fills it)`,
  );
  say(`step summaries, reports and checkouts are in ${work}`);
  say(
    `analysis of each canary step: ${DEMO_ANALYSIS.split('\n')
      .slice(1, 4)
      .map((l) => l.trim())
      .join(', ')} (short, for the demo)`,
  );

  const watcher = watchNotifications(m);
  let loadFrom = 0;
  try {
    for (const stage of STAGES) {
      say(bold(`\n=== ${at()} ${stage.title}`));
      try {
        await stage.run(m);
      } catch (e) {
        // The later stages build on this one: stop here, still check the whole run so far.
        reporter.check(`the stage "${stage.title}" runs to its end`, false, String(e));
        break;
      }
      if (!loadFrom && load.seconds.length > 0) loadFrom = (load.seconds[0]?.at ?? 0) + 1000;
    }
    await sleep(500);
    say(bold(`\n=== ${at()} Over the whole run`));
    checkTraffic(m, loadFrom, Math.floor(Date.now() / 1000) * 1000);
    checkSlots(m);
    checkGitHub(m);
    await checkWeights(m, 'final');
  } finally {
    clearInterval(watcher);
    await load.stop();
    eks.destroy();
    await web.close();
    await github.close();
    await sandbox.close();
  }
  reporter.finish();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
