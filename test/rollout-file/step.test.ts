import { describe, expect, it } from 'vitest';
import { parseRolloutFile } from '../../src/rollout-file/index.js';
import { checkFileStep, checkStep, moveCanary, nextStep } from '../../src/rollout-file/step.js';
import { edit } from './fixtures.js';

const STEPS = [10, 25, 50, 100];
const check = (from: number, to: number, force = false) =>
  checkStep('green', STEPS, from, to, force, 'rollout/force');

describe('the step rule', () => {
  it('allows one step forward', () => {
    expect(check(10, 25)).toMatchObject({
      direction: 'forward',
      allowed: true,
      forced: false,
      limit: 25,
      message: 'green 10 → 25: one step forward.',
    });
    expect(check(0, 10)).toMatchObject({ allowed: true, limit: 10 });
  });

  it('allows a smaller move within the next step', () => {
    expect(check(10, 20)).toMatchObject({
      allowed: true,
      message: 'green 10 → 20: forward, within the next step (25).',
    });
  });

  it('refuses two steps at once and says what to do', () => {
    const d = check(10, 50);
    expect(d.allowed).toBe(false);
    expect(d.message).toBe(
      'green 10 → 50 is too large a step: one merge may raise green only to 25, the next entry of steps [10, 25, 50, 100] after 10. ' +
        'Set green to 25 in this PR and take the next step in another, or add the label rollout/force to the PR if this jump is intended.',
    );
  });

  it('counts the next step from a weight between steps', () => {
    expect(check(30, 50).allowed).toBe(true);
    expect(check(30, 100).allowed).toBe(false);
  });

  it('refuses any rise beyond the last step', () => {
    const d = checkStep('green', [10, 50], 50, 60, false, 'rollout/force');
    expect(d.allowed).toBe(false);
    expect(d.message).toContain('50 is at or above the last entry of steps (50)');
  });

  it('always allows moving back toward the baseline, however far', () => {
    expect(check(100, 0)).toMatchObject({
      direction: 'backward',
      allowed: true,
      message: 'green 100 → 0: back toward the baseline, which is always allowed.',
    });
  });

  it('lets the force label through a large step, and says so', () => {
    expect(check(0, 100, true)).toMatchObject({ allowed: true, forced: true });
    expect(check(0, 100, true).message).toContain('allowed by the label rollout/force');
  });

  it('treats no change as no step', () => {
    expect(check(25, 25)).toMatchObject({ direction: 'same', allowed: true });
  });
});

describe('the next step', () => {
  it('moves the canary to the next entry, taking the weight from the baseline', () => {
    const file = parseRolloutFile(
      edit(['weights: { blue: 90, green: 10 }', 'weights: { blue: 90, green: 10 }']),
      'web.yaml',
    );
    expect(nextStep(file)).toEqual({
      from: 10,
      to: 25,
      index: 1,
      weights: { blue: 75, green: 25 },
    });
  });

  it('is undefined at the last step', () => {
    const file = parseRolloutFile(
      edit(['weights: { blue: 90, green: 10 }', 'weights: { blue: 0, green: 100 }']),
      'web.yaml',
    );
    expect(nextStep(file)).toBeUndefined();
  });

  it('with three clusters takes from the one with the most weight first', () => {
    const file = parseRolloutFile(
      edit(
        [
          '  green:\n',
          '  red:\n    eks: prod-1-30\n    targetGroup: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web-red/1111111111111111\n  green:\n',
        ],
        ['weights: { blue: 90, green: 10 }', 'weights: { blue: 20, red: 70, green: 10 }'],
      ),
      'web.yaml',
    );
    expect(moveCanary(file, 50)).toEqual({ blue: 20, red: 30, green: 50 });
    expect(moveCanary(file, 85)).toEqual({ blue: 15, red: 0, green: 85 });
    expect(moveCanary(file, 0)).toEqual({ blue: 20, red: 80, green: 0 });
  });
});

describe('the step rule across a change of the file', () => {
  const file = (...edits: [string, string][]) => parseRolloutFile(edit(...edits), 'web.yaml');
  const base = file();
  const W = 'weights: { blue: 90, green: 10 }';

  it('judges the step by the base file: one step forward passes', () => {
    const head = file([W, 'weights: { blue: 75, green: 25 }']);
    expect(checkFileStep(base, head, base.weights, false, 'rollout/force')).toMatchObject({
      allowed: true,
      message: 'green 10 → 25: one step forward.',
    });
  });

  it('refuses a PR that renames the canary together with the weights, which would make a jump look like a step back', () => {
    const head = file([W, 'weights: { blue: 10, green: 90 }'], ['canary: green', 'canary: blue']);
    const decision = checkFileStep(base, head, base.weights, false, 'rollout/force');
    expect(decision.allowed).toBe(false);
    expect(decision.message).toBe(
      'The PR changes canary (green → blue) together with the weights, so the one-step rule cannot be judged. ' +
        'Change canary (green → blue) in a PR of its own that moves no traffic, then step the weights, or add the label rollout/force if this is intended.',
    );
  });

  it('refuses a PR that rewrites steps together with the weights', () => {
    const head = file(
      [W, 'weights: { blue: 10, green: 90 }'],
      ['steps: [10, 25, 50, 100]', 'steps: [10, 90, 100]'],
    );
    const decision = checkFileStep(base, head, base.weights, false, 'rollout/force');
    expect(decision.allowed).toBe(false);
    expect(decision.message).toContain('steps ([10, 25, 50, 100] → [10, 90, 100])');
    expect(checkFileStep(base, head, base.weights, true, 'rollout/force')).toMatchObject({
      allowed: true,
      forced: true,
    });
  });

  it('lets canary or steps change alone, in a PR that moves no traffic', () => {
    const head = file(['steps: [10, 25, 50, 100]', 'steps: [5, 10, 25, 50, 100]']);
    expect(checkFileStep(base, head, base.weights, false, 'rollout/force').allowed).toBe(true);
  });
});
