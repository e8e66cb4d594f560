/**
 * Without the tools of `npm run kube-tools` the sandbox still starts and its EKS clusters are
 * records, as before, but they say they have no control plane and how to build it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createCluster, eksClient } from './kube-fixture.js';

describe('sandbox EKS with kubernetes: true but no tools', () => {
  let sandbox: Sandbox;
  let eks: EKSClient;
  const logs: string[] = [];
  const saved = process.env.KUBE_TOOLS_DIR;

  beforeAll(async () => {
    process.env.KUBE_TOOLS_DIR = mkdtempSync(join(tmpdir(), 'no-kube-tools-'));
    sandbox = await startSandbox({
      kubernetes: true,
      eksTransitionMs: 50,
      log: (l) => logs.push(l),
    });
    eks = eksClient(sandbox);
  });

  afterAll(async () => {
    if (saved === undefined) delete process.env.KUBE_TOOLS_DIR;
    else process.env.KUBE_TOOLS_DIR = saved;
    eks?.destroy();
    await sandbox?.close();
  });

  it('logs at start which tools are missing and the command that builds them', () => {
    expect(logs.join('\n')).toMatch(
      /EKS clusters will have no Kubernetes\. .*missing.*kube-apiserver.*npm run kube-tools/s,
    );
  });

  it('makes ACTIVE record clusters whose health says there is no control plane', async () => {
    const cluster = await createCluster(sandbox, eks, 'blue');
    expect(cluster.status).toBe('ACTIVE');
    expect(cluster.endpoint).toMatch(/\.eks\.amazonaws\.com$/);
    expect(cluster.health?.issues).toEqual([
      {
        code: 'Other',
        message: expect.stringMatching(
          /^This sandbox cluster has no Kubernetes control plane\. .*npm run kube-tools/,
        ),
        resourceIds: ['blue'],
      },
    ]);
    await expect(sandbox.kube?.kubeconfig(sandbox.region, 'blue')).rejects.toThrow(
      'npm run kube-tools',
    );
    const again = await eks.send(new DescribeClusterCommand({ name: 'blue' }));
    expect(again.cluster?.status).toBe('ACTIVE');
  });
});
