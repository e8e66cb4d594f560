/**
 * The EKS token file sync-apps' tools read (kubeconfig `tokenFile`): its mode, its refresh, its
 * removal; and, with the built helm against a sandbox cluster that runs real Kubernetes, that a
 * helm --wait longer than a token's life keeps working because client-go re-reads the file.
 */
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../sandbox/index.js';
import { describeClusterAccess } from '../../src/eks/describe.js';
import { buildKubeconfig } from '../../src/eks/kubeconfig.js';
import { startTokenFile } from '../../src/eks/token-file.js';
import { TOKEN_LIFETIME_MS, mintEksToken } from '../../src/eks/token.js';
import {
  createCluster,
  eksClient,
  run,
  skipReason,
  startKubeSandbox,
} from '../sandbox/kube-fixture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('startTokenFile', () => {
  it('writes the token with mode 0600, rewrites it on each refresh, keeps the last one when a refresh fails, and removes it on stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'token-file-'));
    const path = join(dir, 'eks-token');
    let n = 0;
    const errors: unknown[] = [];
    const file = await startTokenFile({
      path,
      refreshMs: 40,
      mint: async () => {
        n++;
        if (n === 3) throw new Error('credentials expired');
        return { token: `k8s-aws-v1.token-${n}`, expiresAt: new Date() };
      },
      onRefreshError: (e) => errors.push(e),
    });
    expect(readFileSync(path, 'utf8')).toBe('k8s-aws-v1.token-1');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await sleep(60);
    expect(readFileSync(path, 'utf8')).toBe('k8s-aws-v1.token-2');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await sleep(40);
    expect(errors.map((e) => (e as Error).message)).toEqual(['credentials expired']);
    expect(readFileSync(path, 'utf8')).toBe('k8s-aws-v1.token-2');
    await file.stop();
    expect(existsSync(path)).toBe(false);
    const minted = n;
    await sleep(100);
    expect(n).toBe(minted);
    expect(existsSync(path)).toBe(false);
  });

  it('writes nothing when the first mint fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'token-file-'));
    const path = join(dir, 'eks-token');
    await expect(
      startTokenFile({
        path,
        mint: () => Promise.reject(new Error('no credentials')),
      }),
    ).rejects.toThrow('no credentials');
    expect(existsSync(path)).toBe(false);
  });
});

describe.skipIf(skipReason)('a token file with helm on a sandbox cluster', () => {
  let sandbox: Sandbox;
  let dir: string;

  beforeAll(async () => {
    sandbox = await startKubeSandbox();
    const eks = eksClient(sandbox);
    await createCluster(sandbox, eks, 'prod-green');
    eks.destroy();
    dir = mkdtempSync(join(tmpdir(), 'token-file-kube-'));
  }, 180_000);

  afterAll(async () => {
    await sandbox?.close();
  }, 60_000);

  it('a helm --wait that outlives the first token keeps working: client-go re-reads the refreshed file', async () => {
    // Tokens EKS (the sandbox's authenticator) accepts for 70 s; a release that needs ~85 s.
    const lifetimeMs = 70_000;
    const eks = eksClient(sandbox);
    const access = await describeClusterAccess(eks, 'prod-green');
    const credentials = await eks.config.credentials();
    eks.destroy();
    const minted: number[] = [];
    const tokens = await startTokenFile({
      path: join(dir, 'eks-token'),
      refreshMs: 10_000,
      mint: () => {
        minted.push(Date.now());
        return mintEksToken({
          clusterName: 'prod-green',
          region: sandbox.region,
          credentials,
          now: new Date(Date.now() - TOKEN_LIFETIME_MS + lifetimeMs),
        });
      },
    });
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      buildKubeconfig({
        clusterName: 'prod-green',
        region: sandbox.region,
        endpoint: access.endpoint,
        certificateAuthorityData: access.certificateAuthorityData,
        tokenFile: tokens.path,
      }),
      { mode: 0o600 },
    );
    expect(readFileSync(kubeconfig, 'utf8')).not.toContain('k8s-aws-v1.');
    const values = join(dir, 'slow.yaml');
    writeFileSync(
      values,
      'version: slow\nreplicas: 1\ncronJob: { enabled: false }\nreadiness: { initialDelaySeconds: 85 }\n',
    );
    const started = Date.now();
    try {
      const r = await run(
        'helm',
        [
          'upgrade',
          '--install',
          'slow',
          resolve('sandbox/charts/demo-app'),
          '--namespace',
          'slow',
          '--create-namespace',
          '--values',
          values,
          '--wait',
          '--timeout',
          '110s',
          '--kubeconfig',
          kubeconfig,
        ],
        { sandbox, env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } },
      );
      expect(r.code, r.stderr).toBe(0);
      // It ran past the first token's life on one client, which only the refreshed file explains.
      expect(Date.now() - started).toBeGreaterThan(lifetimeMs + 5_000);
      expect(minted.length).toBeGreaterThanOrEqual(8);
    } finally {
      await tokens.stop();
    }
    expect(existsSync(tokens.path)).toBe(false);
  }, 200_000);
});
