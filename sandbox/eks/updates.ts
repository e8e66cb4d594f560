/**
 * The EKS operations create-cluster needs beyond create/describe/delete, on the same records as
 * service.ts: DescribeAddonVersions (a small catalogue: for each add-on an older version, the
 * default, and a newer one, compatible with every supported Kubernetes version),
 * UpdateNodegroupConfig and UpdateAddon (the resource is UPDATING for the transition time, then
 * ACTIVE; an update that changes nothing is refused as EKS refuses it), UpdateAccessEntry, and
 * pod identity associations (Create, Describe, List, Update, Delete).
 */
import { randomBytes } from 'node:crypto';
import { EksError } from './errors.js';

/** The records and lookups of service.ts this module works on. */
export interface EksRecords {
  accountId: string;
  transitionMs: number;
  now(): number;
  supportedVersions: readonly string[];
  /** Add-on name → the version installed when none is given (EKS's default). */
  defaultAddonVersions: Readonly<Record<string, string>>;
  cluster(region: string, name: string): UpdatableCluster;
  nodegroup(region: string, p: Record<string, string>): Updatable;
  addon(region: string, p: Record<string, string>): Updatable;
  accessEntry(region: string, p: Record<string, string>): { fields: Record<string, unknown> };
  render(r: Updatable): Record<string, unknown>;
}

export interface Updatable {
  status: string;
  activeAt: number;
  fields: Record<string, unknown>;
}

export interface UpdatableCluster {
  name: string;
  region: string;
  arn: string;
  status: string;
  activeAt: number;
  vpc: Record<string, unknown>;
  logging: unknown;
  authenticationMode: string;
  upgradePolicy: unknown;
  podIdentityAssociations?: Map<string, Record<string, unknown>>;
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/;

export function handleUpdates(
  records: EksRecords,
  operation: string,
  region: string,
  p: Record<string, string>,
  q: URLSearchParams,
  body: Record<string, unknown>,
): unknown {
  switch (operation) {
    case 'DescribeAddonVersions':
      return describeAddonVersions(records, q);
    case 'UpdateClusterConfig':
      return updateClusterConfig(records, records.cluster(region, p.name as string), body);
    case 'UpdateNodegroupConfig':
      return updateNodegroupConfig(records, records.nodegroup(region, p), body);
    case 'UpdateAddon':
      return updateAddon(records, records.addon(region, p), body);
    case 'UpdateAccessEntry':
      return updateAccessEntry(records, region, p, body);
    case 'CreatePodIdentityAssociation':
      return createAssociation(records, records.cluster(region, p.clusterName as string), body);
    case 'ListPodIdentityAssociations':
      return listAssociations(records.cluster(region, p.clusterName as string), q);
    case 'DescribePodIdentityAssociation':
      return { association: association(records.cluster(region, p.clusterName as string), p) };
    case 'UpdatePodIdentityAssociation': {
      const a = association(records.cluster(region, p.clusterName as string), p);
      const roleArn = body.roleArn;
      if (typeof roleArn !== 'string' || !ROLE_ARN.test(roleArn)) {
        throw new EksError(
          'InvalidParameterException',
          `roleArn must be an IAM role ARN; got ${JSON.stringify(roleArn ?? null)}.`,
        );
      }
      a.roleArn = roleArn;
      a.modifiedAt = records.now() / 1000;
      return { association: a };
    }
    case 'DeletePodIdentityAssociation': {
      const c = records.cluster(region, p.clusterName as string);
      const a = association(c, p);
      c.podIdentityAssociations?.delete(a.associationId as string);
      return { association: a };
    }
  }
  return undefined;
}

// ---- add-on versions ----------------------------------------------------------------------

function catalogue(records: EksRecords): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, def] of Object.entries(records.defaultAddonVersions)) {
    const m = /^v(\d+)\.(\d+)\.(\d+)-eksbuild\.(\d+)$/.exec(def);
    if (!m) {
      out[name] = [def];
      continue;
    }
    const [major, minor] = [Number(m[1]), Number(m[2])];
    out[name] = [
      ...(minor > 0 ? [`v${major}.${minor - 1}.0-eksbuild.1`] : []),
      def,
      `v${major}.${minor + 1}.0-eksbuild.1`,
    ];
  }
  return out;
}

function describeAddonVersions(records: EksRecords, q: URLSearchParams): unknown {
  const kubernetesVersion = q.get('kubernetesVersion');
  if (kubernetesVersion !== null && !records.supportedVersions.includes(kubernetesVersion)) {
    throw new EksError(
      'InvalidParameterException',
      `Kubernetes version ${kubernetesVersion} is not supported.`,
    );
  }
  const name = q.get('addonName');
  const all = catalogue(records);
  if (name !== null && !(name in all)) {
    throw new EksError('ResourceNotFoundException', `Addon ${name} not found`, { addonName: name });
  }
  const clusterVersions = kubernetesVersion ? [kubernetesVersion] : [...records.supportedVersions];
  const addons = Object.entries(all)
    .filter(([n]) => name === null || n === name)
    .map(([addonName, versions]) => ({
      addonName,
      type: addonName.includes('csi')
        ? 'storage'
        : addonName === 'eks-pod-identity-agent'
          ? 'security'
          : 'networking',
      publisher: 'eks',
      owner: 'aws',
      // Newest first, as EKS lists them.
      addonVersions: [...versions].reverse().map((addonVersion) => ({
        addonVersion,
        architecture: ['amd64', 'arm64'],
        compatibilities: clusterVersions.map((clusterVersion) => ({
          clusterVersion,
          platformVersions: ['*'],
          defaultVersion: addonVersion === records.defaultAddonVersions[addonName],
        })),
        requiresConfiguration: false,
        requiresIamPermissions: addonName.includes('csi'),
      })),
    }));
  return { addons };
}

// ---- updates --------------------------------------------------------------------------------

function newUpdate(
  records: EksRecords,
  type: string,
  params: { type: string; value: string }[],
): unknown {
  return {
    update: {
      id: randomBytes(16)
        .toString('hex')
        .replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5'),
      status: 'InProgress',
      type,
      params,
      createdAt: records.now() / 1000,
      errors: [],
    },
  };
}

function startUpdating(records: EksRecords, r: Updatable): void {
  r.status = 'UPDATING';
  r.activeAt = records.now() + records.transitionMs;
  r.fields.modifiedAt = records.now() / 1000;
}

function requireActive(r: Updatable, what: string, fields: Record<string, string>): void {
  if (r.status !== 'ACTIVE' && r.status !== 'DEGRADED') {
    throw new EksError(
      'ResourceInUseException',
      `${what} cannot be updated as it is currently in ${r.status} state`,
      fields,
    );
  }
}

const AUTH_ORDER = ['CONFIG_MAP', 'API_AND_CONFIG_MAP', 'API'];
const LOG_TYPES = ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'];

/**
 * One kind of change per call, as EKS allows: endpoint access (resourcesVpcConfig), logging,
 * the authentication mode (forwards only), or the upgrade policy. The cluster is UPDATING for
 * the transition time; node groups and add-ons cannot be created meanwhile.
 */
function updateClusterConfig(
  records: EksRecords,
  c: UpdatableCluster,
  body: Record<string, unknown>,
): unknown {
  const ids = { clusterName: c.name };
  const kinds = ['resourcesVpcConfig', 'logging', 'accessConfig', 'upgradePolicy'].filter(
    (k) => body[k] !== undefined,
  );
  if (kinds.length !== 1) {
    throw new EksError(
      'InvalidParameterException',
      kinds.length === 0
        ? 'No changes were requested.'
        : `Only one type of update can be allowed; got ${kinds.join(', ')}.`,
      ids,
    );
  }
  if (c.status !== 'ACTIVE') {
    throw new EksError(
      'ResourceInUseException',
      `Cluster ${c.name} is in ${c.status} state and cannot be updated until it is ACTIVE.`,
      ids,
    );
  }
  const params: { type: string; value: string }[] = [];
  let type = 'EndpointAccessUpdate';
  if (body.resourcesVpcConfig !== undefined) {
    const v = body.resourcesVpcConfig as Record<string, unknown>;
    const next = {
      endpointPublicAccess:
        (v.endpointPublicAccess as boolean | undefined) ?? c.vpc.endpointPublicAccess,
      endpointPrivateAccess:
        (v.endpointPrivateAccess as boolean | undefined) ?? c.vpc.endpointPrivateAccess,
      publicAccessCidrs: (v.publicAccessCidrs as string[] | undefined) ?? c.vpc.publicAccessCidrs,
    };
    if (!next.endpointPublicAccess && !next.endpointPrivateAccess) {
      throw new EksError(
        'InvalidParameterException',
        'Either public or private endpoint access must be enabled.',
        ids,
      );
    }
    for (const [k, value] of Object.entries(next)) {
      if (JSON.stringify(value) !== JSON.stringify(c.vpc[k])) {
        params.push({
          type: k
            .replace(/^endpoint/, 'Endpoint')
            .replace(/^publicAccessCidrs$/, 'PublicAccessCidrs'),
          value: JSON.stringify(value),
        });
      }
    }
    if (params.length === 0) {
      throw new EksError(
        'InvalidParameterException',
        `Cluster is already at the desired configuration with endpointPrivateAccess: ${String(next.endpointPrivateAccess)} , endpointPublicAccess: ${String(next.endpointPublicAccess)}, and Public Endpoint Restrictions: [${(next.publicAccessCidrs as string[]).join(', ')}]`,
        ids,
      );
    }
    Object.assign(c.vpc, next);
  } else if (body.logging !== undefined) {
    type = 'LoggingUpdate';
    const enabled = new Set(
      (
        (c.logging as { clusterLogging?: { types?: string[]; enabled?: boolean }[] })
          .clusterLogging ?? []
      )
        .filter((l) => l.enabled)
        .flatMap((l) => l.types ?? []),
    );
    for (const l of (body.logging as { clusterLogging?: { types?: string[]; enabled?: boolean }[] })
      .clusterLogging ?? []) {
      for (const t of l.types ?? []) {
        if (!LOG_TYPES.includes(t))
          throw new EksError('InvalidParameterException', `Invalid log type ${t}.`, ids);
        if (l.enabled) enabled.add(t);
        else enabled.delete(t);
      }
    }
    const on = LOG_TYPES.filter((t) => enabled.has(t));
    const off = LOG_TYPES.filter((t) => !enabled.has(t));
    c.logging = {
      clusterLogging: [
        ...(on.length > 0 ? [{ types: on, enabled: true }] : []),
        ...(off.length > 0 ? [{ types: off, enabled: false }] : []),
      ],
    };
    params.push({ type: 'ClusterLogging', value: JSON.stringify(c.logging) });
  } else if (body.accessConfig !== undefined) {
    type = 'AccessConfigUpdate';
    const mode = (body.accessConfig as { authenticationMode?: string }).authenticationMode;
    if (mode === undefined || !AUTH_ORDER.includes(mode)) {
      throw new EksError(
        'InvalidParameterException',
        `The authentication mode ${String(mode)} is invalid.`,
        ids,
      );
    }
    if (AUTH_ORDER.indexOf(mode) < AUTH_ORDER.indexOf(c.authenticationMode)) {
      throw new EksError(
        'InvalidParameterException',
        `Unsupported authentication mode update from ${c.authenticationMode} to ${mode}`,
        ids,
      );
    }
    if (mode === c.authenticationMode) {
      throw new EksError(
        'InvalidParameterException',
        `The cluster already uses authentication mode ${mode}.`,
        ids,
      );
    }
    c.authenticationMode = mode;
    params.push({ type: 'AuthenticationMode', value: mode });
  } else {
    type = 'UpgradePolicyUpdate';
    const supportType = (body.upgradePolicy as { supportType?: string }).supportType;
    if (supportType !== 'STANDARD' && supportType !== 'EXTENDED') {
      throw new EksError(
        'InvalidParameterException',
        'upgradePolicy.supportType must be STANDARD or EXTENDED.',
        ids,
      );
    }
    c.upgradePolicy = { supportType };
    params.push({ type: 'UpgradePolicy', value: supportType });
  }
  c.status = 'UPDATING';
  c.activeAt = records.now() + records.transitionMs;
  return newUpdate(records, type, params);
}

function updateNodegroupConfig(
  records: EksRecords,
  ng: Updatable,
  body: Record<string, unknown>,
): unknown {
  const f = ng.fields;
  const ids = { clusterName: String(f.clusterName), nodegroupName: String(f.nodegroupName) };
  requireActive(ng, `Nodegroup ${ids.nodegroupName}`, ids);
  const params: { type: string; value: string }[] = [];
  const scaling = body.scalingConfig as Record<string, number | undefined> | undefined;
  const current = f.scalingConfig as { minSize: number; maxSize: number; desiredSize: number };
  let nextScaling = current;
  if (scaling) {
    nextScaling = {
      minSize: scaling.minSize ?? current.minSize,
      maxSize: scaling.maxSize ?? current.maxSize,
      desiredSize: scaling.desiredSize ?? current.desiredSize,
    };
    const { minSize, maxSize, desiredSize } = nextScaling;
    if (maxSize < 1 || minSize < 0 || minSize > maxSize) {
      throw new EksError(
        'InvalidParameterException',
        `Minimum size ${minSize} must be between 0 and the maximum size ${maxSize}`,
        ids,
      );
    }
    if (desiredSize < minSize || desiredSize > maxSize) {
      throw new EksError(
        'InvalidParameterException',
        `Desired capacity:${desiredSize} must be between the minimum size:${minSize} and the maximum size:${maxSize}`,
        ids,
      );
    }
    for (const k of ['minSize', 'maxSize', 'desiredSize'] as const) {
      if (nextScaling[k] !== current[k])
        params.push({
          type: k.replace(/^./, (c) => c.toUpperCase()),
          value: String(nextScaling[k]),
        });
    }
  }
  const labels = { ...((f.labels as Record<string, string> | undefined) ?? {}) };
  const labelsIn = body.labels as
    { addOrUpdateLabels?: Record<string, string>; removeLabels?: string[] } | undefined;
  if (labelsIn) {
    const both = Object.keys(labelsIn.addOrUpdateLabels ?? {}).find((k) =>
      (labelsIn.removeLabels ?? []).includes(k),
    );
    if (both !== undefined) {
      throw new EksError(
        'InvalidParameterException',
        `The label ${both} is both added and removed.`,
        ids,
      );
    }
    for (const [k, v] of Object.entries(labelsIn.addOrUpdateLabels ?? {})) {
      if (labels[k] !== v) params.push({ type: 'LabelsToAdd', value: JSON.stringify({ [k]: v }) });
      labels[k] = v;
    }
    for (const k of labelsIn.removeLabels ?? []) {
      if (k in labels) params.push({ type: 'LabelsToRemove', value: JSON.stringify([k]) });
      delete labels[k];
    }
  }
  type Taint = { key: string; value?: string; effect: string };
  let taints = [...((f.taints as Taint[] | undefined) ?? [])];
  const taintsIn = body.taints as
    { addOrUpdateTaints?: Taint[]; removeTaints?: Taint[] } | undefined;
  if (taintsIn) {
    const same = (a: Taint, b: Taint): boolean => a.key === b.key && a.effect === b.effect;
    for (const t of taintsIn.removeTaints ?? []) {
      if (taints.some((x) => same(x, t)))
        params.push({ type: 'TaintsToRemove', value: JSON.stringify([t]) });
      taints = taints.filter((x) => !same(x, t));
    }
    for (const t of taintsIn.addOrUpdateTaints ?? []) {
      if (!['NO_SCHEDULE', 'NO_EXECUTE', 'PREFER_NO_SCHEDULE'].includes(t.effect)) {
        throw new EksError('InvalidParameterException', `Invalid taint effect ${t.effect}`, ids);
      }
      const existing = taints.find((x) => same(x, t));
      if (!existing || existing.value !== t.value)
        params.push({ type: 'TaintsToAdd', value: JSON.stringify([t]) });
      taints = [...taints.filter((x) => !same(x, t)), t];
    }
  }
  const updateConfig = body.updateConfig as Record<string, number> | undefined;
  if (updateConfig) {
    if (
      updateConfig.maxUnavailable !== undefined &&
      updateConfig.maxUnavailablePercentage !== undefined
    ) {
      throw new EksError(
        'InvalidParameterException',
        'Only one of maxUnavailable and maxUnavailablePercentage may be given.',
        ids,
      );
    }
    if (JSON.stringify(updateConfig) !== JSON.stringify(f.updateConfig)) {
      params.push({ type: 'MaxUnavailable', value: JSON.stringify(updateConfig) });
    }
  }
  if (params.length === 0) {
    throw new EksError('InvalidParameterException', 'No changes needed', ids);
  }
  f.scalingConfig = nextScaling;
  f.labels = labels;
  if (taints.length > 0) f.taints = taints;
  else delete f.taints;
  if (updateConfig) f.updateConfig = updateConfig;
  startUpdating(records, ng);
  return newUpdate(records, 'ConfigUpdate', params);
}

function updateAddon(
  records: EksRecords,
  addon: Updatable,
  body: Record<string, unknown>,
): unknown {
  const f = addon.fields;
  const ids = { clusterName: String(f.clusterName), addonName: String(f.addonName) };
  requireActive(addon, `Addon ${ids.addonName}`, ids);
  const params: { type: string; value: string }[] = [];
  if (body.addonVersion !== undefined) {
    const known = catalogue(records)[ids.addonName] ?? [];
    if (typeof body.addonVersion !== 'string' || !known.includes(body.addonVersion)) {
      throw new EksError(
        'InvalidParameterException',
        `Addon version ${String(body.addonVersion)} specified is not supported`,
        ids,
      );
    }
    if (body.addonVersion !== f.addonVersion)
      params.push({ type: 'AddonVersion', value: body.addonVersion });
    f.addonVersion = body.addonVersion;
  }
  if (body.configurationValues !== undefined) {
    if (body.configurationValues !== (f.configurationValues ?? '')) {
      params.push({ type: 'ConfigurationValues', value: String(body.configurationValues) });
    }
    if (body.configurationValues === '') delete f.configurationValues;
    else f.configurationValues = body.configurationValues;
  }
  if (body.serviceAccountRoleArn !== undefined) {
    if (
      typeof body.serviceAccountRoleArn !== 'string' ||
      !ROLE_ARN.test(body.serviceAccountRoleArn)
    ) {
      throw new EksError(
        'InvalidParameterException',
        'serviceAccountRoleArn must be an IAM role ARN.',
        ids,
      );
    }
    if (body.serviceAccountRoleArn !== f.serviceAccountRoleArn) {
      params.push({ type: 'ServiceAccountRoleArn', value: body.serviceAccountRoleArn });
    }
    f.serviceAccountRoleArn = body.serviceAccountRoleArn;
  }
  if (
    body.resolveConflicts !== undefined &&
    !['NONE', 'OVERWRITE', 'PRESERVE'].includes(String(body.resolveConflicts))
  ) {
    throw new EksError(
      'InvalidParameterException',
      `resolveConflicts must be NONE, OVERWRITE or PRESERVE.`,
      ids,
    );
  }
  if (params.length > 0) startUpdating(records, addon);
  return newUpdate(records, 'AddonUpdate', params);
}

function updateAccessEntry(
  records: EksRecords,
  region: string,
  p: Record<string, string>,
  body: Record<string, unknown>,
): unknown {
  const entry = records.accessEntry(region, p);
  if (body.kubernetesGroups !== undefined) {
    const groups = Array.isArray(body.kubernetesGroups) ? body.kubernetesGroups : [];
    if (groups.some((g) => typeof g !== 'string' || g.startsWith('system:'))) {
      throw new EksError(
        'InvalidParameterException',
        'kubernetesGroups must be strings, and cannot start with system:',
        { clusterName: p.clusterName as string },
      );
    }
    entry.fields.kubernetesGroups = groups;
  }
  if (typeof body.username === 'string') entry.fields.username = body.username;
  entry.fields.modifiedAt = records.now() / 1000;
  return { accessEntry: entry.fields };
}

// ---- pod identity associations --------------------------------------------------------------

function associations(c: UpdatableCluster): Map<string, Record<string, unknown>> {
  c.podIdentityAssociations ??= new Map();
  return c.podIdentityAssociations;
}

function createAssociation(
  records: EksRecords,
  c: UpdatableCluster,
  body: Record<string, unknown>,
): unknown {
  const ids = { clusterName: c.name };
  const { namespace, serviceAccount, roleArn } = body;
  if (
    typeof namespace !== 'string' ||
    namespace === '' ||
    typeof serviceAccount !== 'string' ||
    serviceAccount === ''
  ) {
    throw new EksError(
      'InvalidParameterException',
      'namespace and serviceAccount are required.',
      ids,
    );
  }
  if (typeof roleArn !== 'string' || !ROLE_ARN.test(roleArn)) {
    throw new EksError(
      'InvalidParameterException',
      `roleArn must be an IAM role ARN; got ${JSON.stringify(roleArn ?? null)}.`,
      ids,
    );
  }
  const existing = [...associations(c).values()].find(
    (a) => a.namespace === namespace && a.serviceAccount === serviceAccount,
  );
  if (existing) {
    if (
      typeof body.clientRequestToken === 'string' &&
      existing.clientRequestToken === body.clientRequestToken
    ) {
      return { association: publicFields(existing) };
    }
    throw new EksError(
      'ResourceInUseException',
      'Association already exists: ' + String(existing.associationId),
      ids,
    );
  }
  const id = `a-${randomBytes(9).toString('hex').slice(0, 17)}`;
  const now = records.now() / 1000;
  const a: Record<string, unknown> = {
    clusterName: c.name,
    namespace,
    serviceAccount,
    roleArn,
    associationArn: `arn:aws:eks:${c.region}:${records.accountId}:podidentityassociation/${c.name}/${id}`,
    associationId: id,
    tags: body.tags ?? {},
    createdAt: now,
    modifiedAt: now,
    ...(typeof body.clientRequestToken === 'string'
      ? { clientRequestToken: body.clientRequestToken }
      : {}),
  };
  associations(c).set(id, a);
  return { association: publicFields(a) };
}

function publicFields(a: Record<string, unknown>): Record<string, unknown> {
  const { clientRequestToken: _token, ...rest } = a;
  return rest;
}

function association(c: UpdatableCluster, p: Record<string, string>): Record<string, unknown> {
  const a = associations(c).get(p.associationId as string);
  if (!a) {
    throw new EksError(
      'ResourceNotFoundException',
      `Pod identity association ${p.associationId} not found`,
      { clusterName: c.name },
    );
  }
  return a;
}

function listAssociations(c: UpdatableCluster, q: URLSearchParams): unknown {
  const ns = q.get('namespace');
  const sa = q.get('serviceAccount');
  const list = [...associations(c).values()]
    .filter((a) => (ns === null || a.namespace === ns) && (sa === null || a.serviceAccount === sa))
    .map((a) => ({
      clusterName: a.clusterName,
      namespace: a.namespace,
      serviceAccount: a.serviceAccount,
      associationArn: a.associationArn,
      associationId: a.associationId,
    }));
  return { associations: list };
}
