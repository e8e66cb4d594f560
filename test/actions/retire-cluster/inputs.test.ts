import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { readRetireClusterInputs } from '../../../src/actions/retire-cluster/inputs.js';
import { Inputs, Outputs } from '../../../src/actions/retire-cluster/io.js';
import { VALID } from '../../rollout-file/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'ecc-rc-inputs-'));
const web = join(dir, 'web.yaml');
writeFileSync(web, VALID);
const api = join(dir, 'api.yaml');
writeFileSync(api, VALID.replace('name: web', 'name: api'));
const otherEks = join(dir, 'other.yaml');
writeFileSync(otherEks, VALID.replace('eks: prod-1-31', 'eks: prod-1-30'));

function setInputs(inputs: Record<string, string>): void {
  for (const [name, value] of Object.entries(inputs))
    vi.stubEnv(`INPUT_${name.replace(/ /g, '_').toUpperCase()}`, value);
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('retire-cluster inputs', () => {
  it('reads one rollout file and defaults the rest', async () => {
    setInputs({ 'rollout-file': web, as: 'blue' });
    const inputs = await readRetireClusterInputs();
    expect(inputs).toMatchObject({
      as: 'blue',
      region: 'ap-northeast-1',
      dryRun: false,
      timeoutMs: 30 * 60_000,
      pollMs: 15_000,
    });
    expect(inputs.files.map((f) => f.name)).toEqual(['web']);
  });

  it('reads several rollout files, one per line', async () => {
    setInputs({ 'rollout-file': `${web}\n${api}\n`, as: 'blue', region: 'eu-west-1' });
    const inputs = await readRetireClusterInputs();
    expect(inputs.files.map((f) => f.name)).toEqual(['web', 'api']);
    expect(inputs.region).toBe('eu-west-1');
  });

  it.each([
    [{ as: 'blue' }, /Input "rollout-file" is required/],
    [{ 'rollout-file': web }, /Input "as" is required/],
    [
      { 'rollout-file': web, as: 'prod-1-31' },
      /Input "as" is "prod-1-31", which is not a cluster of .*web\.yaml; its clusters are blue, green\./,
    ],
    [
      { 'rollout-file': `${web}\n${otherEks}`, as: 'blue' },
      /web\.yaml says blue is EKS cluster prod-1-31, .*other\.yaml says prod-1-30: give the files of one EKS cluster per run\./,
    ],
    [
      { 'rollout-file': web, as: 'blue', 'dry-run': 'yes' },
      /Input "dry-run" must be true or false/,
    ],
    [
      { 'rollout-file': web, as: 'blue', timeout: '1m', 'poll-interval': '2m' },
      /Input "poll-interval" must be shorter than "timeout"/,
    ],
  ])('refuses %j', async (inputs, message) => {
    setInputs(inputs as Record<string, string>);
    await expect(readRetireClusterInputs()).rejects.toThrow(message);
  });
});

describe('actions/retire-cluster/action.yml', () => {
  const action = parse(readFileSync('actions/retire-cluster/action.yml', 'utf8'));
  it('declares exactly the inputs and outputs the code reads and writes', () => {
    expect(Object.keys(action.inputs).sort()).toEqual(Object.values(Inputs).sort());
    expect(Object.keys(action.outputs).sort()).toEqual(Object.values(Outputs).sort());
  });

  it('runs the committed bundle on node24', () => {
    expect(action.runs).toEqual({ using: 'node24', main: '../../dist/retire-cluster/index.js' });
  });
});
