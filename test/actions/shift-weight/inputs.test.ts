import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { readShiftWeightInputs } from '../../../src/actions/shift-weight/inputs.js';
import { Inputs, Outputs } from '../../../src/actions/shift-weight/io.js';
import { VERSION } from '../../../src/common/version.js';
import { LISTENER, RULE, TG_BLUE, TG_GREEN } from '../../fakes/fake-alb.js';

function setInputs(inputs: Record<string, string>): void {
  for (const [name, value] of Object.entries(inputs))
    vi.stubEnv(`INPUT_${name.toUpperCase()}`, value);
}

afterEach(() => {
  vi.unstubAllEnvs();
});

const base = {
  routes: `${LISTENER}\n${RULE}`,
  weights: `${TG_BLUE}=90\n${TG_GREEN}=10`,
  region: 'ap-northeast-1',
};

describe('shift-weight inputs', () => {
  it('reads routes and weights, telling listeners from rules by their ARN', async () => {
    setInputs({
      ...base,
      'max-step': '25',
      'dry-run': 'true',
      'settle-seconds': '3',
      expect: `${TG_BLUE}=100\n${TG_GREEN}=0`,
    });
    const inputs = await readShiftWeightInputs();
    expect(inputs.region).toBe('ap-northeast-1');
    expect(inputs.shift).toEqual({
      routes: [
        { kind: 'listener', arn: LISTENER },
        { kind: 'rule', arn: RULE },
      ],
      desired: { [TG_BLUE]: 90, [TG_GREEN]: 10 },
      expect: { [TG_BLUE]: 100, [TG_GREEN]: 0 },
      maxStep: 25,
      dryRun: true,
      settleMs: 3000,
    });
  });

  it('defaults settle to 10 s, no dry run, and the region to AWS_REGION; ignores comments and blank lines', async () => {
    setInputs({
      routes: `# the public listener\n${LISTENER}\n\n`,
      weights: `${TG_BLUE}=1  # blue\n${TG_GREEN}=0`,
    });
    vi.stubEnv('AWS_REGION', 'ap-northeast-1');
    const inputs = await readShiftWeightInputs();
    expect(inputs.shift.settleMs).toBe(10_000);
    expect(inputs.shift.dryRun).toBe(false);
    expect(inputs.shift.routes).toEqual([{ kind: 'listener', arn: LISTENER }]);
  });

  const WRONG_REGION_TG = TG_GREEN.replace('ap-northeast-1', 'us-east-1');
  it.each([
    ['no inputs at all', {}, 'Give "file" (a rollout file), or both "routes"'],
    [
      'routes without weights',
      { routes: LISTENER, region: 'ap-northeast-1' },
      'Give "file" (a rollout file), or both',
    ],
    [
      'no region anywhere',
      { routes: LISTENER, weights: `${TG_BLUE}=1` },
      'No region: set input "region" or AWS_REGION',
    ],
    [
      'a weight line without =',
      { ...base, weights: `${TG_BLUE} 90` },
      'Input "weights" line 1: expected <target-group-arn>=<weight>',
    ],
    [
      'a weight that is not an integer',
      { ...base, weights: `${TG_BLUE}=12.5` },
      'Input "weights" line 1: the weight must be an integer from 0 to 999, got "12.5".',
    ],
    [
      'a weight above the ALB maximum',
      { ...base, weights: `${TG_BLUE}=1000` },
      'the weight must be an integer from 0 to 999, got "1000"',
    ],
    ['a negative weight', { ...base, weights: `${TG_BLUE}=-1` }, 'got "-1"'],
    [
      'all weights zero',
      { ...base, weights: `${TG_BLUE}=0\n${TG_GREEN}=0` },
      'every weight is 0, which would send traffic nowhere',
    ],
    [
      'a target group listed twice',
      { ...base, weights: `${TG_BLUE}=50\n${TG_BLUE}=50` },
      'Input "weights" line 2: target group',
    ],
    [
      'a malformed target group ARN',
      { ...base, weights: `web-blue=100` },
      'Input "weights" line 1: "web-blue" is not an Elastic Load Balancing ARN',
    ],
    [
      'a listener ARN where a target group belongs',
      { ...base, weights: `${LISTENER}=100` },
      'is a listener ARN; expected arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/',
    ],
    [
      'a target group in another region',
      { ...base, weights: `${TG_BLUE}=50\n${WRONG_REGION_TG}=50` },
      'Input "weights" line 2: target group',
    ],
    [
      'a route that is a target group',
      { ...base, routes: TG_BLUE },
      'Input "routes" line 1: "' + TG_BLUE + '" is a targetgroup ARN',
    ],
    [
      'a route in another region',
      { ...base, routes: LISTENER.replace('ap-northeast-1', 'eu-west-1') },
      'is in eu-west-1, but the region is ap-northeast-1',
    ],
    [
      'a route listed twice',
      { ...base, routes: `${LISTENER}\n${LISTENER}` },
      'Input "routes" line 2:',
    ],
    [
      'max-step not a number',
      { ...base, 'max-step': 'ten' },
      'Input "max-step" must be an integer from 0 to 999, got "ten".',
    ],
    [
      'settle-seconds too large',
      { ...base, 'settle-seconds': '7200' },
      'Input "settle-seconds" must be an integer from 0 to 3600, got "7200".',
    ],
    [
      'dry-run not a boolean',
      { ...base, 'dry-run': 'yes' },
      'Input "dry-run" must be true or false, got "yes".',
    ],
    [
      'expect naming other target groups',
      { ...base, expect: `${TG_BLUE}=100` },
      'Input "expect" must name the same target groups as the desired weights',
    ],
    [
      'expect with a bad weight',
      { ...base, expect: `${TG_BLUE}=x\n${TG_GREEN}=0` },
      'Input "expect" line 1: the weight must be an integer',
    ],
    [
      'file together with routes',
      { file: 'rollouts/web.yaml', routes: LISTENER },
      'Give either "file" or "routes" with "weights", not both',
    ],
    [
      'six target groups',
      {
        ...base,
        weights: [0, 1, 2, 3, 4, 5]
          .map((i) => `${TG_BLUE.replace('web-blue', `tg${i}`)}=10`)
          .join('\n'),
      },
      'lists 6 target groups; an ALB forward action holds at most 5',
    ],
  ])('rejects %s with a message naming the input', async (_name, inputs, message) => {
    setInputs(inputs as Record<string, string>);
    await expect(readShiftWeightInputs({})).rejects.toThrow(message);
  });
});

describe('actions/shift-weight/action.yml', () => {
  const action = parse(readFileSync('actions/shift-weight/action.yml', 'utf8'));
  it('declares exactly the inputs and outputs the code reads and writes', () => {
    expect(Object.keys(action.inputs).sort()).toEqual(Object.values(Inputs).sort());
    expect(Object.keys(action.outputs).sort()).toEqual(Object.values(Outputs).sort());
  });
  it('runs the committed bundle on node24', () => {
    expect(action.runs).toEqual({ using: 'node24', main: '../../dist/shift-weight/index.js' });
  });
  it('is versioned with package.json', () => {
    expect(VERSION).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });
});
