/**
 * A canary behind a real (sandbox) ALB: blue and green demo apps registered in their own
 * target groups, one listener forwarding to both by weight, and a load generator sending
 * steady traffic through it. The ALB data plane records the AWS/ApplicationELB metrics that
 * verify-health reads back with GetMetricData. Shared by the integration tests, the e2e test
 * and the bench.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { DemoApp } from '../../sandbox/app/server.js';
import type { Sandbox } from '../../sandbox/index.js';
import { createWebService } from '../../sandbox/scenario.js';

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
  const web = await createWebService(sandbox, {
    name: `vh-${++seq}`,
    clusters: [
      { name: 'blue', version: 'blue', instances: 1, ...options.blue },
      { name: 'green', version: 'green', instances: 1, ...options.green },
    ],
    weights: options.weights,
  });
  const listenerArn = web.listenerArns[0] as string;
  const load = new LoadGenerator(web.url, options.requestsPerSecond);
  return {
    blue: web.apps.blue?.[0] as DemoApp,
    green: web.apps.green?.[0] as DemoApp,
    blueArn: web.targetGroups.blue as string,
    greenArn: web.targetGroups.green as string,
    listenerArn,
    url: web.url,
    load,
    async close() {
      await load.stop();
      await web.close();
    },
  };
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
