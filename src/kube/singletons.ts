/**
 * Singletons never run off the owner. On every cluster but the rollout file's owner, sync-apps
 * renders each CronJob with `spec.suspend: true` and each singleton Deployment with
 * `spec.replicas: 0` before anything reaches the apiserver: as helm's post-renderer (helm,
 * helmfile) or in-process for kubectl manifests. Applying first and suspending after would leave
 * a window in which the CronJob controller can start a Job, which is the duplicate run this
 * tool exists to prevent.
 */
import type { Document } from 'yaml';
import {
  manifestObjects,
  parseManifests,
  stringifyManifests,
  type ObjectRef,
} from './manifests.js';

export interface SingletonPolicy {
  /** Only these namespaces; undefined: every namespace. */
  namespaces?: string[];
  /** matchLabels of singleton Deployments; undefined: no Deployment is a singleton. */
  selector?: Record<string, string>;
  /**
   * The namespace objects without one will land in (helm's --namespace). Undefined: unknown,
   * and such objects are stopped whatever `namespaces` says (stopping too much off the owner
   * is safe; running a CronJob twice is not).
   */
  defaultNamespace?: string;
}

export interface StoppedObject extends ObjectRef {
  /** What the transform set. */
  set: 'suspend: true' | 'replicas: 0';
}

/** Edits `docs` in place; answers what it stopped. */
export function stopSingletonsInDocs(docs: Document[], policy: SingletonPolicy): StoppedObject[] {
  const stopped: StoppedObject[] = [];
  for (const o of manifestObjects(docs)) {
    const namespace = o.ref.namespace || policy.defaultNamespace || '';
    const inScope = !policy.namespaces || namespace === '' || policy.namespaces.includes(namespace);
    if (!inScope) continue;
    const ref = { ...o.ref, namespace };
    if (o.ref.kind === 'CronJob') {
      o.doc.setIn([...o.path, 'spec', 'suspend'], true);
      stopped.push({ ...ref, set: 'suspend: true' });
    } else if (o.ref.kind === 'Deployment' && matches(o.labels, policy.selector)) {
      o.doc.setIn([...o.path, 'spec', 'replicas'], 0);
      stopped.push({ ...ref, set: 'replicas: 0' });
    }
  }
  return stopped;
}

/** The transform on a YAML stream: what helm's post-renderer does with stdin. */
export function stopSingletons(
  manifests: string,
  policy: SingletonPolicy,
): { manifests: string; stopped: StoppedObject[]; objects: ObjectRef[] } {
  const docs = parseManifests(manifests, 'rendered manifests');
  const stopped = stopSingletonsInDocs(docs, policy);
  // Unchanged input goes back byte for byte: helm-diff then sees exactly what helm rendered.
  return {
    manifests: stopped.length > 0 ? stringifyManifests(docs) : manifests,
    stopped,
    objects: manifestObjects(docs).map((o) => o.ref),
  };
}

/** A live object as `kubectl get -o json` gives it (the fields the check reads). */
export interface LiveObject {
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: { suspend?: boolean; replicas?: number };
}

/**
 * The safety net after a sync off the owner: live CronJobs in scope that are not suspended and
 * singleton Deployments with replicas. Empty unless something bypassed the transform.
 */
export function runningSingletons(objects: LiveObject[], policy: SingletonPolicy): StoppedObject[] {
  const out: StoppedObject[] = [];
  for (const o of objects) {
    const ref = {
      kind: o.kind ?? '',
      namespace: o.metadata?.namespace ?? '',
      name: o.metadata?.name ?? '',
    };
    if (policy.namespaces && !policy.namespaces.includes(ref.namespace)) continue;
    if (ref.kind === 'CronJob' && o.spec?.suspend !== true)
      out.push({ ...ref, set: 'suspend: true' });
    if (
      ref.kind === 'Deployment' &&
      matches(o.metadata?.labels ?? {}, policy.selector) &&
      (o.spec?.replicas ?? 1) > 0
    ) {
      out.push({ ...ref, set: 'replicas: 0' });
    }
  }
  return out;
}

function matches(
  labels: Record<string, string>,
  selector: Record<string, string> | undefined,
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
