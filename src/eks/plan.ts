/**
 * The plan: a ClusterConfig against what exists (LiveCluster) gives one action per resource:
 * create what is missing, update in place what EKS updates in place, and refuse as drift what
 * EKS cannot change (naming each field). Pure: the live state is read by live.ts.
 */
import type {
  AccessEntry,
  Addon,
  AssociatedAccessPolicy,
  Cluster,
  Nodegroup,
  PodIdentityAssociation,
} from '@aws-sdk/client-eks';
import type {
  AccessEntryConfig,
  AddonConfig,
  ClusterConfig,
  NodeGroupConfig,
  PodIdentityAssociationConfig,
} from './cluster-config.js';

export type ResourceKind =
  'cluster' | 'oidc-provider' | 'access-entry' | 'addon' | 'nodegroup' | 'pod-identity-association';

export type PlanAction = 'create' | 'update' | 'unchanged' | 'drift';

export interface FieldChange {
  field: string;
  live: string;
  desired: string;
}

export interface PlanItem {
  resource: ResourceKind;
  name: string;
  action: PlanAction;
  why: string;
  /** For update and drift: the fields that differ. */
  changes?: FieldChange[];
}

/** What exists, read by live.ts: only the resources the config names. */
export interface LiveCluster {
  cluster?: Cluster;
  /** The IAM OIDC provider's ARN for the cluster's issuer; undefined when absent or not read. */
  oidcProviderArn?: string;
  accessEntries: Map<string, { entry: AccessEntry; policies: AssociatedAccessPolicy[] }>;
  addons: Map<string, Addon>;
  nodegroups: Map<string, Nodegroup>;
  /** By `namespace/serviceAccount`. */
  podIdentityAssociations: Map<string, PodIdentityAssociation>;
}

/** Add-on versions EKS offers for the config's Kubernetes version (DescribeAddonVersions). */
export interface AddonVersions {
  default?: string;
  latest?: string;
  all: string[];
}

export function emptyLive(): LiveCluster {
  return {
    accessEntries: new Map(),
    addons: new Map(),
    nodegroups: new Map(),
    podIdentityAssociations: new Map(),
  };
}

/** The add-on version to install: explicit, `latest`, or EKS's default for the version. */
export function resolveAddonVersion(
  addon: AddonConfig,
  versions: AddonVersions | undefined,
): string | undefined {
  if (addon.version === undefined) return versions?.default;
  if (addon.version === 'latest') return versions?.latest;
  return addon.version;
}

export interface PlanInput {
  config: ClusterConfig;
  live: LiveCluster;
  /** By add-on name, for the add-ons whose version had to be looked up. */
  addonVersions: Map<string, AddonVersions>;
  /** The caller's IAM principal: EKS makes its access entry when it bootstraps the creator. */
  creatorArn?: string;
}

export function planCluster(input: PlanInput): PlanItem[] {
  const { config, live } = input;
  const items: PlanItem[] = [clusterItem(config, live.cluster)];
  const exists = live.cluster !== undefined;
  if (config.withOIDC) {
    items.push(
      live.oidcProviderArn
        ? item('oidc-provider', config.name, 'unchanged', `exists: ${live.oidcProviderArn}`)
        : item(
            'oidc-provider',
            config.name,
            'create',
            'iam.withOIDC: an IAM OIDC provider for the cluster’s issuer',
          ),
    );
  }
  for (const entry of config.access.entries) {
    items.push(
      accessEntryItem(entry, exists ? live.accessEntries.get(entry.principalArn) : undefined),
    );
  }
  for (const addon of config.addons) {
    items.push(
      addonItem(
        addon,
        exists ? live.addons.get(addon.name) : undefined,
        input.addonVersions.get(addon.name),
      ),
    );
  }
  for (const ng of config.nodeGroups) {
    items.push(nodegroupItem(ng, exists ? live.nodegroups.get(ng.name) : undefined));
  }
  for (const p of podIdentityAssociations(config)) {
    const key = `${p.namespace}/${p.serviceAccountName}`;
    const existing = exists ? live.podIdentityAssociations.get(key) : undefined;
    if (!existing) {
      items.push(item('pod-identity-association', key, 'create', `role ${p.roleArn}`));
    } else if (existing.roleArn !== p.roleArn) {
      items.push({
        ...item('pod-identity-association', key, 'update', 'the role differs'),
        changes: [{ field: 'roleArn', live: existing.roleArn ?? '', desired: p.roleArn }],
      });
    } else {
      items.push(item('pod-identity-association', key, 'unchanged', `role ${p.roleArn}`));
    }
  }
  return items;
}

/** The cluster's associations and the add-ons', in one list (add-ons' live in kube-system). */
export function podIdentityAssociations(config: ClusterConfig): PodIdentityAssociationConfig[] {
  const out = [...config.podIdentityAssociations];
  for (const addon of config.addons) {
    for (const p of addon.podIdentityAssociations) {
      out.push({
        namespace: 'kube-system',
        serviceAccountName: p.serviceAccountName,
        roleArn: p.roleArn,
        tags: {},
      });
    }
  }
  return out;
}

function item(resource: ResourceKind, name: string, action: PlanAction, why: string): PlanItem {
  return { resource, name, action, why };
}

function withChanges(
  resource: ResourceKind,
  name: string,
  action: 'update' | 'drift',
  why: string,
  changes: FieldChange[],
): PlanItem {
  return {
    resource,
    name,
    action,
    why: `${why}: ${changes.map((c) => c.field).join(', ')}`,
    changes,
  };
}

const AUTH_ORDER = ['CONFIG_MAP', 'API_AND_CONFIG_MAP', 'API'];

function clusterItem(config: ClusterConfig, live: Cluster | undefined): PlanItem {
  if (!live) {
    return item(
      'cluster',
      config.name,
      'create',
      `Kubernetes ${config.version}, ${config.vpc.subnets.length} subnets, ${config.access.authenticationMode}`,
    );
  }
  if (live.status === 'DELETING') {
    return item(
      'cluster',
      config.name,
      'drift',
      'the cluster is being deleted; run again once it is gone',
    );
  }
  const drift: FieldChange[] = [];
  const updates: FieldChange[] = [];
  const add = (list: FieldChange[], field: string, liveValue: unknown, desired: unknown): void => {
    const l = show(liveValue);
    const d = show(desired);
    if (l !== d) list.push({ field, live: l, desired: d });
  };
  add(drift, 'version', live.version, config.version);
  add(drift, 'roleArn', live.roleArn, config.serviceRoleArn);
  add(
    drift,
    'subnets',
    sorted(live.resourcesVpcConfig?.subnetIds),
    sorted(config.vpc.subnets.map((s) => s.id)),
  );
  if (config.vpc.id !== undefined)
    add(drift, 'vpc.id', live.resourcesVpcConfig?.vpcId, config.vpc.id);
  if (config.vpc.securityGroup !== undefined) {
    add(drift, 'securityGroupIds', sorted(live.resourcesVpcConfig?.securityGroupIds), [
      config.vpc.securityGroup,
    ]);
  }
  const liveKey = live.encryptionConfig?.[0]?.provider?.keyArn;
  add(drift, 'secretsEncryption.keyARN', liveKey ?? 'none', config.encryptionKeyArn ?? 'none');
  if (config.network?.serviceIpv4Cidr) {
    add(
      drift,
      'serviceIPv4CIDR',
      live.kubernetesNetworkConfig?.serviceIpv4Cidr,
      config.network.serviceIpv4Cidr,
    );
  }
  if (config.network?.ipFamily)
    add(drift, 'ipFamily', live.kubernetesNetworkConfig?.ipFamily, config.network.ipFamily);
  const liveMode = live.accessConfig?.authenticationMode ?? 'CONFIG_MAP';
  const wantMode = config.access.authenticationMode;
  if (liveMode !== wantMode) {
    const backwards = AUTH_ORDER.indexOf(wantMode) < AUTH_ORDER.indexOf(liveMode);
    add(backwards ? drift : updates, 'authenticationMode', liveMode, wantMode);
  }
  add(
    updates,
    'clusterEndpoints.publicAccess',
    live.resourcesVpcConfig?.endpointPublicAccess,
    config.vpc.publicAccess,
  );
  add(
    updates,
    'clusterEndpoints.privateAccess',
    live.resourcesVpcConfig?.endpointPrivateAccess,
    config.vpc.privateAccess,
  );
  if (config.vpc.publicAccessCidrs) {
    add(
      updates,
      'publicAccessCIDRs',
      sorted(live.resourcesVpcConfig?.publicAccessCidrs),
      sorted(config.vpc.publicAccessCidrs),
    );
  }
  const liveLogs = (live.logging?.clusterLogging ?? [])
    .filter((l) => l.enabled)
    .flatMap((l) => l.types ?? []);
  add(updates, 'cloudWatch.clusterLogging.enableTypes', sorted(liveLogs), sorted(config.logTypes));
  if (config.upgradePolicy)
    add(
      updates,
      'upgradePolicy.supportType',
      live.upgradePolicy?.supportType,
      config.upgradePolicy.supportType,
    );

  if (drift.length > 0) {
    const why = drift.some((c) => c.field === 'version')
      ? 'a new Kubernetes version is a new cluster (immutable clusters: give the config a new metadata.name); EKS cannot change'
      : 'EKS cannot change';
    return withChanges('cluster', config.name, 'drift', why, [...drift, ...updates]);
  }
  if (live.status === 'FAILED') {
    return item('cluster', config.name, 'drift', 'the cluster FAILED; delete it and run again');
  }
  if (updates.length > 0) {
    return withChanges(
      'cluster',
      config.name,
      'update',
      'updated in place (UpdateClusterConfig, one kind of change at a time)',
      updates,
    );
  }
  return item('cluster', config.name, 'unchanged', `exists, ${live.status ?? 'status unknown'}`);
}

function accessEntryItem(
  config: AccessEntryConfig,
  live: { entry: AccessEntry; policies: AssociatedAccessPolicy[] } | undefined,
): PlanItem {
  const name = config.principalArn;
  if (!live) {
    const policies = config.policies.map((p) => shortPolicy(p.policyArn)).join(', ');
    return item(
      'access-entry',
      name,
      'create',
      policies ? `with ${policies}` : 'no access policies',
    );
  }
  if ((live.entry.type ?? 'STANDARD') !== config.type) {
    return withChanges('access-entry', name, 'drift', 'EKS cannot change an access entry’s', [
      { field: 'type', live: live.entry.type ?? 'STANDARD', desired: config.type },
    ]);
  }
  const changes: FieldChange[] = [];
  const groups = (a: string[] | undefined): string => show(sorted(a));
  if (groups(live.entry.kubernetesGroups) !== groups(config.kubernetesGroups)) {
    changes.push({
      field: 'kubernetesGroups',
      live: groups(live.entry.kubernetesGroups),
      desired: groups(config.kubernetesGroups),
    });
  }
  if (config.username !== undefined && live.entry.username !== config.username) {
    changes.push({
      field: 'kubernetesUsername',
      live: live.entry.username ?? '',
      desired: config.username,
    });
  }
  for (const p of config.policies) {
    const existing = live.policies.find((x) => x.policyArn === p.policyArn);
    const want = scopeText(p.scope.type, p.scope.namespaces);
    const have = existing
      ? scopeText(existing.accessScope?.type, existing.accessScope?.namespaces)
      : 'none';
    if (have !== want)
      changes.push({
        field: `accessPolicies[${shortPolicy(p.policyArn)}]`,
        live: have,
        desired: want,
      });
  }
  return changes.length > 0
    ? withChanges('access-entry', name, 'update', 'updated in place', changes)
    : item('access-entry', name, 'unchanged', 'exists as configured');
}

function addonItem(
  config: AddonConfig,
  live: Addon | undefined,
  versions: AddonVersions | undefined,
): PlanItem {
  const version = resolveAddonVersion(config, versions);
  if (!live) {
    const why = `${version ?? 'EKS’s default version'}${config.isDefault ? ' (eksctl default add-on)' : ''}`;
    return item('addon', config.name, 'create', why);
  }
  if (live.status && FAILED_OR_GOING.includes(live.status)) {
    return item(
      'addon',
      config.name,
      'drift',
      failedWhy('add-on', live.status, live.health?.issues),
    );
  }
  const changes: FieldChange[] = [];
  // No version in the config keeps what runs: EKS's default may have moved since it was made.
  if (config.version !== undefined && version !== undefined && live.addonVersion !== version) {
    changes.push({ field: 'version', live: live.addonVersion ?? '', desired: version });
  }
  if (
    config.configurationValues !== undefined &&
    normaliseJson(live.configurationValues) !== normaliseJson(config.configurationValues)
  ) {
    changes.push({
      field: 'configurationValues',
      live: live.configurationValues ?? '',
      desired: config.configurationValues,
    });
  }
  if (
    config.serviceAccountRoleArn !== undefined &&
    live.serviceAccountRoleArn !== config.serviceAccountRoleArn
  ) {
    changes.push({
      field: 'serviceAccountRoleARN',
      live: live.serviceAccountRoleArn ?? '',
      desired: config.serviceAccountRoleArn,
    });
  }
  if (changes.length > 0) {
    return withChanges('addon', config.name, 'update', 'updated in place', changes);
  }
  return item(
    'addon',
    config.name,
    'unchanged',
    `${live.addonVersion ?? ''} ${live.status ?? ''}`.trim(),
  );
}

function nodegroupItem(config: NodeGroupConfig, live: Nodegroup | undefined): PlanItem {
  if (!live) {
    const s = config.scaling;
    return item(
      'nodegroup',
      config.name,
      'create',
      `${config.instanceTypes.join(',')} ${config.capacityType}, ${s.desiredSize} nodes (${s.minSize}-${s.maxSize}), ${config.amiType}`,
    );
  }
  if (live.status && FAILED_OR_GOING.includes(live.status)) {
    return item(
      'nodegroup',
      config.name,
      'drift',
      failedWhy('node group', live.status, live.health?.issues),
    );
  }
  const drift: FieldChange[] = [];
  const add = (list: FieldChange[], field: string, l: unknown, d: unknown): void => {
    if (show(l) !== show(d)) list.push({ field, live: show(l), desired: show(d) });
  };
  add(drift, 'instanceTypes', live.instanceTypes, config.instanceTypes);
  add(drift, 'capacityType', live.capacityType, config.capacityType);
  add(drift, 'amiType', live.amiType, config.amiType);
  add(drift, 'subnets', sorted(live.subnets), sorted(config.subnets));
  add(drift, 'iam.instanceRoleARN', live.nodeRole, config.nodeRole);
  add(drift, 'volumeSize', live.diskSize, config.diskSize);
  if (config.releaseVersion !== undefined)
    add(drift, 'releaseVersion', live.releaseVersion, config.releaseVersion);
  if (drift.length > 0) {
    return withChanges(
      'nodegroup',
      config.name,
      'drift',
      'EKS cannot change a node group’s (make a new node group)',
      drift,
    );
  }
  const changes: FieldChange[] = [];
  const s = live.scalingConfig ?? {};
  add(
    changes,
    'scaling',
    { min: s.minSize, max: s.maxSize, desired: s.desiredSize },
    {
      min: config.scaling.minSize,
      max: config.scaling.maxSize,
      desired: config.scaling.desiredSize,
    },
  );
  add(changes, 'labels', sortedObject(live.labels ?? {}), sortedObject(config.labels));
  add(changes, 'taints', taintsText(live.taints ?? []), taintsText(config.taints));
  if (config.updateConfig) {
    add(
      changes,
      'updateConfig',
      sortedObject(live.updateConfig ?? {}),
      sortedObject(config.updateConfig),
    );
  }
  return changes.length > 0
    ? withChanges('nodegroup', config.name, 'update', 'updated in place', changes)
    : item(
        'nodegroup',
        config.name,
        'unchanged',
        `${s.desiredSize ?? '?'} nodes, ${live.status ?? ''}`.trim(),
      );
}

/** States a run cannot continue from: the resource must be deleted (or finish deleting) first. */
const FAILED_OR_GOING = ['CREATE_FAILED', 'DELETING', 'DELETE_FAILED'];

function failedWhy(
  what: string,
  status: string,
  issues: readonly { code?: string; message?: string }[] | undefined,
): string {
  const found = (issues ?? []).map((i) => `${i.code ?? 'issue'}: ${i.message ?? ''}`);
  const detail = found.length > 0 ? ` (${found.join('; ')})` : '';
  return status === 'DELETING'
    ? `the ${what} is being deleted; run again once it is gone`
    : `the ${what} is ${status}${detail}; delete it and run again`;
}

export function taintsText(
  taints: readonly { key?: string; value?: string; effect?: string }[],
): string[] {
  return taints.map((t) => `${t.key ?? ''}=${t.value ?? ''}:${t.effect ?? ''}`).sort();
}

function scopeText(type: string | undefined, namespaces: string[] | undefined): string {
  return type === 'namespace' ? `namespace(${sorted(namespaces).join(',')})` : (type ?? 'none');
}

export function shortPolicy(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

function sorted(values: readonly string[] | undefined): string[] {
  return [...(values ?? [])].sort();
}

function sortedObject(o: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

function show(v: unknown): string {
  if (v === undefined || v === null) return 'none';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function normaliseJson(text: string | undefined): string {
  if (text === undefined || text.trim() === '') return '';
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text.trim();
  }
}
