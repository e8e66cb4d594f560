/**
 * The sandbox's ELBv2 API through the real AWS SDK client: shapes the SDK parses, the
 * semantics of Modify*, validation with AWS's error codes and messages, pagination.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddTagsCommand,
  RemoveTagsCommand,
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeleteRuleCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  ModifyRuleCommand,
  RegisterTargetsCommand,
  SetRulePrioritiesCommand,
  type Action,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { SandboxCore } from '../../sandbox/core.js';
import { MetricStore } from '../../sandbox/metrics.js';
import { Elbv2Service } from '../../sandbox/elbv2/service.js';

const REGION = 'ap-northeast-1';
const ACCOUNT = '123456789012';
const SUBNETS_A = ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'];
const SUBNETS_B = ['subnet-0b000000000000001a', 'subnet-0b000000000000001c'];
const ID = '[0-9a-f]{16}';

let core: SandboxCore;
let service: Elbv2Service;
let elb: ElasticLoadBalancingV2Client;
let nameSeq = 0;

beforeAll(async () => {
  service = new Elbv2Service({ metrics: new MetricStore(), healthCheckTimeScale: 0.05 });
  core = new SandboxCore();
  core.register(service);
  const endpoint = await core.listen();
  elb = new ElasticLoadBalancingV2Client({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox-secret' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  elb.destroy();
  await service.close();
  await core.close();
});

function uniqueName(prefix: string): string {
  nameSeq += 1;
  return `${prefix}-${nameSeq}`;
}

async function createLoadBalancer(subnets = SUBNETS_A): Promise<string> {
  const out = await elb.send(
    new CreateLoadBalancerCommand({ Name: uniqueName('lb'), Subnets: subnets }),
  );
  return out.LoadBalancers?.[0]?.LoadBalancerArn as string;
}

async function createTargetGroup(
  overrides: { VpcId?: string; Protocol?: 'HTTP' | 'TCP'; Name?: string } = {},
): Promise<string> {
  const out = await elb.send(
    new CreateTargetGroupCommand({
      Name: overrides.Name ?? uniqueName('tg'),
      Protocol: overrides.Protocol ?? 'HTTP',
      Port: 8080,
      VpcId: overrides.VpcId ?? 'vpc-sandbox-a',
      TargetType: 'ip',
    }),
  );
  return out.TargetGroups?.[0]?.TargetGroupArn as string;
}

function forward(...groups: Array<[string, number]>): Action[] {
  return [
    {
      Type: 'forward',
      ForwardConfig: {
        TargetGroups: groups.map(([TargetGroupArn, Weight]) => ({ TargetGroupArn, Weight })),
      },
    },
  ];
}

async function createListener(lbArn: string, actions: Action[], port = 80): Promise<string> {
  const out = await elb.send(
    new CreateListenerCommand({
      LoadBalancerArn: lbArn,
      Protocol: 'HTTP',
      Port: port,
      DefaultActions: actions,
    }),
  );
  return out.Listeners?.[0]?.ListenerArn as string;
}

/** The SDK error a call fails with, for asserting its name and message. */
async function failure(
  p: Promise<unknown>,
): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail, but it succeeded');
}

describe('create → describe round trip', () => {
  it('returns load balancers, target groups, listeners, rules and tags in the real shapes', async () => {
    const lbOut = await elb.send(
      new CreateLoadBalancerCommand({
        Name: 'web',
        Subnets: SUBNETS_A,
        Scheme: 'internal',
        Tags: [{ Key: 'team', Value: 'sre' }],
      }),
    );
    const created = lbOut.LoadBalancers?.[0];
    expect(created?.State?.Code).toBe('provisioning');
    const lbArn = created?.LoadBalancerArn as string;
    expect(lbArn).toMatch(
      new RegExp(`^arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:loadbalancer/app/web/${ID}$`),
    );

    const [lb] =
      (await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [lbArn] })))
        .LoadBalancers ?? [];
    expect(lb).toMatchObject({
      LoadBalancerName: 'web',
      Scheme: 'internal',
      Type: 'application',
      VpcId: 'vpc-sandbox-a',
      State: { Code: 'active' },
      CanonicalHostedZoneId: 'Z14GRHDCWA56QT',
      IpAddressType: 'ipv4',
      AvailabilityZones: [
        { ZoneName: 'ap-northeast-1a', SubnetId: SUBNETS_A[0] },
        { ZoneName: 'ap-northeast-1c', SubnetId: SUBNETS_A[1] },
      ],
    });
    expect(lb?.DNSName).toMatch(/^internal-web-\d+\.ap-northeast-1\.elb\.amazonaws\.com$/);
    expect(lb?.CreatedTime).toBeInstanceOf(Date);

    const blue = await createTargetGroup({ Name: 'web-blue' });
    const green = await createTargetGroup({ Name: 'web-green' });
    expect(blue).toMatch(
      new RegExp(`^arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web-blue/${ID}$`),
    );
    // CreateTargetGroup is idempotent for identical settings.
    expect(await createTargetGroup({ Name: 'web-blue' })).toBe(blue);

    await elb.send(
      new RegisterTargetsCommand({
        TargetGroupArn: blue,
        Targets: [{ Id: '127.0.0.1', Port: 9001 }],
      }),
    );
    const listenerArn = await createListener(lbArn, forward([blue, 90], [green, 10]));
    expect(listenerArn).toMatch(
      new RegExp(
        `^arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener/app/web/${ID}/${ID}$`,
      ),
    );

    const ruleOut = await elb.send(
      new CreateRuleCommand({
        ListenerArn: listenerArn,
        Priority: 10,
        Conditions: [
          { Field: 'path-pattern', Values: ['/api/*'] },
          { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Canary', Values: ['1'] } },
        ],
        Actions: [{ Type: 'forward', TargetGroupArn: green }],
      }),
    );
    const ruleArn = ruleOut.Rules?.[0]?.RuleArn as string;
    expect(ruleArn).toMatch(
      new RegExp(
        `^arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener-rule/app/web/${ID}/${ID}/${ID}$`,
      ),
    );

    const [tgBlue] =
      (await elb.send(new DescribeTargetGroupsCommand({ Names: ['web-blue'] }))).TargetGroups ?? [];
    expect(tgBlue).toMatchObject({
      TargetGroupArn: blue,
      Protocol: 'HTTP',
      Port: 8080,
      VpcId: 'vpc-sandbox-a',
      TargetType: 'ip',
      HealthCheckPath: '/',
      HealthCheckPort: 'traffic-port',
      HealthCheckIntervalSeconds: 30,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 5,
      UnhealthyThresholdCount: 2,
      Matcher: { HttpCode: '200' },
      LoadBalancerArns: [lbArn],
    });

    const [listener] =
      (await elb.send(new DescribeListenersCommand({ LoadBalancerArn: lbArn }))).Listeners ?? [];
    expect(listener).toEqual({
      ListenerArn: listenerArn,
      LoadBalancerArn: lbArn,
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [
        {
          Type: 'forward',
          Order: 1,
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: blue, Weight: 90 },
              { TargetGroupArn: green, Weight: 10 },
            ],
            TargetGroupStickinessConfig: { Enabled: false },
          },
        },
      ],
    });

    const rules =
      (await elb.send(new DescribeRulesCommand({ ListenerArn: listenerArn }))).Rules ?? [];
    expect(rules.map((r) => [r.Priority, r.IsDefault])).toEqual([
      ['10', false],
      ['default', true],
    ]);
    expect(rules[0]).toMatchObject({
      RuleArn: ruleArn,
      Conditions: [
        { Field: 'path-pattern', Values: ['/api/*'], PathPatternConfig: { Values: ['/api/*'] } },
        { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Canary', Values: ['1'] } },
      ],
      Actions: [
        {
          Type: 'forward',
          TargetGroupArn: green,
          Order: 1,
          ForwardConfig: { TargetGroups: [{ TargetGroupArn: green, Weight: 1 }] },
        },
      ],
    });
    expect(rules[1]?.Conditions).toEqual([]);
    expect(rules[1]?.Actions).toEqual(listener?.DefaultActions);

    const health = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: blue }));
    expect(health.TargetHealthDescriptions?.[0]?.Target).toEqual({ Id: '127.0.0.1', Port: 9001 });
    expect(health.TargetHealthDescriptions?.[0]?.HealthCheckPort).toBe('9001');

    await elb.send(
      new AddTagsCommand({ ResourceArns: [lbArn, ruleArn], Tags: [{ Key: 'env', Value: 'prod' }] }),
    );
    const tags = await elb.send(new DescribeTagsCommand({ ResourceArns: [lbArn, ruleArn, blue] }));
    expect(tags.TagDescriptions).toEqual([
      {
        ResourceArn: lbArn,
        Tags: [
          { Key: 'team', Value: 'sre' },
          { Key: 'env', Value: 'prod' },
        ],
      },
      { ResourceArn: ruleArn, Tags: [{ Key: 'env', Value: 'prod' }] },
      { ResourceArn: blue, Tags: [] },
    ]);

    // Tag keys and values are checked as the API reference's Tag says: a value of at most 256
    // characters of letters, spaces, numbers and `_ . : / = + - @`.
    const badTag = async (Key: string, Value: string): Promise<string> => {
      const e = await elb
        .send(new AddTagsCommand({ ResourceArns: [ruleArn], Tags: [{ Key, Value }] }))
        .then(
          () => undefined,
          (err: unknown) => err as { name: string; message: string },
        );
      return `${e?.name}: ${e?.message}`;
    };
    expect(await badTag('env', 'a,b')).toBe(
      "ValidationError: 1 validation error detected: Value 'a,b' at 'tags.1.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$",
    );
    expect(await badTag('env#1', 'x')).toMatch(/at 'tags.1.member.key' .* regular expression/);
    expect(await badTag('env', 'x'.repeat(257))).toMatch(
      /at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256$/,
    );
    await elb.send(
      new AddTagsCommand({
        ResourceArns: [ruleArn],
        Tags: [{ Key: 'ok', Value: `Ünïcode 名前 1.2:3/4=5+6-7@8_ ${'x'.repeat(228)}` }],
      }),
    );
    await elb.send(new RemoveTagsCommand({ ResourceArns: [ruleArn], TagKeys: ['ok'] }));

    // RemoveTags drops the keys it names; a key a resource does not have is no error (as in AWS and moto).
    await elb.send(
      new RemoveTagsCommand({ ResourceArns: [lbArn, ruleArn], TagKeys: ['env', 'absent'] }),
    );
    const removed = await elb.send(new DescribeTagsCommand({ ResourceArns: [lbArn, ruleArn] }));
    expect(removed.TagDescriptions).toEqual([
      { ResourceArn: lbArn, Tags: [{ Key: 'team', Value: 'sre' }] },
      { ResourceArn: ruleArn, Tags: [] },
    ]);

    const listed = await elb.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: lbArn }));
    expect(listed.TargetGroups?.map((t) => t.TargetGroupName).sort()).toEqual([
      'web-blue',
      'web-green',
    ]);

    await elb.send(new DeleteRuleCommand({ RuleArn: ruleArn }));
    await elb.send(new DeleteListenerCommand({ ListenerArn: listenerArn }));
    expect(
      (await elb.send(new DescribeListenersCommand({ LoadBalancerArn: lbArn }))).Listeners,
    ).toEqual([]);
  });
});

describe('ModifyRule and ModifyListener', () => {
  it('ModifyRule with only Actions replaces the weights and keeps the conditions and stickiness given', async () => {
    const lbArn = await createLoadBalancer();
    const blue = await createTargetGroup();
    const green = await createTargetGroup();
    const listenerArn = await createListener(lbArn, forward([blue, 1]));
    const conditions = [
      { Field: 'host-header', HostHeaderConfig: { Values: ['web.example.com'] } },
      { Field: 'query-string', QueryStringConfig: { Values: [{ Key: 'canary', Value: 'true' }] } },
    ];
    const created = await elb.send(
      new CreateRuleCommand({
        ListenerArn: listenerArn,
        Priority: 5,
        Conditions: conditions,
        Actions: forward([blue, 100], [green, 0]),
      }),
    );
    const ruleArn = created.Rules?.[0]?.RuleArn as string;

    const modified = await elb.send(
      new ModifyRuleCommand({
        RuleArn: ruleArn,
        Actions: [
          {
            Type: 'forward',
            Order: 1,
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: blue, Weight: 75 },
                { TargetGroupArn: green, Weight: 25 },
              ],
              TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 3600 },
            },
          },
        ],
      }),
    );
    const rule = modified.Rules?.[0];
    expect(rule?.Priority).toBe('5');
    expect(rule?.Conditions).toMatchObject(conditions);
    expect(rule?.Actions?.[0]?.ForwardConfig).toEqual({
      TargetGroups: [
        { TargetGroupArn: blue, Weight: 75 },
        { TargetGroupArn: green, Weight: 25 },
      ],
      TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 3600 },
    });

    // Conditions alone leave the actions as they are.
    const reconditioned = await elb.send(
      new ModifyRuleCommand({
        RuleArn: ruleArn,
        Conditions: [{ Field: 'path-pattern', Values: ['/v2/*'] }],
      }),
    );
    expect(reconditioned.Rules?.[0]?.Conditions).toMatchObject([
      { Field: 'path-pattern', Values: ['/v2/*'] },
    ]);
    expect(reconditioned.Rules?.[0]?.Actions).toEqual(rule?.Actions);

    const [described] =
      (await elb.send(new DescribeRulesCommand({ RuleArns: [ruleArn] }))).Rules ?? [];
    expect(described).toEqual(reconditioned.Rules?.[0]);
  });

  it('ModifyListener replaces the default actions, keeps port and protocol, and returns the whole listener', async () => {
    const lbArn = await createLoadBalancer();
    const blue = await createTargetGroup();
    const green = await createTargetGroup();
    const listenerArn = await createListener(lbArn, forward([blue, 1]), 8443);
    const out = await elb.send(
      new ModifyListenerCommand({
        ListenerArn: listenerArn,
        DefaultActions: forward([blue, 50], [green, 50]),
      }),
    );
    expect(out.Listeners?.[0]).toMatchObject({
      ListenerArn: listenerArn,
      LoadBalancerArn: lbArn,
      Port: 8443,
      Protocol: 'HTTP',
      DefaultActions: [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: blue, Weight: 50 },
              { TargetGroupArn: green, Weight: 50 },
            ],
          },
        },
      ],
    });
    const rules =
      (await elb.send(new DescribeRulesCommand({ ListenerArn: listenerArn }))).Rules ?? [];
    expect(rules[0]?.Actions).toEqual(out.Listeners?.[0]?.DefaultActions);

    // Without DefaultActions the actions stay; the port moves.
    const moved = await elb.send(
      new ModifyListenerCommand({ ListenerArn: listenerArn, Port: 8444 }),
    );
    expect(moved.Listeners?.[0]?.Port).toBe(8444);
    expect(moved.Listeners?.[0]?.DefaultActions).toEqual(out.Listeners?.[0]?.DefaultActions);
  });

  it('error5xxApplied: the write lands, yet the caller is told InternalFailure', async () => {
    const lbArn = await createLoadBalancer();
    const blue = await createTargetGroup();
    const green = await createTargetGroup();
    const listenerArn = await createListener(lbArn, forward([blue, 100], [green, 0]), 8450);
    core.injectFault({
      service: 'elasticloadbalancing',
      operation: 'ModifyListener',
      kind: 'error5xxApplied',
      times: 1,
    });
    expect(
      await failure(
        elb.send(
          new ModifyListenerCommand({
            ListenerArn: listenerArn,
            DefaultActions: forward([blue, 90], [green, 10]),
          }),
        ),
      ),
    ).toMatchObject({ name: 'InternalFailure', status: 500 });
    core.clearFaults();
    const listener = (await elb.send(new DescribeListenersCommand({ ListenerArns: [listenerArn] })))
      .Listeners?.[0];
    expect(listener?.DefaultActions?.[0]?.ForwardConfig?.TargetGroups).toEqual([
      { TargetGroupArn: blue, Weight: 90 },
      { TargetGroupArn: green, Weight: 10 },
    ]);
  });

  it('SetRulePriorities swaps priorities and reports the rules it changed', async () => {
    const lbArn = await createLoadBalancer();
    const tg = await createTargetGroup();
    const listenerArn = await createListener(lbArn, forward([tg, 1]));
    const mk = async (priority: number, path: string): Promise<string> =>
      (
        await elb.send(
          new CreateRuleCommand({
            ListenerArn: listenerArn,
            Priority: priority,
            Conditions: [{ Field: 'path-pattern', Values: [path] }],
            Actions: forward([tg, 1]),
          }),
        )
      ).Rules?.[0]?.RuleArn as string;
    const a = await mk(1, '/a');
    const b = await mk(2, '/b');
    const out = await elb.send(
      new SetRulePrioritiesCommand({
        RulePriorities: [
          { RuleArn: a, Priority: 2 },
          { RuleArn: b, Priority: 1 },
        ],
      }),
    );
    expect(out.Rules?.map((r) => [r.RuleArn, r.Priority])).toEqual([
      [a, '2'],
      [b, '1'],
    ]);
    const rules =
      (await elb.send(new DescribeRulesCommand({ ListenerArn: listenerArn }))).Rules ?? [];
    expect(rules.map((r) => r.RuleArn)).toEqual([b, a, rules[2]?.RuleArn]);
  });
});

describe('validation, with AWS error codes and messages', () => {
  let lbArn: string;
  let listenerArn: string;
  let tgs: string[];

  beforeAll(async () => {
    lbArn = await createLoadBalancer();
    tgs = await Promise.all([1, 2, 3, 4, 5, 6].map(() => createTargetGroup()));
    listenerArn = await createListener(lbArn, forward([tgs[0] as string, 1]));
  });

  const modifyDefault = (actions: Action[]): Promise<unknown> =>
    elb.send(new ModifyListenerCommand({ ListenerArn: listenerArn, DefaultActions: actions }));

  it('rejects a weight above 999', async () => {
    const err = await failure(modifyDefault(forward([tgs[0] as string, 1000])));
    expect(err).toEqual({
      name: 'ValidationError',
      message: 'The weight for each target group must be between 0 and 999, inclusive',
      status: 400,
    });
  });

  it('rejects a negative weight', async () => {
    const err = await failure(modifyDefault(forward([tgs[0] as string, -1])));
    expect(err.message).toBe(
      'The weight for each target group must be between 0 and 999, inclusive',
    );
  });

  it('accepts weights 0 and 999', async () => {
    await modifyDefault(forward([tgs[0] as string, 0], [tgs[1] as string, 999]));
    const [l] =
      (await elb.send(new DescribeListenersCommand({ ListenerArns: [listenerArn] }))).Listeners ??
      [];
    expect(l?.DefaultActions?.[0]?.ForwardConfig?.TargetGroups?.map((t) => t.Weight)).toEqual([
      0, 999,
    ]);
  });

  it('rejects more than 5 target groups in one forward action', async () => {
    const err = await failure(modifyDefault(forward(...tgs.map((t): [string, number] => [t, 1]))));
    expect(err).toMatchObject({
      name: 'ValidationError',
      message: "You cannot specify more than '5' target groups in a forward action",
    });
  });

  it('rejects a target group given twice in one forward action', async () => {
    const tg = tgs[0] as string;
    const err = await failure(modifyDefault(forward([tg, 1], [tg, 2])));
    expect(err).toEqual({
      name: 'ValidationError',
      message: `Target group '${tg}' cannot be specified more than once in a forward action`,
      status: 400,
    });
  });

  it.each([0, 604801])('rejects a stickiness duration of %i seconds', async (DurationSeconds) => {
    const err = await failure(
      modifyDefault([
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [{ TargetGroupArn: tgs[0], Weight: 1 }],
            TargetGroupStickinessConfig: { Enabled: true, DurationSeconds },
          },
        },
      ]),
    );
    expect(err).toMatchObject({
      name: 'ValidationError',
      message: 'Target group stickiness duration must be between 1 and 604800 seconds',
    });
  });

  it('rejects TargetGroupArn and a ForwardConfig naming another target group', async () => {
    const err = await failure(
      modifyDefault([
        {
          Type: 'forward',
          TargetGroupArn: tgs[0],
          ForwardConfig: { TargetGroups: [{ TargetGroupArn: tgs[1], Weight: 1 }] },
        },
      ]),
    );
    expect(err).toMatchObject({
      name: 'ValidationError',
      message:
        "If you specify both 'TargetGroupArn' and 'ForwardConfig', 'ForwardConfig' can contain only the target group given in 'TargetGroupArn'",
    });
  });

  it('accepts TargetGroupArn and a ForwardConfig naming the same target group', async () => {
    const tg = tgs[2] as string;
    await modifyDefault([
      {
        Type: 'forward',
        TargetGroupArn: tg,
        ForwardConfig: { TargetGroups: [{ TargetGroupArn: tg, Weight: 3 }] },
      },
    ]);
    const [l] =
      (await elb.send(new DescribeListenersCommand({ ListenerArns: [listenerArn] }))).Listeners ??
      [];
    expect(l?.DefaultActions?.[0]).toMatchObject({
      TargetGroupArn: tg,
      ForwardConfig: { TargetGroups: [{ TargetGroupArn: tg, Weight: 3 }] },
    });
  });

  it('answers LoadBalancerNotFound for an unknown load balancer', async () => {
    const unknown = lbArn.replace(/[0-9a-f]{16}$/, '0000000000000000');
    const err = await failure(
      elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [unknown] })),
    );
    expect(err).toEqual({
      name: 'LoadBalancerNotFoundException',
      message: 'One or more load balancers not found',
      status: 400,
    });
  });

  it('answers ListenerNotFound for an unknown listener', async () => {
    const unknown = listenerArn.replace(/[0-9a-f]{16}$/, '0000000000000000');
    const err = await failure(
      elb.send(new ModifyListenerCommand({ ListenerArn: unknown, Port: 81 })),
    );
    expect(err).toEqual({
      name: 'ListenerNotFoundException',
      message: 'One or more listeners not found',
      status: 400,
    });
  });

  it('answers RuleNotFound for an unknown rule', async () => {
    const unknown = `${listenerArn.replace(':listener/', ':listener-rule/')}/0000000000000000`;
    const err = await failure(
      elb.send(
        new ModifyRuleCommand({ RuleArn: unknown, Actions: forward([tgs[0] as string, 1]) }),
      ),
    );
    expect(err).toEqual({
      name: 'RuleNotFoundException',
      message: 'One or more rules not found',
      status: 400,
    });
  });

  it('answers TargetGroupNotFound for an unknown target group in an action', async () => {
    const unknown = (tgs[0] as string).replace(/[0-9a-f]{16}$/, '0000000000000000');
    const err = await failure(modifyDefault(forward([unknown, 1])));
    expect(err).toEqual({
      name: 'TargetGroupNotFoundException',
      message: `Target groups '${unknown}' not found`,
      status: 400,
    });
    const described = await failure(
      elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [unknown] })),
    );
    expect(described).toMatchObject({
      name: 'TargetGroupNotFoundException',
      message: 'One or more target groups not found',
    });
  });

  it('answers DuplicateListener for a second listener on the same port', async () => {
    const err = await failure(
      createListener(lbArn, [
        { Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } },
      ]),
    );
    expect(err).toEqual({
      name: 'DuplicateListenerException',
      message: `A listener already exists on this port for this load balancer '${lbArn}'`,
      status: 400,
    });
  });

  it('answers PriorityInUse for a second rule with the same priority', async () => {
    const rule = {
      ListenerArn: listenerArn,
      Priority: 7,
      Conditions: [{ Field: 'path-pattern', Values: ['/x'] }],
      Actions: forward([tgs[0] as string, 1]),
    };
    await elb.send(new CreateRuleCommand(rule));
    const err = await failure(
      elb.send(
        new CreateRuleCommand({ ...rule, Conditions: [{ Field: 'path-pattern', Values: ['/y'] }] }),
      ),
    );
    expect(err).toEqual({
      name: 'PriorityInUseException',
      message: "Priority '7' is currently in use",
      status: 400,
    });
  });

  it('answers DuplicateLoadBalancerName for the same name with other settings', async () => {
    const name = uniqueName('dup');
    await elb.send(new CreateLoadBalancerCommand({ Name: name, Subnets: SUBNETS_A }));
    const again = await elb.send(new CreateLoadBalancerCommand({ Name: name, Subnets: SUBNETS_A }));
    expect(again.LoadBalancers?.[0]?.LoadBalancerName).toBe(name);
    const err = await failure(
      elb.send(new CreateLoadBalancerCommand({ Name: name, Subnets: SUBNETS_B })),
    );
    expect(err).toEqual({
      name: 'DuplicateLoadBalancerNameException',
      message: `A load balancer with the same name '${name}' exists, but with different settings`,
      status: 400,
    });
  });

  it('answers DuplicateTargetGroupName for the same name with other settings', async () => {
    const name = uniqueName('duptg');
    await createTargetGroup({ Name: name });
    const err = await failure(createTargetGroup({ Name: name, VpcId: 'vpc-sandbox-b' }));
    expect(err).toEqual({
      name: 'DuplicateTargetGroupNameException',
      message: `A target group with the same name '${name}' exists, but with different settings`,
      status: 400,
    });
  });

  it('refuses a target group in another VPC than the load balancer', async () => {
    const other = await createTargetGroup({ VpcId: 'vpc-sandbox-b' });
    const err = await failure(modifyDefault(forward([other, 1])));
    expect(err).toEqual({
      name: 'InvalidConfigurationRequestException',
      message: `Target group '${other}' is in a different VPC than load balancer '${lbArn}'`,
      status: 400,
    });
  });

  it('refuses a TCP target group behind an HTTP listener', async () => {
    const tcp = await createTargetGroup({ Protocol: 'TCP' });
    const err = await failure(modifyDefault(forward([tcp, 1])));
    expect(err).toEqual({
      name: 'IncompatibleProtocolsException',
      message: `The listener and its associated target group '${tcp}' have incompatible protocols`,
      status: 400,
    });
  });

  it('refuses a target group already used by another load balancer', async () => {
    const otherLb = await createLoadBalancer();
    const err = await failure(createListener(otherLb, forward([tgs[0] as string, 1])));
    expect(err).toMatchObject({
      name: 'TargetGroupAssociationLimitException',
      message: `The following target groups cannot be associated with more than one load balancer: ${tgs[0]}`,
    });
  });

  it.each([
    [
      0,
      "1 validation error detected: Value '0' at 'pageSize' failed to satisfy constraint: Member must have value greater than or equal to 1",
    ],
    [
      401,
      "1 validation error detected: Value '401' at 'pageSize' failed to satisfy constraint: Member must have value less than or equal to 400",
    ],
  ])('rejects PageSize %i', async (PageSize, message) => {
    const err = await failure(elb.send(new DescribeTargetGroupsCommand({ PageSize })));
    expect(err).toEqual({ name: 'ValidationError', message, status: 400 });
  });

  it.each([
    [
      'load balancer',
      () => elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: ['my-alb'] })),
      'my-alb',
    ],
    [
      'target group',
      () =>
        elb.send(
          new DescribeTargetHealthCommand({
            TargetGroupArn:
              'arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web/xyz',
          }),
        ),
      'arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web/xyz',
    ],
    ['listener', () => elb.send(new DescribeListenersCommand({ ListenerArns: ['nope'] })), 'nope'],
    ['listener rule', () => elb.send(new DeleteRuleCommand({ RuleArn: lbArn })), '<lb>'],
  ])('rejects a malformed %s ARN', async (what, call, arn) => {
    const err = await failure(call());
    expect(err).toEqual({
      name: 'ValidationError',
      message: `'${arn === '<lb>' ? lbArn : arn}' is not a valid ${what} ARN`,
      status: 400,
    });
  });

  it('rejects two forward actions in one rule', async () => {
    const err = await failure(
      modifyDefault([
        { Type: 'forward', Order: 1, TargetGroupArn: tgs[0] },
        { Type: 'forward', Order: 2, TargetGroupArn: tgs[1] },
      ]),
    );
    expect(err).toMatchObject({
      name: 'ValidationError',
      message: "A rule can have only one action of type 'forward', 'redirect' or 'fixed-response'",
    });
  });

  it('rejects an authenticate action after the forward action', async () => {
    const httpsListener = (
      await elb.send(
        new CreateListenerCommand({
          LoadBalancerArn: lbArn,
          Protocol: 'HTTPS',
          Port: 443,
          Certificates: [
            { CertificateArn: `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/sandbox` },
          ],
          DefaultActions: forward([tgs[0] as string, 1]),
        }),
      )
    ).Listeners?.[0]?.ListenerArn;
    const oidc = {
      Issuer: 'https://idp.example.com',
      AuthorizationEndpoint: 'https://idp.example.com/auth',
      TokenEndpoint: 'https://idp.example.com/token',
      UserInfoEndpoint: 'https://idp.example.com/userinfo',
      ClientId: 'client',
      ClientSecret: 'secret',
    };
    const err = await failure(
      elb.send(
        new ModifyListenerCommand({
          ListenerArn: httpsListener,
          DefaultActions: [
            { Type: 'forward', Order: 1, TargetGroupArn: tgs[0] },
            { Type: 'authenticate-oidc', Order: 2, AuthenticateOidcConfig: oidc },
          ],
        }),
      ),
    );
    expect(err).toMatchObject({
      name: 'ValidationError',
      message:
        "The 'forward' action must be the last action to be performed; authenticate actions must come before it",
    });
    const ok = await elb.send(
      new ModifyListenerCommand({
        ListenerArn: httpsListener,
        DefaultActions: [
          { Type: 'authenticate-oidc', Order: 1, AuthenticateOidcConfig: oidc },
          { Type: 'forward', Order: 2, TargetGroupArn: tgs[0] },
        ],
      }),
    );
    expect(ok.Listeners?.[0]?.DefaultActions?.map((a) => [a.Type, a.Order])).toEqual([
      ['authenticate-oidc', 1],
      ['forward', 2],
    ]);
    expect(
      ok.Listeners?.[0]?.DefaultActions?.[0]?.AuthenticateOidcConfig?.ClientSecret,
    ).toBeUndefined();
  });

  it('asks for the OIDC client secret on every write, or UseExistingClientSecret to keep it', async () => {
    const listener = (
      await elb.send(
        new CreateListenerCommand({
          LoadBalancerArn: lbArn,
          Protocol: 'HTTPS',
          Port: 8443,
          Certificates: [
            { CertificateArn: `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/sandbox` },
          ],
          DefaultActions: forward([tgs[0] as string, 1]),
        }),
      )
    ).Listeners?.[0]?.ListenerArn;
    const oidc = {
      Issuer: 'https://idp.example.com',
      AuthorizationEndpoint: 'https://idp.example.com/auth',
      TokenEndpoint: 'https://idp.example.com/token',
      UserInfoEndpoint: 'https://idp.example.com/userinfo',
      ClientId: 'client',
    };
    const write = (config: Record<string, unknown>) =>
      elb.send(
        new ModifyListenerCommand({
          ListenerArn: listener,
          DefaultActions: [
            { Type: 'authenticate-oidc', Order: 1, AuthenticateOidcConfig: { ...oidc, ...config } },
            { Type: 'forward', Order: 2, TargetGroupArn: tgs[0] },
          ],
        }),
      );
    // Nothing to keep yet: the listener had no authenticate-oidc action.
    expect(await failure(write({ UseExistingClientSecret: true }))).toMatchObject({
      name: 'InvalidLoadBalancerActionException',
    });
    expect(await failure(write({}))).toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining('A client secret must be specified'),
    });
    await write({ ClientSecret: 'secret' });
    expect(
      await failure(write({ ClientSecret: 'other', UseExistingClientSecret: true })),
    ).toMatchObject({
      name: 'InvalidLoadBalancerActionException',
      message: 'You cannot both specify a client secret and set UseExistingClientSecret to true',
    });
    // Kept twice in a row: the flag itself is not stored, the secret is.
    await write({ UseExistingClientSecret: true });
    const kept = await write({ UseExistingClientSecret: true });
    const described = kept.Listeners?.[0]?.DefaultActions?.[0]?.AuthenticateOidcConfig;
    expect(described).toMatchObject(oidc);
    expect(described?.ClientSecret).toBeUndefined();
    expect(described?.UseExistingClientSecret).toBeUndefined();
  });

  it('rejects two actions with the same Order, and several actions without Order', async () => {
    const same = await failure(
      modifyDefault([
        { Type: 'fixed-response', Order: 1, FixedResponseConfig: { StatusCode: '200' } },
        { Type: 'forward', Order: 1, TargetGroupArn: tgs[0] },
      ]),
    );
    expect(same).toMatchObject({
      name: 'ValidationError',
      message: "Action order '1' is used more than once",
    });
    const unordered = await failure(
      modifyDefault([
        { Type: 'fixed-response', FixedResponseConfig: { StatusCode: '200' } },
        { Type: 'forward', TargetGroupArn: tgs[0] },
      ]),
    );
    expect(unordered).toMatchObject({
      name: 'ValidationError',
      message:
        'An action order must be specified for each action when a rule has more than one action',
    });
  });

  it('refuses to delete a default rule', async () => {
    const rules =
      (await elb.send(new DescribeRulesCommand({ ListenerArn: listenerArn }))).Rules ?? [];
    const defaultRule = rules.find((r) => r.IsDefault)?.RuleArn as string;
    const err = await failure(elb.send(new DeleteRuleCommand({ RuleArn: defaultRule })));
    expect(err).toEqual({
      name: 'OperationNotPermittedException',
      message: `Default rule '${defaultRule}' cannot be deleted`,
      status: 400,
    });
  });

  it('limits a rule to 5 condition values', async () => {
    const err = await failure(
      elb.send(
        new CreateRuleCommand({
          ListenerArn: listenerArn,
          Priority: 99,
          Conditions: [{ Field: 'path-pattern', Values: ['/1', '/2', '/3', '/4', '/5', '/6'] }],
          Actions: forward([tgs[0] as string, 1]),
        }),
      ),
    );
    expect(err).toMatchObject({
      name: 'ValidationError',
      message: "A rule can only have '5' condition values",
    });
  });

  it('needs a health-check interval longer than the timeout (5 s is the default timeout)', async () => {
    const err = await failure(
      elb.send(
        new CreateTargetGroupCommand({
          Name: uniqueName('hc'),
          Protocol: 'HTTP',
          Port: 80,
          VpcId: 'vpc-sandbox-a',
          HealthCheckIntervalSeconds: 5,
        }),
      ),
    );
    expect(err).toEqual({
      name: 'ValidationError',
      message: 'Health check interval must be greater than the timeout.',
      status: 400,
    });
  });

  it('needs two subnets in two zones for a load balancer', async () => {
    const err = await failure(
      elb.send(
        new CreateLoadBalancerCommand({
          Name: uniqueName('one'),
          Subnets: [SUBNETS_A[0] as string],
        }),
      ),
    );
    expect(err).toMatchObject({
      name: 'ValidationError',
      message: 'At least two subnets in two different Availability Zones must be specified',
    });
  });
});

describe('pagination', () => {
  it('pages every Describe call that pages with Marker and PageSize', async () => {
    const lbArn = await createLoadBalancer();
    const tg = await createTargetGroup();
    const listeners: string[] = [];
    for (const port of [1001, 1002, 1003])
      listeners.push(await createListener(lbArn, forward([tg, 1]), port));
    for (const priority of [1, 2, 3, 4]) {
      await elb.send(
        new CreateRuleCommand({
          ListenerArn: listeners[0],
          Priority: priority,
          Conditions: [{ Field: 'path-pattern', Values: [`/${priority}`] }],
          Actions: forward([tg, 1]),
        }),
      );
    }

    const pages = async <T>(
      fetch: (marker: string | undefined) => Promise<{ items: T[]; next?: string }>,
    ): Promise<T[][]> => {
      const out: T[][] = [];
      let marker: string | undefined;
      do {
        const page = await fetch(marker);
        out.push(page.items);
        marker = page.next;
      } while (marker);
      return out;
    };

    const listenerPages = await pages(async (Marker) => {
      const r = await elb.send(
        new DescribeListenersCommand({ LoadBalancerArn: lbArn, PageSize: 2, Marker }),
      );
      return { items: (r.Listeners ?? []).map((l) => l.Port), next: r.NextMarker };
    });
    expect(listenerPages).toEqual([[1001, 1002], [1003]]);

    const rulePages = await pages(async (Marker) => {
      const r = await elb.send(
        new DescribeRulesCommand({ ListenerArn: listeners[0], PageSize: 2, Marker }),
      );
      return { items: (r.Rules ?? []).map((x) => x.Priority), next: r.NextMarker };
    });
    expect(rulePages).toEqual([['1', '2'], ['3', '4'], ['default']]);

    const allLbs = (await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? [];
    const lbPages = await pages(async (Marker) => {
      const r = await elb.send(new DescribeLoadBalancersCommand({ PageSize: 3, Marker }));
      return { items: (r.LoadBalancers ?? []).map((l) => l.LoadBalancerArn), next: r.NextMarker };
    });
    expect(lbPages.flat()).toEqual(allLbs.map((l) => l.LoadBalancerArn));
    expect(lbPages.slice(0, -1).every((p) => p.length === 3)).toBe(true);

    const allTgs = (await elb.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? [];
    const tgPages = await pages(async (Marker) => {
      const r = await elb.send(new DescribeTargetGroupsCommand({ PageSize: 4, Marker }));
      return { items: (r.TargetGroups ?? []).map((t) => t.TargetGroupArn), next: r.NextMarker };
    });
    expect(tgPages.length).toBe(Math.ceil(allTgs.length / 4));
    expect(tgPages.flat()).toEqual(allTgs.map((t) => t.TargetGroupArn));
  });
});
