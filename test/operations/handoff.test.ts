/**
 * The owner step through the rollout commands: plan on the PR, apply on the merge, rollback by
 * hand. The ALB is the in-process sandbox of the other operation tests; the clusters are a second
 * sandbox with real Kubernetes, reached through `deps.kube` as the action reaches EKS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EKSClient } from '@aws-sdk/client-eks';
import type { KubeApi } from '../../src/kube/api.js';
import { pathFilter } from '../../src/common/glob.js';
import type { RolloutEvent } from '../../src/operations/context.js';
import { nextSlot } from '../../src/kube/cron.js';
import { connectCluster } from '../../src/operations/kube-access.js';
import { runApply } from '../../src/operations/apply.js';
import { commandSummary } from '../../src/operations/markdown.js';
import { runPlan } from '../../src/operations/plan.js';
import { runRollback } from '../../src/operations/rollback.js';
import { readLastSteps, type LastStep } from '../../src/alb/last-step.js';
import { parseRolloutFile } from '../../src/rollout-file/index.js';
import type { Sandbox } from '../../sandbox/index.js';
import {
  createCluster,
  eksClient,
  kubeconfigFile,
  kubectl,
  skipReason,
  startKubeSandbox,
} from '../sandbox/kube-fixture.js';
import { PATH, SETTINGS, useSandboxRigs, type Rig } from './fixture.js';

const stage = useSandboxRigs();
const FILES = pathFilter(['rollouts/*.yaml'], 'files');

describe.skipIf(skipReason !== undefined)(`the owner step ${skipReason ?? ''}`, () => {
  let kube: Sandbox;
  let eks: EKSClient;
  const configs: Record<string, string> = {};
  const opened: KubeApi[] = [];

  beforeAll(async () => {
    kube = await startKubeSandbox();
    eks = eksClient(kube);
    for (const name of ['blue', 'green']) {
      await createCluster(kube, eks, name);
      configs[name] = await kubeconfigFile(kube, name);
    }
  }, 120_000);

  afterAll(async () => {
    for (const a of opened) a.close();
    eks?.destroy();
    await kube?.close();
  }, 60_000);

  /** The last-step record on every route of the rig's file (one value per route). */
  async function recorded(r: Rig): Promise<(LastStep | undefined)[]> {
    const routes = [...r.web.listenerArns, ...r.web.ruleArns];
    const found = await readLastSteps(r.deps.aws(r.web.region).elbv2, routes);
    return routes.map((arn) => found.get(arn));
  }

  /** A rig whose deps reach the kube sandbox's clusters by the file's cluster names. */
  async function rig(): Promise<Rig> {
    const r = await stage.rig({ blue: 0, green: 100 });
    r.deps.kube = async (_region, _eksName, cluster) => {
      const api = await connectCluster({
        eks,
        region: kube.region,
        eksName: cluster,
        cluster,
        credentials: () =>
          Promise.resolve({
            accessKeyId: kube.env.AWS_ACCESS_KEY_ID as string,
            secretAccessKey: kube.env.AWS_SECRET_ACCESS_KEY as string,
          }),
      });
      opened.push(api);
      return api;
    };
    return r;
  }

  const cronJob = (ns: string, suspend: boolean) => `
apiVersion: v1
kind: Namespace
metadata: { name: ${ns} }
---
apiVersion: batch/v1
kind: CronJob
metadata: { name: notify, namespace: ${ns} }
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
  async function setUp(ns: string, onGreen = true): Promise<void> {
    await kubectl(kube, configs.blue as string, ['apply', '-f', '-'], cronJob(ns, false));
    if (onGreen) {
      await kubectl(kube, configs.green as string, ['apply', '-f', '-'], cronJob(ns, true));
    }
  }
  const suspended = async (cluster: string, ns: string): Promise<string> =>
    kubectl(kube, configs[cluster] as string, [
      'get',
      'cronjob',
      'notify',
      '-n',
      ns,
      '-o',
      'jsonpath={.spec.suspend}',
    ]);

  const file = (r: Rig, ns: string, owner: string, extra = '') =>
    r.web
      .rolloutFile({ blue: 0, green: 100 })
      .replace('owner: blue', `owner: ${owner}`)
      .concat(`singletons:\n  namespaces: [${ns}]\n${extra}`);

  function push(r: Rig, before: string, after: string): Extract<RolloutEvent, { kind: 'push' }> {
    const beforeSha = r.github.commit('main', { [PATH]: before });
    const afterSha = r.github.commit('main', { [PATH]: after });
    r.github.merged.set(afterSha, [{ number: 7, url: 'https://github.com/acme/infra/pull/7' }]);
    return {
      kind: 'push',
      before: beforeSha,
      after: afterSha,
      branch: 'main',
      defaultBranch: 'main',
    };
  }

  it('plans the handoff on the PR, applies it on the merge, and hands it back by rollback', async () => {
    const ns = 'step';
    await setUp(ns);
    const r = await rig();
    const baseSha = r.github.commit('main', { [PATH]: file(r, ns, 'blue') });
    r.github.branches.set('owner', baseSha);
    const headSha = r.github.commit('owner', { [PATH]: file(r, ns, 'green') });
    const plan = await runPlan(
      {
        kind: 'pull_request',
        number: 7,
        url: 'https://github.com/acme/infra/pull/7',
        baseSha,
        headSha,
        baseRef: 'main',
        labels: [],
      },
      { filter: FILES, cloudWatchPeriodMs: 1000 },
      r.deps,
    );
    expect(plan.failure, commandSummary(plan)).toBeUndefined();
    const summary = commandSummary(plan);
    expect(summary).toContain('**Owner handoff** blue → green');
    expect(summary).toContain(
      `CronJob ${ns}/notify (schedule "0 3 * * *", next slot ${nextSlot('0 3 * * *', new Date())?.toISOString().replace(':00.000Z', 'Z')}): blue: live, last slot none, 0 running Job(s); green: suspended, last slot none, 0 running Job(s) → moves from blue to green`,
    );

    const out = await runApply(
      push(r, file(r, ns, 'blue'), file(r, ns, 'green')),
      { filter: FILES, settings: SETTINGS, autoAdvance: false },
      r.deps,
    );
    expect(out.failure, r.deps.logger.text()).toBeUndefined();
    expect(out.result).toBe('applied');
    expect(out.files[0]?.handoff?.state).toBe('new-owner-live');
    expect(await suspended('blue', ns)).toBe('true');
    expect(await suspended('green', ns)).toBe('false');
    expect(r.github.deployments.at(-1)).toMatchObject({
      state: 'success',
      description: 'owner blue → green: handed over',
    });
    expect(r.github.comments.at(-1)?.body).toContain('Owner blue → green: **new-owner-live**');
    expect(await r.live()).toEqual(['0/100', '0/100']);
    expect(await recorded(r)).toEqual([
      expect.objectContaining({ op: 'handoff', owner: 'green', from: 'blue', verdict: 'passed' }),
      expect.objectContaining({ op: 'handoff', owner: 'green', from: 'blue', verdict: 'passed' }),
    ]);

    const sha = r.github.commit('main', { [PATH]: file(r, ns, 'green') });
    const back = await runRollback(
      { kind: 'workflow_dispatch', sha, branch: 'main', defaultBranch: 'main' },
      { file: PATH, owner: 'blue', force: false },
      SETTINGS,
      r.deps,
    );
    expect(back.failure).toBeUndefined();
    expect(back.result).toBe('rolled-back');
    expect(await suspended('blue', ns)).toBe('false');
    expect(await suspended('green', ns)).toBe('true');
    const pr = r.github.pulls.at(-1);
    expect(pr?.title).toBe(`rollout ${r.web.name}: record the handoff to owner blue`);
    expect(parseRolloutFile(pr?.files[0]?.content as string, PATH).owner).toBe('blue');
    expect(
      (await recorded(r)).map((x) => x && `${x.op} ${x.from}→${x.owner}: ${x.verdict}`),
    ).toEqual(['rollback green→blue: done', 'rollback green→blue: done']);
  }, 90_000);

  it('refuses an owner change when the new owner lacks a CronJob (not synced)', async () => {
    const ns = 'unsynced';
    await setUp(ns, false);
    const r = await rig();
    const out = await runApply(
      push(r, file(r, ns, 'blue'), file(r, ns, 'green')),
      { filter: FILES, settings: SETTINGS, autoAdvance: false },
      r.deps,
    );
    expect(out.result).toBe('failed');
    expect(out.failure).toContain(
      `CronJob ${ns}/notify is on blue but not on green: sync the apps to green first`,
    );
    expect(await suspended('blue', ns)).toBe('false');
  }, 60_000);

  it('restores blue when a running Job outlasts the drain timeout, and opens the PR that puts owner back', async () => {
    const ns = 'long-job';
    await setUp(ns);
    const r = await rig();
    const uid = await kubectl(kube, configs.blue as string, [
      'get',
      'cronjob',
      'notify',
      '-n',
      ns,
      '-o',
      'jsonpath={.metadata.uid}',
    ]);
    // A Job of the CronJob, started by hand (as `kubectl create job --from=cronjob/notify` does).
    await kubectl(
      kube,
      configs.blue as string,
      ['apply', '-f', '-'],
      `apiVersion: batch/v1
kind: Job
metadata:
  name: notify-manual
  namespace: ${ns}
  ownerReferences: [{ apiVersion: batch/v1, kind: CronJob, name: notify, uid: ${uid}, controller: true }]
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - { name: notify, image: "eks-cluster-canary/demo-app:v1", args: [--duration-ms, "60000"] }
`,
    );
    const out = await runApply(
      push(r, file(r, ns, 'blue'), file(r, ns, 'green', '  drainTimeout: 2s\n')),
      { filter: FILES, settings: SETTINGS, autoAdvance: false },
      r.deps,
    );
    expect(out.result).toBe('rolled-back');
    expect(out.failure).toContain(`Job(s) still running on blue: Job ${ns}/notify-manual`);
    expect(out.failure).toContain('every object runs on blue again');
    expect(await suspended('blue', ns)).toBe('false');
    expect(await suspended('green', ns)).toBe('true');
    const pr = r.github.pulls.at(-1);
    expect(pr?.title).toContain('owner back to blue');
    expect(parseRolloutFile(pr?.files[0]?.content as string, PATH).owner).toBe('blue');
    expect(r.github.deployments.at(-1)?.state).toBe('failure');
    expect((await recorded(r))[0]).toMatchObject({
      op: 'handoff',
      owner: 'green',
      from: 'blue',
      verdict: 'rolled-back',
    });
  }, 60_000);
});
