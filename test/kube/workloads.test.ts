import { describe, expect, it } from 'vitest';
import { workloadStatus } from '../../src/kube/workloads.js';
import { targetGroupBindingManifest } from '../../src/kube/target-group-binding.js';

const deployment = { kind: 'Deployment', namespace: 'web', name: 'web' };

describe('workloadStatus', () => {
  it('a Deployment is available when the observed generation has every replica updated and available', () => {
    const s = workloadStatus(deployment, {
      metadata: { generation: 2 },
      spec: { replicas: 2 },
      status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
    });
    expect(s).toMatchObject({ ready: true, failed: false, summary: '2/2 available' });
  });

  it('an old generation, old pods still running, or too few available is not', () => {
    const base = { metadata: { generation: 3 }, spec: { replicas: 2 } };
    expect(
      workloadStatus(deployment, {
        ...base,
        status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
      }).ready,
    ).toBe(false);
    expect(
      workloadStatus(deployment, {
        ...base,
        status: { observedGeneration: 3, replicas: 3, updatedReplicas: 2, availableReplicas: 3 },
      }).ready,
    ).toBe(false);
    expect(
      workloadStatus(deployment, {
        ...base,
        status: { observedGeneration: 3, replicas: 2, updatedReplicas: 2, availableReplicas: 1 },
      }),
    ).toMatchObject({
      ready: false,
      summary: '2/2 updated, 1/2 available',
    });
  });

  it('a stopped singleton (0 replicas) is available', () => {
    expect(
      workloadStatus(deployment, {
        metadata: { generation: 1 },
        spec: { replicas: 0 },
        status: { observedGeneration: 1 },
      }).ready,
    ).toBe(true);
  });

  it('ProgressDeadlineExceeded fails at once, with the condition', () => {
    const s = workloadStatus(deployment, {
      metadata: { generation: 1 },
      spec: { replicas: 1 },
      status: {
        observedGeneration: 1,
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'ReplicaSet "web-1" has timed out progressing.',
          },
        ],
      },
    });
    expect(s.failed).toBe(true);
    expect(s.conditions).toEqual([
      'Progressing=False (ProgressDeadlineExceeded): ReplicaSet "web-1" has timed out progressing.',
    ]);
  });

  it('StatefulSets count ready replicas; DaemonSets count scheduled nodes; a missing one is "not found"', () => {
    expect(
      workloadStatus(
        { ...deployment, kind: 'StatefulSet' },
        {
          metadata: { generation: 1 },
          spec: { replicas: 3 },
          status: { observedGeneration: 1, readyReplicas: 2, updatedReplicas: 3 },
        },
      ).ready,
    ).toBe(false);
    expect(
      workloadStatus(
        { ...deployment, kind: 'DaemonSet' },
        {
          metadata: { generation: 1 },
          status: {
            observedGeneration: 1,
            desiredNumberScheduled: 2,
            updatedNumberScheduled: 2,
            numberAvailable: 2,
          },
        },
      ).ready,
    ).toBe(true);
    expect(workloadStatus(deployment, undefined)).toMatchObject({
      ready: false,
      summary: 'not found',
    });
  });
});

describe('targetGroupBindingManifest', () => {
  it('binds the Service port by ip, never as a multi-cluster target group', () => {
    const m = targetGroupBindingManifest({
      name: 'web-green',
      namespace: 'web',
      serviceName: 'web',
      servicePort: 'http',
      targetGroupArn:
        'arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web-green/0123456789abcdef',
    });
    expect(m).toEqual({
      apiVersion: 'elbv2.k8s.aws/v1beta1',
      kind: 'TargetGroupBinding',
      metadata: {
        name: 'web-green',
        namespace: 'web',
        labels: { 'app.kubernetes.io/managed-by': 'eks-cluster-canary' },
      },
      spec: {
        serviceRef: { name: 'web', port: 'http' },
        targetGroupARN:
          'arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web-green/0123456789abcdef',
        targetType: 'ip',
      },
    });
  });
});
