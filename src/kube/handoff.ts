/**
 * The singleton handoff: every CronJob and singleton Deployment the rollout file declares moves
 * from the old owner to the new one, exactly once. In phases, each across every object at once
 * (bounded), each write read back before the next phase:
 *
 *   stop     old owner: suspend / scale to 0, with a mark (annotation) that says where it is
 *            going and what it was, in the same write — a crash after it leaves a state a re-run
 *            recognises and can finish or undo
 *   drain    wait until the old owner runs nothing: no unfinished Job of the CronJob (or delete
 *            them when the file says so), no pod of the Deployment; bounded by the drain timeout
 *   carry    the old owner's last schedule slot into the new owner's status.lastScheduleTime
 *            (status subresource): resuming a CronJob makes the controller run the most recent
 *            slot it missed since that time, so without this the new owner would run again a
 *            slot the old owner already ran
 *   start    new owner: resume / scale up to what the old owner had
 *   finish   drop the mark on the old owner
 *
 * A failure or cancellation at any point restores the old owner: the new owner is stopped first
 * (and its pods gone), then the old owner gets back what its mark says. A new owner whose state
 * cannot be confirmed (its apiserver stopped answering after a start write was sent) is never
 * joined by a restored old owner: the object is left stopped on the old owner and reported.
 * The states this leaves: old owner live, new owner live, or both stopped, and every message
 * says which.
 */
import type { Clock } from '../common/clock.js';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { KubeUnreachableError, type KubeApi } from './api.js';

/** The mark on the old owner's object while a handoff is in flight. */
export const HANDOFF_ANNOTATION = 'eks-cluster-canary/handoff';
/** Where the CronJob controller records the slot a Job was made for (Kubernetes 1.28+). */
const SCHEDULED_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

export type SingletonKind = 'CronJob' | 'Deployment';

export interface SingletonRef {
  kind: SingletonKind;
  namespace: string;
  name: string;
}

export interface HandoffPolicy {
  /** Only these namespaces; undefined: every namespace. */
  namespaces?: string[];
  /** matchLabels of singleton Deployments; undefined: no Deployment is a singleton. */
  selector?: Record<string, string>;
}

/** What the mark on the old owner holds. */
export interface HandoffMark {
  to: string;
  /** The CronJob's suspend before the handoff. */
  suspend?: boolean;
  /** The Deployment's replicas before the handoff. */
  replicas?: number;
  at: string;
}

export interface JobState {
  name: string;
  /** The slot the controller made it for. */
  scheduledAt?: string;
  finished: boolean;
  startedAt?: string;
}

/** One declared object on one cluster, as read. */
export interface SingletonState extends SingletonRef {
  /** CronJob: not suspended. Deployment: replicas above 0. */
  live: boolean;
  suspend?: boolean;
  replicas?: number;
  schedule?: string;
  /** spec.timeZone, when the CronJob sets one. */
  timeZone?: string;
  startingDeadlineSeconds?: number;
  lastScheduleTime?: string;
  /** CronJob: its Jobs (finished or not). */
  jobs: JobState[];
  /** Deployment: pods that exist (terminating included). */
  pods: number;
  podSelector?: Record<string, string>;
  mark?: HandoffMark;
}

export const refKey = (r: SingletonRef): string => `${r.kind} ${r.namespace}/${r.name}`;

export function activeJobs(s: SingletonState): JobState[] {
  return s.jobs.filter((j) => !j.finished);
}

/** The latest slot the cluster ran (or started) for a CronJob: status and its Jobs together. */
export function lastSlot(s: SingletonState): string | undefined {
  const times = [s.lastScheduleTime, ...s.jobs.map((j) => j.scheduledAt)].filter(
    (t): t is string => t !== undefined,
  );
  return times.sort((a, b) => Date.parse(a) - Date.parse(b)).at(-1);
}

function objectPath(r: SingletonRef): string {
  return r.kind === 'CronJob'
    ? `/apis/batch/v1/namespaces/${r.namespace}/cronjobs/${r.name}`
    : `/apis/apps/v1/namespaces/${r.namespace}/deployments/${r.name}`;
}

interface KubeList<T> {
  items: T[];
}
interface Meta {
  name: string;
  namespace: string;
  uid: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  ownerReferences?: { kind: string; name: string; uid: string }[];
}
interface CronJobObject {
  metadata: Meta;
  spec: {
    schedule: string;
    suspend?: boolean;
    startingDeadlineSeconds?: number;
    timeZone?: string;
  };
  status?: { lastScheduleTime?: string; active?: { name: string }[] };
}
interface DeploymentObject {
  metadata: Meta;
  spec: { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
}
interface JobObject {
  metadata: Meta;
  status?: {
    startTime?: string;
    completionTime?: string;
    conditions?: { type: string; status: string }[];
  };
}
interface PodObject {
  metadata: Meta;
  status?: { phase?: string };
}

function parseMark(meta: Meta): HandoffMark | undefined {
  const text = meta.annotations?.[HANDOFF_ANNOTATION];
  if (!text) return undefined;
  try {
    const m = JSON.parse(text) as HandoffMark;
    return typeof m.to === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

function labelSelector(labels: Record<string, string>): string {
  return encodeURIComponent(
    Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  );
}

function jobState(j: JobObject): JobState {
  const done = (j.status?.conditions ?? []).some(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
  const stamp = j.metadata.annotations?.[SCHEDULED_ANNOTATION];
  // Older controllers name the Job <cronjob>-<minutes since the epoch> and set no annotation.
  const minutes = /-(\d{8,})$/.exec(j.metadata.name)?.[1];
  const scheduledAt =
    stamp ?? (minutes ? new Date(Number(minutes) * 60_000).toISOString() : undefined);
  return {
    name: j.metadata.name,
    finished: done || j.status?.completionTime !== undefined,
    ...(scheduledAt ? { scheduledAt } : {}),
    ...(j.status?.startTime ? { startedAt: j.status.startTime } : {}),
  };
}

function cronJobState(c: CronJobObject, jobs: JobObject[]): SingletonState {
  const mark = parseMark(c.metadata);
  return {
    kind: 'CronJob',
    namespace: c.metadata.namespace,
    name: c.metadata.name,
    live: c.spec.suspend !== true,
    suspend: c.spec.suspend === true,
    schedule: c.spec.schedule,
    ...(c.spec.timeZone ? { timeZone: c.spec.timeZone } : {}),
    ...(c.spec.startingDeadlineSeconds !== undefined
      ? { startingDeadlineSeconds: c.spec.startingDeadlineSeconds }
      : {}),
    ...(c.status?.lastScheduleTime ? { lastScheduleTime: c.status.lastScheduleTime } : {}),
    jobs: jobs
      .filter((j) => j.metadata.ownerReferences?.some((o) => o.uid === c.metadata.uid))
      .map(jobState),
    pods: 0,
    ...(mark ? { mark } : {}),
  };
}

/** Every declared CronJob and singleton Deployment on one cluster, with its Jobs and pods. */
export async function readSingletons(
  api: KubeApi,
  policy: HandoffPolicy,
): Promise<Map<string, SingletonState>> {
  const scopes = policy.namespaces?.map((ns) => `/namespaces/${ns}`) ?? [''];
  const out = new Map<string, SingletonState>();
  await Promise.all(
    scopes.map(async (scope) => {
      const [cronJobs, jobs] = await Promise.all([
        api.get<KubeList<CronJobObject>>(`/apis/batch/v1${scope}/cronjobs`),
        api.get<KubeList<JobObject>>(`/apis/batch/v1${scope}/jobs`),
      ]);
      for (const c of cronJobs.items) {
        const s = cronJobState(
          c,
          jobs.items.filter((j) => j.metadata.namespace === c.metadata.namespace),
        );
        out.set(refKey(s), s);
      }
      if (!policy.selector || Object.keys(policy.selector).length === 0) return;
      const deployments = await api.get<KubeList<DeploymentObject>>(
        `/apis/apps/v1${scope}/deployments?labelSelector=${labelSelector(policy.selector)}`,
      );
      await Promise.all(
        deployments.items.map(async (d) => {
          const s = await deploymentState(api, d);
          out.set(refKey(s), s);
        }),
      );
    }),
  );
  return out;
}

async function deploymentState(api: KubeApi, d: DeploymentObject): Promise<SingletonState> {
  const podSelector = d.spec.selector?.matchLabels ?? {};
  const mark = parseMark(d.metadata);
  const replicas = d.spec.replicas ?? 1;
  return {
    kind: 'Deployment',
    namespace: d.metadata.namespace,
    name: d.metadata.name,
    live: replicas > 0,
    replicas,
    jobs: [],
    pods: await countPods(api, d.metadata.namespace, podSelector),
    podSelector,
    ...(mark ? { mark } : {}),
  };
}

async function countPods(
  api: KubeApi,
  namespace: string,
  selector: Record<string, string>,
): Promise<number> {
  if (Object.keys(selector).length === 0) return 0;
  const pods = await api.get<KubeList<PodObject>>(
    `/api/v1/namespaces/${namespace}/pods?labelSelector=${labelSelector(selector)}`,
  );
  return pods.items.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
    .length;
}

async function readOne(api: KubeApi, r: SingletonRef): Promise<SingletonState | undefined> {
  if (r.kind === 'CronJob') {
    const c = await api.find<CronJobObject>(objectPath(r));
    if (!c) return undefined;
    const jobs = await api.get<KubeList<JobObject>>(
      `/apis/batch/v1/namespaces/${r.namespace}/jobs`,
    );
    return cronJobState(c, jobs.items);
  }
  const d = await api.find<DeploymentObject>(objectPath(r));
  return d ? deploymentState(api, d) : undefined;
}

// ---- planning -------------------------------------------------------------------------------

export type ObjectPlan =
  /** Live on the old owner, stopped on the new: the handoff moves it. */
  | 'move'
  /** Stopped on the old owner with our mark, stopped on the new: a handoff in flight, finished. */
  | 'resume'
  /** Already live on the new owner and stopped on the old: nothing to do. */
  | 'done'
  /** Stopped on both without our mark (the chart stops it): stays stopped, nothing to do. */
  | 'stopped';

export interface HandoffPlanItem {
  ref: SingletonRef;
  plan: ObjectPlan;
  from?: SingletonState;
  to?: SingletonState;
}

export interface HandoffPlanProblem {
  ref: SingletonRef;
  kind: 'not-synced' | 'not-on-old-owner' | 'both-live';
  message: string;
}

export interface HandoffPlan {
  from: string;
  to: string;
  items: HandoffPlanItem[];
  problems: HandoffPlanProblem[];
}

/** What the handoff will do with each object, from both clusters' states; reads nothing. */
export function planHandoff(
  from: { cluster: string; state: Map<string, SingletonState> },
  to: { cluster: string; state: Map<string, SingletonState> },
): HandoffPlan {
  const keys = [...new Set([...from.state.keys(), ...to.state.keys()])].sort();
  const items: HandoffPlanItem[] = [];
  const problems: HandoffPlanProblem[] = [];
  for (const key of keys) {
    const f = from.state.get(key);
    const t = to.state.get(key);
    const ref = (f ?? t) as SingletonState;
    const plain = { kind: ref.kind, namespace: ref.namespace, name: ref.name };
    if (!t) {
      problems.push({
        ref: plain,
        kind: 'not-synced',
        message: `${key} is on ${from.cluster} but not on ${to.cluster}: sync the apps to ${to.cluster} first (sync-apps), or it would stop running anywhere.`,
      });
      continue;
    }
    if (!f) {
      problems.push({
        ref: plain,
        kind: 'not-on-old-owner',
        message: `${key} is on ${to.cluster} but not on ${from.cluster}, the owner in git: nothing says whether it should run. Sync the apps to ${from.cluster} too, or remove it from ${to.cluster}.`,
      });
      continue;
    }
    const item = { ref: plain, from: f, to: t };
    if (f.live && t.live) {
      problems.push({
        ref: plain,
        kind: 'both-live',
        message: `${key} is live on both ${from.cluster} and ${to.cluster} (${describeLive(f)} / ${describeLive(t)}): it may be running twice right now. Stop it on ${to.cluster}, which does not own it in git.`,
      });
    } else if (f.live) items.push({ ...item, plan: 'move' });
    else if (t.live) items.push({ ...item, plan: 'done' });
    else if (f.mark?.to === to.cluster) items.push({ ...item, plan: 'resume' });
    else items.push({ ...item, plan: 'stopped' });
  }
  return { from: from.cluster, to: to.cluster, items, problems };
}

export function describeLive(s: SingletonState): string {
  if (s.kind === 'CronJob') return s.suspend ? 'suspended' : 'not suspended';
  return `replicas ${s.replicas ?? 1}`;
}

// ---- the handoff ----------------------------------------------------------------------------

export interface HandoffOptions {
  plan: HandoffPlan;
  from: KubeApi;
  to: KubeApi;
  /** The longest the old owner's running Jobs and pods are waited for. */
  drainTimeoutMs: number;
  /** `delete`: the old owner's running Jobs are deleted instead of waited for. */
  activeJobs: 'wait' | 'delete';
  /** Objects worked on at once; default 8. */
  parallel?: number;
  /**
   * After the stop writes, before "no Job is running" is believed: a Job the controller was
   * creating as the suspend landed appears within this time. Default 1 s.
   */
  settleMs?: number;
  /** Polling while draining; default 250 ms. */
  pollMs?: number;
  /** How long a restore waits for the new owner's pods to go; default 60 s. */
  restoreDrainMs?: number;
}

export interface HandoffDeps {
  clock: Clock;
  logger: Logger;
  /** Cancels the drain (and any phase not yet started); the restore still runs. */
  signal?: AbortSignal;
}

export type HandoffState = 'new-owner-live' | 'old-owner-live' | 'both-stopped' | 'unsafe';

export interface HandedObject {
  ref: SingletonRef;
  plan: ObjectPlan;
  /** The slot carried into the new owner's status (CronJob). */
  carried?: string;
  /** Jobs of the old owner that were running when it was stopped, waited for or deleted. */
  drained: string[];
  replicas?: number;
}

export interface HandoffResult {
  from: string;
  to: string;
  status: 'handed-off' | 'unchanged' | 'restored' | 'failed';
  /** Where every object runs now. */
  state: HandoffState;
  message: string;
  objects: HandedObject[];
  /** Jobs still running on the old owner when the drain timed out. */
  stillRunning?: string[];
  /** Objects whose state on the new owner could not be confirmed (state `unsafe`). */
  unconfirmed?: string[];
  drainMs: number;
  totalMs: number;
}

class HandoffStopped extends Error {}

interface Work {
  item: HandoffPlanItem;
  /** What the new owner gets: the old owner's suspend / replicas before the handoff. */
  original: { suspend?: boolean; replicas?: number };
  /** Our stop write on the old owner may have landed. */
  oldStopped: boolean;
  /** A start write to the new owner may have landed. */
  newTouched: boolean;
  out: HandedObject;
}

export async function handOffSingletons(
  options: HandoffOptions,
  deps: HandoffDeps,
): Promise<HandoffResult> {
  const { plan, from, to } = options;
  const { clock, logger, signal } = deps;
  const started = clock.now().getTime();
  const parallel = Math.max(1, options.parallel ?? 8);
  const work: Work[] = plan.items
    .filter((i) => i.plan === 'move' || i.plan === 'resume')
    .map((item) => {
      const f = item.from as SingletonState;
      const original =
        item.plan === 'resume'
          ? {
              ...(f.mark?.suspend !== undefined ? { suspend: f.mark.suspend } : {}),
              ...(f.mark?.replicas !== undefined ? { replicas: f.mark.replicas } : {}),
            }
          : f.kind === 'CronJob'
            ? { suspend: false }
            : { replicas: f.replicas ?? 1 };
      return {
        item,
        original,
        oldStopped: item.plan === 'resume',
        newTouched: false,
        out: { ref: item.ref, plan: item.plan, drained: [] },
      };
    });
  const result = (
    status: HandoffResult['status'],
    state: HandoffState,
    message: string,
    extra: Partial<HandoffResult> = {},
  ): HandoffResult => ({
    from: plan.from,
    to: plan.to,
    status,
    state,
    message,
    objects: work.map((w) => w.out),
    drainMs: 0,
    totalMs: clock.now().getTime() - started,
    ...extra,
  });
  if (work.length === 0) {
    return result(
      'unchanged',
      'new-owner-live',
      `Nothing to hand over: every declared CronJob and singleton already runs on ${plan.to} (or is stopped on both by its chart).`,
    );
  }
  const checkSignal = (): void => {
    if (signal?.aborted) throw new HandoffStopped('the job was cancelled');
  };
  const each = (fn: (w: Work) => Promise<void>, list = work): Promise<void> =>
    forEachBounded(list, parallel, fn);
  let drainMs = 0;

  try {
    checkSignal();
    // stop: the old owner first, read back; nothing starts anywhere until every object is stopped.
    await each(async (w) => {
      if (w.item.plan === 'resume') return;
      const mark: HandoffMark = { to: plan.to, ...w.original, at: clock.now().toISOString() };
      w.oldStopped = true;
      await from.mergePatch(objectPath(w.item.ref), {
        metadata: { annotations: { [HANDOFF_ANNOTATION]: JSON.stringify(mark) } },
        spec: w.item.ref.kind === 'CronJob' ? { suspend: true } : { replicas: 0 },
      });
      const back = await readOne(from, w.item.ref);
      if (!back || back.live) {
        throw new Error(
          `${from.cluster}: ${refKey(w.item.ref)} is still live after the stop write`,
        );
      }
      logger.info(`${from.cluster}: stopped ${refKey(w.item.ref)} (${describeLive(back)})`);
    });

    // drain: nothing of the old owner's may still run when the new owner starts.
    const drainStart = clock.now().getTime();
    const drained = await drain(options, deps, work);
    drainMs = clock.now().getTime() - drainStart;
    if (drained.stillRunning.length > 0) {
      const restored = await restore(options, deps, work);
      return result(
        restored.ok ? 'restored' : 'failed',
        restored.state,
        `The drain timed out after ${Math.round(options.drainTimeoutMs / 1000)} s with Job(s) still running on ${plan.from}: ${drained.stillRunning.join(', ')}. ${restored.message} Wait for them to finish, raise singletons.drainTimeout, or set singletons.activeJobs: delete, then run the handoff again.`,
        { stillRunning: drained.stillRunning, drainMs, ...restored.extra },
      );
    }
    checkSignal();

    // carry: the old owner's last slot becomes the new owner's, so a resume runs no slot twice.
    await each(async (w) => {
      if (w.item.ref.kind !== 'CronJob') return;
      const old = await readOne(from, w.item.ref);
      const next = await readOne(to, w.item.ref);
      if (!old || !next) throw new Error(`${refKey(w.item.ref)} disappeared during the handoff`);
      const slot = lastSlot(old);
      const theirs = lastSlot(next);
      if (!slot || (theirs && Date.parse(theirs) >= Date.parse(slot))) return;
      await to.mergePatch(`${objectPath(w.item.ref)}/status`, {
        status: { lastScheduleTime: slot },
      });
      const back = await readOne(to, w.item.ref);
      if (!back?.lastScheduleTime || Date.parse(back.lastScheduleTime) < Date.parse(slot)) {
        throw new Error(
          `${to.cluster}: ${refKey(w.item.ref)} status.lastScheduleTime is ${back?.lastScheduleTime ?? 'unset'} after writing ${slot}`,
        );
      }
      w.out.carried = slot;
      logger.info(
        `${to.cluster}: ${refKey(w.item.ref)} lastScheduleTime ${slot} (from ${from.cluster})`,
      );
    });
    checkSignal();

    // start: the new owner gets what the old owner had.
    await each(async (w) => {
      const spec =
        w.item.ref.kind === 'CronJob'
          ? { suspend: w.original.suspend ?? false }
          : { replicas: w.original.replicas ?? 1 };
      try {
        await to.mergePatch(objectPath(w.item.ref), { spec });
      } catch (e) {
        if (!(e instanceof KubeUnreachableError && !e.sent)) w.newTouched = true;
        throw e;
      }
      w.newTouched = true;
      const back = await readOne(to, w.item.ref);
      if (!back || back.live !== !(spec.suspend === true || spec.replicas === 0)) {
        throw new Error(
          `${to.cluster}: ${refKey(w.item.ref)} did not take ${JSON.stringify(spec)}`,
        );
      }
      if (w.original.replicas !== undefined) w.out.replicas = w.original.replicas;
      logger.info(`${to.cluster}: started ${refKey(w.item.ref)} (${describeLive(back)})`);
    });
  } catch (e) {
    const why =
      e instanceof HandoffStopped || signal?.aborted ? 'the job was cancelled' : errorMessage(e);
    logger.warning(
      `The handoff from ${plan.from} to ${plan.to} failed: ${why}. Restoring ${plan.from}.`,
    );
    const restored = await restore(options, deps, work);
    return result(
      restored.ok ? 'restored' : 'failed',
      restored.state,
      `The handoff from ${plan.from} to ${plan.to} failed (${why}). ${restored.message}`,
      { drainMs, ...restored.extra },
    );
  }

  // finish: the mark has done its job. A failure here leaves the new owner live, as intended.
  await each(async (w) => {
    try {
      await from.mergePatch(objectPath(w.item.ref), {
        metadata: { annotations: { [HANDOFF_ANNOTATION]: null } },
      });
    } catch (e) {
      logger.warning(
        `${from.cluster}: could not remove the handoff mark of ${refKey(w.item.ref)} (${errorMessage(e)}); harmless, it runs on ${plan.to}.`,
      );
    }
  });
  return result(
    'handed-off',
    'new-owner-live',
    `Handed ${work.length} object(s) from ${plan.from} to ${plan.to} (read back on both): they run on ${plan.to} only.`,
    { drainMs },
  );
}

/** Waits until the old owner runs nothing of the work; answers the Jobs still running at timeout. */
async function drain(
  options: HandoffOptions,
  deps: HandoffDeps,
  work: Work[],
): Promise<{ stillRunning: string[] }> {
  const { from } = options;
  const { clock, logger, signal } = deps;
  const pollMs = options.pollMs ?? 250;
  const deadline = clock.now().getTime() + options.drainTimeoutMs;
  // A Job the controller decided to make just before the suspend landed shows up shortly after.
  await clock.sleep(options.settleMs ?? 1000, signal);
  const deleted = new Set<string>();
  let reported = '';
  for (;;) {
    const running: string[] = [];
    await forEachBounded(work, options.parallel ?? 8, async (w) => {
      const s = await readOne(from, w.item.ref);
      if (!s) return;
      if (s.kind === 'CronJob') {
        const active = activeJobs(s);
        for (const j of active) {
          if (!w.out.drained.includes(j.name)) w.out.drained.push(j.name);
          if (options.activeJobs === 'delete' && !deleted.has(j.name)) {
            deleted.add(j.name);
            logger.info(`${from.cluster}: deleting the running Job ${s.namespace}/${j.name}`);
            await from.delete(`/apis/batch/v1/namespaces/${s.namespace}/jobs/${j.name}`, {
              propagationPolicy: 'Foreground',
            });
          }
        }
        running.push(...active.map((j) => `Job ${s.namespace}/${j.name}`));
      } else if (s.pods > 0) {
        running.push(`${s.pods} pod(s) of Deployment ${s.namespace}/${s.name}`);
      }
    });
    if (running.length === 0) return { stillRunning: [] };
    const text = running.join(', ');
    if (text !== reported) {
      logger.info(`${from.cluster}: waiting for ${text}`);
      reported = text;
    }
    if (clock.now().getTime() >= deadline) return { stillRunning: running };
    await clock.sleep(pollMs, signal);
  }
}

/**
 * Puts every object back on the old owner: the new owner stopped first (its pods gone), its slots
 * carried back, then the old owner as its mark says. Never with the signal: a cancelled job
 * restores too.
 */
async function restore(
  options: HandoffOptions,
  deps: HandoffDeps,
  work: Work[],
): Promise<{ ok: boolean; state: HandoffState; message: string; extra: Partial<HandoffResult> }> {
  const { from, to, plan } = options;
  const { logger, clock } = deps;
  const unconfirmed: string[] = [];
  const notRestored: string[] = [];
  await forEachBounded(work, options.parallel ?? 8, async (w) => {
    const ref = w.item.ref;
    const key = refKey(ref);
    if (w.newTouched) {
      try {
        await to.mergePatch(objectPath(ref), {
          spec: ref.kind === 'CronJob' ? { suspend: true } : { replicas: 0 },
        });
        const back = await readOne(to, ref);
        if (!back || back.live) throw new Error('still live after the stop write');
        if (ref.kind === 'Deployment') {
          const until = clock.now().getTime() + (options.restoreDrainMs ?? 60_000);
          while ((await readOne(to, ref))?.pods) {
            if (clock.now().getTime() > until) throw new Error('its pods did not go');
            await clock.sleep(options.pollMs ?? 250);
          }
        }
      } catch (e) {
        // Its start may have landed: restoring the old owner could make it run twice.
        unconfirmed.push(`${key} (${errorMessage(e)})`);
        return;
      }
    }
    if (!w.oldStopped) return;
    try {
      if (ref.kind === 'CronJob' && w.newTouched) {
        // Slots the new owner ran while it was live are not run again by the old owner.
        const [mine, theirs] = await Promise.all([readOne(from, ref), readOne(to, ref)]);
        const slot = theirs && lastSlot(theirs);
        const own = mine && lastSlot(mine);
        if (slot && (!own || Date.parse(slot) > Date.parse(own))) {
          await from.mergePatch(`${objectPath(ref)}/status`, {
            status: { lastScheduleTime: slot },
          });
        }
      }
      await from.mergePatch(objectPath(ref), {
        metadata: { annotations: { [HANDOFF_ANNOTATION]: null } },
        spec:
          ref.kind === 'CronJob'
            ? { suspend: w.original.suspend ?? false }
            : { replicas: w.original.replicas ?? 1 },
      });
      const back = await readOne(from, ref);
      const wantLive =
        ref.kind === 'CronJob' ? w.original.suspend !== true : (w.original.replicas ?? 1) > 0;
      if (!back || back.live !== wantLive) throw new Error('the restore write did not take');
      logger.info(`${from.cluster}: restored ${key} (${describeLive(back)})`);
    } catch (e) {
      notRestored.push(`${key} (${errorMessage(e)})`);
    }
  });
  if (unconfirmed.length === 0 && notRestored.length === 0) {
    return {
      ok: true,
      state: 'old-owner-live',
      message: `Restored: every object runs on ${plan.from} again, stopped on ${plan.to} (read back on both).`,
      extra: {},
    };
  }
  const parts: string[] = [];
  if (unconfirmed.length > 0) {
    parts.push(
      `NOT restored, because ${plan.to} could not be confirmed stopped and restoring ${plan.from} could make them run twice: ${unconfirmed.join('; ')}. They are stopped on ${plan.from}; on ${plan.to} they may be live.`,
    );
  }
  if (notRestored.length > 0) {
    parts.push(
      `Could not restore on ${plan.from}: ${notRestored.join('; ')}. They are stopped on both clusters (nothing runs them).`,
    );
  }
  parts.push(
    `Run the handoff again (re-run the job) to finish or undo it once both apiservers answer; it recognises the mark "${HANDOFF_ANNOTATION}" left on ${plan.from}.`,
  );
  return {
    ok: false,
    state: unconfirmed.length > 0 ? 'unsafe' : 'both-stopped',
    message: parts.join(' '),
    extra: unconfirmed.length > 0 ? { unconfirmed } : {},
  };
}

async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        failure ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
