import { describe, expect, it } from 'vitest';
import { evaluateTargetHealth } from '../../../src/health/checks/target-health.js';
import { BLUE, GREEN, fakeTargetHealth } from '../fixtures.js';

describe('targetHealth', () => {
  it('checks every target group that receives weight', async () => {
    const elbv2 = fakeTargetHealth({
      [GREEN.arn]: ['healthy', 'healthy'],
      [BLUE.arn]: ['healthy', 'unhealthy'],
    });
    const ms = await evaluateTargetHealth(
      { kind: 'targetHealth', minHealthy: 2, maxUnhealthy: 0 },
      [GREEN, BLUE],
      elbv2,
    );
    expect(ms.map((m) => [m.name, m.status, m.shown, m.reason])).toEqual([
      ['targetHealth of green', 'pass', '2 healthy, 0 unhealthy', undefined],
      ['targetHealth of blue', 'fail', '1 healthy, 1 unhealthy', '1 healthy < 2, 1 unhealthy > 0'],
    ]);
    expect(ms[0]!.threshold).toBe('≥ 2 healthy, ≤ 0 unhealthy');
  });

  it('counts initial and draining as neither healthy nor unhealthy, and unhealthy.draining as unhealthy', async () => {
    const elbv2 = fakeTargetHealth({
      [GREEN.arn]: ['healthy', 'initial', 'draining', 'unhealthy.draining', 'unused'],
    });
    const [m] = await evaluateTargetHealth(
      { kind: 'targetHealth', minHealthy: 1, maxUnhealthy: 1 },
      [GREEN],
      elbv2,
    );
    expect(m).toMatchObject({
      status: 'pass',
      value: 1,
      shown: '1 healthy, 1 unhealthy (1 initial, 1 draining, 1 other)',
    });
    expect(m!.details!.targets).toMatchObject({
      '10.0.0.2:8080': 'initial (Target.initial)',
      '10.0.0.4:8080': 'unhealthy.draining (Target.unhealthy.draining)',
    });
  });

  it('fails a target group with only initial targets: they take no traffic yet', async () => {
    const elbv2 = fakeTargetHealth({ [GREEN.arn]: ['initial', 'initial'] });
    const [m] = await evaluateTargetHealth(
      { kind: 'targetHealth', minHealthy: 1, maxUnhealthy: 0 },
      [GREEN],
      elbv2,
    );
    expect(m).toMatchObject({ status: 'fail', reason: '0 healthy < 1' });
  });
});
