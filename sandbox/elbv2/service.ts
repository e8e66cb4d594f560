/**
 * Elastic Load Balancing v2 in the sandbox: the query-protocol API (API version 2015-12-01)
 * for application load balancers, behind which every listener is a real HTTP port
 * (see dataplane.ts) and every target group is health-checked (see health.ts).
 *
 * Scope: application load balancers with HTTP/HTTPS listeners (HTTPS listeners are served as
 * plain HTTP on their local port), `ip` and `instance` target groups. Network and gateway load
 * balancers and lambda/alb targets are refused with a message that says so. The sandbox's
 * VPCs and subnets are listed in model.ts.
 *
 * Resources belong to the region of the request's SigV4 scope, as on AWS's regional endpoints.
 *
 * The API shows every change at once. The data plane picks up changed actions (ModifyListener
 * DefaultActions, ModifyRule Actions: weights, stickiness) only after `propagationDelayMs`,
 * as a real ALB does; new rules and listeners, changed conditions and deletions apply at once.
 */
import type { ControlRoute, SandboxService, ServiceRequest, ServiceResponse } from '../core.js';
import type { MetricStore } from '../metrics.js';
import {
  type QueryObject,
  type XmlValue,
  has,
  objectList,
  obj,
  parseQueryBody,
  queryError,
  queryResponse,
  str,
  stringList,
} from '../query-protocol.js';
import { actionXml, conditionXml, parseActions, parseConditions } from './actions.js';
import { ListenerServer, type ListenerView } from './dataplane.js';
import { TargetGroupRuntime } from './health.js';
import {
  type Action,
  type Condition,
  type HealthCheckSettings,
  type Listener,
  type LoadBalancer,
  type Rule,
  type TargetGroup,
  ElbError,
  SANDBOX_SUBNETS,
  SANDBOX_VPCS,
  arnPrefix,
  checkArn,
  forwardedTargetGroups,
  hostedZoneOf,
  loadBalancerDimension,
  newId,
  targetGroupDimension,
  validation,
} from './model.js';

export interface Elbv2ServiceOptions {
  metrics: MetricStore;
  /** How long a change of actions takes to reach the data plane, as on a real ALB. Default 0. */
  propagationDelayMs?: number;
  /**
   * Multiplies the ELB's timers: health-check interval and timeout, the deregistration delay
   * and the 60 s idle timeout after which a silent target gets a 504. Default 1.
   */
  healthCheckTimeScale?: number;
  accountId?: string;
}

const NAMESPACE = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
const MAX_PAGE_SIZE = 400;
const MAX_DESCRIBE_RULE_ARNS = 20;
const MAX_TAGS = 50;
const IDLE_TIMEOUT_MS = 60_000;
const SECURITY_GROUP_OF_VPC: Record<string, string> = {
  'vpc-sandbox-a': 'sg-0a0000000000000a0',
  'vpc-sandbox-b': 'sg-0b0000000000000b0',
};

type Result = Record<string, XmlValue>;

/** A change of actions and the time the data plane starts using it. */
interface ServedActions {
  from: number;
  actions: Action[];
}

export class Elbv2Service implements SandboxService {
  readonly signingName = 'elasticloadbalancing';

  private readonly metrics: MetricStore;
  private readonly propagationDelayMs: number;
  private readonly timeScale: number;
  private readonly accountId: string;

  private readonly loadBalancers = new Map<string, LoadBalancer>();
  private readonly targetGroups = new Map<string, TargetGroup>();
  private readonly runtimes = new Map<string, TargetGroupRuntime>();
  private readonly listeners = new Map<string, Listener>();
  private readonly servers = new Map<string, ListenerServer>();
  private readonly rules = new Map<string, Rule>();
  private readonly served = new Map<string, ServedActions[]>();
  private readonly tags = new Map<string, Map<string, string>>();
  private readonly targetStateListeners = new Set<
    (change: {
      targetGroupArn: string;
      id: string;
      port: number;
      state: string;
      at: number;
    }) => void
  >();
  private seq = 0;

  constructor(options: Elbv2ServiceOptions) {
    this.metrics = options.metrics;
    this.propagationDelayMs = options.propagationDelayMs ?? 0;
    this.timeScale = options.healthCheckTimeScale ?? 1;
    this.accountId = options.accountId ?? '123456789012';
  }

  operationOf(req: ServiceRequest): string | undefined {
    return str(parseQueryBody(req.body.toString('utf8')), 'Action');
  }

  errorResponse(
    req: ServiceRequest,
    status: number,
    code: string,
    message: string,
  ): ServiceResponse {
    return queryError(NAMESPACE, status, code, message, req.requestId);
  }

  async handle(req: ServiceRequest, operation: string): Promise<ServiceResponse> {
    const input = parseQueryBody(req.body.toString('utf8'));
    const handler = this.operations[operation];
    if (!handler) {
      return this.errorResponse(
        req,
        400,
        'InvalidAction',
        `The action ${operation} is not valid for this web service.`,
      );
    }
    try {
      const result = await handler(input, req.region);
      return queryResponse(NAMESPACE, operation, result, req.requestId);
    } catch (e) {
      if (e instanceof ElbError) return this.errorResponse(req, e.status, e.code, e.message);
      throw e;
    }
  }

  /** `http://127.0.0.1:<port>`: where the listener's data plane really listens. */
  listenerUrl(listenerArn: string): string {
    const server = this.servers.get(listenerArn);
    if (!server) throw new Error(`The sandbox has no listener ${listenerArn}`);
    return server.url();
  }

  controlRoutes(): ControlRoute[] {
    return [
      {
        method: 'GET',
        path: '/_sandbox/elbv2/listeners',
        handle: () =>
          [...this.listeners.values()].map((l) => ({
            listenerArn: l.arn,
            loadBalancerArn: l.loadBalancerArn,
            port: l.port,
            url: this.listenerUrl(l.arn),
          })),
      },
    ];
  }

  /**
   * Calls `listener` with each change of a registered target's state, as it happens (for
   * benchmarks: the moment a target turns healthy, without polling the API). Answers an
   * unsubscribe.
   */
  onTargetState(
    listener: (change: {
      targetGroupArn: string;
      id: string;
      port: number;
      state: string;
      at: number;
    }) => void,
  ): () => void {
    this.targetStateListeners.add(listener);
    return () => this.targetStateListeners.delete(listener);
  }

  async close(): Promise<void> {
    for (const runtime of this.runtimes.values()) runtime.stop();
    const servers = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(servers.map((s) => s.close()));
  }

  private readonly operations: Record<
    string,
    (input: QueryObject, region: string) => Result | Promise<Result>
  > = {
    CreateLoadBalancer: (i, r) => this.createLoadBalancer(i, r),
    DescribeLoadBalancers: (i, r) => this.describeLoadBalancers(i, r),
    CreateTargetGroup: (i, r) => this.createTargetGroup(i, r),
    DescribeTargetGroups: (i, r) => this.describeTargetGroups(i, r),
    RegisterTargets: (i, r) => this.registerTargets(i, r),
    DeregisterTargets: (i, r) => this.deregisterTargets(i, r),
    DescribeTargetHealth: (i, r) => this.describeTargetHealth(i, r),
    CreateListener: (i, r) => this.createListener(i, r),
    DescribeListeners: (i, r) => this.describeListeners(i, r),
    ModifyListener: (i, r) => this.modifyListener(i, r),
    DeleteListener: (i, r) => this.deleteListener(i, r),
    CreateRule: (i, r) => this.createRule(i, r),
    DescribeRules: (i, r) => this.describeRules(i, r),
    ModifyRule: (i, r) => this.modifyRule(i, r),
    DeleteRule: (i, r) => this.deleteRule(i, r),
    SetRulePriorities: (i, r) => this.setRulePriorities(i, r),
    AddTags: (i, r) => this.addTags(i, r),
    DescribeTags: (i, r) => this.describeTags(i, r),
    RemoveTags: (i, r) => this.removeTags(i, r),
  };

  // ---- load balancers ----

  private createLoadBalancer(input: QueryObject, region: string): Result {
    const name = required(input, 'Name', 'name');
    checkName(name, 'Load balancer');
    if (name.startsWith('internal-')) {
      throw validation(`Load balancer name '${name}' cannot begin with 'internal-'`);
    }
    const type = str(input, 'Type') ?? 'application';
    if (type !== 'application') {
      throw validation(
        `The sandbox models load balancers of type 'application' only, not '${type}'`,
      );
    }
    const scheme = (str(input, 'Scheme') ?? 'internet-facing') as LoadBalancer['scheme'];
    if (scheme !== 'internet-facing' && scheme !== 'internal') {
      throw constraint(
        scheme,
        'scheme',
        'Member must satisfy enum value set: [internet-facing, internal]',
      );
    }
    const subnets = [
      ...stringList(input, 'Subnets'),
      ...objectList(input, 'SubnetMappings').map((m) => str(m, 'SubnetId') ?? ''),
    ];
    for (const s of subnets) {
      if (!SANDBOX_SUBNETS[s])
        throw new ElbError('SubnetNotFound', `The subnet ID '${s}' is not valid`);
    }
    const vpcs = new Set(subnets.map((s) => SANDBOX_SUBNETS[s]?.vpcId));
    if (vpcs.size > 1) {
      throw new ElbError('InvalidSubnet', 'The specified subnets must all belong to the same VPC');
    }
    const zones = new Set(subnets.map((s) => SANDBOX_SUBNETS[s]?.azSuffix));
    if (zones.size < 2) {
      throw validation(
        'At least two subnets in two different Availability Zones must be specified',
      );
    }
    const vpcId = [...vpcs][0] as string;
    const securityGroups = has(input, 'SecurityGroups')
      ? stringList(input, 'SecurityGroups')
      : [SECURITY_GROUP_OF_VPC[vpcId] as string];
    const ipAddressType = str(input, 'IpAddressType') ?? 'ipv4';

    const existing = this.regionLoadBalancers(region).find((lb) => lb.name === name);
    if (existing) {
      const same =
        existing.scheme === scheme &&
        existing.ipAddressType === ipAddressType &&
        sameSet(existing.subnets, subnets) &&
        sameSet(existing.securityGroups, securityGroups);
      if (!same) {
        throw new ElbError(
          'DuplicateLoadBalancerName',
          `A load balancer with the same name '${name}' exists, but with different settings`,
        );
      }
      return { LoadBalancers: [this.loadBalancerXml(existing, 'active')] };
    }

    const id = newId();
    const lb: LoadBalancer = {
      arn: `${arnPrefix(region, this.accountId)}:loadbalancer/app/${name}/${id}`,
      id,
      name,
      region,
      dnsName: `${scheme === 'internal' ? 'internal-' : ''}${name}-${randomDigits(10)}.${region}.elb.amazonaws.com`,
      canonicalHostedZoneId: hostedZoneOf(region),
      createdTime: new Date(),
      scheme,
      vpcId,
      subnets,
      securityGroups,
      ipAddressType,
    };
    this.loadBalancers.set(lb.arn, lb);
    this.setTags(lb.arn, input);
    // Provisioning takes no time in the sandbox; the create response still says so, as AWS's does.
    return { LoadBalancers: [this.loadBalancerXml(lb, 'provisioning')] };
  }

  private describeLoadBalancers(input: QueryObject, region: string): Result {
    const arns = stringList(input, 'LoadBalancerArns');
    const names = stringList(input, 'Names');
    const page = pageRequest(input);
    if (arns.length > 0 && names.length > 0) {
      throw validation(
        'Load balancer names and load balancer ARNs cannot be specified at the same time',
      );
    }
    let found: LoadBalancer[];
    if (arns.length > 0) {
      found = arns.map((a) => this.loadBalancer(a, region));
    } else if (names.length > 0) {
      const all = this.regionLoadBalancers(region);
      const missing = names.filter((n) => !all.some((lb) => lb.name === n));
      if (missing.length > 0) {
        throw new ElbError(
          'LoadBalancerNotFound',
          `Load balancers '[${missing.join(', ')}]' not found`,
        );
      }
      found = names.map((n) => all.find((lb) => lb.name === n) as LoadBalancer);
    } else {
      found = this.regionLoadBalancers(region);
    }
    const { items, nextMarker } = paginate(found, page);
    return {
      LoadBalancers: items.map((lb) => this.loadBalancerXml(lb, 'active')),
      NextMarker: nextMarker,
    };
  }

  private loadBalancerXml(lb: LoadBalancer, state: string): XmlValue {
    return {
      LoadBalancerArn: lb.arn,
      DNSName: lb.dnsName,
      CanonicalHostedZoneId: lb.canonicalHostedZoneId,
      CreatedTime: lb.createdTime,
      LoadBalancerName: lb.name,
      Scheme: lb.scheme,
      VpcId: lb.vpcId,
      State: { Code: state },
      Type: 'application',
      AvailabilityZones: lb.subnets.map((s) => ({
        ZoneName: `${lb.region}${SANDBOX_SUBNETS[s]?.azSuffix ?? 'a'}`,
        SubnetId: s,
        LoadBalancerAddresses: [],
      })),
      SecurityGroups: lb.securityGroups,
      IpAddressType: lb.ipAddressType,
    };
  }

  // ---- target groups ----

  private createTargetGroup(input: QueryObject, region: string): Result {
    const name = required(input, 'Name', 'name');
    checkName(name, 'Target group');
    const targetType = str(input, 'TargetType') ?? 'instance';
    if (targetType !== 'ip' && targetType !== 'instance') {
      if (targetType === 'lambda' || targetType === 'alb') {
        throw validation(
          `The sandbox models target groups of target type 'ip' and 'instance' only, not '${targetType}'`,
        );
      }
      throw constraint(
        targetType,
        'targetType',
        'Member must satisfy enum value set: [instance, ip, lambda, alb]',
      );
    }
    const protocol = str(input, 'Protocol');
    const PROTOCOLS = ['HTTP', 'HTTPS', 'TCP', 'TLS', 'UDP', 'TCP_UDP', 'GENEVE'];
    if (!protocol) throw validation('A protocol must be specified');
    if (!PROTOCOLS.includes(protocol)) {
      throw constraint(
        protocol,
        'protocol',
        `Member must satisfy enum value set: [${PROTOCOLS.join(', ')}]`,
      );
    }
    const portRaw = str(input, 'Port');
    if (portRaw === undefined) throw validation('A port must be specified');
    const port = intIn(portRaw, 'port', 1, 65535);
    const vpcId = str(input, 'VpcId');
    if (!vpcId) throw validation('A VPC ID must be specified');
    if (!SANDBOX_VPCS.includes(vpcId)) throw validation(`The VPC ID '${vpcId}' is not found`);
    const isHttp = protocol === 'HTTP' || protocol === 'HTTPS';
    const healthCheck = this.parseHealthCheck(input, protocol, isHttp);
    const protocolVersion = isHttp ? (str(input, 'ProtocolVersion') ?? 'HTTP1') : undefined;

    const existing = this.regionTargetGroups(region).find((tg) => tg.name === name);
    if (existing) {
      const same =
        existing.protocol === protocol &&
        existing.port === port &&
        existing.vpcId === vpcId &&
        existing.targetType === targetType &&
        JSON.stringify(existing.healthCheck) === JSON.stringify(healthCheck);
      if (!same) {
        throw new ElbError(
          'DuplicateTargetGroupName',
          `A target group with the same name '${name}' exists, but with different settings`,
        );
      }
      return { TargetGroups: [this.targetGroupXml(existing)] };
    }

    const id = newId();
    const tg: TargetGroup = {
      arn: `${arnPrefix(region, this.accountId)}:targetgroup/${name}/${id}`,
      id,
      name,
      region,
      protocol,
      protocolVersion,
      port,
      vpcId,
      targetType,
      ipAddressType: str(input, 'IpAddressType') ?? 'ipv4',
      healthCheck,
      deregistrationDelaySeconds: 300,
    };
    this.targetGroups.set(tg.arn, tg);
    this.runtimes.set(
      tg.arn,
      new TargetGroupRuntime(tg, this.timeScale, (t) => {
        const change = { targetGroupArn: tg.arn, id: t.id, port: t.port, state: t.state };
        for (const l of this.targetStateListeners) l({ ...change, at: Date.now() });
      }),
    );
    this.setTags(tg.arn, input);
    return { TargetGroups: [this.targetGroupXml(tg)] };
  }

  private parseHealthCheck(
    input: QueryObject,
    protocol: string,
    isHttp: boolean,
  ): HealthCheckSettings {
    const int = (key: string, field: string, min: number, max: number, dflt: number): number => {
      const raw = str(input, key);
      return raw === undefined ? dflt : intIn(raw, field, min, max);
    };
    const hc: HealthCheckSettings = {
      enabled: (str(input, 'HealthCheckEnabled') ?? 'true') === 'true',
      protocol: str(input, 'HealthCheckProtocol') ?? (isHttp ? protocol : 'TCP'),
      port: str(input, 'HealthCheckPort') ?? 'traffic-port',
      path: str(input, 'HealthCheckPath') ?? '/',
      intervalSeconds: int('HealthCheckIntervalSeconds', 'healthCheckIntervalSeconds', 5, 300, 30),
      timeoutSeconds: int(
        'HealthCheckTimeoutSeconds',
        'healthCheckTimeoutSeconds',
        2,
        120,
        isHttp ? 5 : 10,
      ),
      healthyThresholdCount: int('HealthyThresholdCount', 'healthyThresholdCount', 2, 10, 5),
      unhealthyThresholdCount: int('UnhealthyThresholdCount', 'unhealthyThresholdCount', 2, 10, 2),
      matcher: str(obj(input, 'Matcher'), 'HttpCode') ?? '200',
    };
    if (hc.port !== 'traffic-port') intIn(hc.port, 'healthCheckPort', 1, 65535);
    if (!hc.path.startsWith('/'))
      throw validation(`Health check path '${hc.path}' must begin with '/'`);
    if (!/^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$/.test(hc.matcher)) {
      throw validation(
        `Health check matcher HTTP code '${hc.matcher}' must be a value like '200', '200,202' or '200-299'`,
      );
    }
    if (hc.timeoutSeconds >= hc.intervalSeconds) {
      throw validation('Health check interval must be greater than the timeout.');
    }
    return hc;
  }

  private describeTargetGroups(input: QueryObject, region: string): Result {
    const lbArn = str(input, 'LoadBalancerArn');
    const arns = stringList(input, 'TargetGroupArns');
    const names = stringList(input, 'Names');
    const page = pageRequest(input);
    let found: TargetGroup[];
    if (arns.length > 0) {
      found = arns.map((a) => this.targetGroup(a, region, 'One or more target groups not found'));
    } else if (names.length > 0) {
      const all = this.regionTargetGroups(region);
      const missing = names.filter((n) => !all.some((tg) => tg.name === n));
      if (missing.length > 0) {
        throw new ElbError(
          'TargetGroupNotFound',
          `Target groups '[${missing.join(', ')}]' not found`,
        );
      }
      found = names.map((n) => all.find((tg) => tg.name === n) as TargetGroup);
    } else {
      found = this.regionTargetGroups(region);
    }
    if (lbArn !== undefined) {
      const lb = this.loadBalancer(lbArn, region);
      found = found.filter((tg) => this.loadBalancersOf(tg.arn).includes(lb.arn));
    }
    const { items, nextMarker } = paginate(found, page);
    return { TargetGroups: items.map((tg) => this.targetGroupXml(tg)), NextMarker: nextMarker };
  }

  private targetGroupXml(tg: TargetGroup): XmlValue {
    const hc = tg.healthCheck;
    const isHttp = tg.protocol === 'HTTP' || tg.protocol === 'HTTPS';
    return {
      TargetGroupArn: tg.arn,
      TargetGroupName: tg.name,
      Protocol: tg.protocol,
      Port: tg.port,
      VpcId: tg.vpcId,
      HealthCheckProtocol: hc.protocol,
      HealthCheckPort: hc.port,
      HealthCheckEnabled: hc.enabled,
      HealthCheckIntervalSeconds: hc.intervalSeconds,
      HealthCheckTimeoutSeconds: hc.timeoutSeconds,
      HealthyThresholdCount: hc.healthyThresholdCount,
      UnhealthyThresholdCount: hc.unhealthyThresholdCount,
      HealthCheckPath: isHttp ? hc.path : undefined,
      Matcher: isHttp ? { HttpCode: hc.matcher } : undefined,
      LoadBalancerArns: this.loadBalancersOf(tg.arn),
      TargetType: tg.targetType,
      ProtocolVersion: tg.protocolVersion,
      IpAddressType: tg.ipAddressType,
    };
  }

  // ---- targets ----

  private parseTargets(input: QueryObject, tg: TargetGroup): Array<{ id: string; port: number }> {
    const targets = objectList(input, 'Targets');
    if (targets.length === 0) {
      throw constraint('[]', 'targets', 'Member must have length greater than or equal to 1');
    }
    return targets.map((t, i) => {
      const id = str(t, 'Id') ?? '';
      const portRaw = str(t, 'Port');
      const port =
        portRaw === undefined ? tg.port : intIn(portRaw, `targets.${i + 1}.member.port`, 1, 65535);
      if (tg.targetType === 'ip' && !isIpv4(id)) {
        throw new ElbError('InvalidTarget', `The IP address '${id}' is not a valid IPv4 address`);
      }
      if (tg.targetType === 'instance' && !/^i-[0-9a-f]{8}([0-9a-f]{9})?$/.test(id)) {
        throw validation(`Instance ID '${id}' is not valid`);
      }
      return { id, port };
    });
  }

  private registerTargets(input: QueryObject, region: string): Result {
    const tg = this.targetGroup(required(input, 'TargetGroupArn', 'targetGroupArn'), region);
    const runtime = this.runtimes.get(tg.arn) as TargetGroupRuntime;
    for (const t of this.parseTargets(input, tg)) runtime.register(t.id, t.port);
    return {};
  }

  private deregisterTargets(input: QueryObject, region: string): Result {
    const tg = this.targetGroup(required(input, 'TargetGroupArn', 'targetGroupArn'), region);
    const runtime = this.runtimes.get(tg.arn) as TargetGroupRuntime;
    const targets = this.parseTargets(input, tg);
    const missing = targets.filter(
      (t) => !runtime.targets.has(TargetGroupRuntime.key(t.id, t.port)),
    );
    if (missing.length > 0) {
      throw new ElbError(
        'InvalidTarget',
        `The following targets are not registered in target group '${tg.arn}': ${missing.map((t) => `'${t.id}:${t.port}'`).join(', ')}`,
      );
    }
    for (const t of targets) runtime.deregister(t.id, t.port);
    return {};
  }

  private describeTargetHealth(input: QueryObject, region: string): Result {
    const tg = this.targetGroup(required(input, 'TargetGroupArn', 'targetGroupArn'), region);
    const runtime = this.runtimes.get(tg.arn) as TargetGroupRuntime;
    const healthPort = (port: number): string =>
      tg.healthCheck.port === 'traffic-port' ? String(port) : tg.healthCheck.port;
    const asked = objectList(input, 'Targets').map((t) => ({
      id: str(t, 'Id') ?? '',
      port: Number(str(t, 'Port') ?? tg.port),
    }));
    const shown = asked.length > 0 ? asked : [...runtime.targets.values()];
    return {
      TargetHealthDescriptions: shown.map(({ id, port }) => {
        const t = runtime.targets.get(TargetGroupRuntime.key(id, port));
        return {
          Target: { Id: id, Port: port },
          HealthCheckPort: healthPort(port),
          TargetHealth: t
            ? { State: t.state, Reason: t.reason, Description: t.description }
            : {
                State: 'unused',
                Reason: 'Target.NotRegistered',
                Description: 'Target is not registered to the target group',
              },
        };
      }),
    };
  }

  // ---- listeners ----

  private async createListener(input: QueryObject, region: string): Promise<Result> {
    const lb = this.loadBalancer(required(input, 'LoadBalancerArn', 'loadBalancerArn'), region);
    const { protocol, certificates } = this.parseListenerProtocol(input, undefined);
    const portRaw = str(input, 'Port');
    if (portRaw === undefined) throw validation('A listener port must be specified');
    const port = intIn(portRaw, 'port', 1, 65535);
    const actions = parseActions(input, 'DefaultActions');
    this.checkActions(actions, lb, protocol);

    const existing = this.listenersOf(lb.arn).find((l) => l.port === port);
    if (existing) {
      const defaultRule = this.defaultRuleOf(existing.arn);
      if (
        existing.protocol === protocol &&
        JSON.stringify(defaultRule.actions) === JSON.stringify(actions)
      ) {
        return { Listeners: [this.listenerXml(existing)] };
      }
      throw new ElbError(
        'DuplicateListener',
        `A listener already exists on this port for this load balancer '${lb.arn}'`,
      );
    }

    const id = newId();
    const listener: Listener = {
      arn: `${arnPrefix(region, this.accountId)}:listener/app/${lb.name}/${lb.id}/${id}`,
      id,
      loadBalancerArn: lb.arn,
      region,
      port,
      protocol,
      certificates,
      sslPolicy:
        protocol === 'HTTPS' ? (str(input, 'SslPolicy') ?? 'ELBSecurityPolicy-2016-08') : undefined,
    };
    const server = new ListenerServer(this.viewOf(listener), this.metrics);
    await server.start();
    this.listeners.set(listener.arn, listener);
    this.servers.set(listener.arn, server);
    this.addRule(listener, undefined, [], actions, true);
    this.setTags(listener.arn, input);
    this.refreshUsage();
    return { Listeners: [this.listenerXml(listener)] };
  }

  private parseListenerProtocol(
    input: QueryObject,
    current: Listener | undefined,
  ): { protocol: string; certificates: string[] } {
    const protocol = str(input, 'Protocol') ?? current?.protocol;
    if (protocol === undefined) throw validation('A listener protocol must be specified');
    if (protocol !== 'HTTP' && protocol !== 'HTTPS') {
      throw validation(`Listener protocol '${protocol}' must be one of 'HTTP, HTTPS'`);
    }
    const certificates = has(input, 'Certificates')
      ? objectList(input, 'Certificates').map((c) => str(c, 'CertificateArn') ?? '')
      : (current?.certificates ?? []);
    if (protocol === 'HTTPS' && certificates.length === 0) {
      throw new ElbError(
        'CertificateNotFound',
        'A certificate must be specified for HTTPS listeners',
      );
    }
    return { protocol, certificates: protocol === 'HTTPS' ? certificates : [] };
  }

  private describeListeners(input: QueryObject, region: string): Result {
    const arns = stringList(input, 'ListenerArns');
    const lbArn = str(input, 'LoadBalancerArn');
    const page = pageRequest(input);
    let found: Listener[];
    if (arns.length > 0) {
      found = arns.map((a) => this.listener(a, region));
    } else if (lbArn !== undefined) {
      found = this.listenersOf(this.loadBalancer(lbArn, region).arn);
    } else {
      throw validation('You must specify either listener ARNs or a load balancer ARN');
    }
    const { items, nextMarker } = paginate(found, page);
    return { Listeners: items.map((l) => this.listenerXml(l)), NextMarker: nextMarker };
  }

  private modifyListener(input: QueryObject, region: string): Result {
    const listener = this.listener(required(input, 'ListenerArn', 'listenerArn'), region);
    const lb = this.loadBalancers.get(listener.loadBalancerArn) as LoadBalancer;
    const { protocol, certificates } = this.parseListenerProtocol(input, listener);
    const portRaw = str(input, 'Port');
    const port = portRaw === undefined ? listener.port : intIn(portRaw, 'port', 1, 65535);
    if (this.listenersOf(lb.arn).some((l) => l !== listener && l.port === port)) {
      throw validation(`Listener port '${port}' is already in use`);
    }
    const defaultRule = this.defaultRuleOf(listener.arn);
    const actions = has(input, 'DefaultActions')
      ? parseActions(input, 'DefaultActions', defaultRule.actions)
      : undefined;
    this.checkActions(actions ?? defaultRule.actions, lb, protocol);

    listener.protocol = protocol;
    listener.certificates = certificates;
    listener.port = port;
    listener.sslPolicy =
      protocol === 'HTTPS'
        ? (str(input, 'SslPolicy') ?? listener.sslPolicy ?? 'ELBSecurityPolicy-2016-08')
        : undefined;
    if (actions) this.replaceActions(defaultRule, actions);
    return { Listeners: [this.listenerXml(listener)] };
  }

  private async deleteListener(input: QueryObject, region: string): Promise<Result> {
    const listener = this.listener(required(input, 'ListenerArn', 'listenerArn'), region);
    for (const rule of this.rulesOf(listener.arn)) {
      this.rules.delete(rule.arn);
      this.served.delete(rule.arn);
      this.tags.delete(rule.arn);
    }
    this.listeners.delete(listener.arn);
    this.tags.delete(listener.arn);
    const server = this.servers.get(listener.arn);
    this.servers.delete(listener.arn);
    await server?.close();
    this.refreshUsage();
    return {};
  }

  private listenerXml(l: Listener): XmlValue {
    return {
      ListenerArn: l.arn,
      LoadBalancerArn: l.loadBalancerArn,
      Port: l.port,
      Protocol: l.protocol,
      Certificates:
        l.certificates.length > 0 ? l.certificates.map((c) => ({ CertificateArn: c })) : undefined,
      SslPolicy: l.sslPolicy,
      DefaultActions: this.defaultRuleOf(l.arn).actions.map(actionXml),
    };
  }

  // ---- rules ----

  private createRule(input: QueryObject, region: string): Result {
    const listener = this.listener(required(input, 'ListenerArn', 'listenerArn'), region);
    const lb = this.loadBalancers.get(listener.loadBalancerArn) as LoadBalancer;
    const priority = intIn(required(input, 'Priority', 'priority'), 'priority', 1, 50_000);
    const conditions = parseConditions(input);
    if (conditions.length === 0) throw validation('A rule must have at least one condition');
    const actions = parseActions(input, 'Actions');
    this.checkActions(actions, lb, listener.protocol);
    if (this.rulesOf(listener.arn).some((r) => r.priority === priority)) {
      throw new ElbError('PriorityInUse', `Priority '${priority}' is currently in use`);
    }
    const rule = this.addRule(listener, priority, conditions, actions, false);
    this.setTags(rule.arn, input);
    this.refreshUsage();
    return { Rules: [ruleXml(rule)] };
  }

  private describeRules(input: QueryObject, region: string): Result {
    const listenerArn = str(input, 'ListenerArn');
    const arns = stringList(input, 'RuleArns');
    const page = pageRequest(input);
    if (arns.length > MAX_DESCRIBE_RULE_ARNS) {
      throw validation(
        `You cannot describe more than '${MAX_DESCRIBE_RULE_ARNS}' listener rules at a time`,
      );
    }
    let found: Rule[];
    if (arns.length > 0) {
      found = arns.map((a) => this.rule(a, region));
    } else if (listenerArn !== undefined) {
      found = this.rulesOf(this.listener(listenerArn, region).arn);
    } else {
      throw validation('You must specify either listener rule ARNs or a listener ARN');
    }
    const { items, nextMarker } = paginate(found, page);
    return { Rules: items.map(ruleXml), NextMarker: nextMarker };
  }

  private modifyRule(input: QueryObject, region: string): Result {
    const rule = this.rule(required(input, 'RuleArn', 'ruleArn'), region);
    const listener = this.listeners.get(rule.listenerArn) as Listener;
    const lb = this.loadBalancers.get(listener.loadBalancerArn) as LoadBalancer;
    const conditions = has(input, 'Conditions') ? parseConditions(input) : undefined;
    const actions = has(input, 'Actions')
      ? parseActions(input, 'Actions', rule.actions)
      : undefined;
    if (conditions && rule.isDefault && conditions.length > 0) {
      throw new ElbError(
        'OperationNotPermitted',
        'You cannot specify conditions for a default rule',
      );
    }
    if (conditions && !rule.isDefault && conditions.length === 0) {
      throw validation('A rule must have at least one condition');
    }
    if (actions) this.checkActions(actions, lb, listener.protocol);
    if (conditions && !rule.isDefault) rule.conditions = conditions;
    if (actions) this.replaceActions(rule, actions);
    return { Rules: [ruleXml(rule)] };
  }

  private deleteRule(input: QueryObject, region: string): Result {
    const rule = this.rule(required(input, 'RuleArn', 'ruleArn'), region);
    if (rule.isDefault) {
      throw new ElbError('OperationNotPermitted', `Default rule '${rule.arn}' cannot be deleted`);
    }
    this.rules.delete(rule.arn);
    this.served.delete(rule.arn);
    this.tags.delete(rule.arn);
    this.refreshUsage();
    return {};
  }

  private setRulePriorities(input: QueryObject, region: string): Result {
    const requested = objectList(input, 'RulePriorities').map((rp, i) => ({
      rule: this.rule(str(rp, 'RuleArn') ?? '', region),
      priority: intIn(
        str(rp, 'Priority') ?? '',
        `rulePriorities.${i + 1}.member.priority`,
        1,
        50_000,
      ),
    }));
    const seen = new Set<string>();
    for (const { rule, priority } of requested) {
      if (rule.isDefault) {
        throw new ElbError(
          'OperationNotPermitted',
          `The priority of default rule '${rule.arn}' cannot be changed`,
        );
      }
      const key = `${rule.listenerArn} ${priority}`;
      if (seen.has(key)) throw validation(`Priority '${priority}' was provided multiple times`);
      seen.add(key);
    }
    const moving = new Set(requested.map((r) => r.rule.arn));
    for (const { rule, priority } of requested) {
      const clash = this.rulesOf(rule.listenerArn).find(
        (r) => !moving.has(r.arn) && r.priority === priority,
      );
      if (clash) throw new ElbError('PriorityInUse', `Priority '${priority}' is currently in use`);
    }
    for (const { rule, priority } of requested) rule.priority = priority;
    return { Rules: requested.map((r) => ruleXml(r.rule)) };
  }

  private addRule(
    listener: Listener,
    priority: number | undefined,
    conditions: Condition[],
    actions: Action[],
    isDefault: boolean,
  ): Rule {
    const lb = this.loadBalancers.get(listener.loadBalancerArn) as LoadBalancer;
    const rule: Rule = {
      arn: `${arnPrefix(listener.region, this.accountId)}:listener-rule/app/${lb.name}/${lb.id}/${listener.id}/${newId()}`,
      listenerArn: listener.arn,
      region: listener.region,
      priority,
      conditions,
      actions,
      isDefault,
      seq: this.seq++,
    };
    this.rules.set(rule.arn, rule);
    // A new rule is served at once; only changes to existing actions propagate with a delay.
    this.served.set(rule.arn, [{ from: 0, actions }]);
    return rule;
  }

  private replaceActions(rule: Rule, actions: Action[]): void {
    rule.actions = actions;
    const now = Date.now();
    const history = this.served.get(rule.arn) ?? [];
    history.push({ from: now + this.propagationDelayMs, actions });
    this.served.set(rule.arn, history);
    this.refreshUsage();
  }

  /** The actions the data plane uses for a rule at `now` (older ones are dropped). */
  private actionsInForce(ruleArn: string, now: number): Action[] {
    const history = this.served.get(ruleArn) ?? [];
    let current = 0;
    for (let i = 0; i < history.length; i++)
      if ((history[i] as ServedActions).from <= now) current = i;
    if (current > 0) history.splice(0, current);
    return history[0]?.actions ?? [];
  }

  /**
   * Checks the target groups of actions against the load balancer, as ELBv2 does when a
   * listener or rule is written.
   */
  private checkActions(actions: Action[], lb: LoadBalancer, listenerProtocol: string): void {
    for (const a of actions) {
      if (a.type.startsWith('authenticate-') && listenerProtocol !== 'HTTPS') {
        throw new ElbError(
          'InvalidLoadBalancerAction',
          `Action type '${a.type}' is supported only on HTTPS listeners`,
        );
      }
    }
    for (const arn of forwardedTargetGroups(actions)) {
      const tg = this.targetGroups.get(arn);
      if (!tg || tg.region !== lb.region) {
        throw new ElbError('TargetGroupNotFound', `Target groups '${arn}' not found`);
      }
      if (tg.protocol !== 'HTTP' && tg.protocol !== 'HTTPS') {
        throw new ElbError(
          'IncompatibleProtocols',
          `The listener and its associated target group '${arn}' have incompatible protocols`,
        );
      }
      if (tg.vpcId !== lb.vpcId) {
        throw new ElbError(
          'InvalidConfigurationRequest',
          `Target group '${arn}' is in a different VPC than load balancer '${lb.arn}'`,
        );
      }
      const others = this.loadBalancersOf(arn).filter((a) => a !== lb.arn);
      if (others.length > 0) {
        throw new ElbError(
          'TargetGroupAssociationLimit',
          `The following target groups cannot be associated with more than one load balancer: ${arn}`,
        );
      }
    }
  }

  // ---- tags ----

  private addTags(input: QueryObject, region: string): Result {
    const arns = stringList(input, 'ResourceArns');
    if (arns.length === 0)
      throw constraint('[]', 'resourceArns', 'Member must have length greater than or equal to 1');
    for (const arn of arns) this.resource(arn, region);
    const tags = this.parseTags(input);
    for (const arn of arns) {
      const current = this.tags.get(arn) ?? new Map<string, string>();
      const merged = new Map([...current, ...tags]);
      if (merged.size > MAX_TAGS) {
        throw new ElbError(
          'TooManyTags',
          `The quota for the number of tags that can be assigned to a resource has been reached`,
        );
      }
      this.tags.set(arn, merged);
    }
    return {};
  }

  /** Removes the keys from every resource; keys a resource does not have are ignored, as AWS does. */
  private removeTags(input: QueryObject, region: string): Result {
    const arns = stringList(input, 'ResourceArns');
    if (arns.length === 0)
      throw constraint('[]', 'resourceArns', 'Member must have length greater than or equal to 1');
    const keys = stringList(input, 'TagKeys');
    if (keys.length === 0)
      throw constraint('[]', 'tagKeys', 'Member must have length greater than or equal to 1');
    for (const arn of arns) this.resource(arn, region);
    for (const arn of arns) {
      const current = this.tags.get(arn);
      for (const key of keys) current?.delete(key);
    }
    return {};
  }

  private describeTags(input: QueryObject, region: string): Result {
    const arns = stringList(input, 'ResourceArns');
    if (arns.length === 0)
      throw constraint('[]', 'resourceArns', 'Member must have length greater than or equal to 1');
    if (arns.length > 20)
      throw constraint(
        `[${arns.length} items]`,
        'resourceArns',
        'Member must have length less than or equal to 20',
      );
    for (const arn of arns) this.resource(arn, region);
    return {
      TagDescriptions: arns.map((arn) => ({
        ResourceArn: arn,
        Tags: [...(this.tags.get(arn) ?? new Map<string, string>())].map(([Key, Value]) => ({
          Key,
          Value,
        })),
      })),
    };
  }

  private parseTags(input: QueryObject): Map<string, string> {
    const tags = new Map<string, string>();
    for (const [i, t] of objectList(input, 'Tags').entries()) {
      const key = str(t, 'Key') ?? '';
      const value = str(t, 'Value') ?? '';
      const at = `tags.${i + 1}.member`;
      // The API reference's Tag: key 1-128, value 0-256 characters, both of TAG_PATTERN.
      if (key.length === 0 || key.length > 128) {
        throw constraint(key, `${at}.key`, 'Member must have length between 1 and 128');
      }
      if (!TAG_PATTERN.test(key)) {
        throw constraint(
          key,
          `${at}.key`,
          `Member must satisfy regular expression pattern: ${TAG_PATTERN_TEXT}`,
        );
      }
      if (value.length > 256) {
        throw constraint(value, `${at}.value`, 'Member must have length less than or equal to 256');
      }
      if (!TAG_PATTERN.test(value)) {
        throw constraint(
          value,
          `${at}.value`,
          `Member must satisfy regular expression pattern: ${TAG_PATTERN_TEXT}`,
        );
      }
      if (tags.has(key))
        throw new ElbError('DuplicateTagKeys', `Tag key '${key}' was specified more than once`);
      tags.set(key, value);
    }
    if (tags.size > MAX_TAGS) {
      throw new ElbError(
        'TooManyTags',
        'The quota for the number of tags that can be assigned to a resource has been reached',
      );
    }
    return tags;
  }

  private setTags(arn: string, input: QueryObject): void {
    if (has(input, 'Tags')) this.tags.set(arn, this.parseTags(input));
  }

  // ---- lookups ----

  private resource(arn: string, region: string): void {
    const resource = arn.split(':').slice(5).join(':');
    if (resource.startsWith('loadbalancer/')) this.loadBalancer(arn, region);
    else if (resource.startsWith('targetgroup/')) this.targetGroup(arn, region);
    else if (resource.startsWith('listener/')) this.listener(arn, region);
    else if (resource.startsWith('listener-rule/')) this.rule(arn, region);
    else throw validation(`'${arn}' is not a valid Elastic Load Balancing resource ARN`);
  }

  private loadBalancer(arn: string, region: string): LoadBalancer {
    checkArn(arn, 'loadbalancer');
    const lb = this.loadBalancers.get(arn);
    if (!lb || lb.region !== region) {
      throw new ElbError('LoadBalancerNotFound', 'One or more load balancers not found');
    }
    return lb;
  }

  private targetGroup(arn: string, region: string, notFound?: string): TargetGroup {
    checkArn(arn, 'targetgroup');
    const tg = this.targetGroups.get(arn);
    if (!tg || tg.region !== region) {
      throw new ElbError('TargetGroupNotFound', notFound ?? `Target groups '${arn}' not found`);
    }
    return tg;
  }

  private listener(arn: string, region: string): Listener {
    checkArn(arn, 'listener');
    const l = this.listeners.get(arn);
    if (!l || l.region !== region)
      throw new ElbError('ListenerNotFound', 'One or more listeners not found');
    return l;
  }

  private rule(arn: string, region: string): Rule {
    checkArn(arn, 'listener-rule');
    const r = this.rules.get(arn);
    if (!r || r.region !== region)
      throw new ElbError('RuleNotFound', 'One or more rules not found');
    return r;
  }

  private regionLoadBalancers(region: string): LoadBalancer[] {
    return [...this.loadBalancers.values()].filter((lb) => lb.region === region);
  }

  private regionTargetGroups(region: string): TargetGroup[] {
    return [...this.targetGroups.values()].filter((tg) => tg.region === region);
  }

  private listenersOf(lbArn: string): Listener[] {
    return [...this.listeners.values()].filter((l) => l.loadBalancerArn === lbArn);
  }

  /** A listener's rules in evaluation order: priority ascending, the default rule last. */
  private rulesOf(listenerArn: string): Rule[] {
    return [...this.rules.values()]
      .filter((r) => r.listenerArn === listenerArn)
      .sort((a, b) => (a.priority ?? Infinity) - (b.priority ?? Infinity) || a.seq - b.seq);
  }

  private defaultRuleOf(listenerArn: string): Rule {
    const rule = this.rulesOf(listenerArn).find((r) => r.isDefault);
    if (!rule) throw new Error(`listener ${listenerArn} has no default rule`);
    return rule;
  }

  /** Load balancers whose listeners or rules forward to the target group. */
  private loadBalancersOf(tgArn: string): string[] {
    const lbs = new Set<string>();
    for (const rule of this.rules.values()) {
      if (forwardedTargetGroups(rule.actions).includes(tgArn)) {
        const listener = this.listeners.get(rule.listenerArn);
        if (listener) lbs.add(listener.loadBalancerArn);
      }
    }
    return [...lbs];
  }

  /** Starts health checks of groups a listener now uses; stops them for groups no longer used. */
  private refreshUsage(): void {
    const used = new Set([...this.rules.values()].flatMap((r) => forwardedTargetGroups(r.actions)));
    for (const [arn, runtime] of this.runtimes) runtime.setInUse(used.has(arn));
  }

  private viewOf(listener: Listener): ListenerView {
    return {
      listenerArn: listener.arn,
      get apiPort() {
        return listener.port;
      },
      loadBalancerDimension: () =>
        loadBalancerDimension(this.loadBalancers.get(listener.loadBalancerArn) as LoadBalancer),
      rulesInForce: (now) =>
        this.rulesOf(listener.arn).map((rule) => ({
          rule,
          actions: this.actionsInForce(rule.arn, now),
        })),
      targetGroup: (arn) => {
        const tg = this.targetGroups.get(arn);
        const runtime = this.runtimes.get(arn);
        return tg && runtime ? { runtime, dimension: targetGroupDimension(tg) } : undefined;
      },
      idleTimeoutMs: () => IDLE_TIMEOUT_MS * this.timeScale,
    };
  }
}

function ruleXml(r: Rule): XmlValue {
  return {
    RuleArn: r.arn,
    Priority: r.isDefault ? 'default' : String(r.priority),
    Conditions: r.conditions.map(conditionXml),
    Actions: r.actions.map(actionXml),
    IsDefault: r.isDefault,
  };
}

/** Tag keys and values: letters, separators (spaces), numbers and `_ . : / = + - @`. */
const TAG_PATTERN_TEXT = '^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$';
const TAG_PATTERN = /^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$/u;

function constraint(value: string, at: string, rule: string): ElbError {
  return validation(
    `1 validation error detected: Value '${value}' at '${at}' failed to satisfy constraint: ${rule}`,
  );
}

function required(input: QueryObject, key: string, field: string): string {
  const v = str(input, key);
  if (v === undefined || v === '') {
    throw validation(
      `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v;
}

function intIn(raw: string, field: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(raw)) throw constraint(raw, field, 'Member must be an integer');
  const n = Number(raw);
  if (n < min)
    throw constraint(raw, field, `Member must have value greater than or equal to ${min}`);
  if (n > max) throw constraint(raw, field, `Member must have value less than or equal to ${max}`);
  return n;
}

/** Load balancer and target group names: 1–32 alphanumerics or hyphens, no hyphen at either end. */
function checkName(name: string, what: 'Load balancer' | 'Target group'): void {
  if (name.length > 32)
    throw validation(`${what} name '${name}' cannot be longer than '32' characters`);
  if (!/^[A-Za-z0-9-]+$/.test(name)) {
    throw validation(
      `${what} name '${name}' can have a maximum of 32 characters, must contain only alphanumeric characters or hyphens`,
    );
  }
  if (name.startsWith('-') || name.endsWith('-')) {
    throw validation(`${what} name '${name}' cannot begin or end with a hyphen`);
  }
}

interface PageRequest {
  offset: number;
  size: number;
}

/** Marker / PageSize of the Describe calls that page. The marker is opaque to clients. */
function pageRequest(input: QueryObject): PageRequest {
  const sizeRaw = str(input, 'PageSize');
  const size = sizeRaw === undefined ? MAX_PAGE_SIZE : intIn(sizeRaw, 'pageSize', 1, MAX_PAGE_SIZE);
  const marker = str(input, 'Marker');
  if (marker === undefined) return { offset: 0, size };
  const decoded = Buffer.from(marker, 'base64').toString('utf8');
  const m = /^offset:(\d+)$/.exec(decoded);
  if (!m) throw validation(`The marker '${marker}' is not valid`);
  return { offset: Number(m[1]), size };
}

function paginate<T>(items: T[], page: PageRequest): { items: T[]; nextMarker?: string } {
  const slice = items.slice(page.offset, page.offset + page.size);
  const next = page.offset + page.size;
  return {
    items: slice,
    nextMarker: next < items.length ? Buffer.from(`offset:${next}`).toString('base64') : undefined,
  };
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function randomDigits(n: number): string {
  let s = String(1 + Math.floor(Math.random() * 9));
  while (s.length < n) s += String(Math.floor(Math.random() * 10));
  return s;
}

function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}
