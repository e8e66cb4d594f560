import { describe, expect, it } from 'vitest';
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type Action,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { MemoryLogger } from '../../src/common/logger.js';
import { ConfigurationError } from '../../src/common/errors.js';
import {
  NothingChangedError,
  ShiftFailedError,
  shiftWeights,
  type ShiftRequest,
} from '../../src/alb/shift.js';
import type { Clock } from '../../src/common/clock.js';
import type { RouteRef } from '../../src/alb/forward.js';
import {
  DEFAULT_RULE,
  FakeAlb,
  LISTENER,
  LISTENER_2,
  RULE,
  RULE_2,
  TG_BLUE,
  TG_GREEN,
  TG_OTHER,
  forward,
} from '../fakes/fake-alb.js';

/** A clock that never waits; it records the sleeps asked for. */
function fakeClock(): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => new Date('2026-11-21T10:00:00.000Z'),
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      if (signal?.aborted) throw signal.reason;
    },
  };
}

const listener = (arn = LISTENER): RouteRef => ({ kind: 'listener', arn });
const rule = (arn = RULE): RouteRef => ({ kind: 'rule', arn });

function request(
  routes: RouteRef[],
  desired: Record<string, number>,
  extra: Partial<ShiftRequest> = {},
): ShiftRequest {
  return { routes, desired, dryRun: false, settleMs: 0, ...extra };
}

function deps(alb: FakeAlb, signal?: AbortSignal) {
  const logger = new MemoryLogger();
  return {
    client: alb.client,
    logger,
    clock: fakeClock(),
    ...(signal ? { signal } : {}),
    readBackDelayMs: 0,
  };
}

describe('shiftWeights', () => {
  it('moves a listener default action to the desired weights and reports before/after', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    const d = deps(alb);
    const result = await shiftWeights(
      request([listener()], { [TG_BLUE]: 75, [TG_GREEN]: 25 }, { settleMs: 10_000 }),
      d,
    );

    expect(alb.weightsOf(LISTENER)).toEqual({ [TG_BLUE]: 75, [TG_GREEN]: 25 });
    expect(result.changed).toBe(true);
    expect(result.previous).toEqual({ [LISTENER]: { [TG_BLUE]: 90, [TG_GREEN]: 10 } });
    expect(result.applied).toEqual({ [LISTENER]: { [TG_BLUE]: 75, [TG_GREEN]: 25 } });
    expect(result.appliedAt?.toISOString()).toBe('2026-11-21T10:00:00.000Z');
    expect(d.clock.sleeps).toEqual([10_000]);
    expect(d.logger.text()).toContain(
      'web-blue=90, web-green=10 -> web-blue=75, web-green=25 (confirmed)',
    );
  });

  it('moves a rule and keeps its conditions (ModifyRule carries only Actions)', async () => {
    const conditions = [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*'] } }];
    const alb = new FakeAlb().addRule(
      RULE,
      [forward({ [TG_BLUE]: 50, [TG_GREEN]: 50 })],
      conditions,
    );
    await shiftWeights(request([rule()], { [TG_BLUE]: 0, [TG_GREEN]: 100 }), deps(alb));

    expect(alb.weightsOf(RULE)).toEqual({ [TG_BLUE]: 0, [TG_GREEN]: 100 });
    expect(alb.rules.get(RULE)?.conditions).toEqual(conditions);
    const call = alb.mock.commandCalls(ModifyRuleCommand)[0];
    expect(call?.args[0].input.Conditions).toBeUndefined();
  });

  it('keeps an authenticate-oidc action before forward, with its order, and keeps the existing client secret', async () => {
    const oidc: Action = {
      Type: 'authenticate-oidc',
      Order: 1,
      AuthenticateOidcConfig: {
        Issuer: 'https://idp.example.com',
        AuthorizationEndpoint: 'https://idp.example.com/auth',
        TokenEndpoint: 'https://idp.example.com/token',
        UserInfoEndpoint: 'https://idp.example.com/userinfo',
        ClientId: 'client',
      },
    };
    const fwd = { ...forward({ [TG_BLUE]: 100, [TG_GREEN]: 0 }), Order: 2 };
    const alb = new FakeAlb().addListener(LISTENER, [oidc, fwd]);
    await shiftWeights(request([listener()], { [TG_BLUE]: 90, [TG_GREEN]: 10 }), deps(alb));

    const sent =
      alb.mock.commandCalls(ModifyListenerCommand)[0]?.args[0].input.DefaultActions ?? [];
    expect(sent.map((a) => [a.Type, a.Order])).toEqual([
      ['authenticate-oidc', 1],
      ['forward', 2],
    ]);
    expect(sent[0]?.AuthenticateOidcConfig).toMatchObject({
      ClientId: 'client',
      UseExistingClientSecret: true,
    });
    expect(sent[0]?.AuthenticateOidcConfig?.ClientSecret).toBeUndefined();
    expect(alb.weightsOf(LISTENER)).toEqual({ [TG_BLUE]: 90, [TG_GREEN]: 10 });
  });

  it('keeps the target group stickiness setting', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [
      forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 }, 3600),
    ]);
    await shiftWeights(request([listener()], { [TG_BLUE]: 50, [TG_GREEN]: 50 }), deps(alb));
    const fwd = alb.actionsOf(LISTENER)[0];
    expect(fwd?.ForwardConfig?.TargetGroupStickinessConfig).toEqual({
      Enabled: true,
      DurationSeconds: 3600,
    });
    expect(alb.weightsOf(LISTENER)).toEqual({ [TG_BLUE]: 50, [TG_GREEN]: 50 });
  });

  it('refuses a listener that forwards to one target group only, saying to add the other with weight 0', async () => {
    const single: Action = {
      Type: 'forward',
      TargetGroupArn: TG_BLUE,
      ForwardConfig: { TargetGroups: [{ TargetGroupArn: TG_BLUE, Weight: 1 }] },
    };
    const alb = new FakeAlb().addListener(LISTENER, [single]);
    const err = await shiftWeights(
      request([listener()], { [TG_BLUE]: 90, [TG_GREEN]: 10 }),
      deps(alb),
    ).catch((e) => e);
    // A single-group listener does not forward to green: refused, with what to do.
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toContain('does not forward to web-green');
    expect(err.message).toContain('add a missing one with weight 0');
    expect(alb.modifyCalls()).toBe(0);
  });

  it('refuses a route that forwards to a target group the rollout does not know, naming it', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [
      forward({ [TG_BLUE]: 90, [TG_GREEN]: 5, [TG_OTHER]: 5 }),
    ]);
    const err = await shiftWeights(
      request([listener()], { [TG_BLUE]: 50, [TG_GREEN]: 50 }),
      deps(alb),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toContain('forwards to web-other which the rollout does not know');
    expect(err.message).toContain('Live: web-blue=90, web-green=5, web-other=5');
    expect(alb.modifyCalls()).toBe(0);
  });

  it('refuses a redirect, a fixed response, or two forward actions, and reports every bad route at once', async () => {
    const alb = new FakeAlb()
      .addListener(LISTENER, [
        { Type: 'redirect', RedirectConfig: { StatusCode: 'HTTP_301', Protocol: 'HTTPS' } },
      ])
      .addRule(RULE, [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503' } }])
      .addRule(RULE_2, [
        forward({ [TG_BLUE]: 1, [TG_GREEN]: 1 }),
        forward({ [TG_BLUE]: 1, [TG_GREEN]: 1 }),
      ]);
    const err = await shiftWeights(
      request([listener(), rule(), rule(RULE_2)], { [TG_BLUE]: 50, [TG_GREEN]: 50 }),
      deps(alb),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toMatch(/^3 routes cannot be shifted/);
    expect(err.message).toContain(
      `listener ${LISTENER} does not forward to target groups (it has: redirect)`,
    );
    expect(err.message).toContain(
      `rule ${RULE} does not forward to target groups (it has: fixed-response 503)`,
    );
    expect(err.message).toContain(`rule ${RULE_2} has 2 forward actions`);
    expect(alb.modifyCalls()).toBe(0);
  });

  it('refuses a default rule ARN and says to use the listener', async () => {
    const alb = new FakeAlb().addRule(
      DEFAULT_RULE,
      [forward({ [TG_BLUE]: 1, [TG_GREEN]: 1 })],
      [],
      true,
    );
    const err = await shiftWeights(
      request([rule(DEFAULT_RULE)], { [TG_BLUE]: 50, [TG_GREEN]: 50 }),
      deps(alb),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toContain("is a listener's default rule");
    expect(err.message).toContain('"listener:"');
  });

  it('reads many routes in one Describe call per kind, and still names an unknown one', async () => {
    const alb = new FakeAlb()
      .addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addListener(LISTENER_2, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addRule(RULE, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addRule(RULE_2, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    const routes = [listener(), listener(LISTENER_2), rule(), rule(RULE_2)];
    await shiftWeights(request(routes, { [TG_BLUE]: 90, [TG_GREEN]: 10 }), deps(alb));
    expect(alb.mock.commandCalls(DescribeListenersCommand)).toHaveLength(1);
    expect(alb.mock.commandCalls(DescribeRulesCommand)).toHaveLength(1);

    alb.rules.delete(RULE_2);
    const err = await shiftWeights(
      request(routes, { [TG_BLUE]: 50, [TG_GREEN]: 50 }),
      deps(alb),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toBe(
      'rule web rule 6cabee does not exist (RuleNotFoundException): check the ARN, the region and the account the credentials are for.\nNothing was changed.',
    );
    expect(alb.modifyCalls()).toBe(0);
  });

  it('turns an unknown listener into a clear error', async () => {
    const alb = new FakeAlb();
    const err = await shiftWeights(
      request([listener()], { [TG_BLUE]: 50, [TG_GREEN]: 50 }),
      deps(alb),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toBe(
      'listener web listener 522ab2 does not exist (ListenerNotFoundException): check the ARN, the region and the account the credentials are for.\nNothing was changed.',
    );
  });

  it('refuses on drift (expect differs from live), per route, and changes nothing', async () => {
    const alb = new FakeAlb()
      .addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addListener(LISTENER_2, [forward({ [TG_BLUE]: 80, [TG_GREEN]: 20 })]);
    const err = await shiftWeights(
      request(
        [listener(), listener(LISTENER_2)],
        { [TG_BLUE]: 75, [TG_GREEN]: 25 },
        { expect: { [TG_BLUE]: 90, [TG_GREEN]: 10 } },
      ),
      deps(alb),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toContain(
      'Drift: 1 of 2 route(s) do not have the expected weights, so nothing was changed.',
    );
    expect(err.message).toContain(
      'listener web-internal listener 522ab2: live web-blue=80, web-green=20, expected web-blue=90, web-green=10',
    );
    expect(alb.modifyCalls()).toBe(0);
    expect(alb.weightsOf(LISTENER)).toEqual({ [TG_BLUE]: 90, [TG_GREEN]: 10 });
  });

  it('refuses a step larger than max-step and changes nothing', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    const err = await shiftWeights(
      request([listener()], { [TG_BLUE]: 40, [TG_GREEN]: 60 }, { maxStep: 25 }),
      deps(alb),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toContain('raises a weight by more than max-step (25)');
    expect(err.message).toContain('web-green 10 -> 60 (+50)');
    expect(alb.modifyCalls()).toBe(0);
  });

  it('is a no-op when every route is already at the desired weights', async () => {
    const alb = new FakeAlb()
      .addListener(LISTENER, [forward({ [TG_BLUE]: 75, [TG_GREEN]: 25 })])
      .addRule(RULE, [forward({ [TG_BLUE]: 75, [TG_GREEN]: 25 })]);
    const d = deps(alb);
    const result = await shiftWeights(
      request([listener(), rule()], { [TG_BLUE]: 75, [TG_GREEN]: 25 }, { settleMs: 10_000 }),
      d,
    );
    expect(result.changed).toBe(false);
    expect(result.appliedAt?.toISOString()).toBe('2026-11-21T10:00:00.000Z');
    expect(result.routes.map((r) => r.status)).toEqual(['unchanged', 'unchanged']);
    expect(alb.modifyCalls()).toBe(0);
    expect(d.clock.sleeps).toEqual([]);
  });

  it('writes only the routes that differ', async () => {
    const alb = new FakeAlb()
      .addListener(LISTENER, [forward({ [TG_BLUE]: 75, [TG_GREEN]: 25 })])
      .addRule(RULE, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    const result = await shiftWeights(
      request([listener(), rule()], { [TG_BLUE]: 75, [TG_GREEN]: 25 }),
      deps(alb),
    );
    expect(result.routes.map((r) => r.status)).toEqual(['unchanged', 'written']);
    expect(alb.mock.commandCalls(ModifyListenerCommand)).toHaveLength(0);
    expect(alb.mock.commandCalls(ModifyRuleCommand)).toHaveLength(1);
  });

  it('dry-run reads and reports, and makes no write call', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    const d = deps(alb);
    const result = await shiftWeights(
      request([listener()], { [TG_BLUE]: 75, [TG_GREEN]: 25 }, { dryRun: true }),
      d,
    );
    expect(alb.modifyCalls()).toBe(0);
    expect(result.changed).toBe(false);
    expect(result.routes[0]?.status).toBe('would-write');
    expect(result.desired[LISTENER]).toEqual({ [TG_BLUE]: 75, [TG_GREEN]: 25 });
    expect(d.logger.text()).toContain(
      'Dry run: would set listener web listener 522ab2 from web-blue=90, web-green=10 to web-blue=75, web-green=25.',
    );
  });

  it('restores the first route when the write of the second of three fails', async () => {
    const alb = new FakeAlb()
      .addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addRule(RULE, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addRule(RULE_2, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    alb.beforeWrite = (_arn, n) => {
      if (n === 2) throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
    };
    const err = await shiftWeights(
      request([listener(), rule(), rule(RULE_2)], { [TG_BLUE]: 75, [TG_GREEN]: 25 }),
      deps(alb),
    ).catch((e) => e);

    expect(err).toBeInstanceOf(ShiftFailedError);
    for (const arn of [LISTENER, RULE, RULE_2])
      expect(alb.weightsOf(arn)).toEqual({ [TG_BLUE]: 90, [TG_GREEN]: 10 });
    expect(err.message).toContain(
      'Shifting failed: ModifyRule on rule web rule 6cabee failed: Throttling: Rate exceeded.',
    );
    expect(err.message).toContain(
      'Restored to the previous weights (confirmed by read-back): rule web rule 6cabee; listener web listener 522ab2.',
    );
    expect(err.notRestored).toEqual([]);
    // The third route was never written.
    expect(
      alb.mock.commandCalls(ModifyRuleCommand).map((c) => c.args[0].input.RuleArn),
    ).not.toContain(RULE_2);
  });

  it('in parallel mode writes every route, and on a failure waits for all writes, then restores all', async () => {
    const alb = new FakeAlb()
      .addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addRule(RULE, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addRule(RULE_2, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    const routes = [listener(), rule(), rule(RULE_2)];
    const ok = await shiftWeights(
      request(routes, { [TG_BLUE]: 100, [TG_GREEN]: 0 }, { parallel: true }),
      deps(alb),
    );
    expect(ok.routes.map((r) => r.status)).toEqual(['written', 'written', 'written']);
    for (const arn of [LISTENER, RULE, RULE_2]) {
      expect(alb.weightsOf(arn)).toEqual({ [TG_BLUE]: 100, [TG_GREEN]: 0 });
    }

    alb.writes = 0;
    alb.beforeWrite = (arn) => {
      if (arn === RULE) throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
    };
    const err = await shiftWeights(
      request(routes, { [TG_BLUE]: 50, [TG_GREEN]: 50 }, { parallel: true }),
      deps(alb),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ShiftFailedError);
    expect(err.message).toContain(
      'ModifyRule on rule web rule 6cabee failed: Throttling: Rate exceeded',
    );
    // The writes that succeeded were undone; the failed one never landed.
    for (const arn of [LISTENER, RULE, RULE_2]) {
      expect(alb.weightsOf(arn)).toEqual({ [TG_BLUE]: 100, [TG_GREEN]: 0 });
    }
    expect(err.notRestored).toEqual([]);
    expect([...err.restored].sort()).toEqual([LISTENER, RULE, RULE_2].sort());
  });

  it('restores when a read-back shows other weights than were written', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    let lying = true;
    alb.readFilter = (_arn, actions) =>
      alb.writes === 1 && lying ? [forward({ [TG_BLUE]: 1, [TG_GREEN]: 1 })] : actions;
    const d = { ...deps(alb), readBackAttempts: 2 };
    const err = await shiftWeights(
      request([listener()], { [TG_BLUE]: 50, [TG_GREEN]: 50 }),
      d,
    ).catch((e) => e);
    lying = false;
    expect(err).toBeInstanceOf(ShiftFailedError);
    expect(err.message).toContain(
      'read-back of listener web listener 522ab2 shows web-blue=1, web-green=1, not web-blue=50, web-green=50, after 2 reads',
    );
    expect(alb.weightsOf(LISTENER)).toEqual({ [TG_BLUE]: 90, [TG_GREEN]: 10 });
  });

  it('says which route could not be restored and how to fix it by hand', async () => {
    const alb = new FakeAlb()
      .addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addRule(RULE, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    alb.beforeWrite = (_arn, n) => {
      if (n >= 2)
        throw Object.assign(new Error('Service unavailable'), { name: 'ServiceUnavailable' });
    };
    const err = await shiftWeights(
      request([listener(), rule()], { [TG_BLUE]: 75, [TG_GREEN]: 25 }),
      deps(alb),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ShiftFailedError);
    // The rule's write failed before it landed: the rule never changed, so it is not reported
    // as something to fix by hand.
    expect(err.restored).toEqual([RULE]);
    expect(err.notRestored.map((n: { arn: string }) => n.arn)).toEqual([LISTENER]);
    expect(err.message).toContain(
      `NOT restored: listener web listener 522ab2 is at web-blue=75, web-green=25 (ModifyListener on listener web listener 522ab2 failed: ServiceUnavailable: Service unavailable). Set it back by hand to web-blue=90, web-green=10 with:\n` +
        `  aws elbv2 modify-listener --region ap-northeast-1 --listener-arn ${LISTENER} --default-actions '[{"Type":"forward","Order":1,"ForwardConfig":{"TargetGroups":[{"TargetGroupArn":"${TG_BLUE}","Weight":90},{"TargetGroupArn":"${TG_GREEN}","Weight":10}],"TargetGroupStickinessConfig":{"Enabled":false}}}]'`,
    );
    expect(err.message).toContain('1 of 2 route(s) not restored (1 left changed)');
    // The listener really is left shifted: the message must not claim otherwise.
    expect(alb.weightsOf(LISTENER)).toEqual({ [TG_BLUE]: 75, [TG_GREEN]: 25 });
  });

  it('does not send anyone to fix a route whose write AWS rejected: it never changed', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    alb.beforeWrite = () => {
      throw Object.assign(new Error('User is not authorized to perform: ModifyListener'), {
        name: 'AccessDenied',
      });
    };
    const d = deps(alb);
    const err = await shiftWeights(
      request([listener()], { [TG_BLUE]: 75, [TG_GREEN]: 25 }),
      d,
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ShiftFailedError);
    expect(err.message).toContain(
      'AccessDenied: User is not authorized to perform: ModifyListener',
    );
    expect(err.message).not.toContain('NOT restored');
    expect(err.notRestored).toEqual([]);
    expect(d.logger.text()).toContain(
      'listener web listener 522ab2: still has web-blue=90, web-green=10; its write never landed (confirmed)',
    );
    expect(alb.weightsOf(LISTENER)).toEqual({ [TG_BLUE]: 90, [TG_GREEN]: 10 });
  });

  it('restores every touched route when cancelled (SIGTERM) in the middle of the writes', async () => {
    const alb = new FakeAlb()
      .addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addRule(RULE, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addRule(RULE_2, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    const cancel = new AbortController();
    // The signal arrives while the second write is in flight; that write still lands.
    alb.beforeWrite = (_arn, n) => {
      if (n === 2) cancel.abort(new Error('received SIGTERM'));
    };
    const err = await shiftWeights(
      request([listener(), rule(), rule(RULE_2)], { [TG_BLUE]: 75, [TG_GREEN]: 25 }),
      deps(alb, cancel.signal),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ShiftFailedError);
    expect(err.cancelled).toBe(true);
    expect(err.message).toContain('Shifting failed: the job was cancelled (received SIGTERM).');
    for (const arn of [LISTENER, RULE, RULE_2])
      expect(alb.weightsOf(arn)).toEqual({ [TG_BLUE]: 90, [TG_GREEN]: 10 });
    expect(err.restored).toEqual([RULE, LISTENER]);
  });

  it('restores when cancelled during the settle wait', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    const cancel = new AbortController();
    const d = deps(alb, cancel.signal);
    d.clock.sleep = async (_ms, signal) => {
      cancel.abort(new Error('received SIGINT'));
      throw signal?.reason;
    };
    const err = await shiftWeights(
      request([listener()], { [TG_BLUE]: 75, [TG_GREEN]: 25 }, { settleMs: 10_000 }),
      d,
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ShiftFailedError);
    expect(alb.weightsOf(LISTENER)).toEqual({ [TG_BLUE]: 90, [TG_GREEN]: 10 });
  });

  it('says that nothing was changed when AWS fails the read before any write', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    alb.readFilter = () => {
      throw Object.assign(new Error('Rate exceeded'), {
        name: 'Throttling',
        $metadata: { attempts: 6 },
      });
    };
    const err = await shiftWeights(
      request([listener()], { [TG_BLUE]: 75, [TG_GREEN]: 25 }),
      deps(alb),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(NothingChangedError);
    expect(err.message).toBe(
      'Could not read the routes: Throttling: Rate exceeded (after 6 attempts). Nothing was changed.',
    );
    expect(alb.modifyCalls()).toBe(0);
  });

  it('says "cancelled before any write; nothing was changed" for a cancel during the first read', async () => {
    const alb = new FakeAlb().addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    const cancel = new AbortController();
    // The read never answers; the signal comes while it is in flight.
    alb.mock.on(DescribeListenersCommand).callsFake(() => new Promise(() => undefined));
    setTimeout(() => cancel.abort(new Error('received SIGINT')), 10);
    const err = await shiftWeights(
      request([listener()], { [TG_BLUE]: 75, [TG_GREEN]: 25 }),
      deps(alb, cancel.signal),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(NothingChangedError);
    expect(err.message).toBe('Cancelled (received SIGINT) before any write; nothing was changed.');
  });

  it('at the first signal, logs each route: changed, write in flight, untouched', async () => {
    const alb = new FakeAlb()
      .addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addRule(RULE, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addRule(RULE_2, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    const cancel = new AbortController();
    alb.beforeWrite = (_arn, n) => {
      if (n === 2) cancel.abort(new Error('received SIGINT'));
    };
    const d = deps(alb, cancel.signal);
    await shiftWeights(
      request([listener(), rule(), rule(RULE_2)], { [TG_BLUE]: 75, [TG_GREEN]: 25 }),
      d,
    ).catch((e) => e);
    const log = d.logger.text();
    expect(log).toContain('Cancelled during the shift (received SIGINT); 9.0 s left to restore.');
    expect(log).toContain(
      '- listener web listener 522ab2: changed to web-blue=75, web-green=25 (confirmed); restoring it now to web-blue=90, web-green=10',
    );
    expect(log).toContain(
      '- rule web rule 6cabee: write to web-blue=75, web-green=25 in flight, given 2.0 s to end; then read back and restored to web-blue=90, web-green=10',
    );
    expect(log).toContain(': untouched, at web-blue=90, web-green=10; will not be written');
    // The report comes before the restore.
    expect(log.indexOf('Routes now:')).toBeLessThan(log.indexOf('restored to'));
  });

  it('in parallel mode (the emergency rollback), a cancel mid-writes restores every route written', async () => {
    const alb = new FakeAlb()
      .addListener(LISTENER, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addListener(LISTENER_2, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })])
      .addRule(RULE, [forward({ [TG_BLUE]: 90, [TG_GREEN]: 10 })]);
    const cancel = new AbortController();
    alb.beforeWrite = (_arn, n) => {
      if (n === 2) cancel.abort(new Error('received SIGINT'));
    };
    const err = await shiftWeights(
      request(
        [listener(), listener(LISTENER_2), rule()],
        { [TG_BLUE]: 0, [TG_GREEN]: 100 },
        {
          parallel: true,
        },
      ),
      deps(alb, cancel.signal),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ShiftFailedError);
    expect(err.cancelled).toBe(true);
    expect(err.message).toContain('restored and confirmed');
    for (const arn of [LISTENER, LISTENER_2, RULE])
      expect(alb.weightsOf(arn)).toEqual({ [TG_BLUE]: 90, [TG_GREEN]: 10 });
  });
});
