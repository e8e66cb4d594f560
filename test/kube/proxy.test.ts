import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kubeOnDemand, resourcePath, RESOURCES, startKubectlProxy } from '../../src/kube/proxy.js';

const dir = mkdtempSync(join(tmpdir(), 'proxy-test-'));

/** A stand-in for kubectl: a shell script. */
function fakeKubectl(name: string, script: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${script}\n`);
  chmodSync(path, 0o755);
  return path;
}

function processesWith(marker: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    });
}

const base = { kubeconfig: '/nowhere/kubeconfig', env: { PATH: process.env.PATH ?? '' } };

describe('startKubectlProxy', () => {
  it('a kubectl that exits before it listens is an error with its message', async () => {
    const kubectl = fakeKubectl(
      'exits',
      'echo "error: no context exists with the name: \\"prod\\"" >&2; exit 1',
    );
    await expect(startKubectlProxy({ ...base, kubectl, cluster: 'green' })).rejects.toThrow(
      'kubectl proxy exited (exit code 1) before it listened: error: no context exists with the name: "prod"',
    );
  });

  it('one that never listens is an error after the start timeout', async () => {
    const kubectl = fakeKubectl('silent', 'exec sleep 30');
    await expect(
      startKubectlProxy({ ...base, kubectl, cluster: 'green', startTimeoutMs: 300 }),
    ).rejects.toThrow('kubectl proxy did not start listening within 0.3 s');
  });

  it('stop ends a wrapper script and the kubectl it started, and removes the socket folder', async () => {
    const marker = `proxy-child-${process.pid}`;
    // A wrapper (as asdf or mise shims are) whose child would outlive a signal to the wrapper.
    const kubectl = fakeKubectl(
      'wrapper',
      `sh -c 'echo "Starting to serve on $5"; sleep 300; :' ${marker} "$@" &\nwait`,
    );
    const proxy = await startKubectlProxy({ ...base, kubectl, cluster: 'green' });
    expect(processesWith(marker).length).toBeGreaterThan(0);
    const args = readFileSync(`/proc/${processesWith(marker)[0]}/cmdline`, 'utf8').split('\0');
    const socket = args[args.indexOf('--unix-socket') + 1] as string;
    expect(existsSync(dirname(socket))).toBe(true);
    await proxy.stop();
    await proxy.stop(); // a second stop is harmless
    expect(processesWith(marker)).toEqual([]);
    expect(existsSync(dirname(socket))).toBe(false);
  });
});

describe('kubeOnDemand', () => {
  it('starts on the first request, only once, and a failed start is told to each caller', async () => {
    let starts = 0;
    const failing = kubeOnDemand(async () => {
      starts++;
      throw new Error('kubectl was not found on PATH');
    });
    expect(starts).toBe(0);
    await expect(failing.client()).rejects.toThrow('kubectl was not found on PATH');
    await expect(failing.client()).rejects.toThrow('kubectl was not found on PATH');
    expect(starts).toBe(1);
    await failing.stop();
  });
});

describe('resourcePath', () => {
  it('builds core and group paths, namespaced or not', () => {
    expect(resourcePath(RESOURCES.Service, 'web', 'api')).toBe(
      '/api/v1/namespaces/web/services/api',
    );
    expect(resourcePath(RESOURCES.Deployment)).toBe('/apis/apps/v1/deployments');
    expect(resourcePath(RESOURCES.TargetGroupBinding, 'web')).toBe(
      '/apis/elbv2.k8s.aws/v1beta1/namespaces/web/targetgroupbindings',
    );
  });
});
