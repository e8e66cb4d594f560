import { describe, expect, it } from 'vitest';
import type { Addon, Cluster, Nodegroup } from '@aws-sdk/client-eks';
import { parseClusterConfig, type ClusterConfig } from '../../src/eks/cluster-config.js';
import { emptyLive, planCluster, type LiveCluster, type PlanItem } from '../../src/eks/plan.js';
import { ACCOUNT, sandboxClusterConfig } from './sandbox-config.js';

const config = (o: Parameters<typeof sandboxClusterConfig>[0] = {}): ClusterConfig =>
  parseClusterConfig(sandboxClusterConfig(o), 'cluster.yaml');

/** What EKS would show for a config it created exactly as asked. */
function liveOf(c: ClusterConfig): LiveCluster {
  const live = emptyLive();
  const cluster: Cluster = {
    name: c.name,
    status: 'ACTIVE',
    version: c.version,
    roleArn: c.serviceRoleArn,
    resourcesVpcConfig: {
      subnetIds: c.vpc.subnets.map((s) => s.id),
      endpointPublicAccess: true,
      endpointPrivateAccess: false,
      publicAccessCidrs: ['0.0.0.0/0'],
    },
    accessConfig: { authenticationMode: c.access.authenticationMode },
    logging: { clusterLogging: [{ types: ['api'], enabled: false }] },
  };
  live.cluster = cluster;
  live.oidcProviderArn = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example/id/X`;
  for (const e of c.access.entries) {
    live.accessEntries.set(e.principalArn, {
      entry: { principalArn: e.principalArn, type: e.type, kubernetesGroups: e.kubernetesGroups },
      policies: e.policies.map((p) => ({ policyArn: p.policyArn, accessScope: p.scope })),
    });
  }
  for (const a of c.addons) {
    const addon: Addon = {
      addonName: a.name,
      addonVersion: 'v1.0.0-eksbuild.1',
      status: 'ACTIVE',
      ...(a.configurationValues ? { configurationValues: a.configurationValues } : {}),
      ...(a.serviceAccountRoleArn ? { serviceAccountRoleArn: a.serviceAccountRoleArn } : {}),
    };
    live.addons.set(a.name, addon);
  }
  for (const n of c.nodeGroups) {
    const ng: Nodegroup = {
      nodegroupName: n.name,
      status: 'ACTIVE',
      instanceTypes: n.instanceTypes,
      capacityType: n.capacityType,
      amiType: n.amiType as never,
      subnets: n.subnets,
      nodeRole: n.nodeRole,
      diskSize: n.diskSize,
      scalingConfig: n.scaling,
      labels: n.labels,
      taints: n.taints,
      updateConfig: { maxUnavailable: 1 },
    };
    live.nodegroups.set(n.name, ng);
  }
  for (const p of c.podIdentityAssociations) {
    live.podIdentityAssociations.set(`${p.namespace}/${p.serviceAccountName}`, {
      namespace: p.namespace,
      serviceAccount: p.serviceAccountName,
      roleArn: p.roleArn,
      associationId: 'a-1',
    });
  }
  return live;
}

const versions = new Map([
  [
    'vpc-cni',
    { all: ['v1.0.0-eksbuild.1'], default: 'v1.0.0-eksbuild.1', latest: 'v1.0.0-eksbuild.1' },
  ],
]);
const changed = (plan: PlanItem[]) => plan.filter((p) => p.action !== 'unchanged');

describe('planCluster', () => {
  it('plans every resource as create when nothing exists', () => {
    const plan = planCluster({ config: config(), live: emptyLive(), addonVersions: new Map() });
    expect(plan.every((p) => p.action === 'create')).toBe(true);
    expect(plan.find((p) => p.resource === 'addon' && p.name === 'coredns')?.why).toMatch(
      /eksctl default add-on/,
    );
  });

  it('plans nothing when the live state is what the config says', () => {
    const c = config();
    expect(changed(planCluster({ config: c, live: liveOf(c), addonVersions: versions }))).toEqual(
      [],
    );
  });

  it('updates node group scaling, labels and taints in place', () => {
    const live = liveOf(config());
    const plan = planCluster({
      config: parseClusterConfig(
        sandboxClusterConfig({ desiredCapacity: 3 })
          .replace('labels: { role: system }', 'labels: { role: core }')
          .replace(
            '- { key: CriticalAddonsOnly, value: "true", effect: NoSchedule }',
            '- { key: CriticalAddonsOnly, value: "true", effect: NoExecute }',
          ),
        'c.yaml',
      ),
      live,
      addonVersions: versions,
    });
    expect(changed(plan)).toEqual([
      expect.objectContaining({
        resource: 'nodegroup',
        name: 'system',
        action: 'update',
        why: 'updated in place: scaling, labels, taints',
      }),
    ]);
  });

  it('refuses what EKS cannot change, naming each field', () => {
    const c = config();
    const live = liveOf(c);
    (live.cluster as Cluster).version = '1.32';
    (live.cluster as Cluster).roleArn = `arn:aws:iam::${ACCOUNT}:role/other`;
    (live.nodegroups.get('system') as Nodegroup).instanceTypes = ['m5.large'];
    const plan = planCluster({ config: c, live, addonVersions: versions });
    const cluster = plan.find((p) => p.resource === 'cluster') as PlanItem;
    expect(cluster.action).toBe('drift');
    expect(cluster.why).toMatch(/a new Kubernetes version is a new cluster/);
    expect(cluster.changes).toEqual([
      { field: 'version', live: '1.32', desired: '1.33' },
      {
        field: 'roleArn',
        live: `arn:aws:iam::${ACCOUNT}:role/other`,
        desired: `arn:aws:iam::${ACCOUNT}:role/eks-cluster`,
      },
    ]);
    expect(plan.find((p) => p.name === 'system')).toMatchObject({
      action: 'drift',
      changes: [{ field: 'instanceTypes', live: '["m5.large"]', desired: '["m6i.large"]' }],
    });
  });

  it('refuses an authentication mode going backwards, and updates it forwards', () => {
    const backwards = liveOf(config());
    (backwards.cluster as Cluster).accessConfig = { authenticationMode: 'API' };
    expect(
      planCluster({ config: config(), live: backwards, addonVersions: versions })[0],
    ).toMatchObject({
      action: 'drift',
      why: expect.stringMatching(/^EKS cannot change: authenticationMode/),
    });
    const forwards = liveOf(config());
    (forwards.cluster as Cluster).accessConfig = { authenticationMode: 'CONFIG_MAP' };
    expect(
      planCluster({ config: config(), live: forwards, addonVersions: versions })[0],
    ).toMatchObject({
      action: 'update',
      changes: [{ field: 'authenticationMode', live: 'CONFIG_MAP', desired: 'API_AND_CONFIG_MAP' }],
    });
  });

  it('updates an add-on to `latest` and its configuration, but leaves an unversioned one alone', () => {
    const c = config();
    const live = liveOf(c);
    (live.addons.get('vpc-cni') as Addon).configurationValues = '{"env":{}}';
    (live.addons.get('coredns') as Addon).addonVersion = 'v0.9.0-eksbuild.1';
    const newer = new Map([
      ['vpc-cni', { all: ['v1.0.0-eksbuild.1', 'v1.1.0-eksbuild.1'], latest: 'v1.1.0-eksbuild.1' }],
    ]);
    const plan = changed(planCluster({ config: c, live, addonVersions: newer }));
    expect(plan).toEqual([
      expect.objectContaining({
        resource: 'addon',
        name: 'vpc-cni',
        action: 'update',
        changes: [
          { field: 'version', live: 'v1.0.0-eksbuild.1', desired: 'v1.1.0-eksbuild.1' },
          {
            field: 'configurationValues',
            live: '{"env":{}}',
            desired: '{"env":{"ENABLE_PREFIX_DELEGATION":"true"}}',
          },
        ],
      }),
    ]);
  });

  it('updates access entries in place: groups and a missing policy', () => {
    const c = config();
    const live = liveOf(c);
    const deployer = live.accessEntries.get(`arn:aws:iam::${ACCOUNT}:role/deployer`);
    if (!deployer) throw new Error('fixture');
    deployer.entry.kubernetesGroups = [];
    deployer.policies = [];
    expect(changed(planCluster({ config: c, live, addonVersions: versions }))).toEqual([
      expect.objectContaining({
        resource: 'access-entry',
        action: 'update',
        why: 'updated in place: kubernetesGroups, accessPolicies[AmazonEKSClusterAdminPolicy]',
      }),
    ]);
  });

  it('changes the role of a pod identity association in place', () => {
    const c = config();
    const live = liveOf(c);
    (live.podIdentityAssociations.get('web/web') as { roleArn?: string }).roleArn =
      `arn:aws:iam::${ACCOUNT}:role/old`;
    expect(changed(planCluster({ config: c, live, addonVersions: versions }))).toEqual([
      expect.objectContaining({
        resource: 'pod-identity-association',
        name: 'web/web',
        action: 'update',
      }),
    ]);
  });

  it('refuses to continue past a node group that failed, with EKS’s health issues', () => {
    const c = config();
    const live = liveOf(c);
    Object.assign(live.nodegroups.get('apps') as Nodegroup, {
      status: 'CREATE_FAILED',
      health: {
        issues: [{ code: 'AsgInstanceLaunchFailures', message: 'InsufficientInstanceCapacity' }],
      },
    });
    expect(changed(planCluster({ config: c, live, addonVersions: versions }))).toEqual([
      expect.objectContaining({
        resource: 'nodegroup',
        name: 'apps',
        action: 'drift',
        why: 'the node group is CREATE_FAILED (AsgInstanceLaunchFailures: InsufficientInstanceCapacity); delete it and run again',
      }),
    ]);
  });
});
