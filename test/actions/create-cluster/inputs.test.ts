import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { readCreateClusterInputs } from '../../../src/actions/create-cluster/inputs.js';
import { Inputs, Outputs } from '../../../src/actions/create-cluster/io.js';
import { sandboxClusterConfig } from '../../eks/sandbox-config.js';

const dir = mkdtempSync(join(tmpdir(), 'ecc-cc-inputs-'));
const config = join(dir, 'green.yaml');
writeFileSync(config, sandboxClusterConfig());

function setInputs(inputs: Record<string, string>): void {
  for (const [name, value] of Object.entries(inputs))
    vi.stubEnv(`INPUT_${name.toUpperCase()}`, value);
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('create-cluster inputs', () => {
  it('reads the config and defaults the rest', async () => {
    setInputs({ config });
    const inputs = await readCreateClusterInputs({ RUNNER_TEMP: '/runner/tmp' });
    expect(inputs).toMatchObject({
      dryRun: false,
      timeoutMs: 45 * 60_000,
      pollMs: 15_000,
      kubeconfigPath: '/runner/tmp/kubeconfig-green',
    });
    expect(inputs.config.name).toBe('green');
  });

  it.each([
    [{}, /Input "config" is required/],
    [{ config: join(dir, 'missing.yaml') }, /ClusterConfig ".*missing\.yaml" does not exist/],
    [{ config, 'dry-run': 'yes' }, /Input "dry-run" must be true or false, got "yes"/],
    [
      { config, timeout: '45' },
      /Input "timeout" must be a duration such as 0s, 30s, 1m or 1m30s, got "45"/,
    ],
    [{ config, 'poll-interval': '10m' }, /Input "poll-interval" must be from 100ms to 5m/],
    [
      { config, timeout: '1m', 'poll-interval': '2m' },
      /Input "poll-interval" must be shorter than "timeout"/,
    ],
  ])('refuses %j', async (inputs, message) => {
    setInputs(inputs as Record<string, string>);
    await expect(readCreateClusterInputs({})).rejects.toThrow(message);
  });
});

describe('actions/create-cluster/action.yml', () => {
  const action = parse(readFileSync('actions/create-cluster/action.yml', 'utf8'));
  it('declares exactly the inputs and outputs the code reads and writes', () => {
    expect(Object.keys(action.inputs).sort()).toEqual(Object.values(Inputs).sort());
    expect(Object.keys(action.outputs).sort()).toEqual(Object.values(Outputs).sort());
  });
  it('runs the committed bundle on node24', () => {
    expect(action.runs).toEqual({ using: 'node24', main: '../../dist/create-cluster/index.js' });
  });
});
