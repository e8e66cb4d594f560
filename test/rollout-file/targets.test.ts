import { describe, expect, it } from 'vitest';
import { targetsFromRolloutFile } from '../../src/rollout-file/targets.js';
import type { RolloutFile } from '../../src/rollout-file/types.js';
import { BLUE, GREEN } from '../health/fixtures.js';

const OTHER =
  'arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web-other/1111111111111111';

function file(weights: Record<string, number>): RolloutFile {
  return {
    path: 'rollouts/web.yaml',
    version: 1,
    name: 'web',
    region: 'ap-northeast-1',
    clusters: [
      { name: 'blue', eks: 'prod-1-31', targetGroup: BLUE.arn },
      { name: 'green', eks: 'prod-1-32', targetGroup: GREEN.arn },
      { name: 'other', eks: 'prod-1-33', targetGroup: OTHER },
    ],
    routes: [],
    weights,
    canary: 'green',
    steps: [10, 50, 100],
    owner: 'blue',
    analysis: { warmupMs: 0, intervalMs: 60_000, durationMs: 60_000, failureLimit: 0, checks: [] },
    locate: () => ({ line: 1, col: 1 }),
  };
}

describe('targetsFromRolloutFile', () => {
  it('takes the canary, the heaviest other cluster as baseline, and every cluster with weight', () => {
    const spec = targetsFromRolloutFile(file({ blue: 20, green: 10, other: 70 }));
    expect(spec.canary).toEqual({ label: 'green', arn: GREEN.arn, eks: 'prod-1-32' });
    expect(spec.baseline?.label).toBe('other');
    expect(spec.weighted.map((t) => t.label)).toEqual(['green', 'blue', 'other']);
  });

  it('has no baseline when the canary takes all traffic', () => {
    const spec = targetsFromRolloutFile(file({ blue: 0, green: 100, other: 0 }));
    expect(spec.baseline).toBeUndefined();
    expect(spec.weighted.map((t) => t.label)).toEqual(['green']);
  });
});
