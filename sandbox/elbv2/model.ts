/**
 * The ELBv2 resources the sandbox keeps, in the shapes the API returns, plus the fixed
 * network the sandbox pretends to have.
 *
 * Sandbox VPCs (CreateLoadBalancer's Subnets decide the load balancer's VPC; CreateTargetGroup
 * names its VpcId). Availability zones are the request region plus the suffix:
 *
 * | VPC           | subnet                    | AZ suffix |
 * |---------------|---------------------------|-----------|
 * | vpc-sandbox-a | subnet-0a000000000000001a | a         |
 * | vpc-sandbox-a | subnet-0a000000000000001c | c         |
 * | vpc-sandbox-a | subnet-0a000000000000001d | d         |
 * | vpc-sandbox-b | subnet-0b000000000000001a | a         |
 * | vpc-sandbox-b | subnet-0b000000000000001c | c         |
 *
 * vpc-sandbox-b exists so that "target group in another VPC than the load balancer" can be
 * exercised.
 */
import { randomBytes } from 'node:crypto';

export const SANDBOX_SUBNETS: Record<string, { vpcId: string; azSuffix: string }> = {
  'subnet-0a000000000000001a': { vpcId: 'vpc-sandbox-a', azSuffix: 'a' },
  'subnet-0a000000000000001c': { vpcId: 'vpc-sandbox-a', azSuffix: 'c' },
  'subnet-0a000000000000001d': { vpcId: 'vpc-sandbox-a', azSuffix: 'd' },
  'subnet-0b000000000000001a': { vpcId: 'vpc-sandbox-b', azSuffix: 'a' },
  'subnet-0b000000000000001c': { vpcId: 'vpc-sandbox-b', azSuffix: 'c' },
};
export const SANDBOX_VPCS = ['vpc-sandbox-a', 'vpc-sandbox-b'];

/** An error the API answers with: AWS's code, message and HTTP status. */
export class ElbError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export const validation = (message: string): ElbError => new ElbError('ValidationError', message);

export interface TargetGroupTuple {
  targetGroupArn: string;
  weight: number;
}

export interface ForwardConfig {
  targetGroups: TargetGroupTuple[];
  stickiness: { enabled: boolean; durationSeconds?: number };
}

export interface Action {
  type: 'forward' | 'redirect' | 'fixed-response' | 'authenticate-oidc' | 'authenticate-cognito';
  order: number;
  forward?: ForwardConfig;
  redirect?: {
    protocol: string;
    port: string;
    host: string;
    path: string;
    query: string;
    statusCode: 'HTTP_301' | 'HTTP_302';
  };
  fixedResponse?: { statusCode: string; contentType?: string; messageBody?: string };
  /** authenticate-* configs, kept as sent: the data plane does not authenticate. */
  authenticateConfig?: Record<string, unknown>;
}

export type ConditionField =
  | 'path-pattern'
  | 'host-header'
  | 'http-header'
  | 'http-request-method'
  | 'query-string'
  | 'source-ip';

export interface Condition {
  field: ConditionField;
  /** path, host, method and source-ip values; http-header values. */
  values: string[];
  httpHeaderName?: string;
  queryString?: { key?: string; value: string }[];
}

export interface LoadBalancer {
  arn: string;
  id: string;
  name: string;
  region: string;
  dnsName: string;
  canonicalHostedZoneId: string;
  createdTime: Date;
  scheme: 'internet-facing' | 'internal';
  vpcId: string;
  subnets: string[];
  securityGroups: string[];
  ipAddressType: string;
}

export interface HealthCheckSettings {
  enabled: boolean;
  protocol: string;
  port: string;
  path: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThresholdCount: number;
  unhealthyThresholdCount: number;
  matcher: string;
}

export interface TargetGroup {
  arn: string;
  id: string;
  name: string;
  region: string;
  protocol: string;
  protocolVersion?: string;
  port: number;
  vpcId: string;
  targetType: 'ip' | 'instance';
  ipAddressType: string;
  healthCheck: HealthCheckSettings;
  /** The `deregistration_delay.timeout_seconds` attribute (AWS default 300). */
  deregistrationDelaySeconds: number;
}

export interface Listener {
  arn: string;
  id: string;
  loadBalancerArn: string;
  region: string;
  port: number;
  protocol: string;
  certificates: string[];
  sslPolicy?: string;
}

export interface Rule {
  arn: string;
  listenerArn: string;
  region: string;
  /** undefined for the default rule. */
  priority: number | undefined;
  conditions: Condition[];
  actions: Action[];
  isDefault: boolean;
  /** Order of creation, to keep DescribeRules stable. */
  seq: number;
}

/** 16 lowercase hex digits, as in real ELB ARNs. */
export function newId(): string {
  return randomBytes(8).toString('hex');
}

export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export function arnPrefix(region: string, accountId: string): string {
  return `arn:${partitionOf(region)}:elasticloadbalancing:${region}:${accountId}`;
}

/** Route 53 hosted zone ids of ALBs per region (AWS General Reference); others fall back. */
const ALB_HOSTED_ZONES: Record<string, string> = {
  'us-east-1': 'Z35SXDOTRQ7X7K',
  'us-east-2': 'Z3AADJGX6KTTL2',
  'us-west-1': 'Z368ELLRRE2KJ0',
  'us-west-2': 'Z1H1FL5HABSF5',
  'ap-northeast-1': 'Z14GRHDCWA56QT',
  'ap-northeast-2': 'ZWKZPGTI48KDX',
  'ap-southeast-1': 'Z1LMS91P8CMLE5',
  'ap-southeast-2': 'Z1GM3OXH4ZPM65',
  'eu-central-1': 'Z215JYRZR1TBD5',
  'eu-west-1': 'Z32O12XQLNTSW2',
};

export function hostedZoneOf(region: string): string {
  return ALB_HOSTED_ZONES[region] ?? 'Z35SXDOTRQ7X7K';
}

const NAME = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?';
const ID = '[0-9a-f]{16}';
const ARN_PREFIX = 'arn:aws(?:-cn|-us-gov)?:elasticloadbalancing:[a-z0-9-]+:\\d{12}';
const ARN_SHAPES = {
  loadbalancer: new RegExp(`^${ARN_PREFIX}:loadbalancer/app/${NAME}/${ID}$`),
  targetgroup: new RegExp(`^${ARN_PREFIX}:targetgroup/${NAME}/${ID}$`),
  listener: new RegExp(`^${ARN_PREFIX}:listener/app/${NAME}/${ID}/${ID}$`),
  'listener-rule': new RegExp(`^${ARN_PREFIX}:listener-rule/app/${NAME}/${ID}/${ID}/${ID}$`),
};
const ARN_WORDS = {
  loadbalancer: 'load balancer',
  targetgroup: 'target group',
  listener: 'listener',
  'listener-rule': 'listener rule',
};

/** Throws AWS's ValidationError (`'x' is not a valid target group ARN`) for a malformed ARN. */
export function checkArn(arn: string, kind: keyof typeof ARN_SHAPES): void {
  if (!ARN_SHAPES[kind].test(arn)) {
    throw validation(`'${arn}' is not a valid ${ARN_WORDS[kind]} ARN`);
  }
}

/** `app/<name>/<id>`: the CloudWatch LoadBalancer dimension. */
export function loadBalancerDimension(lb: LoadBalancer): string {
  return `app/${lb.name}/${lb.id}`;
}

/** `targetgroup/<name>/<id>`: the CloudWatch TargetGroup dimension. */
export function targetGroupDimension(tg: TargetGroup): string {
  return `targetgroup/${tg.name}/${tg.id}`;
}

/** Target group ARNs an action list forwards to (weight 0 included: ALB still uses them). */
export function forwardedTargetGroups(actions: Action[]): string[] {
  return actions.flatMap((a) => a.forward?.targetGroups.map((t) => t.targetGroupArn) ?? []);
}
