/**
 * The sandbox's EKS operations beyond create/describe/delete, and its IAM OIDC providers,
 * through the real SDK clients: AWS's shapes, states and error codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateAccessEntryCommand,
  CreateAddonCommand,
  CreateClusterCommand,
  CreateNodegroupCommand,
  CreatePodIdentityAssociationCommand,
  DescribeAddonCommand,
  DescribeAddonVersionsCommand,
  DescribeNodegroupCommand,
  DescribePodIdentityAssociationCommand,
  EKSClient,
  ListPodIdentityAssociationsCommand,
  UpdateAccessEntryCommand,
  UpdateAddonCommand,
  UpdateClusterConfigCommand,
  DescribeClusterCommand,
  UpdateNodegroupConfigCommand,
  UpdatePodIdentityAssociationCommand,
  waitUntilAddonActive,
  waitUntilClusterActive,
  waitUntilNodegroupActive,
} from '@aws-sdk/client-eks';
import {
  CreateOpenIDConnectProviderCommand,
  DeleteOpenIDConnectProviderCommand,
  GetOpenIDConnectProviderCommand,
  IAMClient,
  ListOpenIDConnectProvidersCommand,
} from '@aws-sdk/client-iam';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';

const WAIT = { minDelay: 0.05, maxDelay: 0.1, maxWaitTime: 10 };
const ROLE = (name: string) => `arn:aws:iam::123456789012:role/${name}`;
let sandbox: Sandbox;
let eks: EKSClient;
let iam: IAMClient;

beforeAll(async () => {
  sandbox = await startSandbox({ eksTransitionMs: 150 });
  const options = {
    endpoint: sandbox.endpoint,
    region: sandbox.region,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
    },
  };
  eks = new EKSClient(options);
  iam = new IAMClient(options);
  await eks.send(
    new CreateClusterCommand({
      name: 'c1',
      roleArn: ROLE('eks-cluster'),
      resourcesVpcConfig: { subnetIds: ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'] },
      accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' },
    }),
  );
  await waitUntilClusterActive({ client: eks, ...WAIT }, { name: 'c1' });
});

afterAll(async () => {
  eks.destroy();
  iam.destroy();
  await sandbox.close();
});

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: Error) => ({ name: e.name, message: e.message }),
  );

describe('sandbox EKS: add-on versions and updates', () => {
  it('lists add-on versions with one default per Kubernetes version', async () => {
    const r = await eks.send(
      new DescribeAddonVersionsCommand({ addonName: 'coredns', kubernetesVersion: '1.33' }),
    );
    const versions = r.addons?.[0]?.addonVersions ?? [];
    expect(versions.map((v) => v.addonVersion)).toEqual([
      'v1.13.0-eksbuild.1',
      'v1.12.2-eksbuild.4',
      'v1.11.0-eksbuild.1',
    ]);
    expect(
      versions.filter((v) => v.compatibilities?.[0]?.defaultVersion).map((v) => v.addonVersion),
    ).toEqual(['v1.12.2-eksbuild.4']);
    expect(
      await errorOf(eks.send(new DescribeAddonVersionsCommand({ addonName: 'nope' }))),
    ).toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('keeps coredns DEGRADED until a node group is ACTIVE', async () => {
    await eks.send(new CreateAddonCommand({ clusterName: 'c1', addonName: 'coredns' }));
    await new Promise((r) => setTimeout(r, 200));
    const degraded = await eks.send(
      new DescribeAddonCommand({ clusterName: 'c1', addonName: 'coredns' }),
    );
    expect(degraded.addon?.status).toBe('DEGRADED');
    expect(degraded.addon?.health?.issues?.[0]?.code).toBe('InsufficientNumberOfReplicas');
    await expect(
      waitUntilAddonActive({ client: eks, ...WAIT }, { clusterName: 'c1', addonName: 'coredns' }),
    ).rejects.toThrow();

    await eks.send(
      new CreateNodegroupCommand({
        clusterName: 'c1',
        nodegroupName: 'ng',
        nodeRole: ROLE('node'),
        subnets: ['subnet-0a000000000000001a'],
        scalingConfig: { minSize: 1, maxSize: 3, desiredSize: 2 },
      }),
    );
    await waitUntilNodegroupActive(
      { client: eks, ...WAIT },
      { clusterName: 'c1', nodegroupName: 'ng' },
    );
    await waitUntilAddonActive(
      { client: eks, ...WAIT },
      { clusterName: 'c1', addonName: 'coredns' },
    );
  });

  it('updates a node group’s config: UPDATING, then ACTIVE; a no-op update is refused', async () => {
    const update = await eks.send(
      new UpdateNodegroupConfigCommand({
        clusterName: 'c1',
        nodegroupName: 'ng',
        scalingConfig: { minSize: 1, maxSize: 3, desiredSize: 3 },
        labels: { addOrUpdateLabels: { role: 'apps' } },
        taints: { addOrUpdateTaints: [{ key: 'dedicated', value: 'apps', effect: 'NO_SCHEDULE' }] },
      }),
    );
    expect(update.update).toMatchObject({ status: 'InProgress', type: 'ConfigUpdate' });
    expect(
      (await eks.send(new DescribeNodegroupCommand({ clusterName: 'c1', nodegroupName: 'ng' })))
        .nodegroup?.status,
    ).toBe('UPDATING');
    expect(
      await errorOf(
        eks.send(
          new UpdateNodegroupConfigCommand({
            clusterName: 'c1',
            nodegroupName: 'ng',
            labels: { addOrUpdateLabels: { x: 'y' } },
          }),
        ),
      ),
    ).toMatchObject({ name: 'ResourceInUseException' });
    await waitUntilNodegroupActive(
      { client: eks, ...WAIT },
      { clusterName: 'c1', nodegroupName: 'ng' },
    );
    const ng = (
      await eks.send(new DescribeNodegroupCommand({ clusterName: 'c1', nodegroupName: 'ng' }))
    ).nodegroup;
    expect(ng).toMatchObject({
      scalingConfig: { desiredSize: 3 },
      labels: { role: 'apps' },
      taints: [{ key: 'dedicated', value: 'apps', effect: 'NO_SCHEDULE' }],
    });
    expect(
      await errorOf(
        eks.send(
          new UpdateNodegroupConfigCommand({
            clusterName: 'c1',
            nodegroupName: 'ng',
            scalingConfig: { desiredSize: 3 },
          }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidParameterException', message: 'No changes needed' });
    expect(
      await errorOf(
        eks.send(
          new UpdateNodegroupConfigCommand({
            clusterName: 'c1',
            nodegroupName: 'ng',
            scalingConfig: { desiredSize: 9 },
          }),
        ),
      ),
    ).toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringMatching(/Desired capacity:9/),
    });
  });

  it('updates an add-on’s version and configuration', async () => {
    await eks.send(
      new UpdateAddonCommand({
        clusterName: 'c1',
        addonName: 'coredns',
        addonVersion: 'v1.13.0-eksbuild.1',
        configurationValues: '{"replicaCount":3}',
      }),
    );
    await waitUntilAddonActive(
      { client: eks, ...WAIT },
      { clusterName: 'c1', addonName: 'coredns' },
    );
    const addon = (
      await eks.send(new DescribeAddonCommand({ clusterName: 'c1', addonName: 'coredns' }))
    ).addon;
    expect(addon).toMatchObject({
      addonVersion: 'v1.13.0-eksbuild.1',
      configurationValues: '{"replicaCount":3}',
    });
    expect(
      await errorOf(
        eks.send(
          new UpdateAddonCommand({
            clusterName: 'c1',
            addonName: 'coredns',
            addonVersion: 'v9.9.9-eksbuild.1',
          }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidParameterException' });
  });

  it('updates an access entry’s groups', async () => {
    await eks.send(
      new CreateAccessEntryCommand({
        clusterName: 'c1',
        principalArn: ROLE('dev'),
        kubernetesGroups: ['a'],
      }),
    );
    const r = await eks.send(
      new UpdateAccessEntryCommand({
        clusterName: 'c1',
        principalArn: ROLE('dev'),
        kubernetesGroups: ['b', 'c'],
      }),
    );
    expect(r.accessEntry?.kubernetesGroups).toEqual(['b', 'c']);
  });

  it('creates, lists, describes and updates pod identity associations', async () => {
    const created = await eks.send(
      new CreatePodIdentityAssociationCommand({
        clusterName: 'c1',
        namespace: 'web',
        serviceAccount: 'web',
        roleArn: ROLE('web'),
      }),
    );
    const id = created.association?.associationId as string;
    expect(id).toMatch(/^a-[0-9a-f]{17}$/);
    expect(
      await errorOf(
        eks.send(
          new CreatePodIdentityAssociationCommand({
            clusterName: 'c1',
            namespace: 'web',
            serviceAccount: 'web',
            roleArn: ROLE('web'),
          }),
        ),
      ),
    ).toMatchObject({ name: 'ResourceInUseException' });
    const list = await eks.send(
      new ListPodIdentityAssociationsCommand({ clusterName: 'c1', namespace: 'web' }),
    );
    expect(list.associations).toEqual([
      expect.objectContaining({ namespace: 'web', serviceAccount: 'web', associationId: id }),
    ]);
    await eks.send(
      new UpdatePodIdentityAssociationCommand({
        clusterName: 'c1',
        associationId: id,
        roleArn: ROLE('web2'),
      }),
    );
    const d = await eks.send(
      new DescribePodIdentityAssociationCommand({ clusterName: 'c1', associationId: id }),
    );
    expect(d.association?.roleArn).toBe(ROLE('web2'));
  });
});

describe('sandbox EKS: UpdateClusterConfig', () => {
  it('takes one kind of change per call, goes UPDATING then ACTIVE, and never moves the authentication mode back', async () => {
    expect(
      await errorOf(
        eks.send(
          new UpdateClusterConfigCommand({
            name: 'c1',
            resourcesVpcConfig: { endpointPrivateAccess: true },
            logging: { clusterLogging: [{ types: ['api'], enabled: true }] },
          }),
        ),
      ),
    ).toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringMatching(/Only one type of update/),
    });
    const r = await eks.send(
      new UpdateClusterConfigCommand({
        name: 'c1',
        resourcesVpcConfig: { endpointPrivateAccess: true },
      }),
    );
    expect(r.update).toMatchObject({ type: 'EndpointAccessUpdate', status: 'InProgress' });
    const updating = (await eks.send(new DescribeClusterCommand({ name: 'c1' }))).cluster;
    expect(updating?.status).toBe('UPDATING');
    expect(updating?.endpoint).toBeDefined();
    expect(
      await errorOf(
        eks.send(
          new UpdateClusterConfigCommand({
            name: 'c1',
            upgradePolicy: { supportType: 'STANDARD' },
          }),
        ),
      ),
    ).toMatchObject({ name: 'ResourceInUseException' });
    await waitUntilClusterActive({ client: eks, ...WAIT }, { name: 'c1' });
    expect(
      (await eks.send(new DescribeClusterCommand({ name: 'c1' }))).cluster?.resourcesVpcConfig
        ?.endpointPrivateAccess,
    ).toBe(true);
    expect(
      await errorOf(
        eks.send(
          new UpdateClusterConfigCommand({
            name: 'c1',
            accessConfig: { authenticationMode: 'CONFIG_MAP' },
          }),
        ),
      ),
    ).toMatchObject({
      name: 'InvalidParameterException',
      message: 'Unsupported authentication mode update from API_AND_CONFIG_MAP to CONFIG_MAP',
    });
  });
});

describe('sandbox IAM: OIDC providers', () => {
  it('creates, lists, gets and deletes a provider; a second one for the URL is refused', async () => {
    const url = 'https://oidc.eks.ap-northeast-1.amazonaws.com/id/ABC';
    const created = await iam.send(
      new CreateOpenIDConnectProviderCommand({ Url: url, ClientIDList: ['sts.amazonaws.com'] }),
    );
    const arn =
      'arn:aws:iam::123456789012:oidc-provider/oidc.eks.ap-northeast-1.amazonaws.com/id/ABC';
    expect(created.OpenIDConnectProviderArn).toBe(arn);
    expect(
      (await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList,
    ).toEqual([{ Arn: arn }]);
    expect(
      await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })),
    ).toMatchObject({
      Url: 'oidc.eks.ap-northeast-1.amazonaws.com/id/ABC',
      ClientIDList: ['sts.amazonaws.com'],
    });
    expect(
      await errorOf(
        iam.send(
          new CreateOpenIDConnectProviderCommand({ Url: url, ClientIDList: ['sts.amazonaws.com'] }),
        ),
      ),
    ).toMatchObject({
      name: 'EntityAlreadyExistsException',
    });
    await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    expect(
      await errorOf(
        iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })),
      ),
    ).toMatchObject({ name: 'NoSuchEntityException' });
    expect(
      await errorOf(
        iam.send(new CreateOpenIDConnectProviderCommand({ Url: 'http://x', ClientIDList: [] })),
      ),
    ).toMatchObject({ name: 'InvalidInputException' });
  });
});
