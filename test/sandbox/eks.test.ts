import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  CreateAddonCommand,
  CreateClusterCommand,
  CreateNodegroupCommand,
  DeleteClusterCommand,
  DeleteNodegroupCommand,
  DescribeAccessEntryCommand,
  DescribeAddonCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  EKSClient,
  ListAccessEntriesCommand,
  ListAddonsCommand,
  ListAssociatedAccessPoliciesCommand,
  ListClustersCommand,
  ListNodegroupsCommand,
  paginateListClusters,
  waitUntilAddonActive,
  waitUntilClusterActive,
  waitUntilClusterDeleted,
  waitUntilNodegroupActive,
  waitUntilNodegroupDeleted,
  type CreateClusterCommandInput,
} from '@aws-sdk/client-eks';
import { SandboxCore } from '../../sandbox/core.js';
import { EksService } from '../../sandbox/eks/service.js';

const ACCOUNT = '123456789012';
const REGION = 'ap-northeast-1';
const TRANSITION_MS = 150;
/** Waiter timings in seconds: poll every 50-100 ms, give up after 10 s. */
const WAIT = { minDelay: 0.05, maxDelay: 0.1, maxWaitTime: 10 };

let core: SandboxCore;
let eks: EKSClient;

beforeAll(async () => {
  core = new SandboxCore();
  core.register(new EksService({ accountId: ACCOUNT, transitionMs: TRANSITION_MS }));
  const endpoint = await core.listen();
  eks = new EKSClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'secret' },
  });
});

afterAll(async () => {
  eks.destroy();
  await core.close();
});

function clusterInput(name: string, extra: Partial<CreateClusterCommandInput> = {}) {
  return {
    name,
    roleArn: `arn:aws:iam::${ACCOUNT}:role/eks-cluster`,
    resourcesVpcConfig: { subnetIds: ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'] },
    ...extra,
  };
}

async function activeCluster(name: string, extra: Partial<CreateClusterCommandInput> = {}) {
  await eks.send(new CreateClusterCommand(clusterInput(name, extra)));
  await waitUntilClusterActive({ client: eks, ...WAIT }, { name });
}

async function rejection(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { $metadata: { httpStatusCode?: number } } & Record<string, unknown>;
    return {
      name: err.name,
      message: err.message,
      status: err.$metadata.httpStatusCode,
      clusterName: err.clusterName,
      ...(err.nodegroupName !== undefined ? { nodegroupName: err.nodegroupName } : {}),
    };
  }
  throw new Error('expected the call to fail');
}

describe('EKS cluster lifecycle', () => {
  it('creates a cluster that becomes ACTIVE with an endpoint, CA and OIDC issuer, then deletes it', async () => {
    const created = await eks.send(
      new CreateClusterCommand(clusterInput('prod-1-32', { version: '1.32' })),
    );
    expect(created.cluster).toMatchObject({
      name: 'prod-1-32',
      arn: `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/prod-1-32`,
      status: 'CREATING',
      version: '1.32',
      certificateAuthority: {},
    });
    expect(created.cluster?.endpoint).toBeUndefined();
    expect(created.cluster?.createdAt).toBeInstanceOf(Date);

    const waited = await waitUntilClusterActive({ client: eks, ...WAIT }, { name: 'prod-1-32' });
    expect(waited.state).toBe('SUCCESS');
    const { cluster } = await eks.send(new DescribeClusterCommand({ name: 'prod-1-32' }));
    expect(cluster?.status).toBe('ACTIVE');
    expect(cluster?.endpoint).toMatch(
      /^https:\/\/[0-9A-F]{32}\.gr7\.ap-northeast-1\.eks\.amazonaws\.com$/,
    );
    expect(cluster?.identity?.oidc?.issuer).toMatch(
      /^https:\/\/oidc\.eks\.ap-northeast-1\.amazonaws\.com\/id\/[0-9A-F]{32}$/,
    );
    const pem = Buffer.from(cluster?.certificateAuthority?.data ?? '', 'base64').toString('utf8');
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
    expect(cluster?.platformVersion).toMatch(/^eks\.\d+$/);
    expect(cluster?.resourcesVpcConfig?.subnetIds).toEqual([
      'subnet-0a000000000000001a',
      'subnet-0a000000000000001c',
    ]);
    expect(cluster?.resourcesVpcConfig?.vpcId).toBe('vpc-sandbox-a');

    const deleting = await eks.send(new DeleteClusterCommand({ name: 'prod-1-32' }));
    expect(deleting.cluster?.status).toBe('DELETING');
    await waitUntilClusterDeleted({ client: eks, ...WAIT }, { name: 'prod-1-32' });
    const gone = await rejection(eks.send(new DescribeClusterCommand({ name: 'prod-1-32' })));
    expect(gone).toEqual({
      name: 'ResourceNotFoundException',
      message: 'No cluster found for name: prod-1-32.',
      status: 404,
      clusterName: 'prod-1-32',
    });
  });

  it('defaults the Kubernetes version and the CONFIG_MAP authentication mode', async () => {
    const { cluster } = await eks.send(new CreateClusterCommand(clusterInput('defaults')));
    expect(cluster?.version).toBe('1.33');
    expect(cluster?.accessConfig).toEqual({
      bootstrapClusterCreatorAdminPermissions: true,
      authenticationMode: 'CONFIG_MAP',
    });
  });

  it('returns the same cluster for a retried create with the same client request token', async () => {
    const input = clusterInput('retried', { clientRequestToken: 'token-1' });
    const first = await eks.send(new CreateClusterCommand(input));
    const again = await eks.send(new CreateClusterCommand(input));
    expect(again.cluster?.arn).toBe(first.cluster?.arn);
    expect(again.cluster?.createdAt).toEqual(first.cluster?.createdAt);
  });

  it('pages ListClusters with maxResults and nextToken', async () => {
    for (const name of ['page-a', 'page-b', 'page-c']) {
      await eks.send(new CreateClusterCommand(clusterInput(name)));
    }
    const first = await eks.send(new ListClustersCommand({ maxResults: 2 }));
    expect(first.clusters).toHaveLength(2);
    expect(first.nextToken).toBeTypeOf('string');
    const all: string[] = [];
    for await (const page of paginateListClusters({ client: eks, pageSize: 2 }, {})) {
      all.push(...(page.clusters ?? []));
    }
    expect(all.filter((n) => n.startsWith('page-'))).toEqual(['page-a', 'page-b', 'page-c']);
    expect(new Set(all).size).toBe(all.length);
  });
});

describe('EKS node groups and add-ons', () => {
  beforeAll(() => activeCluster('workers'));

  it('creates a node group that becomes ACTIVE, lists it, and deletes it', async () => {
    const { nodegroup } = await eks.send(
      new CreateNodegroupCommand({
        clusterName: 'workers',
        nodegroupName: 'ng-1',
        nodeRole: `arn:aws:iam::${ACCOUNT}:role/eks-node`,
        subnets: ['subnet-0a000000000000001a'],
        scalingConfig: { minSize: 1, maxSize: 3, desiredSize: 2 },
        instanceTypes: ['m7i.large'],
      }),
    );
    expect(nodegroup).toMatchObject({
      nodegroupName: 'ng-1',
      clusterName: 'workers',
      status: 'CREATING',
      version: '1.33',
      scalingConfig: { minSize: 1, maxSize: 3, desiredSize: 2 },
      instanceTypes: ['m7i.large'],
      capacityType: 'ON_DEMAND',
    });
    expect(nodegroup?.nodegroupArn).toMatch(
      new RegExp(`^arn:aws:eks:${REGION}:${ACCOUNT}:nodegroup/workers/ng-1/[0-9a-f-]{36}$`),
    );
    await waitUntilNodegroupActive(
      { client: eks, ...WAIT },
      { clusterName: 'workers', nodegroupName: 'ng-1' },
    );
    const listed = await eks.send(new ListNodegroupsCommand({ clusterName: 'workers' }));
    expect(listed.nodegroups).toEqual(['ng-1']);

    const inUse = await rejection(eks.send(new DeleteClusterCommand({ name: 'workers' })));
    expect(inUse).toEqual({
      name: 'ResourceInUseException',
      message: 'Cluster has nodegroups attached',
      status: 409,
      clusterName: 'workers',
      nodegroupName: 'ng-1',
    });

    await eks.send(new DeleteNodegroupCommand({ clusterName: 'workers', nodegroupName: 'ng-1' }));
    await waitUntilNodegroupDeleted(
      { client: eks, ...WAIT },
      { clusterName: 'workers', nodegroupName: 'ng-1' },
    );
    const gone = await rejection(
      eks.send(new DescribeNodegroupCommand({ clusterName: 'workers', nodegroupName: 'ng-1' })),
    );
    expect(gone).toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'No node group found for name: ng-1.',
      status: 404,
    });
  });

  it('rejects a second node group of the same name with ResourceInUseException', async () => {
    const input = {
      clusterName: 'workers',
      nodegroupName: 'ng-dup',
      nodeRole: `arn:aws:iam::${ACCOUNT}:role/eks-node`,
      subnets: ['subnet-0a000000000000001a'],
    };
    await eks.send(new CreateNodegroupCommand(input));
    const err = await rejection(eks.send(new CreateNodegroupCommand(input)));
    expect(err).toMatchObject({
      name: 'ResourceInUseException',
      message: 'NodeGroup already exists with name ng-dup and cluster name workers',
      status: 409,
    });
  });

  it('rejects a desired size above the maximum with InvalidParameterException', async () => {
    const err = await rejection(
      eks.send(
        new CreateNodegroupCommand({
          clusterName: 'workers',
          nodegroupName: 'ng-big',
          nodeRole: `arn:aws:iam::${ACCOUNT}:role/eks-node`,
          subnets: ['subnet-0a000000000000001a'],
          scalingConfig: { minSize: 1, maxSize: 3, desiredSize: 5 },
        }),
      ),
    );
    expect(err).toMatchObject({
      name: 'InvalidParameterException',
      message: 'Desired capacity:5 must be between the minimum size:1 and the maximum size:3',
      status: 400,
    });
  });

  it('creates an add-on that becomes ACTIVE and lists it', async () => {
    const { addon } = await eks.send(
      new CreateAddonCommand({ clusterName: 'workers', addonName: 'vpc-cni' }),
    );
    expect(addon).toMatchObject({
      addonName: 'vpc-cni',
      status: 'CREATING',
      clusterName: 'workers',
    });
    expect(addon?.addonVersion).toMatch(/^v\d+\.\d+\.\d+-eksbuild\.\d+$/);
    await waitUntilAddonActive(
      { client: eks, ...WAIT },
      { clusterName: 'workers', addonName: 'vpc-cni' },
    );
    const listed = await eks.send(new ListAddonsCommand({ clusterName: 'workers' }));
    expect(listed.addons).toEqual(['vpc-cni']);
    const dup = await rejection(
      eks.send(new CreateAddonCommand({ clusterName: 'workers', addonName: 'vpc-cni' })),
    );
    expect(dup).toMatchObject({ name: 'ResourceInUseException', message: 'Addon already exists.' });
  });

  it('answers ResourceNotFoundException for an add-on that is not installed', async () => {
    const err = await rejection(
      eks.send(new DescribeAddonCommand({ clusterName: 'workers', addonName: 'coredns' })),
    );
    expect(err).toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'No addon: coredns found in cluster: workers',
      status: 404,
    });
  });
});

describe('EKS access entries', () => {
  const admin = `arn:aws:iam::${ACCOUNT}:role/platform-admin`;
  beforeAll(() =>
    activeCluster('access', { accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' } }),
  );

  it('gives the cluster creator an admin access entry, as EKS does', async () => {
    const listed = await eks.send(
      new ListAccessEntriesCommand({
        clusterName: 'access',
        associatedPolicyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy',
      }),
    );
    expect(listed.accessEntries).toEqual([`arn:aws:iam::${ACCOUNT}:user/sandbox`]);
  });

  it('creates an access entry, associates a policy and lists it', async () => {
    const { accessEntry } = await eks.send(
      new CreateAccessEntryCommand({ clusterName: 'access', principalArn: admin }),
    );
    expect(accessEntry).toMatchObject({
      clusterName: 'access',
      principalArn: admin,
      type: 'STANDARD',
      username: `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/{{SessionName}}`,
    });
    const associated = await eks.send(
      new AssociateAccessPolicyCommand({
        clusterName: 'access',
        principalArn: admin,
        policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
        accessScope: { type: 'namespace', namespaces: ['web'] },
      }),
    );
    expect(associated.associatedAccessPolicy).toMatchObject({
      policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
      accessScope: { type: 'namespace', namespaces: ['web'] },
    });
    const policies = await eks.send(
      new ListAssociatedAccessPoliciesCommand({ clusterName: 'access', principalArn: admin }),
    );
    expect(policies.associatedAccessPolicies?.map((p) => p.policyArn)).toEqual([
      'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
    ]);
    const described = await eks.send(
      new DescribeAccessEntryCommand({ clusterName: 'access', principalArn: admin }),
    );
    expect(described.accessEntry?.principalArn).toBe(admin);

    const dup = await rejection(
      eks.send(new CreateAccessEntryCommand({ clusterName: 'access', principalArn: admin })),
    );
    expect(dup).toMatchObject({
      name: 'ResourceInUseException',
      message: 'The specified access entry resource is already in use on this cluster.',
      status: 409,
    });
  });

  it('rejects an access policy for a principal without an access entry', async () => {
    const err = await rejection(
      eks.send(
        new AssociateAccessPolicyCommand({
          clusterName: 'access',
          principalArn: `arn:aws:iam::${ACCOUNT}:role/stranger`,
          policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
          accessScope: { type: 'cluster' },
        }),
      ),
    );
    expect(err).toMatchObject({
      name: 'ResourceNotFoundException',
      message:
        "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.",
      status: 404,
    });
  });

  it('rejects a principal that is not an IAM role or user ARN', async () => {
    const err = await rejection(
      eks.send(
        new CreateAccessEntryCommand({ clusterName: 'access', principalArn: 'platform-admin' }),
      ),
    );
    expect(err).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    expect(err.message).toBe(
      'The principalArn "platform-admin" is not a valid IAM role or user ARN.',
    );
  });
});

describe('EKS errors', () => {
  it('InvalidRequestException: access entries on a CONFIG_MAP cluster', async () => {
    await activeCluster('configmap-only');
    const err = await rejection(
      eks.send(
        new CreateAccessEntryCommand({
          clusterName: 'configmap-only',
          principalArn: `arn:aws:iam::${ACCOUNT}:role/x`,
        }),
      ),
    );
    expect(err).toEqual({
      name: 'InvalidRequestException',
      message:
        "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.",
      status: 400,
      clusterName: 'configmap-only',
    });
  });

  it('InvalidRequestException: a node group on a cluster that is still CREATING', async () => {
    await eks.send(new CreateClusterCommand(clusterInput('still-creating')));
    const err = await rejection(
      eks.send(
        new CreateNodegroupCommand({
          clusterName: 'still-creating',
          nodegroupName: 'ng',
          nodeRole: `arn:aws:iam::${ACCOUNT}:role/eks-node`,
          subnets: ['subnet-0a000000000000001a'],
        }),
      ),
    );
    expect(err).toEqual({
      name: 'InvalidRequestException',
      message: "Cluster 'still-creating' is not in ACTIVE status",
      status: 400,
      clusterName: 'still-creating',
    });
  });

  it('ResourceInUseException: a cluster name that exists', async () => {
    await eks.send(new CreateClusterCommand(clusterInput('taken')));
    const err = await rejection(eks.send(new CreateClusterCommand(clusterInput('taken'))));
    expect(err).toEqual({
      name: 'ResourceInUseException',
      message: 'Cluster already exists with name: taken',
      status: 409,
      clusterName: 'taken',
    });
  });

  it('InvalidParameterException: an unsupported Kubernetes version', async () => {
    const err = await rejection(
      eks.send(new CreateClusterCommand(clusterInput('old', { version: '1.20' }))),
    );
    expect(err).toEqual({
      name: 'InvalidParameterException',
      message: 'unsupported Kubernetes version 1.20',
      status: 400,
      clusterName: 'old',
    });
  });

  it('InvalidParameterException: subnets in fewer than two AZs', async () => {
    const err = await rejection(
      eks.send(
        new CreateClusterCommand(
          clusterInput('one-subnet', {
            resourcesVpcConfig: { subnetIds: ['subnet-0a000000000000001a'] },
          }),
        ),
      ),
    );
    expect(err).toMatchObject({
      name: 'InvalidParameterException',
      message: 'Subnets specified must be in at least two different AZs',
    });
  });

  it('InvalidParameterException: a subnet the sandbox VPCs do not have', async () => {
    const err = await rejection(
      eks.send(
        new CreateClusterCommand(
          clusterInput('bad-subnet', {
            resourcesVpcConfig: { subnetIds: ['subnet-0a000000000000001a', 'subnet-1'] },
          }),
        ),
      ),
    );
    expect(err).toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringMatching(
        /^The subnet ID 'subnet-1' does not exist \(the sandbox's subnets: subnet-0a/,
      ),
    });
  });

  it('InvalidParameterException: subnets of different VPCs', async () => {
    const err = await rejection(
      eks.send(
        new CreateClusterCommand(
          clusterInput('two-vpcs', {
            resourcesVpcConfig: {
              subnetIds: ['subnet-0a000000000000001a', 'subnet-0b000000000000001c'],
            },
          }),
        ),
      ),
    );
    expect(err.message).toBe(
      'Subnets specified must belong to the same VPC; got subnets of vpc-sandbox-a, vpc-sandbox-b',
    );
  });

  it('InvalidParameterException: CONFIG_MAP without bootstrap admin permissions', async () => {
    const err = await rejection(
      eks.send(
        new CreateClusterCommand(
          clusterInput('no-admin', {
            accessConfig: {
              authenticationMode: 'CONFIG_MAP',
              bootstrapClusterCreatorAdminPermissions: false,
            },
          }),
        ),
      ),
    );
    expect(err.message).toBe(
      'bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is set to CONFIG_MAP',
    );
  });

  it('InvalidParameterException: maxResults above 100', async () => {
    const err = await rejection(eks.send(new ListClustersCommand({ maxResults: 101 })));
    expect(err).toMatchObject({
      name: 'InvalidParameterException',
      message: 'maxResults must be between 1 and 100; got 101.',
    });
  });

  it('ResourceNotFoundException: listing node groups of an unknown cluster', async () => {
    const err = await rejection(eks.send(new ListNodegroupsCommand({ clusterName: 'nope' })));
    expect(err).toEqual({
      name: 'ResourceNotFoundException',
      message: 'No cluster found for name: nope.',
      status: 404,
      clusterName: 'nope',
    });
  });
});
