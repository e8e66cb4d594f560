/**
 * The create-cluster bundle run as the runner runs it (node dist/create-cluster/index.js with
 * INPUT_* variables), against a sandbox whose EKS clusters run real Kubernetes: a full config
 * becomes an ACTIVE cluster with add-ons, node groups, OIDC and access entries whose kubeconfig
 * works with kubectl; a second run changes nothing; a scaling change is made in place; a
 * version change is refused; a dry run writes nothing; a cancelled run is continued by the next.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../sandbox/index.js';
import { kubectl, skipReason, startKubeSandbox } from '../sandbox/kube-fixture.js';
import { sandboxClusterConfig, type SandboxConfigOptions } from '../eks/sandbox-config.js';
import { runAction, startAction, type ActionRun } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'ecc-create-cluster-e2e-'));
let sandbox: Sandbox;

function configFile(name: string, options: SandboxConfigOptions = {}): string {
  const path = join(dir, `${name}-${Math.random().toString(36).slice(2, 8)}.yaml`);
  writeFileSync(path, sandboxClusterConfig({ name, ...options }));
  return path;
}

function inputs(config: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    config,
    'poll-interval': '200ms',
    timeout: '2m',
    kubeconfig: join(dir, 'kubeconfig'),
    ...extra,
  };
}

function writeCalls(): string[] {
  return Object.keys(sandbox.core.callCounts())
    .filter((k) => /:(Create|Update|Associate|Delete)/.test(k))
    .sort();
}

function plan(run: ActionRun): { resource: string; name: string; action: string }[] {
  return JSON.parse(run.outputs.plan ?? '[]') as {
    resource: string;
    name: string;
    action: string;
  }[];
}

describe.skipIf(skipReason !== undefined)(`create-cluster bundle ${skipReason ?? ''}`, () => {
  beforeAll(async () => {
    sandbox = await startKubeSandbox();
  }, 60_000);

  afterAll(async () => {
    await sandbox?.close();
  }, 60_000);

  it('refuses an invalid config with annotations, calling nothing on AWS', async () => {
    const path = join(dir, 'invalid.yaml');
    writeFileSync(
      path,
      sandboxClusterConfig({ name: 'invalid' }).replace('version: "1.33"', 'version: 1.30') +
        'managedNodegroups: []\n',
    );
    sandbox.core.resetCalls();
    const run = await runAction('create-cluster', inputs(path), sandbox.env);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain(
      `::error file=${path},line=6,col=12::metadata.version is the number 1.3 to YAML`,
    );
    expect(run.stdout).toMatch(
      /::error file=.*,line=\d+,col=1::Unknown key "managedNodegroups" in the ClusterConfig; did you mean "managedNodeGroups"\?/,
    );
    expect(sandbox.core.callCounts()).toEqual({});
  });

  it('creates the cluster, then a second run is a no-op, then scales in place, then refuses a version change', async () => {
    const config = configFile('green');
    sandbox.core.resetCalls();
    const first = await runAction('create-cluster', inputs(config), sandbox.env);
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(first.outputs).toMatchObject({
      'cluster-name': 'green',
      'cluster-arn': `arn:aws:eks:ap-northeast-1:${sandbox.accountId}:cluster/green`,
      changed: 'true',
      kubeconfig: join(dir, 'kubeconfig'),
    });
    expect(first.outputs.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(first.outputs['oidc-issuer']).toMatch(/^https:\/\/127\.0\.0\.1:\d+/);
    expect(first.outputs['certificate-authority-data']).not.toBe('');
    expect(plan(first).every((p) => p.action === 'create')).toBe(true);
    expect(first.summary).toContain('<h3>Plan</h3>');
    expect(first.summary).toContain('<h3>Done</h3>');
    expect(writeCalls()).toEqual([
      'eks:AssociateAccessPolicy',
      'eks:CreateAccessEntry',
      'eks:CreateAddon',
      'eks:CreateCluster',
      'eks:CreateNodegroup',
      'eks:CreatePodIdentityAssociation',
      'iam:CreateOpenIDConnectProvider',
    ]);
    expect(sandbox.iam.oidcProviders.size).toBe(1);

    // The kubeconfig's user mints EKS tokens with the caller's credentials: kubectl works.
    const nodes = await kubectl(sandbox, first.outputs.kubeconfig as string, [
      'get',
      'nodes',
      '-o',
      'name',
    ]);
    expect(nodes).toContain('node/sandbox-green');

    sandbox.core.resetCalls();
    const second = await runAction('create-cluster', inputs(config), sandbox.env);
    expect(second.exitCode, second.stdout).toBe(0);
    expect(second.outputs.changed).toBe('false');
    expect(plan(second).every((p) => p.action === 'unchanged')).toBe(true);
    expect(writeCalls()).toEqual([]);
    expect(second.summary).toContain('already as configured');

    const scaled = configFile('green', { desiredCapacity: 3 });
    sandbox.core.resetCalls();
    const third = await runAction('create-cluster', inputs(scaled), sandbox.env);
    expect(third.exitCode, third.stdout).toBe(0);
    expect(third.outputs.changed).toBe('true');
    expect(plan(third).filter((p) => p.action !== 'unchanged')).toEqual([
      expect.objectContaining({ resource: 'nodegroup', name: 'system', action: 'update' }),
    ]);
    expect(writeCalls()).toEqual(['eks:UpdateNodegroupConfig']);

    const newVersion = configFile('green', { desiredCapacity: 3, version: '1.34' });
    sandbox.core.resetCalls();
    const fourth = await runAction('create-cluster', inputs(newVersion), sandbox.env);
    expect(fourth.exitCode).toBe(1);
    expect(fourth.stdout).toMatch(/a new Kubernetes version is a new cluster/);
    expect(fourth.stdout).toContain('version: live 1.33, config 1.34');
    expect(fourth.stdout).toContain(
      `::error file=${newVersion},line=6,col=12::cluster green: version is 1.33 on EKS, 1.34 here`,
    );
    expect(fourth.outputs.changed).toBe('false');
    expect(writeCalls()).toEqual([]);
  }, 120_000);

  it('dry run plans and writes nothing', async () => {
    sandbox.core.resetCalls();
    const run = await runAction(
      'create-cluster',
      inputs(configFile('dry'), { 'dry-run': 'true' }),
      sandbox.env,
    );
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.outputs.changed).toBe('false');
    expect(plan(run)[0]).toMatchObject({ resource: 'cluster', name: 'dry', action: 'create' });
    expect(run.outputs.kubeconfig).toBeUndefined();
    expect(writeCalls()).toEqual([]);
    expect(run.summary).toContain('dry run, nothing changed');
  });

  it('cancelled mid-wait, it reports what exists and fails; the next run completes', async () => {
    const config = configFile('blue');
    const started = startAction('create-cluster', inputs(config), sandbox.env);
    const deadline = Date.now() + 30_000;
    while (!started.stdout().includes('✓ create cluster blue') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    started.child.kill('SIGINT');
    const stopped = await started.done;
    expect(stopped.exitCode).toBe(1);
    expect(stopped.stdout).toContain(
      'Received SIGINT: stopping the waits and reporting what exists.',
    );
    expect(stopped.stdout).toMatch(
      /Stopped \(received SIGINT\)\. State now: cluster blue (CREATING|ACTIVE)/,
    );
    expect(stopped.summary).toContain('State now');

    sandbox.core.resetCalls();
    const again = await runAction('create-cluster', inputs(config), sandbox.env);
    expect(again.exitCode, again.stdout).toBe(0);
    expect(plan(again)[0]).toMatchObject({ resource: 'cluster', action: 'unchanged' });
    expect(sandbox.core.callCounts()['eks:CreateCluster']).toBeUndefined();
  }, 120_000);
});
