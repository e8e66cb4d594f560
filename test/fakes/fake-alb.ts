/**
 * An in-memory ALB behind aws-sdk-client-mock: Describe* answer from state, Modify* change it,
 * so tests assert the weights the ALB ends with, not just which calls were made.
 */
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  ElasticLoadBalancingV2Client,
  ListenerNotFoundException,
  ModifyListenerCommand,
  ModifyRuleCommand,
  RuleNotFoundException,
  type Action,
  type RuleCondition,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';

export const REGION = 'ap-northeast-1';
const P = `arn:aws:elasticloadbalancing:${REGION}:123456789012`;
export const TG_BLUE = `${P}:targetgroup/web-blue/0123456789abcdef`;
export const TG_GREEN = `${P}:targetgroup/web-green/fedcba9876543210`;
export const TG_OTHER = `${P}:targetgroup/web-other/1111111111111111`;
export const LISTENER = `${P}:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2`;
export const LISTENER_2 = `${P}:listener/app/web-internal/60dc6c495c0c9188/a2f7dc8efc522ab2`;
export const RULE = `${P}:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee`;
export const RULE_2 = `${P}:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/1683b2d02a6cabee`;
export const DEFAULT_RULE = `${P}:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/0000000000000001`;

export function forward(weights: Record<string, number>, stickiness?: number): Action {
  return {
    Type: 'forward',
    Order: 1,
    ForwardConfig: {
      TargetGroups: Object.entries(weights).map(([TargetGroupArn, Weight]) => ({
        TargetGroupArn,
        Weight,
      })),
      TargetGroupStickinessConfig:
        stickiness === undefined
          ? { Enabled: false }
          : { Enabled: true, DurationSeconds: stickiness },
    },
  };
}

interface RuleState {
  actions: Action[];
  conditions: RuleCondition[];
  priority: string;
  isDefault: boolean;
}

export class FakeAlb {
  readonly client = new ElasticLoadBalancingV2Client({
    region: REGION,
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  readonly mock = mockClient(this.client);
  readonly listeners = new Map<string, Action[]>();
  readonly rules = new Map<string, RuleState>();
  /** Called before each Modify*; throw to make that write fail. */
  beforeWrite: (arn: string, writeNumber: number) => void = () => undefined;
  /** Changes what a read returns without changing state (e.g. a read-back that disagrees). */
  readFilter: (arn: string, actions: Action[]) => Action[] = (_arn, a) => a;
  writes = 0;

  constructor() {
    // Like ELBv2: every ARN asked for is answered, and one unknown ARN fails the whole call.
    this.mock.on(DescribeListenersCommand).callsFake((input: { ListenerArns?: string[] }) => {
      const arns = input.ListenerArns ?? [];
      if (arns.some((arn) => !this.listeners.has(arn))) {
        throw new ListenerNotFoundException({
          message: 'One or more listeners not found',
          $metadata: {},
        });
      }
      return {
        Listeners: arns.map((arn) => ({
          ListenerArn: arn,
          DefaultActions: structuredClone(
            this.readFilter(arn, this.listeners.get(arn) as Action[]),
          ),
        })),
      };
    });
    this.mock.on(DescribeRulesCommand).callsFake((input: { RuleArns?: string[] }) => {
      const arns = input.RuleArns ?? [];
      if (arns.some((arn) => !this.rules.has(arn))) {
        throw new RuleNotFoundException({ message: 'One or more rules not found', $metadata: {} });
      }
      return {
        Rules: arns.map((arn) => {
          const rule = this.rules.get(arn) as RuleState;
          return {
            RuleArn: arn,
            Priority: rule.priority,
            IsDefault: rule.isDefault,
            Conditions: structuredClone(rule.conditions),
            Actions: structuredClone(this.readFilter(arn, rule.actions)),
          };
        }),
      };
    });
    this.mock
      .on(ModifyListenerCommand)
      .callsFake((input: { ListenerArn: string; DefaultActions: Action[] }) => {
        this.beforeWrite(input.ListenerArn, ++this.writes);
        this.listeners.set(input.ListenerArn, stored(input.DefaultActions));
        return {
          Listeners: [{ ListenerArn: input.ListenerArn, DefaultActions: input.DefaultActions }],
        };
      });
    this.mock
      .on(ModifyRuleCommand)
      .callsFake((input: { RuleArn: string; Actions?: Action[]; Conditions?: RuleCondition[] }) => {
        this.beforeWrite(input.RuleArn, ++this.writes);
        const rule = this.rules.get(input.RuleArn) as RuleState;
        if (input.Actions) rule.actions = stored(input.Actions);
        if (input.Conditions) rule.conditions = input.Conditions;
        return { Rules: [{ RuleArn: input.RuleArn }] };
      });
  }

  addListener(arn: string, actions: Action[]): this {
    this.listeners.set(arn, structuredClone(actions));
    return this;
  }

  addRule(
    arn: string,
    actions: Action[],
    conditions: RuleCondition[] = [],
    isDefault = false,
  ): this {
    this.rules.set(arn, {
      actions: structuredClone(actions),
      conditions,
      priority: isDefault ? 'default' : '10',
      isDefault,
    });
    return this;
  }

  actionsOf(arn: string): Action[] {
    return this.listeners.get(arn) ?? this.rules.get(arn)?.actions ?? [];
  }

  /** The weights the route's forward action ends with. */
  weightsOf(arn: string): Record<string, number> {
    const fwd = this.actionsOf(arn).find((a) => a.Type === 'forward');
    return Object.fromEntries(
      (fwd?.ForwardConfig?.TargetGroups ?? []).map((g) => [g.TargetGroupArn, g.Weight]),
    );
  }

  modifyCalls(): number {
    return (
      this.mock.commandCalls(ModifyListenerCommand).length +
      this.mock.commandCalls(ModifyRuleCommand).length
    );
  }
}

/** What the ALB keeps of a write: as Describe would return it (no client secret, no write-only flag). */
function stored(actions: Action[]): Action[] {
  return structuredClone(actions).map((a) => {
    if (a.AuthenticateOidcConfig) {
      delete a.AuthenticateOidcConfig.UseExistingClientSecret;
      delete a.AuthenticateOidcConfig.ClientSecret;
    }
    return a;
  });
}
