import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { systemClock } from '../../src/common/clock.js';
import { MemoryLogger } from '../../src/common/logger.js';
import { parseClusterConfig } from '../../src/eks/cluster-config.js';
import {
  CreateClusterStoppedError,
  DriftError,
  createCluster,
} from '../../src/operations/create-cluster.js';
import { sandboxClusterConfig } from '../eks/sandbox-config.js';

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
});

afterAll(async () => {
  eks.destroy();
  iam.destroy();
  await sandbox.close();
});

function run(
  text: string,
  extra: { dryRun?: boolean; signal?: AbortSignal; timeoutMs?: number; logger?: MemoryLogger } = {},
) {
  const logger = extra.logger ?? new MemoryLogger();
  const result = createCluster(
    {
      config: parseClusterConfig(text, 'cluster.yaml'),
      dryRun: extra.dryRun ?? false,
      timeoutMs: extra.timeoutMs ?? 30_000,
      pollMs: 50,
      progressEveryMs: 50,
    },
    {
      clients: { eks, iam },
      logger,
      clock: systemClock,
      ...(extra.signal ? { signal: extra.signal } : {}),
    },
  );
  return { result, logger };
}

function writes(): string[] {
  return Object.keys(sandbox.core.callCounts()).filter((k) =>
    /:(Create|Update|Associate|Delete)/.test(k),
  );
}

describe('createCluster against the sandbox', () => {
  it('creates everything, then a second run changes nothing', async () => {
    sandbox.core.resetCalls();
    const started = run(sandboxClusterConfig({ name: 'op-full' }));
    const first = await started.result;
    // A progress line while waiting names what is pending and the time spent.
    expect(started.logger.text()).toMatch(/… still waiting for cluster op-full \(\d+s elapsed\)/);
    expect(first.changed).toBe(true);
    expect(first.cluster?.status).toBe('ACTIVE');
    expect(first.plan.map((p) => `${p.action} ${p.resource} ${p.name}`)).toEqual([
      'create cluster op-full',
      'create oidc-provider op-full',
      'create access-entry arn:aws:iam::123456789012:role/deployer',
      'create access-entry arn:aws:iam::123456789012:role/viewer',
      'create addon eks-pod-identity-agent',
      'create addon vpc-cni',
      'create addon kube-proxy',
      'create addon coredns',
      'create addon metrics-server',
      'create addon aws-ebs-csi-driver',
      'create nodegroup system',
      'create nodegroup apps',
      'create pod-identity-association web/web',
    ]);
    const counts = sandbox.core.callCounts();
    expect(counts['eks:CreateCluster']).toBe(1);
    expect(counts['iam:CreateOpenIDConnectProvider']).toBe(1);
    expect(counts['eks:CreateNodegroup']).toBe(2);
    expect(counts['eks:CreateAddon']).toBe(6);
    expect(counts['eks:CreatePodIdentityAssociation']).toBe(1);

    sandbox.core.resetCalls();
    const second = await run(sandboxClusterConfig({ name: 'op-full' })).result;
    expect(second.changed).toBe(false);
    expect(second.plan.every((p) => p.action === 'unchanged')).toBe(true);
    expect(writes()).toEqual([]);
    // `version: latest` is looked up on every run; nothing else is.
    expect(sandbox.core.callCounts()['eks:DescribeAddonVersions']).toBe(1);
  });

  it('updates a node group’s scaling in place and refuses a version change', async () => {
    await run(sandboxClusterConfig({ name: 'op-scale' })).result;
    sandbox.core.resetCalls();
    const scaled = await run(sandboxClusterConfig({ name: 'op-scale', desiredCapacity: 3 })).result;
    expect(scaled.plan.filter((p) => p.action !== 'unchanged')).toEqual([
      expect.objectContaining({ resource: 'nodegroup', name: 'system', action: 'update' }),
    ]);
    expect(writes()).toEqual(['eks:UpdateNodegroupConfig']);

    sandbox.core.resetCalls();
    const refused = run(
      sandboxClusterConfig({ name: 'op-scale', version: '1.34', desiredCapacity: 3 }),
    ).result;
    await expect(refused).rejects.toBeInstanceOf(DriftError);
    await expect(refused).rejects.toThrow(/version: live 1\.33, config 1\.34/);
    // Each drifted field is also an annotation on the line that asks for it.
    const drift = (await refused.catch((e: unknown) => e)) as DriftError;
    expect(drift.diagnostics).toContainEqual({
      file: 'cluster.yaml',
      line: 6,
      col: 12,
      message: expect.stringMatching(
        /^cluster op-scale: version is 1\.33 on EKS, 1\.34 here; a new Kubernetes version is a new cluster/,
      ),
    });
    expect(writes()).toEqual([]);
  });

  it('dry run reads only', async () => {
    sandbox.core.resetCalls();
    const r = await run(sandboxClusterConfig({ name: 'op-dry' }), { dryRun: true }).result;
    expect(r.plan[0]).toMatchObject({ action: 'create', resource: 'cluster' });
    expect(r.changed).toBe(false);
    expect(writes()).toEqual([]);
  });

  it('cancelled mid-wait reports what exists; the next run completes', async () => {
    const cancel = new AbortController();
    const { result, logger } = run(sandboxClusterConfig({ name: 'op-cancel' }), {
      signal: cancel.signal,
    });
    setTimeout(() => cancel.abort(new Error('received SIGINT')), 60);
    const stopped = await result.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(stopped).toBeInstanceOf(CreateClusterStoppedError);
    expect((stopped as CreateClusterStoppedError).message).toMatch(
      /Stopped \(received SIGINT\)\. State now: cluster op-cancel CREATING/,
    );
    void logger;
    const again = await run(sandboxClusterConfig({ name: 'op-cancel' })).result;
    expect(again.cluster?.status).toBe('ACTIVE');
    expect(again.plan[0]).toMatchObject({ resource: 'cluster', action: 'unchanged' });
  });

  it('timed out, it stops and reports the state', async () => {
    const e = await run(sandboxClusterConfig({ name: 'op-timeout' }), {
      timeoutMs: 100,
    }).result.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(CreateClusterStoppedError);
    expect((e as Error).message).toMatch(/timed out|Timed out waiting for cluster op-timeout/);
    expect((e as CreateClusterStoppedError).states[0]).toMatchObject({
      resource: 'cluster',
      name: 'op-timeout',
    });
  });

  it('a run cancelled while node groups are CREATING is finished by the next, which only waits', async () => {
    // Without pod identity associations the run has nothing left to create after the node groups.
    const text = sandboxClusterConfig({ name: 'op-wait' }).replace(
      /^ {2}podIdentityAssociations:\n(?: {4}.*\n)+/m,
      '',
    );
    const cancel = new AbortController();
    const logger = new MemoryLogger();
    const info = logger.info.bind(logger);
    logger.info = (m: string) => {
      info(m);
      if (m.startsWith('✓ create node group apps')) cancel.abort(new Error('received SIGTERM'));
    };
    const stopped = await run(text, { signal: cancel.signal, logger }).result.then(
      () => undefined,
      (x: unknown) => x as CreateClusterStoppedError,
    );
    expect(stopped).toBeInstanceOf(CreateClusterStoppedError);
    expect(stopped?.states).toContainEqual(
      expect.objectContaining({ resource: 'nodegroup', name: 'apps', state: 'CREATING' }),
    );
    sandbox.core.resetCalls();
    const again = await run(text).result;
    expect(again.plan.every((p) => p.action === 'unchanged')).toBe(true);
    expect(again.changed).toBe(false);
    expect(again.cluster?.status).toBe('ACTIVE');
    expect(again.steps.map((s) => s.what)).toContain('node group apps ACTIVE');
    expect(writes()).toEqual([]);
  });

  it('takes over the access entry EKS made for the cluster creator when the config lists it', async () => {
    const text = sandboxClusterConfig({ name: 'op-creator' }).replace(
      '  accessEntries:\n',
      [
        '  accessEntries:',
        '    - principalARN: arn:aws:iam::123456789012:user/sandbox',
        '      kubernetesGroups: [ops]',
        '      accessPolicies:',
        '        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy',
        '          accessScope: { type: cluster }',
        '',
      ].join('\n'),
    );
    sandbox.core.resetCalls();
    const first = await run(text).result;
    expect(first.steps.map((s) => s.what)).toContain(
      'create access entry arn:aws:iam::123456789012:user/sandbox',
    );
    const counts = sandbox.core.callCounts();
    expect(counts['eks:UpdateAccessEntry']).toBe(1);
    sandbox.core.resetCalls();
    const second = await run(text).result;
    expect(second.changed).toBe(false);
    expect(writes()).toEqual([]);
  });

  it('changes endpoint access and logging in place, one UpdateClusterConfig at a time', async () => {
    await run(sandboxClusterConfig({ name: 'op-settings' })).result;
    const text = sandboxClusterConfig({
      name: 'op-settings',
      extra: 'cloudWatch:\n  clusterLogging:\n    enableTypes: [api, audit]\n',
    }).replace('vpc:\n', 'vpc:\n  clusterEndpoints: { publicAccess: true, privateAccess: true }\n');
    sandbox.core.resetCalls();
    const r = await run(text).result;
    expect(r.plan[0]).toMatchObject({
      resource: 'cluster',
      action: 'update',
      changes: [
        { field: 'clusterEndpoints.privateAccess', live: 'false', desired: 'true' },
        { field: 'cloudWatch.clusterLogging.enableTypes', live: '[]', desired: '["api","audit"]' },
      ],
    });
    expect(writes()).toEqual(['eks:UpdateClusterConfig']);
    expect(sandbox.core.callCounts()['eks:UpdateClusterConfig']).toBe(2);
    sandbox.core.resetCalls();
    expect((await run(text).result).changed).toBe(false);
    expect(writes()).toEqual([]);
  });

  it('without node groups, a DEGRADED coredns is reported, not waited on until the timeout', async () => {
    const text = sandboxClusterConfig({ name: 'op-nodeless' }).replace(
      /^managedNodeGroups:\n(?: {2}.*\n)+/m,
      '',
    );
    const logger = new MemoryLogger();
    const r = await run(text, { logger, timeoutMs: 20_000 }).result;
    expect(r.cluster?.status).toBe('ACTIVE');
    expect(logger.text()).toMatch(
      /warning: add-on coredns is DEGRADED: InsufficientNumberOfReplicas: .*; the config has no node group to run its pods\./,
    );
    sandbox.core.resetCalls();
    const again = await run(text).result;
    expect(again.changed).toBe(false);
    expect(writes()).toEqual([]);
  });
});

describe('DriftError', () => {
  it('puts each drifted node group field on the line that asks for it', () => {
    const config = parseClusterConfig(sandboxClusterConfig(), 'cluster.yaml');
    const e = new DriftError(
      [
        {
          resource: 'nodegroup',
          name: 'system',
          action: 'drift',
          why: 'EKS cannot change a node group’s (make a new node group): instanceTypes, volumeSize',
          changes: [
            { field: 'instanceTypes', live: '["m5.large"]', desired: '["m6i.large"]' },
            { field: 'volumeSize', live: '20', desired: '80' },
          ],
        },
      ],
      config,
    );
    const text = sandboxClusterConfig();
    const lineOf = (marker: string) => text.slice(0, text.indexOf(marker)).split('\n').length;
    expect(e.diagnostics.map((d) => [d.line, d.message])).toEqual([
      [
        lineOf('instanceType: m6i.large'),
        'nodegroup system: instanceTypes is ["m5.large"] on EKS, ["m6i.large"] here; EKS cannot change a node group’s (make a new node group).',
      ],
      // volumeSize is not written: the node group's name carries it.
      [
        lineOf('- name: system'),
        'nodegroup system: volumeSize is 20 on EKS, 80 here; EKS cannot change a node group’s (make a new node group).',
      ],
    ]);
  });
});
