/**
 * A canary behind a real (sandbox) ALB: blue and green demo apps registered in their own
 * target groups, one listener forwarding to both by weight, and a load generator sending
 * steady traffic through it. The ALB data plane records the AWS/ApplicationELB metrics that
 * verify-health reads back with GetMetricData. Shared by the integration tests, the e2e test
 * and the bench.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { startDemoApp, type DemoApp } from '../../sandbox/app/server.js';
import type { Sandbox } from '../../sandbox/index.js';

let seq = 0;

export interface CanaryStack {
  blue: DemoApp;
  green: DemoApp;
  blueArn: string;
  greenArn: string;
  listenerArn: string;
  /** The listener's real URL on 127.0.0.1. */
  url: string;
  load: LoadGenerator;
  close(): Promise<void>;
}

export function sandboxClients(sandbox: Sandbox): {
  elbv2: ElasticLoadBalancingV2Client;
  cloudwatch: CloudWatchClient;
} {
  const config = {
    endpoint: sandbox.endpoint,
    region: sandbox.region,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
    },
  };
  return {
    elbv2: new ElasticLoadBalancingV2Client(config),
    cloudwatch: new CloudWatchClient(config),
  };
}

export async function startCanaryStack(
  sandbox: Sandbox,
  options: {
    weights: { blue: number; green: number };
    requestsPerSecond: number;
    green?: { errorRate?: number; latencyMs?: number };
    blue?: { errorRate?: number; latencyMs?: number };
  },
): Promise<CanaryStack> {
  const { elbv2 } = sandboxClients(sandbox);
  const n = ++seq;
  const blue = await startDemoApp({ version: 'blue', host: '127.0.0.1', ...options.blue });
  const green = await startDemoApp({ version: 'green', host: '127.0.0.1', ...options.green });
  const lb = await elbv2.send(
    new CreateLoadBalancerCommand({
      Name: `vh-${n}`,
      Subnets: ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'],
    }),
  );
  const lbArn = lb.LoadBalancers?.[0]?.LoadBalancerArn as string;
  const targetGroup = async (name: string, app: DemoApp) => {
    const out = await elbv2.send(
      new CreateTargetGroupCommand({
        Name: `vh-${n}-${name}`,
        Protocol: 'HTTP',
        Port: app.port,
        VpcId: 'vpc-sandbox-a',
        TargetType: 'ip',
        HealthCheckPath: '/healthz',
        // Scaled by the sandbox's healthCheckTimeScale; generous so a busy CI machine's slow
        // health check does not take a target out mid-test, quick to become healthy.
        HealthCheckTimeoutSeconds: 29,
        UnhealthyThresholdCount: 10,
        HealthyThresholdCount: 2,
      }),
    );
    const arn = out.TargetGroups?.[0]?.TargetGroupArn as string;
    await elbv2.send(
      new RegisterTargetsCommand({
        TargetGroupArn: arn,
        Targets: [{ Id: '127.0.0.1', Port: app.port }],
      }),
    );
    return arn;
  };
  const blueArn = await targetGroup('blue', blue);
  const greenArn = await targetGroup('green', green);
  const listener = await elbv2.send(
    new CreateListenerCommand({
      LoadBalancerArn: lbArn,
      Protocol: 'HTTP',
      Port: 80,
      DefaultActions: [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: blueArn, Weight: options.weights.blue },
              { TargetGroupArn: greenArn, Weight: options.weights.green },
            ],
          },
        },
      ],
    }),
  );
  const listenerArn = listener.Listeners?.[0]?.ListenerArn as string;
  await waitHealthy(elbv2, [blueArn, greenArn]);
  const url = sandbox.elbv2.listenerUrl(listenerArn);
  const load = new LoadGenerator(url, options.requestsPerSecond);
  return {
    blue,
    green,
    blueArn,
    greenArn,
    listenerArn,
    url,
    load,
    async close() {
      await load.stop();
      elbv2.destroy();
      await Promise.all([blue.close(), green.close()]);
    },
  };
}

async function waitHealthy(elbv2: ElasticLoadBalancingV2Client, arns: string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const states = await Promise.all(
      arns.map(async (arn) => {
        const out = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }));
        return (
          out.TargetHealthDescriptions?.every((d) => d.TargetHealth?.State === 'healthy') ?? false
        );
      }),
    );
    if (states.every(Boolean)) return;
    if (Date.now() > deadline)
      throw new Error('sandbox targets did not become healthy within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Steady traffic: `requestsPerSecond` requests, evenly spaced, until stopped. */
export class LoadGenerator {
  sent = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly url: string,
    private requestsPerSecond: number,
  ) {
    this.setRate(requestsPerSecond);
  }

  setRate(requestsPerSecond: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.requestsPerSecond = requestsPerSecond;
    if (requestsPerSecond <= 0) return;
    this.timer = setInterval(() => this.fire(), 1000 / requestsPerSecond);
  }

  private fire(): void {
    this.sent++;
    const p = fetch(this.url)
      .then((r) => r.arrayBuffer())
      .then(
        () => undefined,
        () => undefined,
      );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  async stop(): Promise<void> {
    this.setRate(0);
    await Promise.all(this.inFlight);
  }
}
