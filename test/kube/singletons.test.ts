import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { runningSingletons, stopSingletons } from '../../src/kube/singletons.js';

const RENDERED = `---
# Source: demo-app/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports: [{ port: 80 }]
---
# Source: demo-app/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: { app.kubernetes.io/name: web }
spec:
  replicas: 3
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: leader
  labels:
    app.kubernetes.io/singleton: "true"
spec:
  replicas: 1
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "*/5 * * * *"
  suspend: false
  jobTemplate: { spec: { template: { spec: { containers: [{ name: r, image: x }] } } } }
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: other-ns
  namespace: batch
spec:
  schedule: "0 * * * *"
  jobTemplate: { spec: { template: { spec: { containers: [{ name: r, image: x }] } } } }
`;

function objects(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Record<string, unknown>)
    .filter(Boolean);
}

function spec(text: string, name: string): Record<string, unknown> {
  const o = objects(text).find(
    (x) => (x.metadata as { name: string }).name === name && x.kind !== 'Service',
  );
  return o?.spec as Record<string, unknown>;
}

describe('stopSingletons (the post-render transform)', () => {
  it('suspends every CronJob and zeroes the selected Deployments; leaves everything else as rendered', () => {
    const { manifests, stopped } = stopSingletons(RENDERED, {
      selector: { 'app.kubernetes.io/singleton': 'true' },
      defaultNamespace: 'web',
    });
    expect(spec(manifests, 'report').suspend).toBe(true);
    expect(spec(manifests, 'other-ns').suspend).toBe(true);
    expect(spec(manifests, 'leader').replicas).toBe(0);
    expect(spec(manifests, 'web').replicas).toBe(3);
    expect(stopped).toEqual([
      { kind: 'Deployment', namespace: 'web', name: 'leader', set: 'replicas: 0' },
      { kind: 'CronJob', namespace: 'web', name: 'report', set: 'suspend: true' },
      { kind: 'CronJob', namespace: 'batch', name: 'other-ns', set: 'suspend: true' },
    ]);
    // Comments and the other documents survive.
    expect(manifests).toContain('# Source: demo-app/templates/service.yaml');
    expect(objects(manifests)).toHaveLength(5);
  });

  it('without a selector no Deployment is a singleton', () => {
    const { manifests } = stopSingletons(RENDERED, {});
    expect(spec(manifests, 'leader').replicas).toBe(1);
    expect(spec(manifests, 'report').suspend).toBe(true);
  });

  it('namespaces limit the scope; an object without a namespace takes the release namespace', () => {
    const { stopped } = stopSingletons(RENDERED, {
      namespaces: ['batch'],
      defaultNamespace: 'web',
    });
    expect(stopped.map((s) => s.name)).toEqual(['other-ns']);
  });

  it('an object whose namespace is unknown is stopped whatever the namespaces (the safe side)', () => {
    const { stopped } = stopSingletons(RENDERED, { namespaces: ['batch'] });
    expect(stopped.map((s) => s.name)).toEqual(['report', 'other-ns']);
  });

  it('reaches the items of a List', () => {
    const list = `apiVersion: v1
kind: List
items:
  - apiVersion: batch/v1
    kind: CronJob
    metadata: { name: a, namespace: x }
    spec: { schedule: "* * * * *", jobTemplate: {} }
`;
    const { manifests } = stopSingletons(list, {});
    expect(
      (parse(manifests) as { items: { spec: { suspend: boolean } }[] }).items[0]?.spec.suspend,
    ).toBe(true);
  });

  it('gives back input with nothing to stop byte for byte', () => {
    const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  long: "a  b"\n';
    expect(stopSingletons(text, {}).manifests).toBe(text);
  });

  it('names the document of a YAML error', () => {
    expect(() => stopSingletons('a: 1\n---\nb: [\n', {})).toThrow(/document 2 is not valid YAML/);
  });
});

describe('runningSingletons (the check after a sync off the owner)', () => {
  const live = [
    { kind: 'CronJob', metadata: { name: 'a', namespace: 'web' }, spec: { suspend: true } },
    { kind: 'CronJob', metadata: { name: 'b', namespace: 'web' }, spec: {} },
    { kind: 'CronJob', metadata: { name: 'c', namespace: 'other' }, spec: { suspend: false } },
    {
      kind: 'Deployment',
      metadata: { name: 'leader', namespace: 'web', labels: { singleton: 'yes' } },
      spec: { replicas: 1 },
    },
    {
      kind: 'Deployment',
      metadata: { name: 'idle', namespace: 'web', labels: { singleton: 'yes' } },
      spec: { replicas: 0 },
    },
    { kind: 'Deployment', metadata: { name: 'web', namespace: 'web' }, spec: { replicas: 3 } },
  ];

  it('names unsuspended CronJobs and singleton Deployments with replicas, in scope only', () => {
    expect(
      runningSingletons(live, { namespaces: ['web'], selector: { singleton: 'yes' } }),
    ).toEqual([
      { kind: 'CronJob', namespace: 'web', name: 'b', set: 'suspend: true' },
      { kind: 'Deployment', namespace: 'web', name: 'leader', set: 'replicas: 0' },
    ]);
    expect(runningSingletons(live, {}).map((r) => r.name)).toEqual(['b', 'c']);
  });
});
