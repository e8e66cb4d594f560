import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { readRolloutInputs } from '../../../src/actions/rollout/inputs.js';
import { Inputs, Outputs } from '../../../src/actions/rollout/io.js';
import { commandEvent } from '../../../src/actions/rollout/main.js';
import type { GitHubEvent } from '../../../src/github/event.js';

function setInputs(inputs: Record<string, string>): void {
  for (const [name, value] of Object.entries(inputs))
    vi.stubEnv(`INPUT_${name.toUpperCase()}`, value);
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('action.yml (root)', () => {
  const action = parse(readFileSync('action.yml', 'utf8'));
  it('declares exactly the inputs and outputs the code reads and writes', () => {
    expect(Object.keys(action.inputs).sort()).toEqual(Object.values(Inputs).sort());
    expect(Object.keys(action.outputs).sort()).toEqual(Object.values(Outputs).sort());
  });
  it('runs the committed bundle on node24', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/rollout/index.js' });
  });
});

describe('rollout inputs', () => {
  const token = { 'github-token': 'ghs_secret' };

  it('reads apply with its defaults: rollouts/*.yaml, settle 10 s, CloudWatch 60 s / 60 s', () => {
    setInputs({ command: 'apply', ...token });
    const inputs = readRolloutInputs();
    expect(inputs).toMatchObject({
      command: 'apply',
      token: 'ghs_secret',
      force: false,
      autoAdvance: false,
      settleMs: 10_000,
      cloudWatchPeriodMs: 60_000,
      cloudWatchDelayMs: 60_000,
    });
    expect(inputs.files.matches('rollouts/web.yaml')).toBe(true);
  });

  it('does not wait to settle on rollback unless told to', () => {
    setInputs({ command: 'rollback', file: './rollouts/web.yaml', to: 'blue', ...token });
    expect(readRolloutInputs()).toMatchObject({
      settleMs: 0,
      file: 'rollouts/web.yaml',
      to: 'blue',
    });
    setInputs({ 'settle-seconds': '2' });
    expect(readRolloutInputs().settleMs).toBe(2000);
  });

  it.each([
    [
      { command: 'deploy' },
      'Input "command" must be one of plan, apply, rollback, advance, changed, got "deploy".',
    ],
    [
      { command: 'rollback', to: 'blue' },
      'Input "file" is required for rollback: the rollout file, e.g. rollouts/web.yaml.',
    ],
    [{ command: 'apply', to: 'blue' }, 'Input "to" is for rollback, not apply; remove it.'],
    [
      { command: 'plan', 'auto-advance': 'true' },
      'Input "auto-advance" is for apply, not plan; remove it.',
    ],
    [
      { command: 'plan', 'settle-seconds': '5' },
      'Input "settle-seconds" is for apply and rollback, not plan; remove it.',
    ],
    [
      { command: 'advance', file: 'rollouts/web.yaml', 'settle-seconds': '0' },
      'Input "settle-seconds" is for apply and rollback, not advance; remove it.',
    ],
    [
      { command: 'rollback', file: 'rollouts/web.yaml', to: 'blue', 'cloudwatch-period': '60s' },
      'Input "cloudwatch-period" is for plan, apply and advance, not rollback; remove it.',
    ],
    [
      { command: 'rollback', file: 'rollouts/web.yaml', to: 'blue', 'cloudwatch-delay': '60s' },
      'Input "cloudwatch-delay" is for plan, apply and advance, not rollback; remove it.',
    ],
    [{ command: 'apply', force: 'yes' }, 'Input "force" must be true or false, got "yes".'],
    [
      { command: 'apply', 'cloudwatch-period': 'a minute' },
      'Input "cloudwatch-period" must be a duration such as 0s, 30s, 1m or 1m30s, got "a minute".',
    ],
    [
      { command: 'apply', 'settle-seconds': '-1' },
      'Input "settle-seconds" must be an integer from 0 to 3600, got "-1".',
    ],
  ])('refuses %j', (inputs, message) => {
    setInputs({ ...token, ...inputs });
    expect(() => readRolloutInputs()).toThrow(message);
  });

  it('takes settle-seconds and the CloudWatch timing on apply', () => {
    setInputs({
      command: 'apply',
      'settle-seconds': '3',
      'cloudwatch-period': '1s',
      'cloudwatch-delay': '0s',
      ...token,
    });
    expect(readRolloutInputs()).toMatchObject({
      settleMs: 3_000,
      cloudWatchPeriodMs: 1_000,
      cloudWatchDelayMs: 0,
    });
  });

  it('takes the CloudWatch timing on plan and advance too, to judge the analysis as apply will', () => {
    const commands: Record<string, string>[] = [
      { command: 'plan' },
      { command: 'advance', file: 'rollouts/web.yaml' },
    ];
    for (const command of commands) {
      setInputs({ ...command, 'cloudwatch-period': '1s', 'cloudwatch-delay': '0s', ...token });
      expect(readRolloutInputs()).toMatchObject({
        cloudWatchPeriodMs: 1_000,
        cloudWatchDelayMs: 0,
      });
    }
  });

  it('locks by default, with a 15m wait; parallel defaults to 4', () => {
    setInputs({ command: 'apply', ...token });
    expect(readRolloutInputs()).toMatchObject({ parallel: 4, lockWaitMs: 900_000 });
    setInputs({ command: 'apply', parallel: '10', 'lock-timeout': '2m', ...token });
    expect(readRolloutInputs()).toMatchObject({ parallel: 10, lockWaitMs: 120_000 });
    vi.unstubAllEnvs();
    setInputs({ command: 'apply', lock: 'false', ...token });
    expect(readRolloutInputs().lockWaitMs).toBeUndefined();
  });

  it.each([
    [
      { command: 'apply', parallel: '0' },
      'Input "parallel" must be an integer from 1 to 20, got "0".',
    ],
    [{ command: 'plan', parallel: '2' }, 'Input "parallel" is for apply, not plan; remove it.'],
    [
      { command: 'apply', lock: 'false', 'lock-timeout': '1m' },
      'Input "lock-timeout" has no use with "lock: false"; remove one.',
    ],
  ])('refuses %j', (inputs, message) => {
    setInputs({ ...inputs, ...token });
    expect(() => readRolloutInputs()).toThrow(message);
  });

  // The runner passes an input's action.yml default as if it were written, so a default on an
  // input that some commands refuse would make those commands fail every time.
  it.each([
    ['plan', {}],
    ['apply', {}],
    ['rollback', { file: 'rollouts/web.yaml', to: 'blue' }],
    ['advance', { file: 'rollouts/web.yaml' }],
  ])('accepts %s with the defaults of action.yml', (command, inputs) => {
    const action = parse(readFileSync('action.yml', 'utf8')) as {
      inputs: Record<string, { default?: unknown }>;
    };
    for (const [name, spec] of Object.entries(action.inputs)) {
      if (spec.default !== undefined)
        vi.stubEnv(`INPUT_${name.toUpperCase()}`, String(spec.default));
    }
    setInputs({ command, ...token, ...inputs });
    expect(() => readRolloutInputs()).not.toThrow();
  });

  it('refuses an empty token', () => {
    setInputs({ command: 'plan' });
    expect(() => readRolloutInputs()).toThrow('Input "github-token" is empty');
  });
});

describe('which event runs which command', () => {
  const base = {
    name: 'push',
    repo: { owner: 'acme', repo: 'infra' },
    sha: 'a'.repeat(40),
    ref: 'refs/heads/main',
    runUrl: undefined,
    serverUrl: 'https://github.com',
  };
  const push: GitHubEvent = {
    ...base,
    kind: 'push',
    before: 'b'.repeat(40),
    after: 'c'.repeat(40),
    branch: 'main',
    defaultBranch: 'main',
    created: false,
    deleted: false,
    forced: false,
  };
  const dispatch: GitHubEvent = {
    ...base,
    name: 'workflow_dispatch',
    kind: 'workflow_dispatch',
    inputs: {},
  };

  it('plan needs a pull request', () => {
    expect(() => commandEvent('plan', push)).toThrow(
      'command "plan" runs on pull_request, but this job was started by "push".',
    );
  });
  it('apply takes the push as it is', () => {
    expect(commandEvent('apply', push)).toEqual({
      kind: 'push',
      before: 'b'.repeat(40),
      after: 'c'.repeat(40),
      branch: 'main',
      defaultBranch: 'main',
    });
  });
  it('rollback and advance run on the dispatched branch, or on the pushed commit', () => {
    expect(commandEvent('rollback', dispatch)).toEqual({
      kind: 'workflow_dispatch',
      sha: 'a'.repeat(40),
      branch: 'main',
      defaultBranch: 'main',
    });
    expect(commandEvent('advance', push)).toEqual({
      kind: 'workflow_dispatch',
      sha: 'c'.repeat(40),
      branch: 'main',
      defaultBranch: 'main',
    });
    expect(() => commandEvent('rollback', { ...dispatch, ref: 'refs/tags/v1' })).toThrow(
      'command "rollback" must run on a branch',
    );
  });
});
