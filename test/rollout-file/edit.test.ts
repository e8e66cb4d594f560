import { describe, expect, it } from 'vitest';
import { setWeights } from '../../src/rollout-file/edit.js';
import { parseRolloutFile } from '../../src/rollout-file/index.js';
import { VALID } from './fixtures.js';

describe('setWeights', () => {
  it('changes only the numbers of a flow map, keeping every other byte', () => {
    const out = setWeights(VALID, 'web.yaml', { blue: 75, green: 25 });
    expect(out).toBe(
      VALID.replace('weights: { blue: 90, green: 10 }', 'weights: { blue: 75, green: 25 }'),
    );
    expect(parseRolloutFile(out, 'web.yaml').weights).toEqual({ blue: 75, green: 25 });
  });

  it('keeps comments and layout of a block map, including a comment after a value', () => {
    const text = VALID.replace(
      'weights: { blue: 90, green: 10 }\n',
      '# the desired state\nweights:\n  blue: 90   # old cluster\n  green: 10  # canary, see runbook\n',
    );
    const out = setWeights(text, 'web.yaml', { blue: 100, green: 0 });
    expect(out).toContain(
      '# the desired state\nweights:\n  blue: 100   # old cluster\n  green: 0  # canary, see runbook\n',
    );
    expect(out.replace('blue: 100 ', 'blue: 90 ').replace('green: 0 ', 'green: 10 ')).toBe(text);
  });

  it('refuses a weight that is not written as a plain value in the file', () => {
    const text = VALID.replace(
      'weights: { blue: 90, green: 10 }',
      'n: &n 10\nweights: { blue: 90, green: *n }',
    );
    expect(() => setWeights(text, 'web.yaml', { blue: 75, green: 25 })).toThrow(
      'web.yaml cannot be edited: weights.green is not a plain number in the file (an alias or missing)',
    );
  });
});
