/**
 * An eksctl ClusterConfig (apiVersion eksctl.io/v1alpha5, kind ClusterConfig), read with
 * positions: every problem at once, each at its file:line:col, unknown keys with a
 * did-you-mean. eksctl's own keys and meanings are the spec; keys for things eksctl would
 * create itself (IAM roles, a VPC, launch templates, IRSA roles) are refused with what to give
 * instead, because this action only calls the EKS API (and IAM for the OIDC provider). eksctl's
 * defaults are applied here (see DEFAULTS below), so the planner compares like with like.
 */
import { readFile } from 'node:fs/promises';
import { isScalar, type Scalar } from 'yaml';
import { ConfigurationError } from '../common/errors.js';
import {
  YamlSource,
  describe,
  optional,
  type At,
  type SourcePosition,
  type YamlPath,
} from '../yaml/source.js';

export interface ClusterConfig {
  file: string;
  /**
   * Where things are written, for annotations on drift: `cluster` and `cluster:<plan field>`,
   * `<resource>:<name>` and `<resource>:<name>:<plan field>` (resource as in the plan).
   */
  positions: Map<string, SourcePosition>;
  name: string;
  region: string;
  /** "1.32": always a string. */
  version: string;
  tags: Record<string, string>;
  vpc: VpcConfig;
  serviceRoleArn: string;
  withOIDC: boolean;
  podIdentityAssociations: PodIdentityAssociationConfig[];
  access: AccessConfig;
  addons: AddonConfig[];
  nodeGroups: NodeGroupConfig[];
  network?: { ipFamily?: 'ipv4' | 'ipv6'; serviceIpv4Cidr?: string };
  encryptionKeyArn?: string;
  /** Control plane log types to enable; empty: logging off, as eksctl leaves it. */
  logTypes: string[];
  upgradePolicy?: { supportType: 'STANDARD' | 'EXTENDED' };
}

export interface SubnetConfig {
  id: string;
  /** The key it was given under in vpc.subnets.private|public (an AZ or a name). */
  key: string;
  az?: string;
  access: 'private' | 'public';
}

export interface VpcConfig {
  /** Optional, as in eksctl: the subnets say which VPC; when given, it is checked against EKS. */
  id?: string;
  subnets: SubnetConfig[];
  securityGroup?: string;
  publicAccess: boolean;
  privateAccess: boolean;
  publicAccessCidrs?: string[];
}

export interface PodIdentityAssociationConfig {
  namespace: string;
  serviceAccountName: string;
  roleArn: string;
  tags: Record<string, string>;
}

export type AuthenticationMode = 'CONFIG_MAP' | 'API' | 'API_AND_CONFIG_MAP';

export interface AccessConfig {
  authenticationMode: AuthenticationMode;
  bootstrapClusterCreatorAdminPermissions: boolean;
  entries: AccessEntryConfig[];
}

export interface AccessEntryConfig {
  principalArn: string;
  type: string;
  kubernetesGroups: string[];
  username?: string;
  policies: AccessPolicyConfig[];
}

export interface AccessPolicyConfig {
  policyArn: string;
  scope: { type: 'cluster' | 'namespace'; namespaces: string[] };
}

export interface AddonConfig {
  name: string;
  /** undefined: EKS's default version for the cluster's Kubernetes version. */
  version?: string;
  serviceAccountRoleArn?: string;
  configurationValues?: string;
  resolveConflicts?: 'NONE' | 'OVERWRITE' | 'PRESERVE';
  podIdentityAssociations: { serviceAccountName: string; roleArn: string }[];
  tags: Record<string, string>;
  /** True for eksctl's default add-ons that the config did not list. */
  isDefault: boolean;
}

export interface NodeGroupConfig {
  name: string;
  instanceTypes: string[];
  capacityType: 'ON_DEMAND' | 'SPOT';
  amiType: string;
  scaling: { minSize: number; maxSize: number; desiredSize: number };
  labels: Record<string, string>;
  taints: {
    key: string;
    value?: string;
    effect: 'NO_SCHEDULE' | 'NO_EXECUTE' | 'PREFER_NO_SCHEDULE';
  }[];
  diskSize: number;
  subnets: string[];
  nodeRole: string;
  updateConfig?: { maxUnavailable?: number; maxUnavailablePercentage?: number };
  releaseVersion?: string;
  tags: Record<string, string>;
}

/** eksctl's defaults (pkg/apis/eksctl.io/v1alpha5 defaults.go), where the API's differ. */
export const DEFAULTS = {
  authenticationMode: 'API_AND_CONFIG_MAP' as AuthenticationMode,
  instanceType: 'm5.large',
  desiredCapacity: 2,
  volumeSize: 80,
  amiFamily: 'AmazonLinux2023',
  /** Installed as EKS add-ons unless addonsConfig.disableDefaultAddons (eksctl's KnownAddons). */
  addons: ['vpc-cni', 'kube-proxy', 'coredns', 'metrics-server'],
  /** metrics-server is not a default where EKS does not offer it (China, GovCloud, ISO). */
  noMetricsServer: /^(cn-|us-gov-|us-iso|eu-isoe-)/,
  /** Labels and tags eksctl puts on every managed node group. */
  clusterNameLabel: 'alpha.eksctl.io/cluster-name',
  nodegroupNameLabel: 'alpha.eksctl.io/nodegroup-name',
  nodegroupTypeTag: 'alpha.eksctl.io/nodegroup-type',
  podIdentityAgent: 'eks-pod-identity-agent',
} as const;

/** Keys eksctl knows that this action refuses, and what to give instead. */
const REFUSED: Record<string, Record<string, string>> = {
  top: {
    nodeGroups:
      'self-managed node groups are CloudFormation stacks eksctl builds; use managedNodeGroups',
    fargateProfiles: 'Fargate profiles are not created by this action yet',
    availabilityZones:
      'eksctl would create a VPC in these zones; give existing subnets in vpc.subnets instead',
    gitops: 'Flux bootstrap is not part of creating the cluster',
    karpenter: 'install Karpenter with sync-apps after the cluster exists',
    identityProviders: 'OIDC identity providers for users are not associated by this action',
    privateCluster:
      'fully private clusters need VPC endpoints eksctl creates; use vpc.clusterEndpoints',
    autoModeConfig: 'EKS Auto Mode is not supported by this action',
    outpost: 'clusters on Outposts are not supported by this action',
    remoteNetworkConfig: 'hybrid nodes are not supported by this action',
    zonalShiftConfig: 'zonal shift is not set by this action',
  },
  vpc: {
    cidr: 'eksctl would create a VPC; give the ids of existing subnets in vpc.subnets',
    nat: 'eksctl would create NAT gateways; give subnets that already route out',
    extraCIDRs: 'eksctl would add CIDRs to the VPC; do it beforehand',
    extraIPv6CIDRs: 'eksctl would add CIDRs to the VPC; do it beforehand',
    sharedNodeSecurityGroup: 'eksctl would create a shared node security group',
    manageSharedNodeSecurityGroupRules: 'eksctl would manage security group rules',
    autoAllocateIPv6: 'eksctl would change the VPC',
    hostnameType: 'eksctl would change the subnets',
  },
  iam: {
    serviceRolePermissionsBoundary:
      'eksctl would create the cluster role; create it yourself and give iam.serviceRoleARN',
    fargatePodExecutionRoleARN: 'Fargate profiles are not created by this action yet',
    fargatePodExecutionRolePermissionsBoundary: 'Fargate profiles are not created by this action',
    serviceAccounts:
      'eksctl would create IRSA roles and service accounts; create the role yourself and give it in iam.podIdentityAssociations[].roleARN (or an add-on serviceAccountRoleARN)',
    vpcResourceControllerPolicy: 'eksctl would attach a policy to the cluster role it creates',
  },
  podIdentityAssociation: {
    roleName: 'eksctl would create this role; create it yourself and give roleARN',
    permissionPolicyARNs: 'eksctl would create a role with these policies; give roleARN instead',
    permissionPolicy: 'eksctl would create a role with this policy; give roleARN instead',
    wellKnownPolicies: 'eksctl would create a role with these policies; give roleARN instead',
    permissionsBoundaryARN: 'eksctl would create the role; give roleARN instead',
    createServiceAccount: 'the service account is the app chart’s to create',
  },
  addon: {
    attachPolicyARNs:
      'eksctl would create an IRSA role with these policies; create it yourself and give serviceAccountRoleARN',
    attachPolicy: 'eksctl would create an IRSA role with this policy; give serviceAccountRoleARN',
    wellKnownPolicies: 'eksctl would create an IRSA role; give serviceAccountRoleARN',
    permissionsBoundary: 'eksctl would create an IRSA role; give serviceAccountRoleARN',
    useDefaultPodIdentityAssociations:
      'eksctl would create the recommended roles; list podIdentityAssociations with roleARN',
  },
  addonsConfig: {
    autoApplyPodIdentityAssociations:
      'eksctl would create the recommended roles; list podIdentityAssociations with roleARN on each add-on',
  },
  managedNodeGroup: {
    launchTemplate: 'launch templates are not created or used by this action',
    ami: 'a custom AMI needs a launch template eksctl creates; use amiFamily and releaseVersion',
    volumeType: 'the volume type needs a launch template eksctl creates; EKS uses its default',
    volumeIOPS: 'needs a launch template eksctl creates',
    volumeThroughput: 'needs a launch template eksctl creates',
    volumeEncrypted: 'needs a launch template eksctl creates',
    securityGroups: 'eksctl would create security groups and a launch template',
    ssh: 'SSH access needs security groups eksctl creates; use SSM Session Manager',
    preBootstrapCommands: 'bootstrap commands need a launch template eksctl creates',
    overrideBootstrapCommand: 'bootstrap commands need a launch template eksctl creates',
    maxPodsPerNode: 'needs a launch template eksctl creates',
    instanceName: 'needs a launch template eksctl creates',
    disableIMDSv1: 'needs a launch template eksctl creates',
    instanceSelector: 'eksctl would pick instance types; list them in instanceTypes',
  },
  nodeGroupIam: {
    attachPolicyARNs:
      'eksctl would create the node role with these policies; create it yourself and give iam.instanceRoleARN',
    instanceRoleName: 'eksctl would create this role; give iam.instanceRoleARN',
    instanceRolePermissionsBoundary: 'eksctl would create the node role; give iam.instanceRoleARN',
    withAddonPolicies:
      'eksctl would add policies to a node role it creates; give iam.instanceRoleARN',
    attachPolicy: 'eksctl would create the node role; give iam.instanceRoleARN',
  },
  cloudWatchClusterLogging: {
    logRetentionInDays:
      'set the retention on the log group /aws/eks/<name>/cluster; this action only calls EKS',
  },
};

const KEYS = {
  top: [
    'apiVersion',
    'kind',
    'metadata',
    'vpc',
    'iam',
    'accessConfig',
    'addons',
    'addonsConfig',
    'managedNodeGroups',
    'kubernetesNetworkConfig',
    'secretsEncryption',
    'cloudWatch',
    'upgradePolicy',
  ],
  metadata: ['name', 'region', 'version', 'tags'],
  vpc: ['id', 'subnets', 'clusterEndpoints', 'publicAccessCIDRs', 'securityGroup'],
  subnets: ['private', 'public'],
  subnet: ['id', 'az', 'cidr'],
  clusterEndpoints: ['privateAccess', 'publicAccess'],
  iam: ['serviceRoleARN', 'withOIDC', 'podIdentityAssociations'],
  podIdentityAssociation: ['namespace', 'serviceAccountName', 'roleARN', 'tags'],
  accessConfig: ['authenticationMode', 'bootstrapClusterCreatorAdminPermissions', 'accessEntries'],
  accessEntry: ['principalARN', 'type', 'kubernetesGroups', 'kubernetesUsername', 'accessPolicies'],
  accessPolicy: ['policyARN', 'accessScope'],
  accessScope: ['type', 'namespaces'],
  addon: [
    'name',
    'version',
    'serviceAccountRoleARN',
    'configurationValues',
    'resolveConflicts',
    'podIdentityAssociations',
    'tags',
  ],
  addonPodIdentity: ['serviceAccountName', 'roleARN', 'namespace'],
  addonsConfig: ['disableDefaultAddons'],
  managedNodeGroup: [
    'name',
    'instanceType',
    'instanceTypes',
    'desiredCapacity',
    'minSize',
    'maxSize',
    'labels',
    'taints',
    'amiFamily',
    'volumeSize',
    'subnets',
    'availabilityZones',
    'privateNetworking',
    'iam',
    'updateConfig',
    'spot',
    'releaseVersion',
    'tags',
  ],
  nodeGroupIam: ['instanceRoleARN'],
  taint: ['key', 'value', 'effect'],
  updateConfig: ['maxUnavailable', 'maxUnavailablePercentage'],
  kubernetesNetworkConfig: ['ipFamily', 'serviceIPv4CIDR'],
  secretsEncryption: ['keyARN'],
  cloudWatch: ['clusterLogging'],
  clusterLogging: ['enableTypes'],
  upgradePolicy: ['supportType'],
};

const TAINT_EFFECTS: Record<string, NodeGroupConfig['taints'][number]['effect']> = {
  NoSchedule: 'NO_SCHEDULE',
  NoExecute: 'NO_EXECUTE',
  PreferNoSchedule: 'PREFER_NO_SCHEDULE',
};
const LOG_TYPES = ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'];
const AUTH_MODES: AuthenticationMode[] = ['CONFIG_MAP', 'API', 'API_AND_CONFIG_MAP'];
const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
const NODEGROUP_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,62}$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;
const VERSION = /^1\.\d{1,2}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/;
const KMS_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/.+$/;
const ACCESS_POLICY_ARN = /^arn:aws[a-z-]*:eks::aws:cluster-access-policy\/[A-Za-z]+$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8,32}$/;
const SG_ID = /^sg-[0-9a-f]{8,17}$/;
const CIDR = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

/** Parses and validates a ClusterConfig; throws a ConfigurationError listing every problem. */
export function parseClusterConfig(text: string, file: string): ClusterConfig {
  const src = new YamlSource(text, file, 'ClusterConfig');
  const config = src.hasSyntaxErrors ? undefined : new Reader(src, file).read();
  if (!config || src.diagnostics.length > 0) throw src.toError();
  return config;
}

export async function readClusterConfig(path: string): Promise<ClusterConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') {
      throw new ConfigurationError(
        `ClusterConfig "${path}" ${code === 'ENOENT' ? 'does not exist' : 'is a directory'}; give the path of one eksctl ClusterConfig file, relative to the repository root.`,
      );
    }
    throw e;
  }
  return parseClusterConfig(text, path);
}

/** One pass over the file; every reader returns undefined after reporting a problem. */
class Reader {
  constructor(
    private readonly src: YamlSource,
    private readonly file: string,
  ) {}

  read(): ClusterConfig | undefined {
    const src = this.src;
    const root = src.root('');
    const top = this.map(root, 'top', 'top');
    if (!top) return undefined;
    const apiVersion = src.required(top, 'apiVersion', root, 'eksctl.io/v1alpha5');
    if (apiVersion && src.string(apiVersion) !== undefined) {
      const v = (apiVersion.node as Scalar).value;
      if (v !== 'eksctl.io/v1alpha5') {
        src.reportValue(apiVersion, `apiVersion must be eksctl.io/v1alpha5, got "${String(v)}".`);
      }
    }
    const kind = src.required(top, 'kind', root, 'ClusterConfig');
    if (kind && src.string(kind) !== undefined && (kind.node as Scalar).value !== 'ClusterConfig') {
      src.reportValue(
        kind,
        `kind must be ClusterConfig, got "${String((kind.node as Scalar).value)}".`,
      );
    }

    const meta = this.metadata(
      src.required(top, 'metadata', root, 'the cluster name, region and version'),
    );
    const vpc = this.vpc(
      src.required(top, 'vpc', root, 'the subnets the cluster uses (vpc.subnets)'),
    );
    const iam = this.iam(src.required(top, 'iam', root, 'iam.serviceRoleARN, the cluster role'));
    const access = this.accessConfig(top.get('accessConfig'));
    const addonsConfig = optional(top.get('addonsConfig'), (at) =>
      this.map(at, 'addonsConfig', 'addonsConfig'),
    );
    const disableDefaults =
      optional(addonsConfig?.get('disableDefaultAddons'), (at) => this.bool(at)) ?? false;
    const addons = this.addons(
      top.get('addons'),
      disableDefaults,
      (iam?.podIdentityAssociations.length ?? 0) > 0,
      meta?.region,
    );
    const nodeGroups = this.nodeGroups(top.get('managedNodeGroups'), vpc, meta?.name ?? '');
    const network = optional(top.get('kubernetesNetworkConfig'), (at) => this.network(at));
    const encryption = optional(top.get('secretsEncryption'), (at) => {
      const m = this.map(at, 'secretsEncryption', 'secretsEncryption');
      const key = m && src.required(m, 'keyARN', at, 'the ARN of a KMS key');
      return (
        key && this.pattern(key, KMS_ARN, 'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)')
      );
    });
    const logTypes = optional(top.get('cloudWatch'), (at) => this.logging(at)) ?? [];
    const upgradePolicy = optional(top.get('upgradePolicy'), (at) => {
      const m = this.map(at, 'upgradePolicy', 'upgradePolicy');
      const t = m?.get('supportType');
      const v = t && this.oneOf(t, ['STANDARD', 'EXTENDED']);
      return v ? { supportType: v as 'STANDARD' | 'EXTENDED' } : undefined;
    });

    if (!meta || !vpc || !iam || !access || !addons || !nodeGroups) return undefined;
    return {
      file: this.file,
      positions: this.positions(nodeGroups),
      ...meta,
      vpc,
      serviceRoleArn: iam.serviceRoleArn,
      withOIDC: iam.withOIDC,
      podIdentityAssociations: iam.podIdentityAssociations,
      access,
      addons,
      nodeGroups,
      ...(network ? { network } : {}),
      ...(encryption ? { encryptionKeyArn: encryption } : {}),
      logTypes,
      ...(upgradePolicy ? { upgradePolicy } : {}),
    };
  }

  /** Where the plan's resources and fields are written (the nearest written parent otherwise). */
  private positions(nodeGroups: NodeGroupConfig[]): Map<string, SourcePosition> {
    const src = this.src;
    const out = new Map<string, SourcePosition>();
    const put = (key: string, ...paths: YamlPath[]): void => {
      const path = paths.find((p) => src.doc.hasIn(p)) ?? paths[paths.length - 1] ?? [];
      out.set(key, src.locate(path));
    };
    put('cluster', ['metadata', 'name']);
    const clusterFields: Record<string, YamlPath[]> = {
      version: [['metadata', 'version']],
      roleArn: [['iam', 'serviceRoleARN']],
      subnets: [['vpc', 'subnets']],
      'vpc.id': [['vpc', 'id']],
      securityGroupIds: [['vpc', 'securityGroup']],
      'secretsEncryption.keyARN': [
        ['secretsEncryption', 'keyARN'],
        ['metadata', 'name'],
      ],
      serviceIPv4CIDR: [['kubernetesNetworkConfig', 'serviceIPv4CIDR']],
      ipFamily: [['kubernetesNetworkConfig', 'ipFamily']],
      authenticationMode: [
        ['accessConfig', 'authenticationMode'],
        ['metadata', 'name'],
      ],
    };
    for (const [field, paths] of Object.entries(clusterFields)) put(`cluster:${field}`, ...paths);
    nodeGroups.forEach((ng, i) => {
      const at = (...keys: string[]): YamlPath => ['managedNodeGroups', i, ...keys];
      put(`nodegroup:${ng.name}`, at('name'));
      const fields: Record<string, YamlPath[]> = {
        instanceTypes: [at('instanceTypes'), at('instanceType'), at('name')],
        capacityType: [at('spot'), at('name')],
        amiType: [at('amiFamily'), at('name')],
        subnets: [at('subnets'), at('availabilityZones'), at('privateNetworking'), at('name')],
        'iam.instanceRoleARN': [at('iam', 'instanceRoleARN')],
        volumeSize: [at('volumeSize'), at('name')],
        releaseVersion: [at('releaseVersion')],
      };
      for (const [field, paths] of Object.entries(fields)) {
        put(`nodegroup:${ng.name}:${field}`, ...paths);
      }
    });
    const items = (list: YamlPath, resource: string, key: string): void => {
      const seq = src.doc.getIn(list);
      const count = (seq as { items?: unknown[] } | undefined)?.items?.length ?? 0;
      for (let i = 0; i < count; i++) {
        const name = src.doc.getIn([...list, i, key]);
        if (typeof name === 'string') put(`${resource}:${name}`, [...list, i, key]);
      }
    };
    items(['addons'], 'addon', 'name');
    items(['accessConfig', 'accessEntries'], 'access-entry', 'principalARN');
    return out;
  }

  /** A map whose keys are honoured (KEYS[kind]) or refused with a reason (REFUSED[kind]). */
  private map(
    at: At,
    kind: keyof typeof KEYS,
    refusedKind?: keyof typeof REFUSED,
  ): Map<string, At> | undefined {
    const refused = refusedKind ? (REFUSED[refusedKind] ?? {}) : {};
    const entries = this.src.map(at, [...KEYS[kind], ...Object.keys(refused)], 'a map');
    if (!entries) return undefined;
    for (const [key, value] of entries) {
      const why = refused[key];
      if (why !== undefined) {
        this.src.reportEntry(value, `${value.label} is not supported: ${why}.`);
        entries.delete(key);
      }
    }
    return entries;
  }

  private metadata(
    at: At | undefined,
  ): Pick<ClusterConfig, 'name' | 'region' | 'version' | 'tags'> | undefined {
    if (!at) return undefined;
    const src = this.src;
    const m = this.map(at, 'metadata');
    if (!m) return undefined;
    const nameAt = src.required(m, 'name', at, 'the EKS cluster name');
    const name =
      nameAt &&
      this.pattern(
        nameAt,
        CLUSTER_NAME,
        'an EKS cluster name (letters, digits, - and _, up to 100, starting with a letter or digit)',
      );
    const regionAt = src.required(m, 'region', at, 'the AWS region, e.g. ap-northeast-1');
    const region =
      regionAt && this.pattern(regionAt, REGION, 'an AWS region such as ap-northeast-1');
    const versionAt = src.required(m, 'version', at, 'the Kubernetes version, quoted, e.g. "1.32"');
    const version = versionAt && this.version(versionAt);
    const tags = optional(m.get('tags'), (t) => this.stringMap(t)) ?? {};
    if (!name || !region || !version) return undefined;
    return { name, region, version, tags };
  }

  private version(at: At): string | undefined {
    const node = at.node;
    if (isScalar(node) && typeof node.value === 'number') {
      const written = node.source ?? String(node.value);
      this.src.reportValue(
        at,
        `${at.label} is the number ${node.value} to YAML (written ${written}); quote it: version: "${written}".`,
      );
      return undefined;
    }
    return this.pattern(at, VERSION, 'a Kubernetes version such as "1.32"');
  }

  private vpc(at: At | undefined): VpcConfig | undefined {
    if (!at) return undefined;
    const src = this.src;
    const m = this.map(at, 'vpc', 'vpc');
    if (!m) return undefined;
    const vpcId = optional(m.get('id'), (v) =>
      this.pattern(v, /^vpc-[0-9a-f]{8,17}$/, 'a VPC id such as vpc-0123456789abcdef0'),
    );
    const subnetsAt = src.required(
      m,
      'subnets',
      at,
      'existing subnets, under private: and/or public:, each with its id',
    );
    const subnets: SubnetConfig[] = [];
    if (subnetsAt) {
      const before = src.diagnostics.length;
      const kinds = this.map(subnetsAt, 'subnets');
      for (const access of ['private', 'public'] as const) {
        const group = kinds?.get(access);
        if (!group) continue;
        const named = src.map(group, undefined, 'a map of AZ or name to { id: subnet-… }');
        for (const [key, subnetAt] of named ?? []) {
          const s = this.map(subnetAt, 'subnet');
          if (!s) continue;
          const idAt = s.get('id');
          if (!idAt) {
            src.reportEntry(
              subnetAt,
              `${subnetAt.label} has no id: give the id of an existing subnet (eksctl would create one from a cidr).`,
            );
            continue;
          }
          const id = this.pattern(idAt, SUBNET_ID, 'a subnet id such as subnet-0123456789abcdef0');
          const az = optional(s.get('az'), (a) => src.string(a));
          optional(s.get('cidr'), (c) => this.pattern(c, CIDR, 'a CIDR such as 10.0.0.0/19'));
          if (id)
            subnets.push({
              id,
              key,
              access,
              ...(az ? { az } : /^[a-z]{2}-[a-z]+-\d[a-z]$/.test(key) ? { az: key } : {}),
            });
        }
      }
      if (kinds && subnets.length < 2 && src.diagnostics.length === before) {
        // EKS's own rule for CreateCluster: subnets in at least two availability zones.
        src.reportEntry(
          subnetsAt,
          `vpc.subnets lists ${subnets.length === 0 ? 'no subnet' : 'one subnet'}; EKS needs at least two, in two availability zones.`,
        );
      }
    }
    const endpoints = optional(m.get('clusterEndpoints'), (e) => this.map(e, 'clusterEndpoints'));
    const publicAccess = optional(endpoints?.get('publicAccess'), (v) => this.bool(v)) ?? true;
    const privateAccess = optional(endpoints?.get('privateAccess'), (v) => this.bool(v)) ?? false;
    if (endpoints && !publicAccess && !privateAccess) {
      src.reportEntry(
        m.get('clusterEndpoints') as At,
        'vpc.clusterEndpoints turns off both public and private access; the API server would be unreachable.',
      );
    }
    const publicAccessCidrs = optional(m.get('publicAccessCIDRs'), (c) =>
      this.stringList(c, CIDR, 'a CIDR such as 203.0.113.0/24'),
    );
    const securityGroup = optional(m.get('securityGroup'), (s) =>
      this.pattern(s, SG_ID, 'a security group id such as sg-0123456789abcdef0'),
    );
    return {
      ...(vpcId ? { id: vpcId } : {}),
      subnets,
      publicAccess,
      privateAccess,
      ...(publicAccessCidrs ? { publicAccessCidrs } : {}),
      ...(securityGroup ? { securityGroup } : {}),
    };
  }

  private iam(at: At | undefined):
    | {
        serviceRoleArn: string;
        withOIDC: boolean;
        podIdentityAssociations: PodIdentityAssociationConfig[];
      }
    | undefined {
    if (!at) return undefined;
    const src = this.src;
    const m = this.map(at, 'iam', 'iam');
    if (!m) return undefined;
    const roleAt = src.required(
      m,
      'serviceRoleARN',
      at,
      'the ARN of an existing cluster role (this action creates no IAM roles)',
    );
    const serviceRoleArn =
      roleAt &&
      this.pattern(roleAt, ROLE_ARN, 'an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
    const withOIDC = optional(m.get('withOIDC'), (v) => this.bool(v)) ?? false;
    const associations: PodIdentityAssociationConfig[] = [];
    const seen = new Set<string>();
    for (const item of optional(m.get('podIdentityAssociations'), (l) => src.list(l, 'a list')) ??
      []) {
      const p = this.map(item, 'podIdentityAssociation', 'podIdentityAssociation');
      if (!p) continue;
      const ns = this.requiredString(p, 'namespace', item, 'the service account’s namespace');
      const sa = this.requiredString(p, 'serviceAccountName', item, 'the service account');
      const roleArnAt = src.required(
        p,
        'roleARN',
        item,
        'the ARN of an existing role the pods assume',
      );
      const roleArn = roleArnAt && this.pattern(roleArnAt, ROLE_ARN, 'an IAM role ARN');
      const tags = optional(p.get('tags'), (t) => this.stringMap(t)) ?? {};
      if (ns && sa && roleArn) {
        if (seen.has(`${ns}/${sa}`))
          src.reportEntry(
            item,
            `${item.label} repeats the service account ${ns}/${sa}; one association per service account.`,
          );
        seen.add(`${ns}/${sa}`);
        associations.push({ namespace: ns, serviceAccountName: sa, roleArn, tags });
      }
    }
    if (!serviceRoleArn) return undefined;
    return { serviceRoleArn, withOIDC, podIdentityAssociations: associations };
  }

  private accessConfig(at: At | undefined): AccessConfig | undefined {
    const fallback: AccessConfig = {
      authenticationMode: DEFAULTS.authenticationMode,
      bootstrapClusterCreatorAdminPermissions: true,
      entries: [],
    };
    if (!at) return fallback;
    const src = this.src;
    const m = this.map(at, 'accessConfig');
    if (!m) return undefined;
    const mode = (optional(m.get('authenticationMode'), (v) => this.oneOf(v, AUTH_MODES)) ??
      DEFAULTS.authenticationMode) as AuthenticationMode;
    const bootstrap =
      optional(m.get('bootstrapClusterCreatorAdminPermissions'), (v) => this.bool(v)) ?? true;
    if (mode === 'CONFIG_MAP' && !bootstrap) {
      src.reportEntry(
        m.get('bootstrapClusterCreatorAdminPermissions') as At,
        'bootstrapClusterCreatorAdminPermissions must be true with authenticationMode CONFIG_MAP (nobody could reach the cluster otherwise).',
      );
    }
    const entries: AccessEntryConfig[] = [];
    const entriesAt = m.get('accessEntries');
    if (entriesAt && mode === 'CONFIG_MAP') {
      src.reportEntry(
        entriesAt,
        'accessEntries need authenticationMode API or API_AND_CONFIG_MAP; CONFIG_MAP clusters have no access entries.',
      );
    }
    const seen = new Set<string>();
    for (const item of optional(entriesAt, (l) => src.list(l, 'a list')) ?? []) {
      const e = this.map(item, 'accessEntry');
      if (!e) continue;
      const principalAt = src.required(e, 'principalARN', item, 'the IAM role or user ARN');
      const principalArn =
        principalAt && this.pattern(principalAt, PRINCIPAL_ARN, 'an IAM role or user ARN');
      const type =
        optional(e.get('type'), (v) =>
          this.oneOf(v, ['STANDARD', 'EC2_LINUX', 'EC2_WINDOWS', 'FARGATE_LINUX']),
        ) ?? 'STANDARD';
      const groups = optional(e.get('kubernetesGroups'), (v) => this.stringList(v)) ?? [];
      const username = optional(e.get('kubernetesUsername'), (v) => src.string(v));
      const policies: AccessPolicyConfig[] = [];
      for (const p of optional(e.get('accessPolicies'), (l) => src.list(l, 'a list')) ?? []) {
        const pm = this.map(p, 'accessPolicy');
        if (!pm) continue;
        const arnAt = src.required(
          pm,
          'policyARN',
          p,
          'e.g. arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
        );
        const policyArn =
          arnAt &&
          this.pattern(
            arnAt,
            ACCESS_POLICY_ARN,
            'an access policy ARN such as arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
          );
        const scopeAt = src.required(
          pm,
          'accessScope',
          p,
          'type: cluster, or type: namespace with namespaces',
        );
        const scope = scopeAt && this.map(scopeAt, 'accessScope');
        const scopeType = optional(
          scope ? src.required(scope, 'type', scopeAt as At, 'cluster or namespace') : undefined,
          (v) => this.oneOf(v, ['cluster', 'namespace']),
        );
        const namespaces = optional(scope?.get('namespaces'), (v) => this.stringList(v)) ?? [];
        if (scopeType === 'namespace' && namespaces.length === 0) {
          src.reportEntry(
            scopeAt as At,
            `${(scopeAt as At).label} has type namespace but no namespaces.`,
          );
        } else if (scopeType === 'cluster' && namespaces.length > 0) {
          src.reportEntry(
            scopeAt as At,
            `${(scopeAt as At).label} has type cluster and namespaces; namespaces go with type namespace.`,
          );
        } else if (policyArn && scopeType) {
          policies.push({
            policyArn,
            scope: { type: scopeType as 'cluster' | 'namespace', namespaces },
          });
        }
      }
      if (!principalArn) continue;
      if (seen.has(principalArn))
        src.reportEntry(
          item,
          `${item.label} repeats ${principalArn}; one access entry per principal.`,
        );
      seen.add(principalArn);
      entries.push({
        principalArn,
        type,
        kubernetesGroups: groups,
        ...(username ? { username } : {}),
        policies,
      });
    }
    return {
      authenticationMode: mode,
      bootstrapClusterCreatorAdminPermissions: bootstrap,
      entries,
    };
  }

  private addons(
    at: At | undefined,
    disableDefaults: boolean,
    podIdentity: boolean,
    region: string | undefined,
  ): AddonConfig[] | undefined {
    const src = this.src;
    const addons: AddonConfig[] = [];
    for (const item of optional(at, (l) => src.list(l, 'a list of add-ons')) ?? []) {
      const a = this.map(item, 'addon', 'addon');
      if (!a) continue;
      const name = this.requiredString(a, 'name', item, 'the EKS add-on name, e.g. vpc-cni');
      const versionAt = a.get('version');
      let version: string | undefined;
      if (
        versionAt &&
        !(
          isScalar(versionAt.node) &&
          (versionAt.node.value === null || versionAt.node.value === '')
        )
      ) {
        version = src.string(versionAt, 'latest or an add-on version such as v1.19.2-eksbuild.1');
      }
      const serviceAccountRoleArn = optional(a.get('serviceAccountRoleARN'), (v) =>
        this.pattern(v, ROLE_ARN, 'an IAM role ARN'),
      );
      const configurationValues = optional(a.get('configurationValues'), (v) =>
        this.configurationValues(v),
      );
      const resolve = optional(a.get('resolveConflicts'), (v) =>
        this.oneOf(v, ['none', 'overwrite', 'preserve']),
      );
      const associations: AddonConfig['podIdentityAssociations'] = [];
      for (const p of optional(a.get('podIdentityAssociations'), (l) => src.list(l, 'a list')) ??
        []) {
        const pm = this.map(p, 'addonPodIdentity', 'podIdentityAssociation');
        if (!pm) continue;
        const sa = this.requiredString(pm, 'serviceAccountName', p, 'the add-on’s service account');
        const roleAt = src.required(pm, 'roleARN', p, 'the ARN of an existing role');
        const roleArn = roleAt && this.pattern(roleAt, ROLE_ARN, 'an IAM role ARN');
        if (sa && roleArn) associations.push({ serviceAccountName: sa, roleArn });
      }
      const tags = optional(a.get('tags'), (t) => this.stringMap(t)) ?? {};
      if (!name) continue;
      if (addons.some((x) => x.name === name)) {
        src.reportEntry(item, `${item.label} repeats the add-on ${name}.`);
        continue;
      }
      addons.push({
        name,
        ...(version !== undefined ? { version } : {}),
        ...(serviceAccountRoleArn ? { serviceAccountRoleArn } : {}),
        ...(configurationValues ? { configurationValues } : {}),
        ...(resolve
          ? { resolveConflicts: resolve.toUpperCase() as AddonConfig['resolveConflicts'] }
          : {}),
        podIdentityAssociations: associations,
        tags,
        isDefault: false,
      });
    }
    const usesPodIdentity = podIdentity || addons.some((a) => a.podIdentityAssociations.length > 0);
    const defaults: string[] = disableDefaults
      ? []
      : DEFAULTS.addons.filter(
          (name) => name !== 'metrics-server' || !DEFAULTS.noMetricsServer.test(region ?? ''),
        );
    // Pod identity associations do nothing without the agent, so eksctl adds it for them.
    if (usesPodIdentity) defaults.unshift(DEFAULTS.podIdentityAgent);
    // eksctl's order: the default add-ons first (as configured when listed), then the rest.
    const first = defaults.map(
      (name) =>
        addons.find((a) => a.name === name) ?? {
          name,
          podIdentityAssociations: [],
          tags: {},
          isDefault: true,
        },
    );
    return [...first, ...addons.filter((a) => !defaults.includes(a.name))];
  }

  private configurationValues(at: At): string | undefined {
    const node = at.node;
    if (isScalar(node) && typeof node.value === 'string') {
      try {
        JSON.parse(node.value);
      } catch {
        // EKS also accepts YAML text; only JSON is checked here.
        if (!/^\s*[{[]/.test(node.value)) return node.value;
        this.src.reportValue(at, `${at.label} is not valid JSON.`);
        return undefined;
      }
      return node.value;
    }
    if (node && !isScalar(node)) return JSON.stringify(node.toJSON());
    this.src.reportValue(at, `${at.label} must be a JSON string or a map, got ${describe(node)}.`);
    return undefined;
  }

  private nodeGroups(
    at: At | undefined,
    vpc: VpcConfig | undefined,
    clusterName: string,
  ): NodeGroupConfig[] | undefined {
    const src = this.src;
    const groups: NodeGroupConfig[] = [];
    for (const item of optional(at, (l) => src.list(l, 'a list of node groups')) ?? []) {
      const g = this.map(item, 'managedNodeGroup', 'managedNodeGroup');
      if (!g) continue;
      const nameAt = src.required(g, 'name', item, 'the node group name');
      const name =
        nameAt &&
        this.pattern(
          nameAt,
          NODEGROUP_NAME,
          'a node group name (letters, digits, - and _, up to 63)',
        );
      const single = optional(g.get('instanceType'), (v) => src.string(v));
      const several = optional(g.get('instanceTypes'), (v) => this.stringList(v));
      if (single && several)
        src.reportEntry(
          g.get('instanceTypes') as At,
          `${item.label} gives both instanceType and instanceTypes; keep one.`,
        );
      const instanceTypes = several ?? [single ?? DEFAULTS.instanceType];
      const desired = optional(g.get('desiredCapacity'), (v) => src.integer(v, 0));
      const min = optional(g.get('minSize'), (v) => src.integer(v, 0));
      const max = optional(g.get('maxSize'), (v) => src.integer(v, 1));
      // eksctl: desired defaults to minSize, else 2; min and max default to desired.
      const desiredSize = desired ?? min ?? DEFAULTS.desiredCapacity;
      const minSize = min ?? Math.min(desiredSize, max ?? desiredSize);
      const maxSize = max ?? Math.max(desiredSize, minSize);
      if (minSize > maxSize || desiredSize < minSize || desiredSize > maxSize) {
        src.reportEntry(
          item,
          `${item.label}: sizes must satisfy minSize ≤ desiredCapacity ≤ maxSize; got ${minSize} ≤ ${desiredSize} ≤ ${maxSize}.`,
        );
      }
      const labels = optional(g.get('labels'), (v) => this.stringMap(v)) ?? {};
      const taints: NodeGroupConfig['taints'] = [];
      for (const t of optional(g.get('taints'), (l) => src.list(l, 'a list of taints')) ?? []) {
        const tm = this.map(t, 'taint');
        if (!tm) continue;
        const key = this.requiredString(tm, 'key', t, 'the taint key');
        const value = optional(tm.get('value'), (v) => src.string(v));
        const effectAt = src.required(tm, 'effect', t, 'NoSchedule, PreferNoSchedule or NoExecute');
        const effect = effectAt && this.oneOf(effectAt, Object.keys(TAINT_EFFECTS));
        if (key && effect)
          taints.push({
            key,
            ...(value ? { value } : {}),
            effect: TAINT_EFFECTS[effect] as NodeGroupConfig['taints'][number]['effect'],
          });
      }
      const amiFamilyAt = g.get('amiFamily');
      const amiFamily =
        optional(amiFamilyAt, (v) => this.oneOf(v, Object.keys(AMI_FAMILIES))) ??
        DEFAULTS.amiFamily;
      const diskSize =
        optional(g.get('volumeSize'), (v) => src.integer(v, 1, 16384)) ?? DEFAULTS.volumeSize;
      const privateNetworking = optional(g.get('privateNetworking'), (v) => this.bool(v)) ?? false;
      const spot = optional(g.get('spot'), (v) => this.bool(v)) ?? false;
      const releaseVersion = optional(g.get('releaseVersion'), (v) => src.string(v));
      const tags = optional(g.get('tags'), (v) => this.stringMap(v)) ?? {};
      const ngIam = optional(
        src.required(
          g,
          'iam',
          item,
          'iam.instanceRoleARN, the node role (this action creates no IAM roles)',
        ),
        (v) => this.map(v, 'nodeGroupIam', 'nodeGroupIam'),
      );
      const roleAt =
        ngIam &&
        src.required(
          ngIam,
          'instanceRoleARN',
          g.get('iam') as At,
          'the ARN of an existing node role',
        );
      const nodeRole = roleAt && this.pattern(roleAt, ROLE_ARN, 'an IAM role ARN');
      const updateConfig = optional(g.get('updateConfig'), (v) => {
        const u = this.map(v, 'updateConfig');
        if (!u) return undefined;
        const n = optional(u.get('maxUnavailable'), (x) => src.integer(x, 1, 100));
        const pct = optional(u.get('maxUnavailablePercentage'), (x) => src.integer(x, 1, 100));
        if (n !== undefined && pct !== undefined)
          src.reportEntry(
            v,
            `${v.label} gives both maxUnavailable and maxUnavailablePercentage; keep one.`,
          );
        return {
          ...(n !== undefined ? { maxUnavailable: n } : {}),
          ...(pct !== undefined ? { maxUnavailablePercentage: pct } : {}),
        };
      });
      const subnets = this.nodeGroupSubnets(g, item, vpc, privateNetworking);
      if (!name || !nodeRole || !subnets) continue;
      if (groups.some((x) => x.name === name)) {
        src.reportEntry(item, `${item.label} repeats the node group name ${name}.`);
        continue;
      }
      const amiType = amiTypeFor(amiFamily, instanceTypes);
      if (!amiType) {
        src.reportValue(
          amiFamilyAt ?? item,
          `amiFamily ${amiFamily} has no EKS AMI for ${instanceTypes.join(', ')}.`,
        );
        continue;
      }
      groups.push({
        name,
        instanceTypes,
        capacityType: spot ? 'SPOT' : 'ON_DEMAND',
        amiType,
        scaling: { minSize, maxSize, desiredSize },
        // eksctl labels every node with its cluster and node group, and tags the group.
        labels: {
          ...labels,
          [DEFAULTS.clusterNameLabel]: clusterName,
          [DEFAULTS.nodegroupNameLabel]: name,
        },
        taints,
        diskSize,
        subnets,
        nodeRole,
        ...(updateConfig && Object.keys(updateConfig).length > 0 ? { updateConfig } : {}),
        ...(releaseVersion ? { releaseVersion } : {}),
        tags: {
          ...tags,
          [DEFAULTS.nodegroupNameLabel]: name,
          [DEFAULTS.nodegroupTypeTag]: 'managed',
        },
      });
    }
    return groups;
  }

  /** subnets (ids or keys of vpc.subnets), availabilityZones, or every private/public subnet. */
  private nodeGroupSubnets(
    g: Map<string, At>,
    item: At,
    vpc: VpcConfig | undefined,
    privateNetworking: boolean,
  ): string[] | undefined {
    const src = this.src;
    if (!vpc) return undefined;
    const access = privateNetworking ? 'private' : 'public';
    const candidates = vpc.subnets.filter((s) => s.access === access);
    const listed = optional(g.get('subnets'), (v) => this.stringList(v));
    if (listed) {
      const ids: string[] = [];
      for (const ref of listed) {
        const s = vpc.subnets.find((x) => x.id === ref || x.key === ref);
        if (!s)
          src.reportValue(
            g.get('subnets') as At,
            `${item.label}.subnets names "${ref}", which is neither a subnet id nor a key of vpc.subnets.`,
          );
        else ids.push(s.id);
      }
      return ids.length === listed.length ? ids : undefined;
    }
    const zones = optional(g.get('availabilityZones'), (v) => this.stringList(v));
    const chosen = zones
      ? candidates.filter((s) => s.az !== undefined && zones.includes(s.az))
      : candidates;
    if (chosen.length === 0) {
      src.reportEntry(
        item,
        `${item.label} has no subnet to run in: vpc.subnets has no ${access} subnet${zones ? ` in ${zones.join(', ')}` : ''}${privateNetworking ? '' : ' (set privateNetworking: true to use the private ones)'}.`,
      );
      return undefined;
    }
    return chosen.map((s) => s.id);
  }

  private network(at: At): ClusterConfig['network'] {
    const m = this.map(at, 'kubernetesNetworkConfig');
    if (!m) return undefined;
    const ipFamily = optional(m.get('ipFamily'), (v) => this.oneOf(v, ['IPv4', 'IPv6']));
    const cidr = optional(m.get('serviceIPv4CIDR'), (v) =>
      this.pattern(v, CIDR, 'a CIDR such as 10.100.0.0/16'),
    );
    return {
      ...(ipFamily ? { ipFamily: ipFamily.toLowerCase() as 'ipv4' | 'ipv6' } : {}),
      ...(cidr ? { serviceIpv4Cidr: cidr } : {}),
    };
  }

  private logging(at: At): string[] | undefined {
    const m = this.map(at, 'cloudWatch');
    const cl = m?.get('clusterLogging');
    const c = cl && this.map(cl, 'clusterLogging', 'cloudWatchClusterLogging');
    const typesAt = c?.get('enableTypes');
    const types = typesAt && this.stringList(typesAt);
    if (!types) return undefined;
    if (types.includes('*') || types.includes('all')) return [...LOG_TYPES];
    const out: string[] = [];
    for (const t of types) {
      if (!LOG_TYPES.includes(t)) {
        this.src.reportValue(
          typesAt as At,
          `${(typesAt as At).label} has "${t}"; the log types are ${LOG_TYPES.join(', ')} (or "*").`,
        );
      } else out.push(t);
    }
    return out;
  }

  // ---- small readers ---------------------------------------------------------------------

  private requiredString(
    m: Map<string, At>,
    key: string,
    parent: At,
    what: string,
  ): string | undefined {
    const at = this.src.required(m, key, parent, what);
    return at && this.src.string(at);
  }

  private pattern(at: At, re: RegExp, expected: string): string | undefined {
    const s = this.src.string(at, expected);
    if (s === undefined) return undefined;
    if (!re.test(s)) {
      this.src.reportValue(at, `${at.label} must be ${expected}, got "${s}".`);
      return undefined;
    }
    return s;
  }

  private oneOf(at: At, allowed: readonly string[]): string | undefined {
    const v = isScalar(at.node) ? at.node.value : undefined;
    if (typeof v === 'string' && allowed.includes(v)) return v;
    const hint =
      typeof v === 'string' ? allowed.find((a) => a.toLowerCase() === v.toLowerCase()) : undefined;
    this.src.reportValue(
      at,
      `${at.label} must be one of ${allowed.join(', ')}, got ${describe(at.node)}${hint ? `; did you mean "${hint}"?` : '.'}`,
    );
    return undefined;
  }

  private bool(at: At): boolean | undefined {
    const v = isScalar(at.node) ? at.node.value : undefined;
    if (typeof v === 'boolean') return v;
    this.src.reportValue(at, `${at.label} must be true or false, got ${describe(at.node)}.`);
    return undefined;
  }

  private stringList(at: At, re?: RegExp, expected?: string): string[] | undefined {
    const items = this.src.list(at, 'a list of strings');
    if (!items) return undefined;
    const out: string[] = [];
    for (const item of items) {
      const s = re ? this.pattern(item, re, expected ?? 'a string') : this.src.string(item);
      if (s === undefined) return undefined;
      out.push(s);
    }
    return out;
  }

  /** Tags and labels: string values (a number or boolean must be quoted, as eksctl wants). */
  private stringMap(at: At): Record<string, string> | undefined {
    const entries = this.src.map(at, undefined, 'a map of names to string values');
    if (!entries) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of entries) {
      const value = isScalar(v.node) ? v.node.value : undefined;
      if (typeof value !== 'string') {
        const hint =
          typeof value === 'number' || typeof value === 'boolean'
            ? `; quote it: ${k}: "${String(value)}"`
            : '';
        this.src.reportValue(v, `${v.label} must be a string, got ${describe(v.node)}${hint}.`);
        continue;
      }
      out[k] = value;
    }
    return out;
  }
}

/** amiFamily → the API's amiType, by the instance types' architecture (eksctl's mapping). */
const AMI_FAMILIES: Record<string, { x86: string; arm?: string; gpu?: string }> = {
  AmazonLinux2023: {
    x86: 'AL2023_x86_64_STANDARD',
    arm: 'AL2023_ARM_64_STANDARD',
    gpu: 'AL2023_x86_64_NVIDIA',
  },
  AmazonLinux2: { x86: 'AL2_x86_64', arm: 'AL2_ARM_64', gpu: 'AL2_x86_64_GPU' },
  Bottlerocket: {
    x86: 'BOTTLEROCKET_x86_64',
    arm: 'BOTTLEROCKET_ARM_64',
    gpu: 'BOTTLEROCKET_x86_64_NVIDIA',
  },
  WindowsServer2019FullContainer: { x86: 'WINDOWS_FULL_2019_x86_64' },
  WindowsServer2019CoreContainer: { x86: 'WINDOWS_CORE_2019_x86_64' },
  WindowsServer2022FullContainer: { x86: 'WINDOWS_FULL_2022_x86_64' },
  WindowsServer2022CoreContainer: { x86: 'WINDOWS_CORE_2022_x86_64' },
};

export function amiTypeFor(
  amiFamily: string,
  instanceTypes: readonly string[],
): string | undefined {
  const family = AMI_FAMILIES[amiFamily];
  if (!family) return undefined;
  const first = instanceTypes[0] ?? '';
  const kind = /^(p\d|g\d|inf|trn)/.test(first)
    ? 'gpu'
    : /^[a-z]+\d+g[a-z]*\./.test(first)
      ? 'arm'
      : 'x86';
  return kind === 'x86' ? family.x86 : family[kind];
}
