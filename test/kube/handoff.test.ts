/**
 * The singleton handoff against the real CronJob and Job controllers of two (three) sandbox
 * clusters. Jobs are counted per schedule slot across the clusters: exactly one per slot, none
 * twice. The slots are real minutes, so the tests that need them run concurrently, each in its
 * own namespace, and take a few minutes together.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EKSClient } from '@aws-sdk/client-eks';
import { systemClock } from '../../src/common/clock.js';
import { MemoryLogger } from '../../src/common/logger.js';
import { KubeUnreachableError, type KubeApi } from '../../src/kube/api.js';
import {
  HANDOFF_ANNOTATION,
  handOffSingletons,
  planHandoff,
  readSingletons,
  type HandoffOptions,
  type HandoffPolicy,
} from '../../src/kube/handoff.js';
import { connectCluster } from '../../src/operations/kube-access.js';
import type { Sandbox } from '../../sandbox/index.js';
import {
  createCluster,
  eksClient,
  kubeconfigFile,
  kubectl,
  skipReason,
  startKubeSandbox,
  waitUntil,
} from '../sandbox/kube-fixture.js';

const SCHEDULED = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

describe.skipIf(skipReason !== undefined)(`singleton handoff ${skipReason ?? ''}`, () => {
  let sandbox: Sandbox;
  let eks: EKSClient;
  const configs: Record<string, string> = {};
  const apis: Record<string, KubeApi> = {};

  beforeAll(async () => {
    sandbox = await startKubeSandbox();
    eks = eksClient(sandbox);
    for (const name of ['blue', 'green', 'green2']) {
      await createCluster(sandbox, eks, name);
      configs[name] = await kubeconfigFile(sandbox, name);
      apis[name] = await connectCluster({
        eks,
        region: sandbox.region,
        eksName: name,
        cluster: name,
        credentials: () =>
          Promise.resolve({
            accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
            secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
          }),
      });
    }
  }, 180_000);

  afterAll(async () => {
    for (const a of Object.values(apis)) a.close();
    eks?.destroy();
    await sandbox?.close();
  }, 60_000);

  const cronJob = (ns: string, suspend: boolean, durationMs: number): string => `
apiVersion: v1
kind: Namespace
metadata: { name: ${ns} }
---
apiVersion: batch/v1
kind: CronJob
metadata: { name: notify, namespace: ${ns} }
spec:
  schedule: "* * * * *"
  suspend: ${suspend}
  concurrencyPolicy: Allow
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: notify
              image: eks-cluster-canary/demo-app:v1
              args: [--notify, "${sandbox.endpoint}/_sandbox/notifications", --duration-ms, "${durationMs}"]
              env:
                - { name: POD_NAME, valueFrom: { fieldRef: { fieldPath: metadata.name } } }
                - { name: POD_NAMESPACE, valueFrom: { fieldRef: { fieldPath: metadata.namespace } } }
                - { name: NODE_NAME, valueFrom: { fieldRef: { fieldPath: spec.nodeName } } }
`;

  /** The CronJob on blue (live) and on `to` (suspended, as sync-apps leaves it). */
  async function setUp(ns: string, durationMs: number, to = 'green'): Promise<void> {
    await Promise.all([
      kubectl(
        sandbox,
        configs.blue as string,
        ['apply', '-f', '-'],
        cronJob(ns, false, durationMs),
      ),
      kubectl(sandbox, configs[to] as string, ['apply', '-f', '-'], cronJob(ns, true, durationMs)),
    ]);
  }

  interface Job {
    cluster: string;
    name: string;
    slot: string;
    created: string;
    done?: string;
  }
  async function jobs(ns: string, clusters = ['blue', 'green']): Promise<Job[]> {
    const out: Job[] = [];
    for (const cluster of clusters) {
      const list = await (apis[cluster] as KubeApi).get<{
        items: {
          metadata: {
            name: string;
            creationTimestamp: string;
            annotations?: Record<string, string>;
          };
          status?: { completionTime?: string };
        }[];
      }>(`/apis/batch/v1/namespaces/${ns}/jobs`);
      for (const j of list.items) {
        out.push({
          cluster,
          name: j.metadata.name,
          slot: j.metadata.annotations?.[SCHEDULED] ?? '?',
          created: j.metadata.creationTimestamp,
          ...(j.status?.completionTime ? { done: j.status.completionTime } : {}),
        });
      }
    }
    return out;
  }
  function bySlot(list: Job[]): Record<string, string[]> {
    const slots: Record<string, string[]> = {};
    for (const j of list) (slots[new Date(j.slot).toISOString()] ??= []).push(j.cluster);
    return slots;
  }
  async function suspendOf(cluster: string, ns: string): Promise<boolean | undefined> {
    const c = await (apis[cluster] as KubeApi).get<{ spec: { suspend?: boolean } }>(
      `/apis/batch/v1/namespaces/${ns}/cronjobs/notify`,
    );
    return c.spec.suspend;
  }
  async function handoff(
    ns: string,
    extra: Partial<HandoffOptions> & { signal?: AbortSignal; to?: KubeApi } = {},
    policy: HandoffPolicy = { namespaces: [ns] },
    fromName = 'blue',
    toName = 'green',
  ) {
    const from = apis[fromName] as KubeApi;
    const to = extra.to ?? (apis[toName] as KubeApi);
    const plan = planHandoff(
      { cluster: fromName, state: await readSingletons(from, policy) },
      { cluster: toName, state: await readSingletons(to, policy) },
    );
    const logger = new MemoryLogger();
    const result = await handOffSingletons(
      { plan, from, to, drainTimeoutMs: 120_000, activeJobs: 'wait', ...extra },
      { clock: systemClock, logger, ...(extra.signal ? { signal: extra.signal } : {}) },
    );
    return { plan, result, logger };
  }
  /** What the Jobs' pods printed, for a failure message. */
  async function podLogs(cluster: string, ns: string): Promise<string> {
    const dir = sandbox.kube?.runtime(sandbox.region, cluster).controlPlane?.dataDir;
    if (!dir) return '';
    const pods = join(dir, 'pods');
    return readdirSync(pods)
      .filter((f) => f.startsWith(`${ns}_`))
      .map((f) => `${f}:\n${readFileSync(join(pods, f), 'utf8')}`)
      .join('\n');
  }
  /** Waits for a running Job of blue's CronJob; answers it. */
  const runningOnBlue = (ns: string): Promise<Job> =>
    waitUntil(
      `a running Job on blue in ${ns}`,
      async () => (await jobs(ns, ['blue'])).find((j) => !j.done),
      80_000,
      500,
    );

  it.concurrent(
    'every minute, blue → green with a drain across a slot boundary: one Job per slot across both clusters',
    async () => {
      const ns = 'every-minute';
      await setUp(ns, 70_000);
      const first = await runningOnBlue(ns);
      // Hand over 40 s into the slot: blue's Job runs 70 s, so the drain spans the next slot.
      const s1 = Date.parse(first.slot);
      await new Promise((r) => setTimeout(r, Math.max(0, s1 + 40_000 - Date.now())));
      const { plan, result, logger } = await handoff(ns);
      expect(plan.items.map((i) => i.plan)).toEqual(['move']);
      expect(result.status, `${result.message}\n${logger.text()}`).toBe('handed-off');
      expect(result.state).toBe('new-owner-live');
      expect(result.objects[0]?.drained, await podLogs('blue', ns)).toEqual([first.name]);
      expect(result.objects[0]?.carried).toBe(new Date(s1).toISOString().replace('.000', ''));
      expect(await suspendOf('blue', ns)).toBe(true);
      expect(await suspendOf('green', ns)).toBe(false);
      // The slot that fell due during the drain runs once, on green; then green's own slots.
      const s3 = s1 + 120_000;
      await waitUntil(
        'green to run the slot after the one that fell due during the handoff',
        async () => (await jobs(ns)).some((j) => Date.parse(j.slot) === s3),
        Math.max(0, s3 - Date.now()) + 30_000,
        1000,
      );
      const all = await jobs(ns);
      const slots = bySlot(all);
      expect(slots).toEqual({
        [new Date(s1).toISOString()]: ['blue'],
        [new Date(s1 + 60_000).toISOString()]: ['green'],
        [new Date(s3).toISOString()]: ['green'],
      });
      // The users' view: one push notification per slot, from the cluster that ran it.
      await waitUntil(
        'the notification of the last slot',
        async () =>
          sandbox.notifications.perSlot()[`${ns}/notify ${new Date(s3).toISOString()}`] !==
          undefined,
        20_000,
      );
      const notified = Object.fromEntries(
        Object.entries(sandbox.notifications.perSlot()).filter(([k]) => k.startsWith(`${ns}/`)),
      );
      expect(notified).toEqual({
        [`${ns}/notify ${new Date(s1).toISOString()}`]: ['blue'],
        [`${ns}/notify ${new Date(s1 + 60_000).toISOString()}`]: ['green'],
        [`${ns}/notify ${new Date(s3).toISOString()}`]: ['green'],
      });
      // Blue's Job had finished before green's first Job was made.
      const blueJob = all.find((j) => j.cluster === 'blue');
      const greenFirst = all.find(
        (j) => j.cluster === 'green' && Date.parse(j.slot) === s1 + 60_000,
      );
      expect(blueJob?.done).toBeDefined();
      expect(Date.parse(greenFirst?.created ?? '')).toBeGreaterThanOrEqual(
        Date.parse(blueJob?.done ?? ''),
      );
      // No mark left behind.
      const c = await (apis.blue as KubeApi).get<{
        metadata: { annotations?: Record<string, string> };
      }>(`/apis/batch/v1/namespaces/${ns}/cronjobs/notify`);
      expect(c.metadata.annotations?.[HANDOFF_ANNOTATION]).toBeUndefined();
      console.log(
        `handoff every-minute: Jobs ${JSON.stringify(slots)}; notifications ${JSON.stringify(notified)}; drain ${result.drainMs} ms, total ${result.totalMs} ms`,
      );
    },
    330_000,
  );

  it.concurrent(
    'the control: without carrying the schedule, resuming green runs again the slot blue just ran',
    async () => {
      const ns = 'naive';
      await setUp(ns, 0);
      const first = await waitUntil(
        `a Job on blue in ${ns}`,
        async () => (await jobs(ns, ['blue']))[0],
        80_000,
        500,
      );
      // The naive handoff: suspend here, resume there, nothing carried.
      const path = `/apis/batch/v1/namespaces/${ns}/cronjobs/notify`;
      await (apis.blue as KubeApi).mergePatch(path, { spec: { suspend: true } });
      await (apis.green as KubeApi).mergePatch(path, { spec: { suspend: false } });
      await waitUntil(
        'green to run the slot blue ran',
        async () => (await jobs(ns, ['green'])).some((j) => j.slot === first.slot),
        20_000,
        500,
      );
      expect(bySlot(await jobs(ns))[new Date(first.slot).toISOString()]).toEqual(['blue', 'green']);
      await (apis.green as KubeApi).mergePatch(path, { spec: { suspend: true } });
    },
    120_000,
  );

  it.concurrent(
    'a drain that times out restores blue and names the Job still running; a cancelled drain restores too',
    async () => {
      const ns = 'timeout';
      await setUp(ns, 70_000);
      const running = await runningOnBlue(ns);
      const timedOut = await handoff(ns, { drainTimeoutMs: 3000 });
      expect(timedOut.result.status, await podLogs('blue', ns)).toBe('restored');
      expect(timedOut.result.state).toBe('old-owner-live');
      expect(timedOut.result.stillRunning).toEqual([`Job ${ns}/${running.name}`]);
      expect(timedOut.result.message).toContain(`Job ${ns}/${running.name}`);
      expect(timedOut.result.message).toContain('runs on blue again');
      expect(await suspendOf('blue', ns)).toBe(false);
      expect(await suspendOf('green', ns)).toBe(true);

      // The runner's SIGTERM aborts the signal runAction hands the body: mid-drain.
      const cancel = new AbortController();
      setTimeout(() => cancel.abort(new Error('cancelled')), 2000);
      const cancelled = await handoff(ns, { signal: cancel.signal });
      expect(cancelled.result.status).toBe('restored');
      expect(cancelled.result.message).toContain('the job was cancelled');
      expect(await suspendOf('blue', ns)).toBe(false);
      expect(await suspendOf('green', ns)).toBe(true);
      // Blue keeps running its slots, green never ran one.
      const after = await jobs(ns);
      expect(after.every((j) => j.cluster === 'blue')).toBe(true);
      expect(Object.values(bySlot(after)).every((c) => c.length === 1)).toBe(true);
    },
    150_000,
  );

  it.concurrent(
    "green's apiserver goes down as the resume is written: blue restored, green never started",
    async () => {
      const ns = 'down';
      await setUp(ns, 0, 'green2');
      const real = apis.green2 as KubeApi;
      const apiserverPid = sandbox.kube?.runtime(sandbox.region, 'green2').controlPlane?.pids()[
        'kube-apiserver'
      ];
      expect(apiserverPid).toBeGreaterThan(0);
      const dying: KubeApi = {
        ...real,
        cluster: real.cluster,
        async mergePatch<T>(path: string, body: unknown): Promise<T> {
          const spec = (body as { spec?: { suspend?: boolean } }).spec;
          if (spec?.suspend === false) {
            process.kill(apiserverPid as number, 'SIGKILL');
            await new Promise((r) => setTimeout(r, 500));
          }
          return real.mergePatch<T>(path, body);
        },
      };
      const { result } = await handoff(ns, { to: dying }, { namespaces: [ns] }, 'blue', 'green2');
      expect(result.status).toBe('restored');
      expect(result.state).toBe('old-owner-live');
      expect(result.message).toMatch(/green2: PATCH .* the request never reached it/);
      expect(await suspendOf('blue', ns)).toBe(false);
    },
    90_000,
  );

  it.concurrent(
    'a re-run after a crash between the stop and the start finishes the handoff',
    async () => {
      const ns = 'crash';
      await setUp(ns, 0);
      // What the first run's stop write left when the runner died right after it.
      await (apis.blue as KubeApi).mergePatch(`/apis/batch/v1/namespaces/${ns}/cronjobs/notify`, {
        metadata: {
          annotations: {
            [HANDOFF_ANNOTATION]: JSON.stringify({
              to: 'green',
              suspend: false,
              at: new Date().toISOString(),
            }),
          },
        },
        spec: { suspend: true },
      });
      const { plan, result } = await handoff(ns);
      expect(plan.items.map((i) => i.plan)).toEqual(['resume']);
      expect(result.status).toBe('handed-off');
      expect(await suspendOf('blue', ns)).toBe(true);
      expect(await suspendOf('green', ns)).toBe(false);
      const again = await handoff(ns);
      expect(again.plan.items.map((i) => i.plan)).toEqual(['done']);
      expect(again.result.status).toBe('unchanged');
    },
    60_000,
  );

  it.concurrent(
    'a singleton Deployment: blue scaled to 0 and its pods gone before green scales up, and back',
    async () => {
      const ns = 'single';
      const deployment = (replicas: number) => `
apiVersion: v1
kind: Namespace
metadata: { name: ${ns} }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: worker, namespace: ${ns}, labels: { app.kubernetes.io/singleton: "true" } }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: worker } }
  template:
    metadata: { labels: { app: worker } }
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: app
          image: eks-cluster-canary/demo-app:v1
          ports: [{ containerPort: 8080 }]
`;
      await Promise.all([
        kubectl(sandbox, configs.blue as string, ['apply', '-f', '-'], deployment(2)),
        kubectl(sandbox, configs.green as string, ['apply', '-f', '-'], deployment(0)),
      ]);
      const pods = async (cluster: string): Promise<number> =>
        (
          await (apis[cluster] as KubeApi).get<{ items: unknown[] }>(
            `/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dworker`,
          )
        ).items.length;
      await waitUntil('2 pods on blue', async () => (await pods('blue')) === 2, 30_000);
      const policy = { namespaces: [ns], selector: { 'app.kubernetes.io/singleton': 'true' } };
      const overlaps: string[] = [];
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          const [b, g] = await Promise.all([pods('blue'), pods('green')]);
          if (b > 0 && g > 0) overlaps.push(`blue ${b} / green ${g}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const there = await handoff(ns, {}, policy);
      expect(there.result.status, there.result.message).toBe('handed-off');
      expect(there.result.objects[0]?.replicas).toBe(2);
      await waitUntil('2 pods on green', async () => (await pods('green')) === 2, 30_000);
      const back = await handoff(ns, {}, policy, 'green', 'blue');
      expect(back.result.status, back.result.message).toBe('handed-off');
      await waitUntil('2 pods on blue again', async () => (await pods('blue')) === 2, 30_000);
      watching = false;
      await watcher;
      expect(overlaps).toEqual([]);
      expect(await pods('green')).toBe(0);
    },
    120_000,
  );
});

describe('planHandoff', () => {
  const cron = (live: boolean, mark?: string) => ({
    kind: 'CronJob' as const,
    namespace: 'jobs',
    name: 'notify',
    live,
    suspend: !live,
    jobs: [],
    pods: 0,
    ...(mark ? { mark: { to: mark, suspend: false, at: '2026-01-01T00:00:00Z' } } : {}),
  });
  const state = (s?: ReturnType<typeof cron>) => new Map(s ? [['CronJob jobs/notify', s]] : []);
  const plan = (f?: ReturnType<typeof cron>, t?: ReturnType<typeof cron>) =>
    planHandoff({ cluster: 'blue', state: state(f) }, { cluster: 'green', state: state(t) });

  it('moves what the old owner runs, finishes a marked handoff, leaves what is done or stopped', () => {
    expect(plan(cron(true), cron(false)).items[0]?.plan).toBe('move');
    expect(plan(cron(false, 'green'), cron(false)).items[0]?.plan).toBe('resume');
    expect(plan(cron(false), cron(true)).items[0]?.plan).toBe('done');
    expect(plan(cron(false), cron(false)).items[0]?.plan).toBe('stopped');
  });

  it('refuses an object missing on either owner, or live on both', () => {
    expect(plan(cron(true)).problems[0]?.message).toBe(
      'CronJob jobs/notify is on blue but not on green: sync the apps to green first (sync-apps), or it would stop running anywhere.',
    );
    expect(plan(undefined, cron(false)).problems[0]?.kind).toBe('not-on-old-owner');
    expect(plan(cron(true), cron(true)).problems[0]?.message).toContain(
      'is live on both blue and green (not suspended / not suspended): it may be running twice right now',
    );
  });
});

describe('handOffSingletons when the new owner stops answering after a start write was sent', () => {
  /** One CronJob in memory, merge-patched as the apiserver would (enough for the handoff). */
  function memoryApi(cluster: string, suspend: boolean) {
    const cron = {
      metadata: { name: 'notify', namespace: 'jobs', uid: `${cluster}-uid`, annotations: {} },
      spec: { schedule: '* * * * *', suspend },
      status: {} as Record<string, unknown>,
    };
    let down = false;
    const unreachable = (method: string, path: string) =>
      new KubeUnreachableError(cluster, method, path, true, 'ECONNRESET');
    const merge = (target: Record<string, unknown>, patch: Record<string, unknown>): void => {
      for (const [k, v] of Object.entries(patch)) {
        if (v === null) delete target[k];
        else if (typeof v === 'object' && !Array.isArray(v)) {
          merge((target[k] ??= {}) as Record<string, unknown>, v as Record<string, unknown>);
        } else target[k] = v;
      }
    };
    const api: KubeApi & { cron: typeof cron; fail(): void } = {
      cluster,
      cron,
      fail: () => (down = true),
      get: <T>(path: string) => {
        if (down) return Promise.reject(unreachable('GET', path));
        return Promise.resolve(
          (path.endsWith('/jobs')
            ? { items: [] }
            : path.endsWith('/cronjobs')
              ? { items: [cron] }
              : cron) as T,
        );
      },
      find: <T>(path: string) => api.get<T>(path),
      post: () => Promise.reject(new Error('not used')),
      mergePatch: <T>(path: string, body: unknown) => {
        if (down) return Promise.reject(unreachable('PATCH', path));
        merge(cron as unknown as Record<string, unknown>, body as Record<string, unknown>);
        return Promise.resolve(cron as T);
      },
      delete: () => Promise.resolve(),
      close: () => undefined,
    };
    return api;
  }

  it('leaves blue stopped (never both live) and says the state is unsafe', async () => {
    const blue = memoryApi('blue', false);
    const green = memoryApi('green', true);
    const realPatch = green.mergePatch.bind(green);
    green.mergePatch = async <T>(path: string, body: unknown): Promise<T> => {
      if ((body as { spec?: { suspend?: boolean } }).spec?.suspend === false) {
        await realPatch(path, body); // it lands…
        green.fail(); // …and the answer is lost
        throw new KubeUnreachableError('green', 'PATCH', path, true, 'ECONNRESET');
      }
      return realPatch<T>(path, body);
    };
    const policy = { namespaces: ['jobs'] };
    const plan = planHandoff(
      { cluster: 'blue', state: await readSingletons(blue, policy) },
      { cluster: 'green', state: await readSingletons(green, policy) },
    );
    const result = await handOffSingletons(
      { plan, from: blue, to: green, drainTimeoutMs: 1000, activeJobs: 'wait', settleMs: 0 },
      { clock: systemClock, logger: new MemoryLogger() },
    );
    expect(result.status).toBe('failed');
    expect(result.state).toBe('unsafe');
    expect(result.message).toContain('NOT restored, because green could not be confirmed stopped');
    expect(result.message).toContain('Run the handoff again');
    expect(blue.cron.spec.suspend).toBe(true);
    expect(green.cron.spec.suspend).toBe(false);
  });
});
