/**
 * Waiting until every Deployment, StatefulSet and DaemonSet that was applied is available, and
 * explaining the ones that are not: their conditions and the latest events of them and their
 * pods. Reads go to the apiserver through sync-apps' kubectl proxy (src/kube/proxy.ts: the same
 * kubeconfig and token as the sync).
 */
import { ExplainedError } from '../common/errors.js';
import type { KubeApi } from './api.js';
import { formatRef, type ObjectRef } from './manifests.js';
import { listObjects, RESOURCES } from './proxy.js';

export interface WorkloadStatus extends ObjectRef {
  ready: boolean;
  /** "2/2 available", "1/3 updated, 0/3 available", "not found". */
  summary: string;
  conditions: string[];
  /** Kubernetes gave up (Deployment Progressing=False: ProgressDeadlineExceeded). */
  failed: boolean;
}

interface KubeObject {
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    generation?: number;
    annotations?: Record<string, string>;
  };
  spec?: { replicas?: number };
  status?: Record<string, unknown> & {
    observedGeneration?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export function workloadStatus(ref: ObjectRef, obj: KubeObject | undefined): WorkloadStatus {
  if (!obj) return { ...ref, ready: false, summary: 'not found', conditions: [], failed: false };
  const s = obj.status ?? {};
  const n = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : 0);
  const conditions = (s.conditions ?? []).map(
    (c) =>
      `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`,
  );
  const observed = (s.observedGeneration ?? 0) >= (obj.metadata?.generation ?? 0);
  let ready: boolean;
  let summary: string;
  let failed = false;
  switch (ref.kind) {
    case 'Deployment': {
      const want = obj.spec?.replicas ?? 1;
      ready =
        observed &&
        n('updatedReplicas') >= want &&
        n('availableReplicas') >= want &&
        n('replicas') <= want;
      summary = `${n('updatedReplicas')}/${want} updated, ${n('availableReplicas')}/${want} available`;
      failed = (s.conditions ?? []).some(
        (c) =>
          c.type === 'Progressing' &&
          c.status === 'False' &&
          c.reason === 'ProgressDeadlineExceeded',
      );
      break;
    }
    case 'StatefulSet': {
      const want = obj.spec?.replicas ?? 1;
      ready =
        observed &&
        n('readyReplicas') >= want &&
        n('updatedReplicas') >= want &&
        (s.currentRevision === undefined ||
          s.currentRevision === s.updateRevision ||
          n('updatedReplicas') >= want);
      summary = `${n('updatedReplicas')}/${want} updated, ${n('readyReplicas')}/${want} ready`;
      break;
    }
    default: {
      const want = n('desiredNumberScheduled');
      ready = observed && n('updatedNumberScheduled') >= want && n('numberAvailable') >= want;
      summary = `${n('updatedNumberScheduled')}/${want} updated, ${n('numberAvailable')}/${want} available`;
    }
  }
  if (ready && !summary.includes('0/0')) summary = summary.replace(/^.*, /, '');
  return { ...ref, ready, summary, conditions, failed };
}

const WORKLOAD_KINDS = [RESOURCES.Deployment, RESOURCES.StatefulSet, RESOURCES.DaemonSet];

/** The current status of each workload (one list per kind and namespace, all at once). */
export async function readWorkloads(kube: KubeApi, refs: ObjectRef[]): Promise<WorkloadStatus[]> {
  const wanted = [...new Set(refs.map((r) => `${r.kind}\n${r.namespace}`))].map((k) => {
    const [kind, namespace] = k.split('\n') as [string, string];
    return { kind, namespace };
  });
  const lists = await Promise.all(
    wanted.map(async ({ kind, namespace }) => {
      const r = WORKLOAD_KINDS.find((x) => x.kind === kind);
      return r ? listObjects<KubeObject>(kube, r, namespace) : [];
    }),
  );
  const byKey = new Map<string, KubeObject>();
  for (const item of lists.flat()) {
    byKey.set(`${item.kind}/${item.metadata?.namespace}/${item.metadata?.name}`, item);
  }
  return refs.map((r) => workloadStatus(r, byKey.get(`${r.kind}/${r.namespace}/${r.name}`)));
}

export interface WaitOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  now: () => number;
  intervalMs?: number;
}

/** Resolves when every workload is available; throws naming each one that is not. */
export async function waitForWorkloads(
  kube: KubeApi,
  refs: ObjectRef[],
  options: WaitOptions,
): Promise<WorkloadStatus[]> {
  const deadline = options.now() + options.timeoutMs;
  for (;;) {
    const statuses = await readWorkloads(kube, refs);
    const waiting = statuses.filter((s) => !s.ready);
    if (waiting.length === 0) return statuses;
    const failed = waiting.filter((s) => s.failed);
    if (failed.length > 0 || options.now() >= deadline) {
      const why =
        failed.length > 0
          ? 'Kubernetes reports no progress'
          : `not available after ${Math.round(options.timeoutMs / 1000)} s`;
      throw new ExplainedError(
        await explainNotReady(kube, failed.length > 0 ? failed : waiting, why),
      );
    }
    await options.sleep(options.intervalMs ?? 2_000, options.signal);
  }
}

/** "Deployment web/api is not available …: conditions …; latest events …", one block per workload. */
export async function explainNotReady(
  kube: KubeApi,
  statuses: WorkloadStatus[],
  why: string,
): Promise<string> {
  const blocks: string[] = [];
  for (const s of statuses) {
    const events = await latestEvents(kube, s).catch(() => [] as string[]);
    blocks.push(
      [
        `${formatRef(s)}: ${s.summary}`,
        ...s.conditions.map((c) => `  condition ${c}`),
        ...(events.length > 0 ? events.map((e) => `  event ${e}`) : ['  no events']),
      ].join('\n'),
    );
  }
  const names = statuses.map((s) => formatRef(s)).join(', ');
  return `${statuses.length === 1 ? 'A workload is' : `${statuses.length} workloads are`} not available (${why}): ${names}.\n${blocks.join('\n')}`;
}

interface KubeEvent {
  involvedObject?: { kind?: string; name?: string };
  reason?: string;
  message?: string;
  type?: string;
  lastTimestamp?: string;
  eventTime?: string;
  firstTimestamp?: string;
  metadata?: { creationTimestamp?: string };
}

/** The latest events of the workload, its ReplicaSets and its pods (names start with its own). */
export async function latestEvents(kube: KubeApi, ref: ObjectRef, count = 5): Promise<string[]> {
  const items = await listObjects<KubeEvent & { kind?: string }>(
    kube,
    RESOURCES.Event,
    ref.namespace,
  );
  const when = (e: KubeEvent) =>
    e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp ?? '';
  return items
    .filter((e) => {
      const name = e.involvedObject?.name ?? '';
      return name === ref.name || name.startsWith(`${ref.name}-`);
    })
    .sort((a, b) => when(a).localeCompare(when(b)))
    .slice(-count)
    .map((e) =>
      `${when(e)} ${e.type ?? ''} ${e.involvedObject?.kind ?? ''}/${e.involvedObject?.name ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`
        .replace(/\s+/g, ' ')
        .trim(),
    );
}

/** The workloads helm manages for these releases (helm annotates everything it creates). */
export async function releaseWorkloads(
  kube: KubeApi,
  releases: { name: string; namespace: string }[],
): Promise<WorkloadStatus[]> {
  const lists = await Promise.all(WORKLOAD_KINDS.map((r) => listObjects<KubeObject>(kube, r)));
  return lists
    .flat()
    .filter((o) =>
      releases.some(
        (r) =>
          o.metadata?.annotations?.['meta.helm.sh/release-name'] === r.name &&
          o.metadata?.annotations?.['meta.helm.sh/release-namespace'] === r.namespace,
      ),
    )
    .map((o) =>
      workloadStatus(
        {
          kind: o.kind ?? '',
          namespace: o.metadata?.namespace ?? '',
          name: o.metadata?.name ?? '',
        },
        o,
      ),
    );
}
