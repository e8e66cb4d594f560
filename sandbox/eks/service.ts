/**
 * Amazon EKS in the sandbox, on its REST-JSON wire protocol: clusters, managed node groups,
 * add-ons and access entries. Resources move CREATING → ACTIVE and DELETING → gone after
 * `transitionMs`, judged against the clock on every request (no timers), so the SDK's waiters
 * poll through real state changes. Errors use the codes, HTTP statuses and messages EKS returns.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { SandboxService, ServiceRequest, ServiceResponse } from '../core.js';
import { SANDBOX_SUBNETS } from '../elbv2/model.js';
import { EksError, STATUS_OF_CODE } from './errors.js';
import type { ClusterAccessView } from '../kube/authenticator.js';
import type { ClusterRuntime } from '../kube/clusters.js';
import { handleUpdates, type EksRecords } from './updates.js';

export interface EksServiceOptions {
  accountId?: string;
  /** How long CREATING and DELETING last. Default 2000 ms. */
  transitionMs?: number;
  /** The caller's IAM ARN: the cluster creator that gets an admin access entry. */
  callerArn?: string;
  /** Injected clock, epoch ms. */
  now?: () => number;
  /**
   * Real Kubernetes behind the clusters (sandbox/kube). With it a cluster turns ACTIVE only once
   * its apiserver is ready (and no sooner than `transitionMs`), and DescribeCluster gives its
   * real endpoint, CA and OIDC issuer. Without it clusters are records, as before.
   */
  kubernetes?: ClusterRuntime;
}

/** Kubernetes versions CreateCluster accepts, newest last; the default is the one before it. */
export const SUPPORTED_VERSIONS = ['1.28', '1.29', '1.30', '1.31', '1.32', '1.33', '1.34'];
const DEFAULT_VERSION = '1.33';

/** Add-ons EKS offers, with the version the sandbox installs by default. */
export const ADDON_VERSIONS: Record<string, string> = {
  'vpc-cni': 'v1.20.4-eksbuild.1',
  coredns: 'v1.12.2-eksbuild.4',
  'kube-proxy': 'v1.33.3-eksbuild.6',
  'aws-ebs-csi-driver': 'v1.48.0-eksbuild.2',
  'aws-efs-csi-driver': 'v2.1.11-eksbuild.1',
  'eks-pod-identity-agent': 'v1.3.8-eksbuild.2',
  'amazon-cloudwatch-observability': 'v4.4.0-eksbuild.1',
  'snapshot-controller': 'v8.3.0-eksbuild.1',
  'metrics-server': 'v0.8.0-eksbuild.2',
};

/** Cluster access policies EKS defines (arn:aws:eks::aws:cluster-access-policy/<name>). */
const ACCESS_POLICIES = new Set([
  'AmazonEKSClusterAdminPolicy',
  'AmazonEKSAdminPolicy',
  'AmazonEKSEditPolicy',
  'AmazonEKSViewPolicy',
  'AmazonEKSAdminViewPolicy',
  'AmazonEKSAutoNodePolicy',
  'AmazonEKSBlockStoragePolicy',
  'AmazonEKSComputePolicy',
  'AmazonEKSLoadBalancingPolicy',
  'AmazonEKSNetworkingPolicy',
]);

const AUTH_MODES = ['CONFIG_MAP', 'API', 'API_AND_CONFIG_MAP'];
const ACCESS_ENTRY_TYPES = [
  'STANDARD',
  'FARGATE_LINUX',
  'EC2_LINUX',
  'EC2_WINDOWS',
  'EC2',
  'HYBRID_LINUX',
  'HYPERPOD_LINUX',
];
const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;
const NODEGROUP_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,62}$/;
const IAM_PRINCIPAL = /^arn:aws[a-z-]*:iam::(\d{12}):(role|user)\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]+)$/;
const MAX_RESULTS = 100;

type Status = 'CREATING' | 'ACTIVE' | 'UPDATING' | 'DELETING' | 'FAILED';

/** A resource's lifecycle, kept beside the fields the API returns. */
interface Lifecycle {
  status: Status;
  /** When CREATING (or UPDATING) becomes ACTIVE. */
  activeAt: number;
  /** When a DELETING resource disappears. */
  goneAt?: number;
  clientRequestToken?: string;
}

interface Cluster extends Lifecycle {
  region: string;
  name: string;
  arn: string;
  createdAt: number;
  version: string;
  platformVersion: string;
  roleArn: string;
  endpoint: string;
  certificateData: string;
  oidcIssuer: string;
  vpc: Record<string, unknown>;
  network: Record<string, unknown>;
  logging: unknown;
  authenticationMode: string;
  bootstrapAdmin: boolean;
  tags: Record<string, string>;
  upgradePolicy: unknown;
  encryptionConfig?: unknown;
  nodegroups: Map<string, Nodegroup>;
  addons: Map<string, Addon>;
  accessEntries: Map<string, AccessEntry>;
  /** By association id (updates.ts). */
  podIdentityAssociations?: Map<string, Record<string, unknown>>;
}

interface Nodegroup extends Lifecycle {
  fields: Record<string, unknown>;
}

interface Addon extends Lifecycle {
  fields: Record<string, unknown>;
}

interface AccessEntry {
  fields: Record<string, unknown>;
  clientRequestToken?: string;
  policies: Map<string, { accessScope: unknown; associatedAt: number; modifiedAt: number }>;
}

interface Route {
  method: string;
  /** Path segments; `{name}` captures one (URL-decoded) segment. */
  segments: string[];
  operation: string;
}

const ROUTES: Route[] = [
  ['POST', '/clusters', 'CreateCluster'],
  ['GET', '/clusters', 'ListClusters'],
  ['GET', '/clusters/{name}', 'DescribeCluster'],
  ['DELETE', '/clusters/{name}', 'DeleteCluster'],
  ['POST', '/clusters/{clusterName}/node-groups', 'CreateNodegroup'],
  ['GET', '/clusters/{clusterName}/node-groups', 'ListNodegroups'],
  ['GET', '/clusters/{clusterName}/node-groups/{nodegroupName}', 'DescribeNodegroup'],
  ['DELETE', '/clusters/{clusterName}/node-groups/{nodegroupName}', 'DeleteNodegroup'],
  ['POST', '/clusters/{clusterName}/addons', 'CreateAddon'],
  ['GET', '/clusters/{clusterName}/addons', 'ListAddons'],
  ['GET', '/clusters/{clusterName}/addons/{addonName}', 'DescribeAddon'],
  ['DELETE', '/clusters/{clusterName}/addons/{addonName}', 'DeleteAddon'],
  ['POST', '/clusters/{clusterName}/access-entries', 'CreateAccessEntry'],
  ['GET', '/clusters/{clusterName}/access-entries', 'ListAccessEntries'],
  ['GET', '/clusters/{clusterName}/access-entries/{principalArn}', 'DescribeAccessEntry'],
  [
    'POST',
    '/clusters/{clusterName}/access-entries/{principalArn}/access-policies',
    'AssociateAccessPolicy',
  ],
  [
    'GET',
    '/clusters/{clusterName}/access-entries/{principalArn}/access-policies',
    'ListAssociatedAccessPolicies',
  ],
  ['POST', '/clusters/{name}/update-config', 'UpdateClusterConfig'],
  ['POST', '/clusters/{clusterName}/access-entries/{principalArn}', 'UpdateAccessEntry'],
  ['GET', '/addons/supported-versions', 'DescribeAddonVersions'],
  [
    'POST',
    '/clusters/{clusterName}/node-groups/{nodegroupName}/update-config',
    'UpdateNodegroupConfig',
  ],
  ['POST', '/clusters/{clusterName}/addons/{addonName}/update', 'UpdateAddon'],
  ['POST', '/clusters/{clusterName}/pod-identity-associations', 'CreatePodIdentityAssociation'],
  ['GET', '/clusters/{clusterName}/pod-identity-associations', 'ListPodIdentityAssociations'],
  [
    'GET',
    '/clusters/{clusterName}/pod-identity-associations/{associationId}',
    'DescribePodIdentityAssociation',
  ],
  [
    'POST',
    '/clusters/{clusterName}/pod-identity-associations/{associationId}',
    'UpdatePodIdentityAssociation',
  ],
  [
    'DELETE',
    '/clusters/{clusterName}/pod-identity-associations/{associationId}',
    'DeletePodIdentityAssociation',
  ],
].map(([method, path, operation]) => ({
  method: method as string,
  segments: (path as string).split('/').filter(Boolean),
  operation: operation as string,
}));

export class EksService implements SandboxService {
  readonly signingName = 'eks';
  private readonly accountId: string;
  private readonly transitionMs: number;
  private readonly callerArn: string;
  private readonly now: () => number;
  private readonly kubernetes: ClusterRuntime | undefined;
  /** Clusters by `${region}/${name}`: EKS is a regional service. */
  private readonly clusters = new Map<string, Cluster>();

  constructor(options: EksServiceOptions = {}) {
    this.accountId = options.accountId ?? '123456789012';
    this.transitionMs = options.transitionMs ?? 2000;
    this.callerArn = options.callerArn ?? `arn:aws:iam::${this.accountId}:user/sandbox`;
    this.now = options.now ?? Date.now;
    this.kubernetes = options.kubernetes;
  }

  /** Who may use a cluster's Kubernetes API: what the EKS token webhook maps identities with. */
  accessView(region: string, name: string): ClusterAccessView | undefined {
    const c = this.findCluster(region, name);
    if (!c) return undefined;
    return {
      authenticationMode: c.authenticationMode,
      ...(c.bootstrapAdmin ? { creatorArn: this.callerArn } : {}),
      accessEntries: [...c.accessEntries.values()].map((e) => ({
        principalArn: e.fields.principalArn as string,
        username: e.fields.username as string,
        kubernetesGroups: (e.fields.kubernetesGroups as string[] | undefined) ?? [],
        policies: [...e.policies.entries()].map(([arn, p]) => {
          const scope = p.accessScope as { type?: string; namespaces?: string[] };
          return {
            policyName: arn.slice(arn.lastIndexOf('/') + 1),
            scopeType: scope.type ?? 'cluster',
            namespaces: scope.namespaces ?? [],
          };
        }),
      })),
    };
  }

  operationOf(req: ServiceRequest): string | undefined {
    return matchRoute(req)?.route.operation;
  }

  errorResponse(
    _req: ServiceRequest,
    status: number,
    code: string,
    message: string,
  ): ServiceResponse {
    return errorBody(STATUS_OF_CODE[code] ?? status, code, message, {});
  }

  async handle(req: ServiceRequest, _operation: string): Promise<ServiceResponse> {
    const match = matchRoute(req);
    if (!match) {
      return errorBody(404, 'NotFoundException', `No API matches ${req.method} ${req.path}.`, {});
    }
    let body: Record<string, unknown> = {};
    if (req.body.length > 0) {
      try {
        body = JSON.parse(req.body.toString('utf8')) as Record<string, unknown>;
      } catch {
        return errorBody(400, 'BadRequestException', 'The request body is not valid JSON.', {});
      }
    }
    try {
      const output = this.run(match.route.operation, req, match.params, body);
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(output),
      };
    } catch (e) {
      if (e instanceof EksError) return errorBody(e.status, e.code, e.message, e.fields);
      throw e;
    }
  }

  private run(
    operation: string,
    req: ServiceRequest,
    p: Record<string, string>,
    body: Record<string, unknown>,
  ): unknown {
    const q = req.query;
    switch (operation) {
      case 'CreateCluster':
        return { cluster: this.renderCluster(this.createCluster(req.region, body)) };
      case 'ListClusters':
        return this.listClusters(req.region, q);
      case 'DescribeCluster':
        return { cluster: this.renderCluster(this.cluster(req.region, p.name as string)) };
      case 'DeleteCluster':
        return { cluster: this.renderCluster(this.deleteCluster(req.region, p.name as string)) };
      case 'CreateNodegroup':
        return { nodegroup: this.createNodegroup(this.activeCluster(req.region, p), body) };
      case 'ListNodegroups': {
        const c = this.cluster(req.region, p.clusterName as string);
        return paginate('nodegroups', [...this.live(c.nodegroups).keys()], q);
      }
      case 'DescribeNodegroup':
        return { nodegroup: this.render(this.nodegroup(req.region, p)) };
      case 'DeleteNodegroup': {
        const ng = this.nodegroup(req.region, p);
        this.startDeleting(ng);
        return { nodegroup: this.render(ng) };
      }
      case 'CreateAddon':
        return { addon: this.createAddon(this.activeCluster(req.region, p), body) };
      case 'ListAddons': {
        const c = this.cluster(req.region, p.clusterName as string);
        return paginate('addons', [...this.live(c.addons).keys()], q);
      }
      case 'DescribeAddon':
        return { addon: this.renderAddon(req.region, p) };
      case 'DeleteAddon': {
        const addon = this.addon(req.region, p);
        this.startDeleting(addon);
        return { addon: this.render(addon) };
      }
      case 'CreateAccessEntry':
        return { accessEntry: this.createAccessEntry(this.apiAuthCluster(req.region, p), body) };
      case 'ListAccessEntries':
        return this.listAccessEntries(this.apiAuthCluster(req.region, p), q);
      case 'DescribeAccessEntry':
        return { accessEntry: this.accessEntry(req.region, p).fields };
      case 'AssociateAccessPolicy':
        return this.associateAccessPolicy(req.region, p, body);
      case 'ListAssociatedAccessPolicies':
        return this.listAssociatedAccessPolicies(req.region, p, q);
    }
    const more = handleUpdates(this.records(), operation, req.region, p, q, body);
    if (more !== undefined) return more;
    throw new Error(`no handler for ${operation}`);
  }

  // ---- clusters -------------------------------------------------------------------------

  private createCluster(region: string, body: Record<string, unknown>): Cluster {
    const name = body.name;
    if (typeof name !== 'string' || !CLUSTER_NAME.test(name)) {
      throw new EksError(
        'InvalidParameterException',
        `The cluster name ${JSON.stringify(name ?? '')} is invalid: it must be 1-100 characters, start with a letter or digit, and contain only letters, digits, hyphens and underscores.`,
      );
    }
    const token = stringOr(body.clientRequestToken);
    const existing = this.findCluster(region, name);
    if (existing) {
      // A retried create (same client request token) returns the cluster it created.
      if (token !== undefined && existing.clientRequestToken === token) return existing;
      throw new EksError('ResourceInUseException', `Cluster already exists with name: ${name}`, {
        clusterName: name,
      });
    }
    const roleArn = body.roleArn;
    if (typeof roleArn !== 'string' || !/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/.test(roleArn)) {
      throw new EksError(
        'InvalidParameterException',
        `roleArn must be the ARN of an IAM role, e.g. arn:aws:iam::${this.accountId}:role/eks-cluster; got ${JSON.stringify(roleArn ?? null)}.`,
        { clusterName: name },
      );
    }
    const vpcIn = (body.resourcesVpcConfig ?? {}) as Record<string, unknown>;
    const subnetIds = stringList(vpcIn.subnetIds);
    checkSubnets(subnetIds, { clusterName: name });
    const vpcIds = new Set(subnetIds.map((id) => SANDBOX_SUBNETS[id]?.vpcId));
    if (vpcIds.size > 1) {
      throw new EksError(
        'InvalidParameterException',
        `Subnets specified must belong to the same VPC; got subnets of ${[...vpcIds].join(', ')}`,
        { clusterName: name },
      );
    }
    if (new Set(subnetIds.map((id) => SANDBOX_SUBNETS[id]?.azSuffix)).size < 2) {
      throw new EksError(
        'InvalidParameterException',
        'Subnets specified must be in at least two different AZs',
        { clusterName: name },
      );
    }
    const version = body.version === undefined ? DEFAULT_VERSION : body.version;
    if (typeof version !== 'string' || !SUPPORTED_VERSIONS.includes(version)) {
      throw new EksError(
        'InvalidParameterException',
        `unsupported Kubernetes version ${String(version)}`,
        { clusterName: name },
      );
    }
    const access = (body.accessConfig ?? {}) as Record<string, unknown>;
    const authenticationMode = (access.authenticationMode as string | undefined) ?? 'CONFIG_MAP';
    if (!AUTH_MODES.includes(authenticationMode)) {
      throw new EksError(
        'InvalidParameterException',
        `The authentication mode ${authenticationMode} is invalid. Valid values: ${AUTH_MODES.join(', ')}.`,
        { clusterName: name },
      );
    }
    const bootstrapAdmin = access.bootstrapClusterCreatorAdminPermissions !== false;
    if (authenticationMode === 'CONFIG_MAP' && !bootstrapAdmin) {
      throw new EksError(
        'InvalidParameterException',
        'bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is set to CONFIG_MAP',
        { clusterName: name },
      );
    }
    const now = this.now();
    const id = createHash('sha256').update(`${region}/${name}/${now}`).digest('hex').slice(0, 32);
    const netIn = (body.kubernetesNetworkConfig ?? {}) as Record<string, unknown>;
    const cluster: Cluster = {
      region,
      name,
      arn: `arn:aws:eks:${region}:${this.accountId}:cluster/${name}`,
      createdAt: now,
      version,
      platformVersion: 'eks.5',
      roleArn,
      endpoint: `https://${id.toUpperCase()}.gr7.${region}.eks.amazonaws.com`,
      certificateData: fakeCertificate(name),
      oidcIssuer: `https://oidc.eks.${region}.amazonaws.com/id/${id.toUpperCase()}`,
      vpc: {
        subnetIds,
        securityGroupIds: stringList(vpcIn.securityGroupIds),
        clusterSecurityGroupId: `sg-${id.slice(0, 17)}`,
        vpcId: SANDBOX_SUBNETS[subnetIds[0] as string]?.vpcId,
        endpointPublicAccess: vpcIn.endpointPublicAccess !== false,
        endpointPrivateAccess: vpcIn.endpointPrivateAccess === true,
        publicAccessCidrs: stringList(vpcIn.publicAccessCidrs).length
          ? stringList(vpcIn.publicAccessCidrs)
          : ['0.0.0.0/0'],
      },
      network: {
        serviceIpv4Cidr: (netIn.serviceIpv4Cidr as string | undefined) ?? '10.100.0.0/16',
        ipFamily: (netIn.ipFamily as string | undefined) ?? 'ipv4',
        elasticLoadBalancing: { enabled: false },
      },
      logging: body.logging ?? {
        clusterLogging: [
          {
            types: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'],
            enabled: false,
          },
        ],
      },
      authenticationMode,
      bootstrapAdmin,
      tags: (body.tags ?? {}) as Record<string, string>,
      upgradePolicy: body.upgradePolicy ?? { supportType: 'EXTENDED' },
      ...(body.encryptionConfig !== undefined ? { encryptionConfig: body.encryptionConfig } : {}),
      status: 'CREATING',
      activeAt: now + this.transitionMs,
      ...(token !== undefined ? { clientRequestToken: token } : {}),
      nodegroups: new Map(),
      addons: new Map(),
      accessEntries: new Map(),
    };
    if (authenticationMode !== 'CONFIG_MAP' && bootstrapAdmin) {
      // EKS gives the creator an access entry with cluster admin, as it does on AWS.
      const entry = this.newAccessEntry(cluster, this.callerArn, {}, now);
      entry.policies.set('arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy', {
        accessScope: { type: 'cluster', namespaces: [] },
        associatedAt: now / 1000,
        modifiedAt: now / 1000,
      });
      cluster.accessEntries.set(this.callerArn, entry);
    }
    this.clusters.set(`${region}/${name}`, cluster);
    this.kubernetes?.start({
      region,
      name,
      serviceCidr: cluster.network.serviceIpv4Cidr as string,
    });
    return cluster;
  }

  private listClusters(region: string, q: URLSearchParams): unknown {
    const names = [...this.clusters.values()]
      .filter((c) => c.region === region && this.settleCluster(c))
      .map((c) => c.name)
      .sort();
    return paginate('clusters', names, q);
  }

  private deleteCluster(region: string, name: string): Cluster {
    const cluster = this.cluster(region, name);
    const attached = [...this.live(cluster.nodegroups).keys()];
    if (attached.length > 0) {
      // EKS names one of the node groups in the error (its nodegroupName field).
      throw new EksError('ResourceInUseException', 'Cluster has nodegroups attached', {
        clusterName: name,
        nodegroupName: attached.sort()[0] as string,
      });
    }
    if (cluster.status === 'CREATING') {
      throw new EksError(
        'ResourceInUseException',
        `Cluster ${name} is in CREATING state and cannot be deleted until it is ACTIVE.`,
        { clusterName: name },
      );
    }
    this.startDeleting(cluster);
    this.kubernetes?.stop(region, name);
    return cluster;
  }

  private renderCluster(c: Cluster): Record<string, unknown> {
    // An UPDATING cluster keeps serving: its endpoint and CA stay.
    const active = c.status === 'ACTIVE' || c.status === 'UPDATING';
    const kube = this.kubernetes?.state(c.region, c.name);
    const real = kube?.phase === 'ready' ? kube : undefined;
    const issues: unknown[] = [];
    if (kube?.phase === 'absent' && c.status !== 'DELETING') {
      issues.push({
        code: 'Other',
        message: `This sandbox cluster has no Kubernetes control plane. ${kube.reason}`,
        resourceIds: [c.name],
      });
    }
    if (kube?.phase === 'failed') {
      issues.push({
        code: 'Other',
        message: `The sandbox could not start this cluster's Kubernetes control plane: ${kube.error}`,
        resourceIds: [c.name],
      });
    }
    return {
      name: c.name,
      arn: c.arn,
      createdAt: c.createdAt / 1000,
      version: c.version,
      // The API server endpoint and its CA exist only once the control plane is up.
      ...(active ? { endpoint: real?.endpoint ?? c.endpoint } : {}),
      roleArn: c.roleArn,
      resourcesVpcConfig: c.vpc,
      kubernetesNetworkConfig: c.network,
      logging: c.logging,
      identity: { oidc: { issuer: real?.issuer ?? c.oidcIssuer } },
      status: c.status,
      certificateAuthority: active
        ? { data: real?.certificateAuthorityData ?? c.certificateData }
        : {},
      platformVersion: c.platformVersion,
      tags: c.tags,
      health: { issues },
      accessConfig: {
        bootstrapClusterCreatorAdminPermissions: c.bootstrapAdmin,
        authenticationMode: c.authenticationMode,
      },
      upgradePolicy: c.upgradePolicy,
      ...(c.encryptionConfig !== undefined ? { encryptionConfig: c.encryptionConfig } : {}),
      ...(c.clientRequestToken !== undefined ? { clientRequestToken: c.clientRequestToken } : {}),
    };
  }

  // ---- node groups ----------------------------------------------------------------------

  private createNodegroup(cluster: Cluster, body: Record<string, unknown>): unknown {
    const name = body.nodegroupName;
    if (typeof name !== 'string' || !NODEGROUP_NAME.test(name)) {
      throw new EksError(
        'InvalidParameterException',
        `The node group name ${JSON.stringify(name ?? '')} is invalid: it must be 1-63 characters, start with a letter or digit, and contain only letters, digits, hyphens and underscores.`,
        { clusterName: cluster.name },
      );
    }
    const token = stringOr(body.clientRequestToken);
    const existing = this.live(cluster.nodegroups).get(name);
    if (existing) {
      if (token !== undefined && existing.clientRequestToken === token)
        return this.render(existing);
      throw new EksError(
        'ResourceInUseException',
        `NodeGroup already exists with name ${name} and cluster name ${cluster.name}`,
        { clusterName: cluster.name, nodegroupName: name },
      );
    }
    const fields = { clusterName: cluster.name, nodegroupName: name };
    if (
      typeof body.nodeRole !== 'string' ||
      !/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/.test(body.nodeRole)
    ) {
      throw new EksError(
        'InvalidParameterException',
        `nodeRole must be the ARN of an IAM role; got ${JSON.stringify(body.nodeRole ?? null)}.`,
        fields,
      );
    }
    const subnets = stringList(body.subnets);
    if (subnets.length === 0) {
      throw new EksError('InvalidParameterException', 'Subnets are required', fields);
    }
    checkSubnets(subnets, fields);
    const scalingIn = (body.scalingConfig ?? {}) as Record<string, number | undefined>;
    const minSize = scalingIn.minSize ?? 1;
    const maxSize = scalingIn.maxSize ?? 2;
    const desiredSize = scalingIn.desiredSize ?? Math.max(minSize, Math.min(2, maxSize));
    if (maxSize < 1) {
      throw new EksError(
        'InvalidParameterException',
        `Maximum size must be at least 1, got ${maxSize}`,
        fields,
      );
    }
    if (minSize < 0 || minSize > maxSize) {
      throw new EksError(
        'InvalidParameterException',
        `Minimum size ${minSize} must be between 0 and the maximum size ${maxSize}`,
        fields,
      );
    }
    if (desiredSize < minSize || desiredSize > maxSize) {
      throw new EksError(
        'InvalidParameterException',
        `Desired capacity:${desiredSize} must be between the minimum size:${minSize} and the maximum size:${maxSize}`,
        fields,
      );
    }
    const version = (body.version as string | undefined) ?? cluster.version;
    if (version !== cluster.version) {
      throw new EksError(
        'InvalidParameterException',
        `Requested Nodegroup version ${version} is invalid: it must match the cluster version ${cluster.version}.`,
        fields,
      );
    }
    const now = this.now();
    const id = randomUUID();
    const ng: Nodegroup = {
      status: 'CREATING',
      activeAt: now + this.transitionMs,
      ...(token !== undefined ? { clientRequestToken: token } : {}),
      fields: {
        nodegroupName: name,
        nodegroupArn: `arn:aws:eks:${cluster.region}:${this.accountId}:nodegroup/${cluster.name}/${name}/${id}`,
        clusterName: cluster.name,
        version,
        releaseVersion: `${version}.0-20251101`,
        createdAt: now / 1000,
        modifiedAt: now / 1000,
        capacityType: (body.capacityType as string | undefined) ?? 'ON_DEMAND',
        scalingConfig: { minSize, maxSize, desiredSize },
        instanceTypes: stringList(body.instanceTypes).length
          ? stringList(body.instanceTypes)
          : ['t3.medium'],
        subnets,
        amiType: (body.amiType as string | undefined) ?? 'AL2023_x86_64_STANDARD',
        nodeRole: body.nodeRole,
        labels: body.labels ?? {},
        ...(body.taints !== undefined ? { taints: body.taints } : {}),
        resources: { autoScalingGroups: [{ name: `eks-${name}-${id}` }] },
        diskSize: (body.diskSize as number | undefined) ?? 20,
        health: { issues: [] },
        updateConfig: body.updateConfig ?? { maxUnavailable: 1 },
        tags: body.tags ?? {},
      },
    };
    cluster.nodegroups.set(name, ng);
    return this.render(ng);
  }

  private nodegroup(region: string, p: Record<string, string>): Nodegroup {
    const cluster = this.cluster(region, p.clusterName as string);
    const ng = this.live(cluster.nodegroups).get(p.nodegroupName as string);
    if (!ng) {
      throw new EksError(
        'ResourceNotFoundException',
        `No node group found for name: ${p.nodegroupName}.`,
        {
          clusterName: cluster.name,
          nodegroupName: p.nodegroupName as string,
        },
      );
    }
    return ng;
  }

  // ---- add-ons --------------------------------------------------------------------------

  private createAddon(cluster: Cluster, body: Record<string, unknown>): unknown {
    const name = body.addonName;
    const fields = { clusterName: cluster.name, addonName: String(name ?? '') };
    if (typeof name !== 'string' || !(name in ADDON_VERSIONS)) {
      throw new EksError(
        'InvalidParameterException',
        `Addon ${String(name)} specified is not supported in ${cluster.version} kubernetes version. Supported add-ons: ${Object.keys(ADDON_VERSIONS).join(', ')}.`,
        fields,
      );
    }
    const token = stringOr(body.clientRequestToken);
    const existing = this.live(cluster.addons).get(name);
    if (existing) {
      if (token !== undefined && existing.clientRequestToken === token)
        return this.render(existing);
      throw new EksError('ResourceInUseException', 'Addon already exists.', fields);
    }
    const addonVersion = (body.addonVersion as string | undefined) ?? ADDON_VERSIONS[name];
    if (!/^v\d+\.\d+\.\d+-eksbuild\.\d+$/.test(addonVersion as string)) {
      throw new EksError(
        'InvalidParameterException',
        `Addon version ${addonVersion} specified is not supported`,
        fields,
      );
    }
    const now = this.now();
    const addon: Addon = {
      status: 'CREATING',
      activeAt: now + this.transitionMs,
      ...(token !== undefined ? { clientRequestToken: token } : {}),
      fields: {
        addonName: name,
        clusterName: cluster.name,
        addonVersion,
        health: { issues: [] },
        addonArn: `arn:aws:eks:${cluster.region}:${this.accountId}:addon/${cluster.name}/${name}/${randomUUID()}`,
        createdAt: now / 1000,
        modifiedAt: now / 1000,
        ...(body.serviceAccountRoleArn !== undefined
          ? { serviceAccountRoleArn: body.serviceAccountRoleArn }
          : {}),
        ...(body.configurationValues !== undefined
          ? { configurationValues: body.configurationValues }
          : {}),
        tags: body.tags ?? {},
      },
    };
    cluster.addons.set(name, addon);
    return this.render(addon);
  }

  private addon(region: string, p: Record<string, string>): Addon {
    const cluster = this.cluster(region, p.clusterName as string);
    const addon = this.live(cluster.addons).get(p.addonName as string);
    if (!addon) {
      throw new EksError(
        'ResourceNotFoundException',
        `No addon: ${p.addonName} found in cluster: ${cluster.name}`,
        { clusterName: cluster.name, addonName: p.addonName as string },
      );
    }
    return addon;
  }

  // ---- access entries -------------------------------------------------------------------

  private createAccessEntry(cluster: Cluster, body: Record<string, unknown>): unknown {
    const principalArn = body.principalArn;
    const fields = { clusterName: cluster.name };
    if (typeof principalArn !== 'string' || !IAM_PRINCIPAL.test(principalArn)) {
      throw new EksError(
        'InvalidParameterException',
        `The principalArn ${JSON.stringify(principalArn ?? '')} is not a valid IAM role or user ARN.`,
        fields,
      );
    }
    const type = (body.type as string | undefined) ?? 'STANDARD';
    if (!ACCESS_ENTRY_TYPES.includes(type)) {
      throw new EksError(
        'InvalidParameterException',
        `The access entry type ${type} is invalid. Valid values: ${ACCESS_ENTRY_TYPES.join(', ')}.`,
        fields,
      );
    }
    const token = stringOr(body.clientRequestToken);
    const existing = cluster.accessEntries.get(principalArn);
    if (existing) {
      if (token !== undefined && existing.clientRequestToken === token) return existing.fields;
      throw new EksError(
        'ResourceInUseException',
        'The specified access entry resource is already in use on this cluster.',
        fields,
      );
    }
    const entry = this.newAccessEntry(cluster, principalArn, body, this.now());
    if (token !== undefined) entry.clientRequestToken = token;
    cluster.accessEntries.set(principalArn, entry);
    return entry.fields;
  }

  private newAccessEntry(
    cluster: Cluster,
    principalArn: string,
    body: Record<string, unknown>,
    now: number,
  ): AccessEntry {
    const m = IAM_PRINCIPAL.exec(principalArn) as RegExpExecArray;
    const [, account, kind, principalName] = m;
    const type = (body.type as string | undefined) ?? 'STANDARD';
    const username =
      (body.username as string | undefined) ??
      (kind === 'role'
        ? `arn:aws:sts::${account}:assumed-role/${principalName}/{{SessionName}}`
        : principalArn);
    return {
      policies: new Map(),
      fields: {
        clusterName: cluster.name,
        principalArn,
        kubernetesGroups: stringList(body.kubernetesGroups),
        accessEntryArn: `arn:aws:eks:${cluster.region}:${this.accountId}:access-entry/${cluster.name}/${kind}/${account}/${principalName}/${randomUUID()}`,
        createdAt: now / 1000,
        modifiedAt: now / 1000,
        tags: body.tags ?? {},
        username,
        type,
      },
    };
  }

  private listAccessEntries(cluster: Cluster, q: URLSearchParams): unknown {
    const policy = q.get('associatedPolicyArn');
    const arns = [...cluster.accessEntries.entries()]
      .filter(([, e]) => policy === null || e.policies.has(policy))
      .map(([arn]) => arn)
      .sort();
    return paginate('accessEntries', arns, q);
  }

  private accessEntry(region: string, p: Record<string, string>): AccessEntry {
    const cluster = this.apiAuthCluster(region, p);
    const entry = cluster.accessEntries.get(p.principalArn as string);
    if (!entry) {
      throw new EksError(
        'ResourceNotFoundException',
        "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.",
        { clusterName: cluster.name },
      );
    }
    return entry;
  }

  private associateAccessPolicy(
    region: string,
    p: Record<string, string>,
    body: Record<string, unknown>,
  ): unknown {
    const entry = this.accessEntry(region, p);
    const fields = { clusterName: p.clusterName as string };
    const policyArn = body.policyArn;
    const policyName = /^arn:aws[a-z-]*:eks::aws:cluster-access-policy\/(.+)$/.exec(
      String(policyArn ?? ''),
    )?.[1];
    if (typeof policyArn !== 'string' || !policyName || !ACCESS_POLICIES.has(policyName)) {
      throw new EksError(
        'InvalidParameterException',
        `The policyArn ${JSON.stringify(policyArn ?? '')} is not a valid access policy. List them with ListAccessPolicies; they look like arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy.`,
        fields,
      );
    }
    const scope = (body.accessScope ?? {}) as Record<string, unknown>;
    const namespaces = stringList(scope.namespaces);
    if (scope.type !== 'cluster' && scope.type !== 'namespace') {
      throw new EksError(
        'InvalidParameterException',
        `accessScope.type must be cluster or namespace; got ${JSON.stringify(scope.type ?? null)}.`,
        fields,
      );
    }
    if (scope.type === 'namespace' && namespaces.length === 0) {
      throw new EksError(
        'InvalidParameterException',
        'At least one namespace must be specified when accessScope.type is namespace.',
        fields,
      );
    }
    if (scope.type === 'cluster' && namespaces.length > 0) {
      throw new EksError(
        'InvalidParameterException',
        'Namespaces cannot be specified when accessScope.type is cluster.',
        fields,
      );
    }
    const now = this.now() / 1000;
    const previous = entry.policies.get(policyArn);
    const association = {
      accessScope: { type: scope.type, namespaces },
      associatedAt: previous?.associatedAt ?? now,
      modifiedAt: now,
    };
    entry.policies.set(policyArn, association);
    return {
      clusterName: p.clusterName,
      principalArn: p.principalArn,
      associatedAccessPolicy: { policyArn, ...association },
    };
  }

  private listAssociatedAccessPolicies(
    region: string,
    p: Record<string, string>,
    q: URLSearchParams,
  ): unknown {
    const entry = this.accessEntry(region, p);
    const arns = [...entry.policies.keys()].sort();
    const page = paginate('associatedAccessPolicies', arns, q) as Record<string, unknown>;
    page.associatedAccessPolicies = (page.associatedAccessPolicies as string[]).map((arn) => ({
      policyArn: arn,
      ...entry.policies.get(arn),
    }));
    return { clusterName: p.clusterName, principalArn: p.principalArn, ...page };
  }

  /** What updates.ts works on: these records and lookups. */
  private records(): EksRecords {
    return {
      accountId: this.accountId,
      transitionMs: this.transitionMs,
      now: () => this.now(),
      supportedVersions: SUPPORTED_VERSIONS,
      defaultAddonVersions: ADDON_VERSIONS,
      cluster: (region, name) => this.cluster(region, name),
      nodegroup: (region, p) => this.nodegroup(region, p),
      addon: (region, p) => this.addon(region, p),
      accessEntry: (region, p) => this.accessEntry(region, p),
      render: (r) => this.render(r as Nodegroup),
    };
  }

  /**
   * coredns, the EBS CSI driver and metrics-server run as Deployments: until a node group is ACTIVE they have no
   * node to run on, and EKS reports them DEGRADED (the SDK's add-on waiter fails on that).
   */
  private renderAddon(region: string, p: Record<string, string>): Record<string, unknown> {
    const addon = this.addon(region, p);
    const cluster = this.cluster(region, p.clusterName as string);
    const needsNodes = ['coredns', 'aws-ebs-csi-driver', 'metrics-server'].includes(
      p.addonName as string,
    );
    const hasNodes = [...this.live(cluster.nodegroups).values()].some(
      (ng) => ng.status === 'ACTIVE' || ng.status === 'UPDATING',
    );
    if (addon.status === 'ACTIVE' && needsNodes && !hasNodes) {
      return {
        ...this.render(addon),
        status: 'DEGRADED',
        health: {
          issues: [
            {
              code: 'InsufficientNumberOfReplicas',
              message:
                "The add-on is unhealthy because it doesn't have the desired number of replicas.",
              resourceIds: [],
            },
          ],
        },
      };
    }
    return this.render(addon);
  }

  // ---- lookups and lifecycle ------------------------------------------------------------

  private findCluster(region: string, name: string): Cluster | undefined {
    const c = this.clusters.get(`${region}/${name}`);
    if (c && !this.settleCluster(c)) {
      this.clusters.delete(`${region}/${name}`);
      return undefined;
    }
    return c;
  }

  private cluster(region: string, name: string): Cluster {
    const c = this.findCluster(region, name);
    if (!c) {
      throw new EksError('ResourceNotFoundException', `No cluster found for name: ${name}.`, {
        clusterName: name,
      });
    }
    return c;
  }

  /** The cluster for an operation that needs it ACTIVE (creating node groups, add-ons). */
  private activeCluster(region: string, p: Record<string, string>): Cluster {
    const c = this.cluster(region, p.clusterName as string);
    if (c.status !== 'ACTIVE') {
      throw new EksError('InvalidRequestException', `Cluster '${c.name}' is not in ACTIVE status`, {
        clusterName: c.name,
      });
    }
    return c;
  }

  /** The cluster for an access-entry operation, which needs the API authentication mode. */
  private apiAuthCluster(region: string, p: Record<string, string>): Cluster {
    const c = this.cluster(region, p.clusterName as string);
    if (c.authenticationMode === 'CONFIG_MAP') {
      throw new EksError(
        'InvalidRequestException',
        "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.",
        { clusterName: c.name },
      );
    }
    return c;
  }

  /**
   * A cluster's status also waits for its Kubernetes: CREATING until the apiserver is ready
   * (FAILED if it could not start), DELETING until its processes are gone.
   */
  private settleCluster(c: Cluster): boolean {
    const kube = this.kubernetes?.state(c.region, c.name);
    if (c.status === 'CREATING' && kube) {
      if (kube.phase === 'failed') {
        c.status = 'FAILED';
        return true;
      }
      if (kube.phase !== 'ready' && kube.phase !== 'absent') return true;
    }
    if (c.status === 'DELETING' && kube && kube.phase !== 'stopped' && kube.phase !== 'absent') {
      return true;
    }
    return this.settle(c);
  }

  /** Advances a resource's status to now; false once it has finished deleting. */
  private settle(r: Lifecycle): boolean {
    const now = this.now();
    if ((r.status === 'CREATING' || r.status === 'UPDATING') && now >= r.activeAt) {
      r.status = 'ACTIVE';
    }
    if (r.status === 'DELETING' && r.goneAt !== undefined && now >= r.goneAt) return false;
    return true;
  }

  /** The resources of a map that still exist, dropping the ones that finished deleting. */
  private live<T extends Lifecycle>(map: Map<string, T>): Map<string, T> {
    for (const [k, v] of map) if (!this.settle(v)) map.delete(k);
    return map;
  }

  private startDeleting(r: Lifecycle): void {
    if (r.status !== 'DELETING') {
      r.status = 'DELETING';
      r.goneAt = this.now() + this.transitionMs;
    }
  }

  private render(r: Nodegroup | Addon): Record<string, unknown> {
    return { ...r.fields, status: r.status };
  }
}

function matchRoute(
  req: ServiceRequest,
): { route: Route; params: Record<string, string> } | undefined {
  const segments = req.path.split('/').filter(Boolean);
  for (const route of ROUTES) {
    if (route.method !== req.method || route.segments.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const ok = route.segments.every((s, i) => {
      const actual = segments[i] as string;
      if (s.startsWith('{')) {
        params[s.slice(1, -1)] = decodeURIComponent(actual);
        return true;
      }
      return s === actual;
    });
    if (ok) return { route, params };
  }
  return undefined;
}

function errorBody(
  status: number,
  code: string,
  message: string,
  fields: Record<string, string>,
): ServiceResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': code },
    body: JSON.stringify({ ...fields, message }),
  };
}

/** One page of names, with EKS's maxResults (1-100, default 100) and an opaque nextToken. */
function paginate(key: string, names: string[], q: URLSearchParams): Record<string, unknown> {
  const rawMax = q.get('maxResults');
  const max = rawMax === null ? MAX_RESULTS : Number(rawMax);
  if (!Number.isInteger(max) || max < 1 || max > MAX_RESULTS) {
    throw new EksError(
      'InvalidParameterException',
      `maxResults must be between 1 and ${MAX_RESULTS}; got ${rawMax}.`,
    );
  }
  let start = 0;
  const token = q.get('nextToken');
  if (token !== null) {
    // The token names the first item of the page, so deletions between pages skip nothing.
    const after = Buffer.from(token, 'base64url').toString('utf8');
    if (!after.startsWith('after:')) {
      throw new EksError('InvalidParameterException', 'The nextToken is invalid.');
    }
    const last = after.slice('after:'.length);
    start = names.findIndex((n) => n > last);
    if (start < 0) start = names.length;
  }
  const page = names.slice(start, start + max);
  const more = start + max < names.length;
  return {
    [key]: page,
    ...(more
      ? { nextToken: Buffer.from(`after:${page[page.length - 1]}`).toString('base64url') }
      : {}),
  };
}

/** Subnets must be ones the sandbox's simulated VPCs have (shared with ELBv2). */
function checkSubnets(ids: string[], fields: Record<string, string>): void {
  const unknown = ids.find((id) => !(id in SANDBOX_SUBNETS));
  if (unknown !== undefined) {
    throw new EksError(
      'InvalidParameterException',
      `The subnet ID '${unknown}' does not exist (the sandbox's subnets: ${Object.keys(SANDBOX_SUBNETS).join(', ')})`,
      fields,
    );
  }
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function stringOr(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A base64 PEM-shaped blob, like certificateAuthority.data (not a usable certificate). */
function fakeCertificate(name: string): string {
  const body = Buffer.concat([Buffer.from(`sandbox-eks-ca:${name}:`), randomBytes(48)])
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return Buffer.from(`-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`).toString(
    'base64',
  );
}
