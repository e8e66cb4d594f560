/**
 * A web service on the sandbox, built through the real ELBv2 API as a user's IaC would build
 * it: demo apps per cluster, one target group per cluster, an ALB whose listener (and optional
 * extra listeners and path rules) forward to the target groups with weights. Shared by the e2e
 * tests, the demo and the benchmarks.
 */
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
  type Action,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { startDemoApp, type DemoApp } from './app/server.js';
import type { Sandbox } from './index.js';

export interface ClusterApp {
  /** Cluster name in the rollout file, e.g. "blue". */
  name: string;
  /** Version label the app answers with, e.g. "1.31". */
  version: string;
  /** Demo-app processes started here; 0 leaves the target group empty (pods registered by a TargetGroupBinding). */
  instances?: number;
  /** The EKS cluster name in the rollout file. Default `prod-<version with ->`. */
  eks?: string;
  /** The rollout file's `service` of the cluster (what sync-apps binds), e.g. `{ namespace: web, name: web, port: http }`. */
  service?: string;
  errorRate?: number;
  latencyMs?: number;
}

export interface WebServiceOptions {
  name?: string;
  clusters?: ClusterApp[];
  /** Cluster name -> weight on every route at the start. Default: all on the first cluster. */
  weights?: Record<string, number>;
  /** Extra listeners on other ports of the same ALB (e.g. an internal one). */
  extraListeners?: number;
  /** Listener rules (path /r<i>/*) on the first listener, each with its own weighted forward. */
  rules?: number;
  /** Wait until every target is healthy. Default true. */
  waitHealthy?: boolean;
}

export interface WebService {
  name: string;
  region: string;
  loadBalancerArn: string;
  listenerArns: string[];
  ruleArns: string[];
  /** Cluster name -> target group ARN. */
  targetGroups: Record<string, string>;
  apps: Record<string, DemoApp[]>;
  /** The first listener's data-plane URL. */
  url: string;
  client: ElasticLoadBalancingV2Client;
  /** The weights (cluster name -> weight) the forward action of `routeArn` has now. */
  liveWeights(routeArn: string): Promise<Record<string, number>>;
  /** A version-1 rollout file for this service with these weights. */
  rolloutFile(weights: Record<string, number>, extra?: string): string;
  close(): Promise<void>;
}

export async function createWebService(
  sandbox: Sandbox,
  options: WebServiceOptions = {},
): Promise<WebService> {
  const name = options.name ?? 'web';
  const clusters = options.clusters ?? [
    { name: 'blue', version: '1.31' },
    { name: 'green', version: '1.32' },
  ];
  const first = clusters[0]?.name as string;
  const weights =
    options.weights ??
    Object.fromEntries(clusters.map((c) => [c.name, c.name === first ? 100 : 0]));
  const client = new ElasticLoadBalancingV2Client({
    endpoint: sandbox.endpoint,
    region: sandbox.region,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
    },
  });

  const apps: Record<string, DemoApp[]> = {};
  const targetGroups: Record<string, string> = {};
  for (const c of clusters) {
    apps[c.name] = await Promise.all(
      Array.from({ length: c.instances ?? 2 }, () =>
        startDemoApp({
          version: c.version,
          errorRate: c.errorRate ?? 0,
          latencyMs: c.latencyMs ?? 0,
        }),
      ),
    );
    const tg = await client.send(
      new CreateTargetGroupCommand({
        Name: `${name}-${c.name}`,
        Protocol: 'HTTP',
        Port: 80,
        VpcId: 'vpc-sandbox-a',
        TargetType: 'ip',
        HealthCheckPath: '/healthz',
        // Scaled by the sandbox's healthCheckTimeScale: quick to become healthy, and slow to
        // go unhealthy, so a busy CI machine's late health check does not flap a target.
        HealthCheckIntervalSeconds: 5,
        HealthCheckTimeoutSeconds: 4,
        HealthyThresholdCount: 2,
        UnhealthyThresholdCount: 10,
      }),
    );
    const arn = tg.TargetGroups?.[0]?.TargetGroupArn as string;
    targetGroups[c.name] = arn;
    if ((apps[c.name] ?? []).length === 0) continue;
    await client.send(
      new RegisterTargetsCommand({
        TargetGroupArn: arn,
        Targets: (apps[c.name] ?? []).map((a) => ({ Id: '127.0.0.1', Port: a.port })),
      }),
    );
  }

  const lb = await client.send(
    new CreateLoadBalancerCommand({
      Name: name,
      Subnets: ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'],
      Type: 'application',
    }),
  );
  const loadBalancerArn = lb.LoadBalancers?.[0]?.LoadBalancerArn as string;
  const forward = (): Action[] => [
    {
      Type: 'forward',
      ForwardConfig: {
        TargetGroups: clusters.map((c) => ({
          TargetGroupArn: targetGroups[c.name],
          Weight: weights[c.name] ?? 0,
        })),
      },
    },
  ];
  const listenerArns: string[] = [];
  for (let i = 0; i <= (options.extraListeners ?? 0); i++) {
    const out = await client.send(
      new CreateListenerCommand({
        LoadBalancerArn: loadBalancerArn,
        Protocol: 'HTTP',
        Port: 80 + i,
        DefaultActions: forward(),
      }),
    );
    listenerArns.push(out.Listeners?.[0]?.ListenerArn as string);
  }
  const ruleArns: string[] = [];
  for (let i = 0; i < (options.rules ?? 0); i++) {
    const out = await client.send(
      new CreateRuleCommand({
        ListenerArn: listenerArns[0],
        Priority: i + 1,
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: [`/r${i}/*`] } }],
        Actions: forward(),
      }),
    );
    ruleArns.push(out.Rules?.[0]?.RuleArn as string);
  }

  if (options.waitHealthy ?? true) await waitHealthy(client, Object.values(targetGroups));

  const clusterOf = Object.fromEntries(Object.entries(targetGroups).map(([c, tg]) => [tg, c]));
  return {
    name,
    region: sandbox.region,
    loadBalancerArn,
    listenerArns,
    ruleArns,
    targetGroups,
    apps,
    url: sandbox.elbv2.listenerUrl(listenerArns[0] as string),
    client,
    async liveWeights(routeArn) {
      const actions = routeArn.includes(':listener-rule/')
        ? (await client.send(new DescribeRulesCommand({ RuleArns: [routeArn] }))).Rules?.[0]
            ?.Actions
        : (await client.send(new DescribeListenersCommand({ ListenerArns: [routeArn] })))
            .Listeners?.[0]?.DefaultActions;
      const groups = actions?.find((a) => a.Type === 'forward')?.ForwardConfig?.TargetGroups ?? [];
      return Object.fromEntries(
        groups.map((g) => [
          clusterOf[g.TargetGroupArn as string] ?? g.TargetGroupArn,
          g.Weight ?? 0,
        ]),
      );
    },
    rolloutFile(w, extra = '') {
      const lines = [
        'version: 1',
        `name: ${name}`,
        `region: ${sandbox.region}`,
        'clusters:',
        ...clusters.flatMap((c) => [
          `  ${c.name}:`,
          `    eks: ${c.eks ?? `prod-${c.version.replace('.', '-')}`}`,
          `    targetGroup: ${targetGroups[c.name]}`,
          ...(c.service ? [`    service: ${c.service}`] : []),
        ]),
        'routes:',
        ...listenerArns.map((arn) => `  - listener: ${arn}`),
        ...ruleArns.map((arn) => `  - rule: ${arn}`),
        `weights: { ${clusters.map((c) => `${c.name}: ${w[c.name] ?? 0}`).join(', ')} }`,
        `canary: ${clusters[1]?.name ?? first}`,
        'steps: [10, 25, 50, 100]',
        `owner: ${first}`,
      ];
      return `${lines.join('\n')}\n${extra}`;
    },
    async close() {
      client.destroy();
      await Promise.all(
        Object.values(apps)
          .flat()
          .map((a) => a.close()),
      );
    },
  };
}

/** Polls DescribeTargetHealth until every target of every group is healthy (at most 20 s). */
export async function waitHealthy(
  client: ElasticLoadBalancingV2Client,
  targetGroupArns: string[],
): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const states = await Promise.all(
      targetGroupArns.map(async (arn) =>
        (
          (await client.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })))
            .TargetHealthDescriptions ?? []
        ).map((d) => d.TargetHealth?.State),
      ),
    );
    if (states.flat().every((s) => s === 'healthy')) return;
    if (Date.now() > deadline)
      throw new Error(`targets did not become healthy: ${JSON.stringify(states)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends `count` GET requests to `url`, `concurrency` at a time; counts answers per version and status. */
export async function sendTraffic(
  url: string,
  count: number,
  concurrency = 8,
): Promise<{ byVersion: Record<string, number>; errors: number; total: number }> {
  const byVersion: Record<string, number> = {};
  let errors = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status >= 500) errors++;
      // Errors from the app carry its version too; an answer from the ELB itself does not.
      const version = res.headers.get('x-app-version') ?? `elb-${res.status}`;
      byVersion[version] = (byVersion[version] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { byVersion, errors, total: count };
}
