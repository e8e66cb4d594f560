/**
 * Kubernetes manifests as our tools see them: a YAML stream of objects (helm's rendered chart,
 * kubectl's input), read with the `yaml` library so a transform can edit one field and leave
 * the rest of each document as written.
 */
import { parseAllDocuments, isMap, isSeq, type Document } from 'yaml';

export interface ObjectRef {
  kind: string;
  /** Empty for cluster-scoped objects and for namespaced ones that leave it to the tool. */
  namespace: string;
  name: string;
}

/** The kinds sync-apps waits for. */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export interface ManifestObject {
  doc: Document;
  /** Path of the object inside its document: [] or ['items', i] for a List's items. */
  path: (string | number)[];
  ref: ObjectRef;
  labels: Record<string, string>;
}

/** Parses a YAML stream; a syntax error names the document it is in. */
export function parseManifests(text: string, source: string): Document[] {
  const docs = parseAllDocuments(text, { keepSourceTokens: false });
  if (!Array.isArray(docs)) return [];
  docs.forEach((doc, i) => {
    const error = doc.errors[0];
    if (error) {
      throw new Error(`${source}: document ${i + 1} is not valid YAML: ${error.message}`);
    }
  });
  return docs.filter((doc) => doc.contents !== null);
}

/** Every object in the documents, List items included. */
export function manifestObjects(docs: Document[]): ManifestObject[] {
  const out: ManifestObject[] = [];
  for (const doc of docs) {
    if (!isMap(doc.contents)) continue;
    const kind = doc.get('kind');
    if (typeof kind === 'string' && kind.endsWith('List')) {
      const items = doc.get('items');
      if (isSeq(items)) items.items.forEach((_, i) => out.push(objectAt(doc, ['items', i])));
      continue;
    }
    out.push(objectAt(doc, []));
  }
  return out.filter((o) => o.ref.kind !== '' && o.ref.name !== '');
}

function objectAt(doc: Document, path: (string | number)[]): ManifestObject {
  const str = (p: (string | number)[]): string => {
    const v = doc.getIn([...path, ...p]);
    return typeof v === 'string' ? v : '';
  };
  const labelsNode = doc.getIn([...path, 'metadata', 'labels']);
  const labels: Record<string, string> = {};
  if (isMap(labelsNode)) {
    for (const pair of labelsNode.items) {
      const k = (pair.key as { value?: unknown } | null)?.value;
      const v = (pair.value as { value?: unknown } | null)?.value;
      if (k !== undefined && v !== undefined && v !== null) labels[String(k)] = String(v);
    }
  }
  return {
    doc,
    path,
    ref: {
      kind: str(['kind']),
      namespace: str(['metadata', 'namespace']),
      name: str(['metadata', 'name']),
    },
    labels,
  };
}

/** The YAML stream again, with every edit; long strings are never folded. */
export function stringifyManifests(docs: Document[]): string {
  return docs.map((d) => d.toString({ lineWidth: 0 })).join('---\n');
}

/** The Deployments, StatefulSets and DaemonSets in a YAML stream; `namespace` fills in unset ones. */
export function workloadsIn(text: string, namespace: string, source: string): ObjectRef[] {
  return manifestObjects(parseManifests(text, source))
    .map((o) => o.ref)
    .filter((r) => (WORKLOAD_KINDS as readonly string[]).includes(r.kind))
    .map((r) => ({ ...r, namespace: r.namespace || namespace }));
}

export function formatRef(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
}
