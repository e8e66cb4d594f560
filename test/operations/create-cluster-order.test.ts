/**
 * The order of calls create-cluster makes, on an EKS mocked with aws-sdk-client-mock whose
 * resources turn ACTIVE after a few describes: eksctl's order, independent calls in parallel,
 * add-ons waited on only after the node groups, DEGRADED waited through, failures reported with
 * EKS's health issues.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  CreateAddonCommand,
  CreateClusterCommand,
  CreateNodegroupCommand,
  CreatePodIdentityAssociationCommand,
  DescribeAddonCommand,
  DescribeAddonVersionsCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  EKSClient,
  ListPodIdentityAssociationsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-eks';
import {
  CreateOpenIDConnectProviderCommand,
  IAMClient,
  ListOpenIDConnectProvidersCommand,
} from '@aws-sdk/client-iam';
import { systemClock } from '../../src/common/clock.js';
import { MemoryLogger } from '../../src/common/logger.js';
import { parseClusterConfig } from '../../src/eks/cluster-config.js';
import { CreateClusterStoppedError, createCluster } from '../../src/operations/create-cluster.js';
import { sandboxClusterConfig } from '../eks/sandbox-config.js';

const eksClient = new EKSClient({
  region: 'ap-northeast-1',
  credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
});
const iamClient = new IAMClient({
  region: 'ap-northeast-1',
  credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
});
const eks = mockClient(eksClient);
const iam = mockClient(iamClient);

/** What happened, in order: `start X`/`end X` for writes, `active X` when a wait saw ACTIVE. */
let events: string[];
const notFound = () => new ResourceNotFoundException({ message: 'not found', $metadata: {} });
const tick = () => new Promise((r) => setTimeout(r, 15));

interface Resource {
  describesLeft: number;
  status: string;
  /** Statuses to show, one per describe, once CREATING is over (e.g. DEGRADED first). */
  then?: string[];
  issues?: { code: string; message: string }[];
}

function fakeEks(
  options: { addonThen?: Record<string, string[]>; failNodegroup?: string } = {},
): void {
  const resources = new Map<string, Resource>();
  const create =
    (key: string, extra: Partial<Resource> = {}) =>
    async () => {
      events.push(`start ${key}`);
      await tick();
      resources.set(key, { describesLeft: 2, status: 'CREATING', ...extra });
      events.push(`end ${key}`);
      return {};
    };
  const describe = (key: string) => {
    const r = resources.get(key);
    if (!r) throw notFound();
    if (r.describesLeft > 0) r.describesLeft -= 1;
    else if (r.then && r.then.length > 0) r.status = r.then.shift() as string;
    else if (r.status === 'CREATING' || r.status === 'DEGRADED') r.status = 'ACTIVE';
    if (r.status === 'ACTIVE' && !events.includes(`active ${key}`)) events.push(`active ${key}`);
    return r;
  };
  eks.reset();
  iam.reset();
  eks.on(CreateClusterCommand).callsFake(create('cluster'));
  eks.on(DescribeClusterCommand).callsFake(() => {
    const r = describe('cluster');
    return {
      cluster: {
        name: 'green',
        arn: 'arn:aws:eks:ap-northeast-1:123456789012:cluster/green',
        status: r.status,
        version: '1.33',
        identity: { oidc: { issuer: 'https://oidc.eks.ap-northeast-1.amazonaws.com/id/ABC' } },
        accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' },
        ...(r.status === 'ACTIVE'
          ? { endpoint: 'https://abc.eks', certificateAuthority: { data: 'Q0E=' } }
          : {}),
      },
    };
  });
  eks.on(CreateNodegroupCommand).callsFake(async (input: { nodegroupName: string }) =>
    create(
      `nodegroup ${input.nodegroupName}`,
      options.failNodegroup === input.nodegroupName
        ? {
            then: ['CREATE_FAILED'],
            issues: [
              {
                code: 'AsgInstanceLaunchFailures',
                message: 'Could not launch On-Demand Instances. InsufficientInstanceCapacity',
              },
            ],
          }
        : {},
    )(),
  );
  eks.on(DescribeNodegroupCommand).callsFake((input: { nodegroupName: string }) => {
    const r = describe(`nodegroup ${input.nodegroupName}`);
    return {
      nodegroup: {
        nodegroupName: input.nodegroupName,
        status: r.status,
        health: { issues: r.issues ?? [] },
      },
    };
  });
  eks
    .on(CreateAddonCommand)
    .callsFake(async (input: { addonName: string }) =>
      create(
        `addon ${input.addonName}`,
        options.addonThen?.[input.addonName]
          ? { then: [...(options.addonThen[input.addonName] as string[])] }
          : {},
      )(),
    );
  eks.on(DescribeAddonCommand).callsFake((input: { addonName: string }) => {
    const r = describe(`addon ${input.addonName}`);
    events.push(`describe addon ${input.addonName} ${r.status}`);
    return { addon: { addonName: input.addonName, status: r.status, health: { issues: [] } } };
  });
  eks.on(DescribeAddonVersionsCommand).callsFake((input: { addonName: string }) => ({
    addons: [
      {
        addonName: input.addonName,
        addonVersions: [
          {
            addonVersion: 'v1.1.0-eksbuild.1',
            compatibilities: [{ clusterVersion: '1.33', defaultVersion: false }],
          },
          {
            addonVersion: 'v1.0.0-eksbuild.1',
            compatibilities: [{ clusterVersion: '1.33', defaultVersion: true }],
          },
        ],
      },
    ],
  }));
  eks
    .on(CreateAccessEntryCommand)
    .callsFake(async (input: { principalArn: string }) =>
      create(`access-entry ${input.principalArn.split('/')[1]}`)(),
    );
  eks.on(AssociateAccessPolicyCommand).resolves({});
  eks.on(ListPodIdentityAssociationsCommand).resolves({ associations: [] });
  eks.on(CreatePodIdentityAssociationCommand).callsFake(async () => create('pod-identity')());
  iam.on(ListOpenIDConnectProvidersCommand).resolves({ OpenIDConnectProviderList: [] });
  iam.on(CreateOpenIDConnectProviderCommand).callsFake(async () => {
    await create('oidc')();
    return { OpenIDConnectProviderArn: 'arn:aws:iam::123456789012:oidc-provider/x' };
  });
}

function run() {
  return createCluster(
    {
      config: parseClusterConfig(sandboxClusterConfig(), 'c.yaml'),
      dryRun: false,
      timeoutMs: 20_000,
      pollMs: 10,
    },
    { clients: { eks: eksClient, iam: iamClient }, logger: new MemoryLogger(), clock: systemClock },
  );
}

const at = (event: string): number => {
  const i = events.indexOf(event);
  if (i < 0) throw new Error(`no event ${event} in\n${events.join('\n')}`);
  return i;
};

beforeEach(() => {
  events = [];
});

describe('create-cluster order', () => {
  it('follows eksctl: cluster, then OIDC/access entries/add-ons/node groups in parallel, node groups waited, add-ons waited, pod identity last', async () => {
    fakeEks();
    const result = await run();
    expect(result.changed).toBe(true);
    const clusterActive = at('active cluster');
    const batch = [
      'oidc',
      'access-entry deployer',
      'access-entry viewer',
      'addon coredns',
      'addon vpc-cni',
      'nodegroup system',
      'nodegroup apps',
    ];
    for (const b of batch) expect(at(`start ${b}`)).toBeGreaterThan(clusterActive);
    // In parallel: every call of the batch started before the first of them ended.
    const firstEnd = Math.min(...batch.map((b) => at(`end ${b}`)));
    for (const b of batch) expect(at(`start ${b}`)).toBeLessThan(firstEnd);
    // Add-ons are waited on only once every node group is ACTIVE.
    const nodesActive = Math.max(at('active nodegroup system'), at('active nodegroup apps'));
    const firstAddonWait = events.findIndex((e) => e.startsWith('describe addon'));
    expect(firstAddonWait).toBeGreaterThan(nodesActive);
    const addonsActive = Math.max(
      ...['eks-pod-identity-agent', 'vpc-cni', 'kube-proxy', 'coredns', 'aws-ebs-csi-driver'].map(
        (a) => at(`active addon ${a}`),
      ),
    );
    expect(at('start pod-identity')).toBeGreaterThan(addonsActive);
  });

  it('waits through DEGRADED (which the SDK waiter treats as failure)', async () => {
    fakeEks({ addonThen: { coredns: ['DEGRADED', 'DEGRADED', 'ACTIVE'] } });
    await run();
    expect(events).toContain('describe addon coredns DEGRADED');
    expect(events).toContain('active addon coredns');
  });

  it('reports a failed node group with EKS’s health issues and the state of everything', async () => {
    fakeEks({ failNodegroup: 'apps' });
    const e = await run().then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(CreateClusterStoppedError);
    const stopped = e as CreateClusterStoppedError;
    expect(stopped.message).toMatch(
      /node group apps did not become ACTIVE: status CREATE_FAILED; AsgInstanceLaunchFailures: Could not launch On-Demand Instances/,
    );
    expect(stopped.states).toContainEqual(
      expect.objectContaining({ resource: 'nodegroup', name: 'apps', state: 'CREATE_FAILED' }),
    );
    expect(events.some((e2) => e2 === 'start pod-identity')).toBe(false);
  });
});
