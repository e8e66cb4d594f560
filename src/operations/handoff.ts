/**
 * The owner step of a rollout file: read the declared CronJobs and singletons on the old and the
 * new owner (plan, gate), and hand them over (apply, rollback). The clusters are the file's
 * `clusters.<name>.eks`; the objects, its `singletons`.
 */
import { errorMessage } from '../common/errors.js';
import type { KubeApi } from '../kube/api.js';
import { nextSlot } from '../kube/cron.js';
import {
  handOffSingletons,
  planHandoff,
  readSingletons,
  refKey,
  type HandoffPlan,
  type HandoffPolicy,
  type HandoffResult,
  type SingletonState,
} from '../kube/handoff.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, type RolloutFile } from '../rollout-file/types.js';
import type { RolloutDeps } from './context.js';

export function handoffPolicy(file: RolloutFile): HandoffPolicy {
  return {
    ...(file.singletons?.namespaces ? { namespaces: file.singletons.namespaces } : {}),
    ...(file.singletons?.selector ? { selector: file.singletons.selector } : {}),
  };
}

interface Connected {
  from: KubeApi;
  to: KubeApi;
  close(): void;
}

async function connect(
  file: RolloutFile,
  fromName: string,
  toName: string,
  deps: Pick<RolloutDeps, 'kube'>,
): Promise<Connected> {
  const kube = deps.kube;
  if (!kube) {
    throw new Error('this command was started without access to the EKS clusters');
  }
  const eksOf = (name: string): string => {
    const c = file.clusters.find((x) => x.name === name);
    if (!c) throw new Error(`cluster "${name}" is not in the rollout file`);
    return c.eks;
  };
  const [from, to] = await Promise.all([
    kube(file.region, eksOf(fromName), fromName),
    kube(file.region, eksOf(toName), toName),
  ]);
  return {
    from,
    to,
    close: () => {
      from.close();
      to.close();
    },
  };
}

/** Both owners' state and what the handoff would do; a cluster that cannot be read is a problem. */
export async function readHandoff(
  file: RolloutFile,
  fromName: string,
  toName: string,
  deps: Pick<RolloutDeps, 'kube'>,
): Promise<{ plan: HandoffPlan } | { error: string }> {
  let c: Connected | undefined;
  try {
    c = await connect(file, fromName, toName, deps);
    const policy = handoffPolicy(file);
    const [f, t] = await Promise.all([
      readSingletons(c.from, policy),
      readSingletons(c.to, policy),
    ]);
    return {
      plan: planHandoff({ cluster: fromName, state: f }, { cluster: toName, state: t }),
    };
  } catch (e) {
    return { error: `Cannot read the CronJobs and singletons: ${errorMessage(e)}` };
  } finally {
    c?.close();
  }
}

/** Reads both owners again, refuses on any problem, and hands over. */
export async function runHandoff(
  file: RolloutFile,
  fromName: string,
  toName: string,
  deps: Pick<RolloutDeps, 'kube' | 'clock' | 'logger' | 'signal'>,
): Promise<HandoffResult | { refused: string[] }> {
  const c = await connect(file, fromName, toName, deps);
  try {
    const policy = handoffPolicy(file);
    const [f, t] = await Promise.all([
      readSingletons(c.from, policy),
      readSingletons(c.to, policy),
    ]);
    const plan = planHandoff({ cluster: fromName, state: f }, { cluster: toName, state: t });
    if (plan.problems.length > 0) return { refused: plan.problems.map((p) => p.message) };
    return await handOffSingletons(
      {
        plan,
        from: c.from,
        to: c.to,
        drainTimeoutMs: file.singletons?.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
        activeJobs: file.singletons?.activeJobs ?? 'wait',
      },
      {
        clock: deps.clock,
        logger: deps.logger,
        ...(deps.signal ? { signal: deps.signal } : {}),
      },
    );
  } finally {
    c.close();
  }
}

/** One line per object for plans and summaries. */
export function describePlan(plan: HandoffPlan, drainTimeoutMs: number, now: Date): string[] {
  const lines: string[] = [];
  for (const i of plan.items) {
    const f = i.from;
    const t = i.to;
    const state = (s: typeof f): string => {
      if (!s) return 'missing';
      if (s.kind === 'CronJob') {
        const active = s.jobs.filter((j) => !j.finished).length;
        return `${s.suspend ? 'suspended' : 'live'}, last slot ${s.lastScheduleTime ?? 'none'}, ${active} running Job(s)`;
      }
      return `replicas ${s.replicas ?? 1}, ${s.pods} pod(s)`;
    };
    const next = (): string => {
      const s = f ?? t;
      if (s?.kind !== 'CronJob' || !s.schedule) return '';
      if (s.timeZone) return ` (schedule "${s.schedule}" in ${s.timeZone})`;
      const at = nextSlot(s.schedule, now);
      return ` (schedule "${s.schedule}", next slot ${at ? at.toISOString().replace(':00.000Z', 'Z') : 'not computed'})`;
    };
    const action = {
      move: `moves from ${plan.from} to ${plan.to}`,
      resume: `a handoff to ${plan.to} was in flight: finished now`,
      done: `already runs on ${plan.to}: nothing to do`,
      stopped: 'stopped on both by its chart: stays stopped',
    }[i.plan];
    lines.push(
      `${i.ref.kind} ${i.ref.namespace}/${i.ref.name}${next()}: ${plan.from}: ${state(f)}; ${plan.to}: ${state(t)} → ${action}`,
    );
  }
  const running = plan.items.reduce(
    (n, i) => n + (i.from?.jobs.filter((j) => !j.finished).length ?? 0),
    0,
  );
  lines.push(
    running > 0
      ? `The handoff waits for ${running} running Job(s) on ${plan.from}, at most ${Math.round(drainTimeoutMs / 1000)} s (singletons.drainTimeout).`
      : `No Job is running on ${plan.from} now: the handoff should take a few seconds (at most ${Math.round(drainTimeoutMs / 1000)} s of drain).`,
  );
  return lines;
}

/** One cluster's declared CronJobs and singleton Deployments, or why they could not be read. */
export type ClusterSingletons =
  { cluster: string; objects: SingletonState[] } | { cluster: string; error: string };

/**
 * Every cluster's CronJobs and singletons as the handoff reads them (the file's `singletons`
 * scope), each cluster on its own: one that cannot be reached is reported, the others still are.
 */
export async function readClusterSingletons(
  file: RolloutFile,
  deps: Pick<RolloutDeps, 'kube'>,
): Promise<ClusterSingletons[]> {
  const kube = deps.kube;
  const policy = handoffPolicy(file);
  return Promise.all(
    file.clusters.map(async (c): Promise<ClusterSingletons> => {
      if (!kube) return { cluster: c.name, error: 'started without access to the EKS clusters' };
      let api: KubeApi | undefined;
      try {
        api = await kube(file.region, c.eks, c.name);
        const objects = [...(await readSingletons(api, policy)).values()].sort((a, b) =>
          refKey(a).localeCompare(refKey(b)),
        );
        return { cluster: c.name, objects };
      } catch (e) {
        return { cluster: c.name, error: `cannot read its apiserver: ${errorMessage(e)}` };
      } finally {
        api?.close();
      }
    }),
  );
}
