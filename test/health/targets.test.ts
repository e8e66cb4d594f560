import {
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
  TargetGroupNotFoundException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { resolveTargets, targetsFromArns } from '../../src/health/index.js';
import { BLUE, GREEN } from './fixtures.js';

const P = 'arn:aws:elasticloadbalancing:ap-northeast-1:123456789012';

describe('targetsFromArns', () => {
  const LB = `${P}:loadbalancer/app/web/50dc6c495c0c9188`;
  // What verify-health passes, so its errors name its inputs.
  const INPUTS = {
    canary: 'Input "canary-target-group"',
    baseline: 'input "baseline-target-group"',
  };

  it('labels target groups by name and refuses a malformed ARN naming the input', () => {
    expect(targetsFromArns(GREEN.arn, BLUE.arn).baseline?.label).toBe('web-blue');
    expect(() => targetsFromArns(LB, undefined, INPUTS)).toThrow(
      /^Input "canary-target-group": ".*" is a loadbalancer ARN; expected/,
    );
    expect(() => targetsFromArns(GREEN.arn, LB, INPUTS)).toThrow(
      /^input "baseline-target-group": ".*" is a loadbalancer ARN; expected/,
    );
  });

  it('names the target groups by their role when not told where the ARNs came from', () => {
    expect(() => targetsFromArns(LB)).toThrow(
      /^The canary target group: ".*" is a loadbalancer ARN; expected/,
    );
  });

  it('refuses the same target group as canary and baseline', () => {
    expect(() => targetsFromArns(GREEN.arn, GREEN.arn, INPUTS)).toThrow(
      'Input "canary-target-group" and input "baseline-target-group" name the same target group.',
    );
  });
});

describe('resolveTargets', () => {
  it('finds each target group’s CloudWatch dimensions with one DescribeTargetGroups call', async () => {
    const elbv2 = new ElasticLoadBalancingV2Client({ region: 'ap-northeast-1' });
    const mock = mockClient(elbv2);
    mock.on(DescribeTargetGroupsCommand).resolves({
      TargetGroups: [
        {
          TargetGroupArn: GREEN.arn,
          LoadBalancerArns: [
            `${P}:loadbalancer/app/web/50dc6c495c0c9188`,
            `${P}:loadbalancer/app/web-internal/60dc6c495c0c9188`,
          ],
        },
        {
          TargetGroupArn: BLUE.arn,
          LoadBalancerArns: [`${P}:loadbalancer/app/web/50dc6c495c0c9188`],
        },
      ],
    });
    const targets = await resolveTargets(elbv2, targetsFromArns(GREEN.arn, BLUE.arn));
    expect(mock.commandCalls(DescribeTargetGroupsCommand)).toHaveLength(1);
    expect(targets.canary).toEqual({
      label: 'web-green',
      arn: GREEN.arn,
      dimension: 'targetgroup/web-green/fedcba9876543210',
      loadBalancers: ['app/web/50dc6c495c0c9188', 'app/web-internal/60dc6c495c0c9188'],
    });
    expect(targets.weighted.map((t) => t.label)).toEqual(['web-green', 'web-blue']);
  });

  it('turns an unknown target group into a configuration error', async () => {
    const elbv2 = new ElasticLoadBalancingV2Client({ region: 'ap-northeast-1' });
    mockClient(elbv2)
      .on(DescribeTargetGroupsCommand)
      .rejects(
        new TargetGroupNotFoundException({
          message: 'One or more target groups not found',
          $metadata: {},
        }),
      );
    await expect(resolveTargets(elbv2, targetsFromArns(GREEN.arn))).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: `One or more target groups not found (looked up: ${GREEN.arn})`,
    });
  });
});
