/**
 * The write calls, one function per plan action, each sending exactly what the config says.
 * Creates carry a client request token derived from the config, so a create retried after a
 * lost answer (or re-run after a cancelled one) returns the resource instead of failing.
 */
import { createHash } from 'node:crypto';
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  CreateAddonCommand,
  CreateClusterCommand,
  CreateNodegroupCommand,
  CreatePodIdentityAssociationCommand,
  UpdateAccessEntryCommand,
  UpdateClusterConfigCommand,
  type UpdateClusterConfigCommandInput,
  type Cluster,
  UpdateAddonCommand,
  UpdateNodegroupConfigCommand,
  UpdatePodIdentityAssociationCommand,
  type Nodegroup,
} from '@aws-sdk/client-eks';
import { CreateOpenIDConnectProviderCommand } from '@aws-sdk/client-iam';
import type {
  AccessEntryConfig,
  AddonConfig,
  ClusterConfig,
  NodeGroupConfig,
  PodIdentityAssociationConfig,
} from './cluster-config.js';
import { readAccessEntry, type EksClients } from './live.js';
import { taintsText, type LiveCluster } from './plan.js';

type Options = { abortSignal?: AbortSignal };

export function requestToken(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 36);
}

export async function createCluster(
  config: ClusterConfig,
  c: EksClients,
  opts: Options,
): Promise<void> {
  await c.eks.send(
    new CreateClusterCommand({
      name: config.name,
      version: config.version,
      roleArn: config.serviceRoleArn,
      resourcesVpcConfig: {
        subnetIds: config.vpc.subnets.map((s) => s.id),
        ...(config.vpc.securityGroup ? { securityGroupIds: [config.vpc.securityGroup] } : {}),
        endpointPublicAccess: config.vpc.publicAccess,
        endpointPrivateAccess: config.vpc.privateAccess,
        ...(config.vpc.publicAccessCidrs
          ? { publicAccessCidrs: config.vpc.publicAccessCidrs }
          : {}),
      },
      accessConfig: {
        authenticationMode: config.access.authenticationMode,
        bootstrapClusterCreatorAdminPermissions:
          config.access.bootstrapClusterCreatorAdminPermissions,
      },
      ...(config.network && Object.keys(config.network).length > 0
        ? { kubernetesNetworkConfig: config.network }
        : {}),
      ...(config.encryptionKeyArn
        ? {
            encryptionConfig: [
              { resources: ['secrets'], provider: { keyArn: config.encryptionKeyArn } },
            ],
          }
        : {}),
      ...(config.logTypes.length > 0
        ? { logging: { clusterLogging: [{ types: config.logTypes as never, enabled: true }] } }
        : {}),
      ...(config.upgradePolicy ? { upgradePolicy: config.upgradePolicy } : {}),
      // As eksctl: the default add-ons are EKS add-ons (or none), never EKS's self-managed copies,
      // which an add-on created later would conflict with.
      bootstrapSelfManagedAddons: false,
      ...(Object.keys(config.tags).length > 0 ? { tags: config.tags } : {}),
      clientRequestToken: requestToken('cluster', config.region, config.name),
    }),
    opts,
  );
}

/**
 * The UpdateClusterConfig calls that bring an existing cluster to the config, in order: EKS
 * takes one kind of change per call and refuses another while the cluster is UPDATING, so the
 * caller sends each and waits for ACTIVE before the next.
 */
export function clusterConfigUpdates(
  config: ClusterConfig,
  live: Cluster,
): { what: string; input: UpdateClusterConfigCommandInput }[] {
  const out: { what: string; input: UpdateClusterConfigCommandInput }[] = [];
  const name = config.name;
  const mode = live.accessConfig?.authenticationMode ?? 'CONFIG_MAP';
  if (mode !== config.access.authenticationMode) {
    out.push({
      what: `authentication mode ${mode} → ${config.access.authenticationMode}`,
      input: { name, accessConfig: { authenticationMode: config.access.authenticationMode } },
    });
  }
  const v = live.resourcesVpcConfig ?? {};
  const cidrs = (list: string[] | undefined): string => [...(list ?? [])].sort().join(',');
  if (
    v.endpointPublicAccess !== config.vpc.publicAccess ||
    v.endpointPrivateAccess !== config.vpc.privateAccess ||
    (config.vpc.publicAccessCidrs !== undefined &&
      cidrs(v.publicAccessCidrs) !== cidrs(config.vpc.publicAccessCidrs))
  ) {
    out.push({
      what: 'endpoint access',
      input: {
        name,
        resourcesVpcConfig: {
          endpointPublicAccess: config.vpc.publicAccess,
          endpointPrivateAccess: config.vpc.privateAccess,
          ...(config.vpc.publicAccessCidrs
            ? { publicAccessCidrs: config.vpc.publicAccessCidrs }
            : {}),
        },
      },
    });
  }
  const enabled = (live.logging?.clusterLogging ?? [])
    .filter((l) => l.enabled)
    .flatMap((l) => l.types ?? []);
  if ([...enabled].sort().join(',') !== [...config.logTypes].sort().join(',')) {
    const off = enabled.filter((t) => !config.logTypes.includes(t));
    out.push({
      what: `control plane logging: ${config.logTypes.join(', ') || 'off'}`,
      input: {
        name,
        logging: {
          clusterLogging: [
            ...(config.logTypes.length > 0
              ? [{ types: config.logTypes as never, enabled: true }]
              : []),
            ...(off.length > 0 ? [{ types: off, enabled: false }] : []),
          ],
        },
      },
    });
  }
  if (
    config.upgradePolicy &&
    live.upgradePolicy?.supportType !== config.upgradePolicy.supportType
  ) {
    out.push({
      what: `upgrade policy ${config.upgradePolicy.supportType}`,
      input: { name, upgradePolicy: config.upgradePolicy },
    });
  }
  return out;
}

export async function updateClusterConfig(
  input: UpdateClusterConfigCommandInput,
  c: EksClients,
  opts: Options,
): Promise<void> {
  await c.eks.send(new UpdateClusterConfigCommand(input), opts);
}

export async function createOidcProvider(
  issuer: string,
  c: EksClients,
  tags: Record<string, string>,
  opts: Options,
): Promise<string> {
  // IAM no longer needs a thumbprint for an EKS issuer: it trusts the issuer's CA itself.
  const r = await c.iam.send(
    new CreateOpenIDConnectProviderCommand({
      Url: issuer,
      ClientIDList: ['sts.amazonaws.com'],
      ...(Object.keys(tags).length > 0
        ? { Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }
        : {}),
    }),
    opts,
  );
  return r.OpenIDConnectProviderArn ?? '';
}

export async function putAccessEntry(
  cluster: string,
  entry: AccessEntryConfig,
  live: LiveCluster,
  c: EksClients,
  opts: Options,
): Promise<void> {
  let existing = live.accessEntries.get(entry.principalArn);
  if (!existing) {
    try {
      await c.eks.send(
        new CreateAccessEntryCommand({
          clusterName: cluster,
          principalArn: entry.principalArn,
          type: entry.type,
          ...(entry.kubernetesGroups.length > 0
            ? { kubernetesGroups: entry.kubernetesGroups }
            : {}),
          ...(entry.username ? { username: entry.username } : {}),
          clientRequestToken: requestToken('access-entry', cluster, entry.principalArn),
        }),
        opts,
      );
    } catch (e) {
      if (!(e instanceof Error && e.name === 'ResourceInUseException')) throw e;
      // EKS made this principal's entry itself: the cluster creator's (with
      // bootstrapClusterCreatorAdminPermissions). Bring it to the config instead.
      existing = await readAccessEntry(c.eks, cluster, entry.principalArn, opts);
      if (!existing) throw e;
    }
  }
  if (existing) {
    const groups = [...(existing.entry.kubernetesGroups ?? [])].sort().join(',');
    const usernameDiffers =
      entry.username !== undefined && existing.entry.username !== entry.username;
    if (groups !== [...entry.kubernetesGroups].sort().join(',') || usernameDiffers) {
      await c.eks.send(
        new UpdateAccessEntryCommand({
          clusterName: cluster,
          principalArn: entry.principalArn,
          kubernetesGroups: entry.kubernetesGroups,
          ...(entry.username ? { username: entry.username } : {}),
        }),
        opts,
      );
    }
  }
  await Promise.all(
    entry.policies
      .filter((p) => {
        const have = existing?.policies.find((x) => x.policyArn === p.policyArn);
        if (!have) return true;
        const ns = (v: string[] | undefined): string => [...(v ?? [])].sort().join(',');
        return (
          have.accessScope?.type !== p.scope.type ||
          ns(have.accessScope?.namespaces) !== ns(p.scope.namespaces)
        );
      })
      .map((p) =>
        c.eks.send(
          new AssociateAccessPolicyCommand({
            clusterName: cluster,
            principalArn: entry.principalArn,
            policyArn: p.policyArn,
            accessScope: {
              type: p.scope.type,
              ...(p.scope.type === 'namespace' ? { namespaces: p.scope.namespaces } : {}),
            },
          }),
          opts,
        ),
      ),
  );
}

export async function createAddon(
  cluster: string,
  addon: AddonConfig,
  version: string | undefined,
  c: EksClients,
  opts: Options,
): Promise<void> {
  await c.eks.send(
    new CreateAddonCommand({
      clusterName: cluster,
      addonName: addon.name,
      ...(version ? { addonVersion: version } : {}),
      ...(addon.serviceAccountRoleArn
        ? { serviceAccountRoleArn: addon.serviceAccountRoleArn }
        : {}),
      ...(addon.configurationValues ? { configurationValues: addon.configurationValues } : {}),
      ...(addon.resolveConflicts ? { resolveConflicts: addon.resolveConflicts } : {}),
      ...(Object.keys(addon.tags).length > 0 ? { tags: addon.tags } : {}),
      clientRequestToken: requestToken('addon', cluster, addon.name),
    }),
    opts,
  );
}

export async function updateAddon(
  cluster: string,
  addon: AddonConfig,
  version: string | undefined,
  c: EksClients,
  opts: Options,
): Promise<void> {
  await c.eks.send(
    new UpdateAddonCommand({
      clusterName: cluster,
      addonName: addon.name,
      ...(addon.version !== undefined && version ? { addonVersion: version } : {}),
      ...(addon.serviceAccountRoleArn
        ? { serviceAccountRoleArn: addon.serviceAccountRoleArn }
        : {}),
      ...(addon.configurationValues !== undefined
        ? { configurationValues: addon.configurationValues }
        : {}),
      ...(addon.resolveConflicts ? { resolveConflicts: addon.resolveConflicts } : {}),
    }),
    opts,
  );
}

export async function createNodegroup(
  cluster: string,
  ng: NodeGroupConfig,
  version: string,
  c: EksClients,
  opts: Options,
): Promise<void> {
  await c.eks.send(
    new CreateNodegroupCommand({
      clusterName: cluster,
      nodegroupName: ng.name,
      version,
      scalingConfig: ng.scaling,
      instanceTypes: ng.instanceTypes,
      capacityType: ng.capacityType,
      amiType: ng.amiType as never,
      diskSize: ng.diskSize,
      subnets: ng.subnets,
      nodeRole: ng.nodeRole,
      ...(Object.keys(ng.labels).length > 0 ? { labels: ng.labels } : {}),
      ...(ng.taints.length > 0 ? { taints: ng.taints } : {}),
      ...(ng.updateConfig ? { updateConfig: ng.updateConfig } : {}),
      ...(ng.releaseVersion ? { releaseVersion: ng.releaseVersion } : {}),
      ...(Object.keys(ng.tags).length > 0 ? { tags: ng.tags } : {}),
      clientRequestToken: requestToken('nodegroup', cluster, ng.name),
    }),
    opts,
  );
}

/** UpdateNodegroupConfig with only the parts that differ (EKS refuses an update that changes nothing). */
export async function updateNodegroup(
  cluster: string,
  ng: NodeGroupConfig,
  live: Nodegroup,
  c: EksClients,
  opts: Options,
): Promise<void> {
  const s = live.scalingConfig ?? {};
  const scalingDiffers =
    s.minSize !== ng.scaling.minSize ||
    s.maxSize !== ng.scaling.maxSize ||
    s.desiredSize !== ng.scaling.desiredSize;
  const liveLabels = live.labels ?? {};
  const addOrUpdate = Object.fromEntries(
    Object.entries(ng.labels).filter(([k, v]) => liveLabels[k] !== v),
  );
  const removeLabels = Object.keys(liveLabels).filter((k) => !(k in ng.labels));
  const liveTaints = live.taints ?? [];
  const taintsDiffer = taintsText(liveTaints).join('|') !== taintsText(ng.taints).join('|');
  const removeTaints = liveTaints.filter(
    (t) => !ng.taints.some((x) => x.key === t.key && x.effect === t.effect),
  );
  const u = live.updateConfig ?? {};
  const updateConfigDiffers =
    ng.updateConfig !== undefined &&
    (u.maxUnavailable !== ng.updateConfig.maxUnavailable ||
      u.maxUnavailablePercentage !== ng.updateConfig.maxUnavailablePercentage);
  await c.eks.send(
    new UpdateNodegroupConfigCommand({
      clusterName: cluster,
      nodegroupName: ng.name,
      ...(scalingDiffers ? { scalingConfig: ng.scaling } : {}),
      ...(Object.keys(addOrUpdate).length > 0 || removeLabels.length > 0
        ? {
            labels: {
              ...(Object.keys(addOrUpdate).length > 0 ? { addOrUpdateLabels: addOrUpdate } : {}),
              ...(removeLabels.length > 0 ? { removeLabels } : {}),
            },
          }
        : {}),
      ...(taintsDiffer
        ? {
            taints: {
              ...(ng.taints.length > 0 ? { addOrUpdateTaints: ng.taints } : {}),
              ...(removeTaints.length > 0 ? { removeTaints } : {}),
            },
          }
        : {}),
      ...(updateConfigDiffers ? { updateConfig: ng.updateConfig } : {}),
      clientRequestToken: requestToken(
        'nodegroup-update',
        cluster,
        ng.name,
        JSON.stringify(ng),
        JSON.stringify(live.scalingConfig),
      ),
    }),
    opts,
  );
}

export async function putPodIdentityAssociation(
  cluster: string,
  p: PodIdentityAssociationConfig,
  live: LiveCluster,
  c: EksClients,
  opts: Options,
): Promise<void> {
  const existing = live.podIdentityAssociations.get(`${p.namespace}/${p.serviceAccountName}`);
  if (existing?.associationId) {
    await c.eks.send(
      new UpdatePodIdentityAssociationCommand({
        clusterName: cluster,
        associationId: existing.associationId,
        roleArn: p.roleArn,
      }),
      opts,
    );
    return;
  }
  await c.eks.send(
    new CreatePodIdentityAssociationCommand({
      clusterName: cluster,
      namespace: p.namespace,
      serviceAccount: p.serviceAccountName,
      roleArn: p.roleArn,
      ...(Object.keys(p.tags).length > 0 ? { tags: p.tags } : {}),
      clientRequestToken: requestToken('pod-identity', cluster, p.namespace, p.serviceAccountName),
    }),
    opts,
  );
}
