import { describe, expect, it } from 'vitest';
import type { Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import { forwardWeights, toWritableAction, withWeights } from '../../src/alb/forward.js';
import { TG_BLUE, TG_GREEN } from '../fakes/fake-alb.js';

describe('the actions a shift writes', () => {
  it('drops the top-level TargetGroupArn Describe returns beside a one-group ForwardConfig', () => {
    // AWS rejects a top-level TargetGroupArn next to a ForwardConfig of several groups.
    const described: Action = {
      Type: 'forward',
      TargetGroupArn: TG_BLUE,
      ForwardConfig: {
        TargetGroups: [{ TargetGroupArn: TG_BLUE, Weight: 1 }],
        TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 60 },
      },
    };
    expect(toWritableAction(described)).toEqual({
      Type: 'forward',
      ForwardConfig: described.ForwardConfig,
    });
    const [written] = withWeights([described], { [TG_BLUE]: 90, [TG_GREEN]: 10 });
    expect(written).toEqual({
      Type: 'forward',
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: TG_BLUE, Weight: 90 },
          { TargetGroupArn: TG_GREEN, Weight: 10 },
        ],
        TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 60 },
      },
    });
  });

  it('keeps the order of the target groups as the ALB lists them', () => {
    const described: Action = {
      Type: 'forward',
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: TG_GREEN, Weight: 10 },
          { TargetGroupArn: TG_BLUE, Weight: 90 },
        ],
      },
    };
    const [written] = withWeights([described], { [TG_BLUE]: 75, [TG_GREEN]: 25 });
    expect(written?.ForwardConfig?.TargetGroups).toEqual([
      { TargetGroupArn: TG_GREEN, Weight: 25 },
      { TargetGroupArn: TG_BLUE, Weight: 75 },
    ]);
  });

  it('reads the simple forward form as all traffic to its one target group', () => {
    expect(forwardWeights({ Type: 'forward', TargetGroupArn: TG_BLUE })).toEqual({ [TG_BLUE]: 1 });
  });

  it('asks to keep the existing OIDC client secret, which Describe never returns', () => {
    const oidc: Action = {
      Type: 'authenticate-oidc',
      Order: 1,
      AuthenticateOidcConfig: {
        Issuer: 'https://idp.example.com',
        AuthorizationEndpoint: 'https://idp.example.com/auth',
        TokenEndpoint: 'https://idp.example.com/token',
        UserInfoEndpoint: 'https://idp.example.com/userinfo',
        ClientId: 'web',
      },
    };
    expect(toWritableAction(oidc).AuthenticateOidcConfig).toEqual({
      ...oidc.AuthenticateOidcConfig,
      UseExistingClientSecret: true,
    });
    // The action as read is not changed: a restore writes it again from the same source.
    expect(oidc.AuthenticateOidcConfig?.UseExistingClientSecret).toBeUndefined();
  });
});
