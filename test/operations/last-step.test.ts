/** The verdicts the operations record, from what a restore or a handoff reports. */
import { describe, expect, it } from 'vitest';
import type { HandoffResult } from '../../src/kube/handoff.js';
import {
  firstLine,
  handoffStep,
  recordedBy,
  restoreVerdict,
} from '../../src/operations/last-step.js';

const notRestored = (state: 'changed' | 'unknown') => ({
  arn: 'arn',
  reason: 'r',
  state,
  previous: {},
  command: 'aws elbv2 …',
});

describe('last-step verdicts', () => {
  it('says what a failed restore left, route states counted', () => {
    expect(restoreVerdict([])).toEqual({ verdict: 'rolled-back' });
    expect(
      restoreVerdict([notRestored('changed'), notRestored('unknown'), notRestored('changed')]),
    ).toEqual({ verdict: 'not-restored', left: 'changed:2+unknown:1' });
    expect(restoreVerdict([notRestored('unknown')])).toEqual({
      verdict: 'not-restored',
      left: 'unknown:1',
    });
  });

  it('maps a handoff to a verdict, the unsafe state named', () => {
    const result = (status: HandoffResult['status'], state: HandoffResult['state']) =>
      ({
        from: 'blue',
        to: 'green',
        status,
        state,
        message: `first line\nsecond`,
        objects: [],
        drainMs: 0,
        totalMs: 0,
      }) as HandoffResult;
    expect(handoffStep(result('handed-off', 'new-owner-live'), 'passed')).toEqual({
      owner: 'green',
      from: 'blue',
      why: 'first line',
      verdict: 'passed',
    });
    expect(handoffStep(result('handed-off', 'new-owner-live'), 'done')?.verdict).toBe('done');
    expect(handoffStep(result('restored', 'old-owner-live'), 'passed')?.verdict).toBe(
      'rolled-back',
    );
    expect(handoffStep(result('failed', 'unsafe'), 'passed')).toMatchObject({
      verdict: 'not-restored',
      left: 'unsafe',
    });
    expect(handoffStep(result('unchanged', 'new-owner-live'), 'passed')).toBeUndefined();
  });

  it('names who ran the step: the run, else the caller', () => {
    const base = { settleMs: 0, cloudWatchPeriodMs: 1000, cloudWatchDelayMs: 0 };
    expect(recordedBy({ ...base, runUrl: 'https://x/runs/1', actor: 'cli:a@b' })).toBe(
      'https://x/runs/1',
    );
    expect(recordedBy({ ...base, actor: 'cli:a@b' })).toBe('cli:a@b');
    expect(recordedBy(base)).toBe('unknown');
    expect(firstLine('a\nb')).toBe('a');
  });
});
