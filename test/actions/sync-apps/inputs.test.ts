import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { readSyncAppsInputs } from '../../../src/actions/sync-apps/inputs.js';
import { Inputs, Outputs } from '../../../src/actions/sync-apps/io.js';
import { VALID } from '../../rollout-file/fixtures.js';

function setInputs(inputs: Record<string, string>): void {
  for (const [name, value] of Object.entries(inputs))
    vi.stubEnv(`INPUT_${name.replace(/ /g, '_').toUpperCase()}`, value);
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('sync-apps inputs', () => {
  it('action.yml declares exactly the inputs and outputs of io.ts', () => {
    const action = parse(readFileSync('actions/sync-apps/action.yml', 'utf8')) as {
      inputs: Record<string, unknown>;
      outputs: Record<string, unknown>;
      runs: { using: string; main: string };
    };
    expect(Object.keys(action.inputs).sort()).toEqual(Object.values(Inputs).sort());
    expect(Object.keys(action.outputs).sort()).toEqual(Object.values(Outputs).sort());
    expect(action.runs).toEqual({ using: 'node24', main: '../../dist/sync-apps/index.js' });
  });

  it('helmfile on an EKS cluster, with the rollout file and this cluster in it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sync-inputs-'));
    const file = join(dir, 'web.yaml');
    writeFileSync(file, VALID);
    setInputs({
      cluster: 'prod-1-32',
      helmfile: 'helmfile.yaml',
      environment: 'prod',
      selector: 'tier=web\n# not this\nname=api',
      'rollout-file': file,
      as: 'green',
      mode: 'diff',
      timeout: '15m',
    });
    const inputs = await readSyncAppsInputs({});
    expect(inputs.cluster).toEqual({ kind: 'eks', name: 'prod-1-32', region: 'ap-northeast-1' });
    expect(inputs.source).toEqual({
      tool: 'helmfile',
      file: 'helmfile.yaml',
      environment: 'prod',
      selectors: ['tier=web', 'name=api'],
    });
    expect(inputs.mode).toBe('diff');
    expect(inputs.timeoutMs).toBe(900_000);
    expect(inputs.rollout?.as).toBe('green');
  });

  it('helm with values files, on a kubeconfig; defaults apply and 10 minutes', async () => {
    setInputs({
      kubeconfig: '/tmp/k',
      chart: './chart',
      release: 'web',
      namespace: 'web',
      values: 'a.yaml\nb.yaml',
    });
    const inputs = await readSyncAppsInputs({});
    expect(inputs.cluster).toEqual({ kind: 'kubeconfig', path: '/tmp/k' });
    expect(inputs.source).toEqual({
      tool: 'helm',
      chart: './chart',
      release: 'web',
      namespace: 'web',
      valuesFiles: ['a.yaml', 'b.yaml'],
    });
    expect(inputs.mode).toBe('apply');
    expect(inputs.timeoutMs).toBe(600_000);
  });

  it.each([
    [{ helmfile: 'h.yaml' }, 'Give exactly one of inputs "cluster"'],
    [
      { cluster: 'c', kubeconfig: '/k', helmfile: 'h.yaml' },
      'Give exactly one of inputs "cluster"',
    ],
    [{ kubeconfig: '/k' }, 'Say what to deploy'],
    [
      { kubeconfig: '/k', helmfile: 'h.yaml', manifests: 'm' },
      'Give one of inputs "helmfile" and "manifests", not several',
    ],
    [{ kubeconfig: '/k', chart: 'c' }, 'Input "chart" needs "release" and "namespace" too.'],
    [
      { kubeconfig: '/k', helmfile: 'h.yaml', release: 'r' },
      'Input "release" does not apply to helmfile',
    ],
    [
      { kubeconfig: '/k', manifests: 'm', mode: 'sync' },
      'Input "mode" must be apply or diff, got "sync".',
    ],
    [{ kubeconfig: '/k', manifests: 'm', as: 'green' }, 'Input "as" needs "rollout-file".'],
    [
      { kubeconfig: '/k', manifests: 'm', 'rollout-file': 'x.yaml' },
      'Input "as" is required with "rollout-file"',
    ],
    [{ cluster: 'c', manifests: 'm' }, 'Input "region" is required with "cluster"'],
    [{ kubeconfig: '/k', manifests: 'm', timeout: 'soon' }, 'Input "timeout" must be a duration'],
  ])('refuses %j', async (inputs, message) => {
    setInputs(inputs as Record<string, string>);
    await expect(readSyncAppsInputs({})).rejects.toThrow(message);
  });

  it('refuses an "as" that is not a cluster of the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sync-inputs-'));
    const file = join(dir, 'web.yaml');
    writeFileSync(file, VALID);
    setInputs({ kubeconfig: '/k', manifests: 'm', 'rollout-file': file, as: 'gren' });
    await expect(readSyncAppsInputs({})).rejects.toThrow(
      'Input "as" is "gren", which is not a cluster of',
    );
  });
});
