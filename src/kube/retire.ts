/**
 * What retiring a cluster needs from its apiserver: the TargetGroupBindings that bind a target
 * group (to delete them, so the AWS Load Balancer Controller deregisters their targets), the
 * addresses of the cluster's pods (to tell its targets from others in the group), and whether
 * the singleton handoff left the cluster running nothing (every declared CronJob suspended with
 * no running Job, every singleton Deployment at 0 replicas with no pod).
 */
import type { KubeApi } from './api.js';
import { activeJobs, refKey, type SingletonState } from './handoff.js';
import { TGB_API_VERSION } from './target-group-binding.js';

const TGB_PATH = `/apis/${TGB_API_VERSION}`;
/** The AWS Load Balancer Controller's finalizer: it deregisters the targets, then drops it. */
export const TGB_FINALIZER = 'elbv2.k8s.aws/resources';

export interface BoundBinding {
  namespace: string;
  name: string;
  targetGroupArn: string;
  serviceName: string;
  /** Being deleted (deletionTimestamp set): the controller is deregistering its targets. */
  deleting: boolean;
  finalizers: string[];
}

interface TgbObject {
  metadata: {
    name: string;
    namespace: string;
    deletionTimestamp?: string;
    finalizers?: string[];
  };
  spec?: { targetGroupARN?: string; serviceRef?: { name?: string } };
}

/** Every binding in the cluster, whatever it binds; none when the CRD is not installed. */
export async function listBindings(api: KubeApi): Promise<BoundBinding[]> {
  const list = await api.find<{ items: TgbObject[] }>(`${TGB_PATH}/targetgroupbindings`);
  return (list?.items ?? [])
    .map((t) => ({
      namespace: t.metadata.namespace,
      name: t.metadata.name,
      targetGroupArn: t.spec?.targetGroupARN ?? '',
      serviceName: t.spec?.serviceRef?.name ?? '',
      deleting: t.metadata.deletionTimestamp !== undefined,
      finalizers: t.metadata.finalizers ?? [],
    }))
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

/** Deletes a binding; answers false when it was gone already. */
export async function deleteBinding(
  api: KubeApi,
  b: Pick<BoundBinding, 'namespace' | 'name'>,
): Promise<boolean> {
  const path = `${TGB_PATH}/namespaces/${b.namespace}/targetgroupbindings/${b.name}`;
  if (!(await api.find(path))) return false;
  try {
    await api.delete(path);
    return true;
  } catch (e) {
    if ((e as { status?: number }).status === 404) return false;
    throw e;
  }
}

interface PodObject {
  status?: { podIP?: string; podIPs?: { ip: string }[] };
}
interface SliceObject {
  endpoints?: { addresses?: string[] }[] | null;
}

/**
 * Every address the cluster's pods have or its EndpointSlices list: a target in the group with
 * one of these addresses was registered from this cluster.
 */
export async function clusterAddresses(api: KubeApi): Promise<Set<string>> {
  const [pods, slices] = await Promise.all([
    api.get<{ items: PodObject[] }>('/api/v1/pods'),
    api.get<{ items: SliceObject[] }>('/apis/discovery.k8s.io/v1/endpointslices'),
  ]);
  const out = new Set<string>();
  for (const p of pods.items) {
    if (p.status?.podIP) out.add(p.status.podIP);
    for (const ip of p.status?.podIPs ?? []) out.add(ip.ip);
  }
  for (const s of slices.items) {
    for (const e of s.endpoints ?? []) for (const a of e.addresses ?? []) out.add(a);
  }
  return out;
}

/**
 * Why the cluster still runs (or may run) a singleton: one sentence per object, empty when the
 * handoff left every declared CronJob suspended with no running Job and every singleton
 * Deployment at 0 replicas with no pod.
 */
export function singletonsStillRunning(
  cluster: string,
  states: Map<string, SingletonState>,
): string[] {
  const out: string[] = [];
  for (const s of [...states.values()].sort((a, b) => refKey(a).localeCompare(refKey(b)))) {
    const what = refKey(s);
    const why: string[] = [];
    if (s.mark) why.push(`a handoff to ${s.mark.to} is in flight (its mark is on it)`);
    if (s.kind === 'CronJob') {
      if (s.live) why.push('is not suspended');
      const running = activeJobs(s);
      if (running.length > 0) {
        why.push(
          `has ${running.length} running Job${running.length === 1 ? '' : 's'} (${running.map((j) => j.name).join(', ')})`,
        );
      }
    } else {
      if (s.live) why.push(`has ${s.replicas ?? 1} replica${s.replicas === 1 ? '' : 's'}`);
      else if (s.pods > 0) why.push(`still has ${s.pods} pod${s.pods === 1 ? '' : 's'}`);
    }
    if (why.length > 0) out.push(`${what} on ${cluster} ${why.join(' and ')}`);
  }
  return out;
}
