/**
 * Elastic Load Balancing v2 ARNs, parsed into their parts.
 *
 * Formats (AWS API reference, "Elastic Load Balancing resource types"):
 *   arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>
 *   arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>
 *   arn:<partition>:elasticloadbalancing:<region>:<account>:listener/app/<lb-name>/<lb-id>/<listener-id>
 *   arn:<partition>:elasticloadbalancing:<region>:<account>:listener-rule/app/<lb-name>/<lb-id>/<listener-id>/<rule-id>
 * Ids are 16 lowercase hex digits. Only application load balancers (`app/`) carry weighted
 * forward actions between target groups, so `net/` and `gwy/` are rejected as routes.
 */
export type ElbArnKind = 'targetgroup' | 'loadbalancer' | 'listener' | 'listener-rule';

export interface ElbArn {
  arn: string;
  kind: ElbArnKind;
  partition: string;
  region: string;
  account: string;
  /** Target group name, or load balancer name for the other kinds. */
  name: string;
  /** `targetgroup/<name>/<id>`: the CloudWatch TargetGroup dimension (target groups only). */
  targetGroupDimension?: string;
  /** `app/<name>/<id>`: the CloudWatch LoadBalancer dimension (lb, listener, rule). */
  loadBalancerDimension?: string;
}

const PREFIX =
  /^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):elasticloadbalancing:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):(.+)$/;
const ID = '[0-9a-f]{16}';
const NAME = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?';
const RESOURCE: Record<ElbArnKind, RegExp> = {
  targetgroup: new RegExp(`^targetgroup/(${NAME})/(${ID})$`),
  loadbalancer: new RegExp(`^loadbalancer/app/(${NAME})/(${ID})$`),
  listener: new RegExp(`^listener/app/(${NAME})/(${ID})/${ID}$`),
  'listener-rule': new RegExp(`^listener-rule/app/(${NAME})/(${ID})/${ID}/${ID}$`),
};

const EXAMPLES: Record<ElbArnKind, string> = {
  targetgroup: 'arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<16 hex>',
  loadbalancer: 'arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<16 hex>',
  listener:
    'arn:aws:elasticloadbalancing:<region>:<account>:listener/app/<lb-name>/<16 hex>/<16 hex>',
  'listener-rule':
    'arn:aws:elasticloadbalancing:<region>:<account>:listener-rule/app/<lb-name>/<16 hex>/<16 hex>/<16 hex>',
};

/** The shape an ARN of this kind must have, for error messages. */
export function arnExample(kind: ElbArnKind): string {
  return EXAMPLES[kind];
}

/**
 * Parses an ELBv2 ARN of the expected kind. Returns a sentence describing what is wrong
 * (without the ARN's location, which the caller adds) when it is not one.
 */
export function parseElbArn(arn: string, kind: ElbArnKind): ElbArn | { error: string } {
  const m = PREFIX.exec(arn);
  if (!m) {
    return {
      error: `"${arn}" is not an Elastic Load Balancing ARN; expected ${EXAMPLES[kind]}`,
    };
  }
  const [, partition, region, account, resource] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  const r = RESOURCE[kind].exec(resource);
  if (!r) {
    const actual = (Object.keys(RESOURCE) as ElbArnKind[]).find((k) => RESOURCE[k].test(resource));
    const what = actual ? `a ${actual} ARN` : `not a well-formed ${kind} ARN`;
    return { error: `"${arn}" is ${what}; expected ${EXAMPLES[kind]}` };
  }
  const [, name, id] = r as unknown as [string, string, string];
  const parsed: ElbArn = { arn, kind, partition, region, account, name };
  if (kind === 'targetgroup') parsed.targetGroupDimension = `targetgroup/${name}/${id}`;
  else parsed.loadBalancerDimension = `app/${name}/${id}`;
  return parsed;
}

export function isArnError(x: ElbArn | { error: string }): x is { error: string } {
  return 'error' in x;
}

/** Short human name for logs and tables: `web-blue` for a target group, `web/…/abcd` for a route. */
export function shortName(arn: string): string {
  const resource = arn.split(':').slice(5).join(':');
  const parts = resource.split('/');
  if (parts[0] === 'targetgroup') return parts[1] ?? arn;
  if (parts[0] === 'listener') return `${parts[2]} listener ${(parts[4] ?? '').slice(-6)}`;
  if (parts[0] === 'listener-rule') return `${parts[2]} rule ${(parts[5] ?? '').slice(-6)}`;
  return resource || arn;
}

/** A link to the resource in the AWS console, for logs and summaries. */
export function consoleLink(arn: string, region: string): string {
  const host = `https://${region}.console.aws.amazon.com/ec2/home?region=${region}`;
  const resource = arn.split(':').slice(5).join(':');
  if (resource.startsWith('targetgroup/')) {
    return `${host}#TargetGroup:targetGroupArn=${encodeURIComponent(arn)}`;
  }
  if (resource.startsWith('listener-rule/')) {
    const listenerArn = arn.replace(':listener-rule/', ':listener/').replace(/\/[0-9a-f]{16}$/, '');
    return `${host}#ListenerRuleDetails:ruleArn=${encodeURIComponent(arn)};listenerArn=${encodeURIComponent(listenerArn)}`;
  }
  if (resource.startsWith('listener/')) {
    return `${host}#ListenerDetails:listenerArn=${encodeURIComponent(arn)}`;
  }
  return `${host}#LoadBalancers:`;
}
