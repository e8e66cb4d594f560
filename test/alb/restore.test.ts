import { describe, expect, it } from 'vitest';
import { ModifyListenerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { MemoryLogger } from '../../src/common/logger.js';
import type { Clock } from '../../src/common/clock.js';
import { createCancelBudget } from '../../src/common/cancel.js';
import { recoveryCommand, restoreRoutes, type RestoreDeps } from '../../src/alb/restore.js';
import type { LiveRoute } from '../../src/alb/forward.js';
import { FakeAlb, LISTENER, RULE, TG_BLUE, TG_GREEN, forward } from '../fakes/fake-alb.js';

const OLD = { [TG_BLUE]: 90, [TG_GREEN]: 10 };
const NEW = { [TG_BLUE]: 75, [TG_GREEN]: 25 };
const TGS = [TG_BLUE, TG_GREEN];

/** A clock whose sleeps pass at once but move its time on; `onSleep` runs at each. */
function steppingClock(onSleep: (n: number) => void = () => undefined): Clock {
  let now = Date.parse('2026-11-30T18:00:00.000Z');
  let n = 0;
  return {
    now: () => new Date(now),
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      now += ms;
      onSleep(++n);
    },
  };
}

function live(arn: string, kind: 'listener' | 'rule' = 'listener'): LiveRoute {
  return { ref: { kind, arn }, actions: [forward(OLD)], weights: OLD };
}

function deps(alb: FakeAlb, clock = steppingClock()): RestoreDeps & { logger: MemoryLogger } {
  return { client: alb.client, logger: new MemoryLogger(), clock, readBackDelayMs: 0 };
}

describe('restoreRoutes', () => {
  it('writes every route back and confirms it by read-back', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward(NEW)]).addRule(RULE, [forward(NEW)]);
    const d = deps(alb);
    const report = await restoreRoutes(d, [live(LISTENER), live(RULE, 'rule')], TGS);
    expect(report).toEqual({ restored: [RULE, LISTENER], notRestored: [] });
    expect(alb.weightsOf(LISTENER)).toEqual(OLD);
    expect(alb.weightsOf(RULE)).toEqual(OLD);
    expect(d.logger.text()).toContain(
      'listener web listener 522ab2: restored to web-blue=90, web-green=10 (confirmed)',
    );
  });

  it('looks first at a route whose own write may never have landed, and leaves it alone', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward(OLD)]);
    const d = deps(alb);
    const report = await restoreRoutes(d, [live(LISTENER)], TGS, {
      uncertain: new Set([LISTENER]),
    });
    expect(report.restored).toEqual([LISTENER]);
    expect(alb.modifyCalls()).toBe(0);
    expect(d.logger.text()).toContain('its write never landed (confirmed)');
  });

  it('after an abandoned write, catches it landing late and restores the route again', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward(OLD)]);
    // The abandoned write lands during the watch, after the restore was confirmed.
    const clock = steppingClock((n) => {
      if (n === 2) alb.listeners.set(LISTENER, [forward(NEW)]);
    });
    const d = deps(alb, clock);
    const report = await restoreRoutes(d, [live(LISTENER)], TGS, {
      uncertain: new Set([LISTENER]),
      abandonedWrite: true,
    });
    expect(d.logger.text()).toContain(
      'A write was abandoned in flight and may still land: watching the restored routes for 2.0 s.',
    );
    expect(d.logger.text()).toContain(
      'listener web listener 522ab2: a late write landed (web-blue=75, web-green=25); restoring it again.',
    );
    expect(report.restored).toEqual([LISTENER]);
    expect(report.heldMs).toBe(2_000);
    expect(alb.weightsOf(LISTENER)).toEqual(OLD);
  });

  it('writes again when the read-back shows other weights (a late write landed in between)', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward(NEW)]);
    let reads = 0;
    alb.readFilter = (_arn, actions) => (++reads === 1 ? [forward(NEW)] : actions);
    const d = deps(alb);
    d.readBackAttempts = 1;
    const report = await restoreRoutes(d, [live(LISTENER)], TGS);
    expect(report.restored).toEqual([LISTENER]);
    expect(d.logger.text()).toContain('(confirmed) after 2 writes');
  });

  it('names a route AWS refuses to write back as left changed, at the weights read, with the command', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward(NEW)]);
    alb.beforeWrite = () => {
      throw Object.assign(new Error('User is not authorized'), { name: 'AccessDenied' });
    };
    const report = await restoreRoutes(deps(alb), [live(LISTENER)], TGS);
    expect(report.restored).toEqual([]);
    expect(report.notRestored).toEqual([
      {
        arn: LISTENER,
        state: 'changed',
        seen: NEW,
        previous: OLD,
        reason: expect.stringContaining('AccessDenied: User is not authorized'),
        command: recoveryCommand(live(LISTENER)),
      },
    ]);
  });

  it('says "unknown, could not be read" — not "not restored" — when the route cannot be read back', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward(NEW)]);
    alb.readFilter = () => {
      throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: {} });
    };
    const d = deps(alb);
    const report = await restoreRoutes(d, [live(LISTENER)], TGS);
    expect(report.notRestored).toMatchObject([
      {
        arn: LISTENER,
        state: 'unknown',
        reason:
          'AWS accepted the restore, but it could not be read back: Throttling: Rate exceeded',
      },
    ]);
    // It is in fact back: the message must not claim it is not.
    expect(alb.weightsOf(LISTENER)).toEqual(OLD);
    expect(d.logger.text()).toContain('state unknown, could not be read');
    expect(d.logger.text()).not.toContain('NOT restored');
  });

  it('stops at the deadline of a cancelled job, however long the calls take', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward(NEW)]);
    // Every write stalls forever.
    alb.mock.on(ModifyListenerCommand).callsFake(() => new Promise(() => undefined));
    const { budget, cancel } = createCancelBudget();
    cancel('SIGTERM'); // 2.5 s to the kill; the restore stops 1 s before it
    const started = Date.now();
    const report = await restoreRoutes({ ...deps(alb), budget }, [live(LISTENER)], TGS);
    const took = Date.now() - started;
    expect(took).toBeGreaterThan(1_300);
    expect(took).toBeLessThan(2_000);
    expect(report.notRestored).toMatchObject([
      {
        state: 'unknown',
        reason: "the restore's deadline passed while writing it, so it was not read back",
      },
    ]);
  });
});

describe('recoveryCommand', () => {
  it('is the whole AWS CLI command, actions JSON included, quoted for a shell', () => {
    const rule: LiveRoute = {
      ref: { kind: 'rule', arn: RULE },
      actions: [
        {
          Type: 'fixed-response',
          Order: 2,
          FixedResponseConfig: { StatusCode: '503', MessageBody: "it's down" },
        },
        forward(OLD),
      ],
      weights: OLD,
    };
    expect(recoveryCommand(rule)).toBe(
      `aws elbv2 modify-rule --region ap-northeast-1 --rule-arn ${RULE} --actions '[{"Type":"fixed-response","Order":2,"FixedResponseConfig":{"StatusCode":"503","MessageBody":"it'\\''s down"}},{"Type":"forward","Order":1,"ForwardConfig":{"TargetGroups":[{"TargetGroupArn":"${TG_BLUE}","Weight":90},{"TargetGroupArn":"${TG_GREEN}","Weight":10}],"TargetGroupStickinessConfig":{"Enabled":false}}}]'`,
    );
  });
});
