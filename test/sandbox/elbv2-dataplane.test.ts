/**
 * The sandbox ALB data plane: real HTTP through listener ports to tiny target servers,
 * configured with the real SDK client. Timers run at 1/20 of AWS's (healthCheckTimeScale 0.05),
 * so a 5 s health-check interval is 250 ms.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DeregisterTargetsCommand,
  DescribeListenersCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  RegisterTargetsCommand,
  type Action,
  type TargetHealth,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { SandboxCore } from '../../sandbox/core.js';
import { MetricStore } from '../../sandbox/metrics.js';
import { Elbv2Service } from '../../sandbox/elbv2/service.js';

const REGION = 'ap-northeast-1';
const SUBNETS = ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'];
const PROPAGATION_MS = 400;

interface Sandbox {
  core: SandboxCore;
  service: Elbv2Service;
  metrics: MetricStore;
  elb: ElasticLoadBalancingV2Client;
  endpoint: string;
}

async function startSandbox(options: {
  propagationDelayMs?: number;
  healthCheckTimeScale: number;
}): Promise<Sandbox> {
  const metrics = new MetricStore();
  const service = new Elbv2Service({ metrics, ...options });
  const core = new SandboxCore();
  core.register(service);
  for (const route of service.controlRoutes()) core.addControlRoute(route);
  const endpoint = await core.listen();
  const elb = new ElasticLoadBalancingV2Client({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox-secret' },
    maxAttempts: 1,
  });
  return { core, service, metrics, elb, endpoint };
}

async function stopSandbox(s: Sandbox): Promise<void> {
  s.elb.destroy();
  await s.service.close();
  await s.core.close();
}

/** A tiny app: answers its name, and /healthz with `healthStatus` (or never, when hanging). */
interface TinyTarget {
  name: string;
  port: number;
  healthStatus: number;
  hangHealth: boolean;
  hangRequests: boolean;
  close(): Promise<void>;
}

const targets: TinyTarget[] = [];

async function startTarget(name: string): Promise<TinyTarget> {
  const target: TinyTarget = {
    name,
    port: 0,
    healthStatus: 200,
    hangHealth: false,
    hangRequests: false,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    if (req.url === '/healthz') {
      if (target.hangHealth) return;
      res.writeHead(target.healthStatus);
      res.end();
      return;
    }
    if (target.hangRequests) return;
    res.writeHead(200, { 'content-type': 'text/plain', 'x-target': name });
    res.end(`${name} ${req.method} ${req.url} xff=${String(req.headers['x-forwarded-for'])}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  target.port = (server.address() as AddressInfo).port;
  target.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  targets.push(target);
  return target;
}

afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
});

async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Builds an ALB with one HTTP listener whose default action is `defaultActions(tgs)`. */
async function buildAlb(
  s: Sandbox,
  groups: Array<{ name: string; targets: TinyTarget[] }>,
  defaultActions: (tgArns: string[]) => Action[],
): Promise<{ lbArn: string; listenerArn: string; url: string; tgArns: string[] }> {
  const lbArn = (
    await s.elb.send(
      new CreateLoadBalancerCommand({ Name: `alb-${groups[0]?.name}`, Subnets: SUBNETS }),
    )
  ).LoadBalancers?.[0]?.LoadBalancerArn as string;
  const tgArns: string[] = [];
  for (const g of groups) {
    const tgArn = (
      await s.elb.send(
        new CreateTargetGroupCommand({
          Name: g.name,
          Protocol: 'HTTP',
          Port: 80,
          VpcId: 'vpc-sandbox-a',
          TargetType: 'ip',
          HealthCheckPath: '/healthz',
          HealthCheckIntervalSeconds: 5,
          HealthCheckTimeoutSeconds: 2,
          HealthyThresholdCount: 2,
          UnhealthyThresholdCount: 2,
        }),
      )
    ).TargetGroups?.[0]?.TargetGroupArn as string;
    if (g.targets.length > 0) {
      await s.elb.send(
        new RegisterTargetsCommand({
          TargetGroupArn: tgArn,
          Targets: g.targets.map((t) => ({ Id: '127.0.0.1', Port: t.port })),
        }),
      );
    }
    tgArns.push(tgArn);
  }
  const listenerArn = (
    await s.elb.send(
      new CreateListenerCommand({
        LoadBalancerArn: lbArn,
        Protocol: 'HTTP',
        Port: 80,
        DefaultActions: defaultActions(tgArns),
      }),
    )
  ).Listeners?.[0]?.ListenerArn as string;
  return { lbArn, listenerArn, url: s.service.listenerUrl(listenerArn), tgArns };
}

function weighted(...pairs: Array<[string, number]>): Action[] {
  return [
    {
      Type: 'forward',
      ForwardConfig: {
        TargetGroups: pairs.map(([TargetGroupArn, Weight]) => ({ TargetGroupArn, Weight })),
      },
    },
  ];
}

async function health(s: Sandbox, tgArn: string): Promise<TargetHealth[]> {
  const out = await s.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }));
  return (out.TargetHealthDescriptions ?? []).map((d) => d.TargetHealth ?? {});
}

async function waitForState(s: Sandbox, tgArn: string, state: string): Promise<TargetHealth> {
  return waitFor(
    async () => (await health(s, tgArn)).find((h) => h.State === state),
    `target state ${state}`,
  );
}

/** Sends `n` GETs, `concurrency` at a time; returns which target answered each (x-target). */
async function hits(
  url: string,
  n: number,
  init: RequestInit = {},
  concurrency = 20,
): Promise<string[]> {
  const out: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next += 1;
        const res = await fetch(url, init);
        out.push(res.headers.get('x-target') ?? `elb-${res.status}`);
        await res.arrayBuffer();
      }
    }),
  );
  return out;
}

/** Like `hits`, with when each request was sent and answered (epoch ms). */
async function timedHits(
  url: string,
  n: number,
  concurrency: number,
): Promise<Array<{ target: string; sentAt: number; answeredAt: number }>> {
  const out: Array<{ target: string; sentAt: number; answeredAt: number }> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next += 1;
        const sentAt = Date.now();
        const res = await fetch(url);
        await res.arrayBuffer();
        out.push({
          target: res.headers.get('x-target') ?? `elb-${res.status}`,
          sentAt,
          answeredAt: Date.now(),
        });
      }
    }),
  );
  return out;
}

function share(answers: string[], name: string): number {
  return answers.filter((a) => a === name).length / answers.length;
}

describe('ALB data plane', () => {
  let s: Sandbox;
  beforeAll(async () => {
    s = await startSandbox({ propagationDelayMs: PROPAGATION_MS, healthCheckTimeScale: 0.05 });
  });
  afterAll(async () => stopSandbox(s));

  it('splits traffic by weight: 400 requests at 80/20 give green 20% ± 7%, weight 0 gets nothing', async () => {
    const blue = await startTarget('blue');
    const green = await startTarget('green');
    const { listenerArn, url, tgArns } = await buildAlb(
      s,
      [
        { name: 'ratio-blue', targets: [blue] },
        { name: 'ratio-green', targets: [green] },
      ],
      ([b, g]) => weighted([b as string, 80], [g as string, 20]),
    );
    await waitForState(s, tgArns[0] as string, 'healthy');
    await waitForState(s, tgArns[1] as string, 'healthy');

    const answers = await hits(url, 400);
    expect(answers).toHaveLength(400);
    expect(share(answers, 'green')).toBeGreaterThanOrEqual(0.13);
    expect(share(answers, 'green')).toBeLessThanOrEqual(0.27);
    expect(share(answers, 'blue') + share(answers, 'green')).toBe(1);

    const changedAt = Date.now();
    await s.elb.send(
      new ModifyListenerCommand({
        ListenerArn: listenerArn,
        DefaultActions: weighted([tgArns[0] as string, 1], [tgArns[1] as string, 0]),
      }),
    );
    await waitFor(
      async () => (Date.now() - changedAt >= PROPAGATION_MS ? true : undefined),
      'propagation',
    );
    expect(share(await hits(url, 100), 'green')).toBe(0);
  });

  it('applies a weight change only after the propagation delay', async () => {
    // Its own sandbox with a longer delay, so requests sent right after the change are answered
    // well inside it on a busy machine too. Each answer is judged by when it was sent and
    // received: the change takes effect at (when the sandbox wrote it) + the delay, a time
    // between changedAt + delay and writtenAt + delay.
    const delayMs = 2_000;
    const slow = await startSandbox({ propagationDelayMs: delayMs, healthCheckTimeScale: 0.05 });
    try {
      const blue = await startTarget('blue');
      const green = await startTarget('green');
      const { listenerArn, url, tgArns } = await buildAlb(
        slow,
        [
          { name: 'prop-blue', targets: [blue] },
          { name: 'prop-green', targets: [green] },
        ],
        ([b, g]) => weighted([b as string, 100], [g as string, 0]),
      );
      const changedAt = Date.now();
      await slow.elb.send(
        new ModifyListenerCommand({
          ListenerArn: listenerArn,
          DefaultActions: weighted([tgArns[0] as string, 0], [tgArns[1] as string, 100]),
        }),
      );
      const writtenAt = Date.now();

      // The API shows the new weights at once; the data plane still serves the old ones.
      const listener = await slow.elb.send(
        new DescribeListenersCommand({ ListenerArns: [listenerArn] }),
      );
      expect(
        listener.Listeners?.[0]?.DefaultActions?.[0]?.ForwardConfig?.TargetGroups?.map(
          (t) => t.Weight,
        ),
      ).toEqual([0, 100]);
      const early = await timedHits(url, 10, 5);
      const answeredBeforeChange = early.filter((h) => h.answeredAt < changedAt + delayMs);
      expect(answeredBeforeChange.length).toBeGreaterThan(0);
      expect(answeredBeforeChange.map((h) => h.target)).toEqual(
        Array(answeredBeforeChange.length).fill('blue'),
      );

      const firstGreen = await waitFor(async () => {
        const [hit] = await timedHits(url, 1, 1);
        return hit?.target === 'green' ? hit : undefined;
      }, 'green');
      expect(firstGreen.answeredAt).toBeGreaterThanOrEqual(changedAt + delayMs);

      const late = await timedHits(url, 20, 5);
      expect(late.every((h) => h.sentAt >= writtenAt + delayMs)).toBe(true);
      expect(late.map((h) => h.target)).toEqual(Array(20).fill('green'));
    } finally {
      await stopSandbox(slow);
    }
  });

  it('routes by rule conditions in priority order, then the default action', async () => {
    const blue = await startTarget('blue');
    const green = await startTarget('green');
    const { listenerArn, url, tgArns } = await buildAlb(
      s,
      [
        { name: 'rules-blue', targets: [blue] },
        { name: 'rules-green', targets: [green] },
      ],
      ([b]) => weighted([b as string, 1]),
    );
    const toGreen: Action[] = [{ Type: 'forward', TargetGroupArn: tgArns[1] }];
    const rules: Array<{ Priority: number; Conditions: object[]; Actions: Action[] }> = [
      {
        Priority: 5,
        Conditions: [{ Field: 'path-pattern', Values: ['/api/admin*'] }],
        Actions: [
          {
            Type: 'fixed-response',
            FixedResponseConfig: {
              StatusCode: '403',
              ContentType: 'text/plain',
              MessageBody: 'forbidden',
            },
          },
        ],
      },
      {
        Priority: 10,
        Conditions: [{ Field: 'path-pattern', Values: ['/api/*'] }],
        Actions: toGreen,
      },
      {
        Priority: 20,
        Conditions: [{ Field: 'host-header', Values: ['canary.*.com'] }],
        Actions: toGreen,
      },
      {
        Priority: 30,
        Conditions: [
          {
            Field: 'http-header',
            HttpHeaderConfig: { HttpHeaderName: 'X-Canary', Values: ['yes'] },
          },
        ],
        Actions: toGreen,
      },
      {
        Priority: 40,
        Conditions: [
          { Field: 'http-request-method', HttpRequestMethodConfig: { Values: ['DELETE'] } },
        ],
        Actions: toGreen,
      },
      {
        Priority: 50,
        Conditions: [
          { Field: 'query-string', QueryStringConfig: { Values: [{ Key: 'v', Value: '2' }] } },
        ],
        Actions: toGreen,
      },
      {
        Priority: 60,
        Conditions: [{ Field: 'path-pattern', Values: ['/old/?'] }],
        Actions: [
          { Type: 'redirect', RedirectConfig: { Path: '/new/#{path}', StatusCode: 'HTTP_301' } },
        ],
      },
      {
        Priority: 70,
        Conditions: [{ Field: 'source-ip', SourceIpConfig: { Values: ['10.0.0.0/8'] } }],
        Actions: toGreen,
      },
    ];
    for (const r of rules) {
      await s.elb.send(
        new CreateRuleCommand({ ListenerArn: listenerArn, ...r } as ConstructorParameters<
          typeof CreateRuleCommand
        >[0]),
      );
    }

    const who = (
      path: string,
      init: { method?: string; headers?: Record<string, string> } = {},
    ): Promise<string> =>
      // node:http rather than fetch, which does not let a caller set the Host header.
      new Promise((resolve, reject) => {
        const req = request(
          `${url}${path}`,
          { method: init.method ?? 'GET', headers: init.headers },
          (res) => {
            res.resume();
            res.on('end', () =>
              resolve(String(res.headers['x-target'] ?? `elb-${res.statusCode}`)),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect(await who('/')).toBe('blue');
    expect(await who('/api/users')).toBe('green');
    expect(await who('/API/users')).toBe('blue'); // path patterns are case sensitive
    expect(await who('/', { headers: { host: 'canary.example.com' } })).toBe('green');
    expect(await who('/', { headers: { host: 'www.example.com' } })).toBe('blue');
    expect(await who('/', { headers: { 'x-canary': 'YES' } })).toBe('green');
    expect(await who('/', { method: 'DELETE' })).toBe('green');
    expect(await who('/?v=2')).toBe('green');
    expect(await who('/?v=3')).toBe('blue');
    expect(await who('/anything', { headers: { 'x-canary': 'no' } })).toBe('blue');

    const forbidden = await fetch(`${url}/api/admin/x`);
    expect(forbidden.status).toBe(403);
    expect(await forbidden.text()).toBe('forbidden');

    const moved = await fetch(`${url}/old/a?q=1`, { redirect: 'manual' });
    expect(moved.status).toBe(301);
    expect(moved.headers.get('location')).toBe(`http://127.0.0.1/new/old/a?q=1`);

    const body = await (await fetch(`${url}/echo`)).text();
    expect(body).toBe('blue GET /echo xff=127.0.0.1');
  });

  it('moves targets initial → healthy → unhealthy with the reason of the failing check, and drains on deregister', async () => {
    const app = await startTarget('app');
    const lbArn = (
      await s.elb.send(new CreateLoadBalancerCommand({ Name: 'alb-health', Subnets: SUBNETS }))
    ).LoadBalancers?.[0]?.LoadBalancerArn as string;
    const tgArn = (
      await s.elb.send(
        new CreateTargetGroupCommand({
          Name: 'health-app',
          Protocol: 'HTTP',
          Port: 80,
          VpcId: 'vpc-sandbox-a',
          TargetType: 'ip',
          HealthCheckPath: '/healthz',
          HealthCheckIntervalSeconds: 5,
          HealthCheckTimeoutSeconds: 2,
          HealthyThresholdCount: 3,
          UnhealthyThresholdCount: 2,
        }),
      )
    ).TargetGroups?.[0]?.TargetGroupArn as string;
    await s.elb.send(
      new RegisterTargetsCommand({
        TargetGroupArn: tgArn,
        Targets: [{ Id: '127.0.0.1', Port: app.port }],
      }),
    );

    expect(await health(s, tgArn)).toEqual([
      {
        State: 'unused',
        Reason: 'Target.NotInUse',
        Description: 'Target group is not configured to receive traffic from the load balancer',
      },
    ]);

    await s.elb.send(
      new CreateListenerCommand({
        LoadBalancerArn: lbArn,
        Protocol: 'HTTP',
        Port: 80,
        DefaultActions: weighted([tgArn, 1]),
      }),
    );
    const [initial] = await health(s, tgArn);
    expect(initial?.State).toBe('initial');
    expect(initial?.Reason).toMatch(/^Elb\.(RegistrationInProgress|InitialHealthChecking)$/);
    const checking = await waitFor(
      async () => (await health(s, tgArn)).find((h) => h.Reason === 'Elb.InitialHealthChecking'),
      'initial health checking',
    );
    expect(checking).toEqual({
      State: 'initial',
      Reason: 'Elb.InitialHealthChecking',
      Description: 'Initial health checks in progress',
    });
    expect(await waitForState(s, tgArn, 'healthy')).toEqual({ State: 'healthy' });

    app.healthStatus = 500;
    expect(await waitForState(s, tgArn, 'unhealthy')).toEqual({
      State: 'unhealthy',
      Reason: 'Target.ResponseCodeMismatch',
      Description: 'Health checks failed with these codes: [500]',
    });

    app.healthStatus = 200;
    await waitForState(s, tgArn, 'healthy');
    app.hangHealth = true;
    expect(await waitForState(s, tgArn, 'unhealthy')).toEqual({
      State: 'unhealthy',
      Reason: 'Target.Timeout',
      Description: 'Request timed out',
    });

    await app.close();
    await waitFor(
      async () => (await health(s, tgArn)).find((h) => h.Reason === 'Target.FailedHealthChecks'),
      'connection failures',
    ).then((h) =>
      expect(h).toEqual({
        State: 'unhealthy',
        Reason: 'Target.FailedHealthChecks',
        Description: 'Health checks failed',
      }),
    );

    await s.elb.send(
      new DeregisterTargetsCommand({
        TargetGroupArn: tgArn,
        Targets: [{ Id: '127.0.0.1', Port: app.port }],
      }),
    );
    expect(await health(s, tgArn)).toEqual([
      {
        State: 'draining',
        Reason: 'Target.DeregistrationInProgress',
        Description: 'Target deregistration is in progress',
      },
    ]);
  });

  it('sends traffic only to healthy targets, and to all of them when none is healthy', async () => {
    const good = await startTarget('good');
    const bad = await startTarget('bad');
    bad.healthStatus = 503;
    const { url, tgArns } = await buildAlb(s, [{ name: 'failopen', targets: [good, bad] }], ([t]) =>
      weighted([t as string, 1]),
    );
    await waitForState(s, tgArns[0] as string, 'healthy');
    await waitForState(s, tgArns[0] as string, 'unhealthy');
    expect(new Set(await hits(url, 20))).toEqual(new Set(['good']));

    good.healthStatus = 503;
    await waitFor(
      async () =>
        (await health(s, tgArns[0] as string)).every((h) => h.State === 'unhealthy')
          ? true
          : undefined,
      'both unhealthy',
    );
    expect(new Set(await hits(url, 20))).toEqual(new Set(['good', 'bad']));
  });

  it('answers 503 itself when the target group has no registered targets', async () => {
    const { url } = await buildAlb(s, [{ name: 'empty', targets: [] }], ([e]) =>
      weighted([e as string, 1]),
    );
    const empty = await fetch(url);
    expect(empty.status).toBe(503);
    expect(empty.headers.get('server')).toBe('awselb/2.0');
    expect(await empty.text()).toContain('503 Service Temporarily Unavailable');
  });

  it('answers 502 when the only target refuses connections', async () => {
    const gone = await startTarget('gone');
    await gone.close();
    const { url } = await buildAlb(s, [{ name: 'refusing-only', targets: [gone] }], ([t]) =>
      weighted([t as string, 1]),
    );
    const res = await fetch(url);
    expect(res.status).toBe(502);
    expect(await res.text()).toContain('502 Bad Gateway');
  });

  it('keeps a client on its target group with the AWSALBTG cookie when stickiness is on', async () => {
    const blue = await startTarget('blue');
    const green = await startTarget('green');
    const { url } = await buildAlb(
      s,
      [
        { name: 'sticky-blue', targets: [blue] },
        { name: 'sticky-green', targets: [green] },
      ],
      ([b, g]) => [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: b, Weight: 50 },
              { TargetGroupArn: g, Weight: 50 },
            ],
            TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 60 },
          },
        },
      ],
    );
    const first = await fetch(url);
    const group = first.headers.get('x-target');
    const cookie = first.headers.getSetCookie().find((c) => c.startsWith('AWSALBTG='));
    expect(cookie).toMatch(/^AWSALBTG=[^;]+; Expires=.+; Path=\/$/);
    const sticky = await hits(
      url,
      40,
      { headers: { cookie: (cookie as string).split(';')[0] as string } },
      4,
    );
    expect(new Set(sticky)).toEqual(new Set([group]));
    // Without the cookie, both groups get traffic.
    expect(new Set(await hits(url, 60))).toEqual(new Set(['blue', 'green']));
  });

  it('records ALB metrics per load balancer and per target group', async () => {
    const started = Date.now();
    const blue = await startTarget('blue');
    const green = await startTarget('green');
    const { url, lbArn, listenerArn, tgArns } = await buildAlb(
      s,
      [
        { name: 'metrics-blue', targets: [blue] },
        { name: 'metrics-green', targets: [green] },
        { name: 'metrics-empty', targets: [] },
      ],
      ([b, g]) => weighted([b as string, 1], [g as string, 1]),
    );
    const answers = await hits(url, 30);
    const blueCount = answers.filter((a) => a === 'blue').length;
    const greenCount = 30 - blueCount;

    const lbDim = lbArn.replace(/^.*:loadbalancer\//, '');
    const tgDim = (arn: string): string => arn.replace(/^.*:(targetgroup\/)/, '$1');
    const sum = (metricName: string, dimensions: Record<string, string>, stat = 'Sum'): number =>
      s.metrics
        .query({
          namespace: 'AWS/ApplicationELB',
          metricName,
          dimensions,
          start: started - 1000,
          end: Date.now() + 1000,
          period: 3600,
          stat,
        })
        .values.reduce((a, b) => a + b, 0);

    expect(lbDim).toMatch(/^app\/alb-metrics-blue\/[0-9a-f]{16}$/);
    expect(sum('RequestCount', { LoadBalancer: lbDim })).toBe(30);
    expect(
      sum('RequestCount', { LoadBalancer: lbDim, TargetGroup: tgDim(tgArns[0] as string) }),
    ).toBe(blueCount);
    expect(
      sum('RequestCount', { LoadBalancer: lbDim, TargetGroup: tgDim(tgArns[1] as string) }),
    ).toBe(greenCount);
    expect(
      sum('HTTPCode_Target_2XX_Count', {
        LoadBalancer: lbDim,
        TargetGroup: tgDim(tgArns[1] as string),
      }),
    ).toBe(greenCount);
    expect(sum('HTTPCode_Target_2XX_Count', { LoadBalancer: lbDim })).toBe(30);
    expect(
      sum(
        'TargetResponseTime',
        { LoadBalancer: lbDim, TargetGroup: tgDim(tgArns[0] as string) },
        'SampleCount',
      ),
    ).toBe(blueCount);
    expect(sum('TargetResponseTime', { LoadBalancer: lbDim }, 'Maximum')).toBeLessThan(1);
    expect(sum('HTTPCode_ELB_5XX_Count', { LoadBalancer: lbDim })).toBe(0);

    // Send everything to the empty group: the ELB answers 503 and counts it at LB level.
    await s.elb.send(
      new ModifyListenerCommand({
        ListenerArn: listenerArn,
        DefaultActions: weighted([tgArns[2] as string, 1]),
      }),
    );
    await waitFor(
      async () => ((await hits(url, 1))[0] === 'elb-503' ? true : undefined),
      'the 503s',
    );
    const fives = sum('HTTPCode_ELB_5XX_Count', { LoadBalancer: lbDim });
    await hits(url, 5);
    expect(sum('HTTPCode_ELB_5XX_Count', { LoadBalancer: lbDim })).toBe(fives + 5);
    expect(sum('HTTPCode_Target_5XX_Count', { LoadBalancer: lbDim })).toBe(0);
  });

  it('lists listeners with their API port and real URL on the control route', async () => {
    const app = await startTarget('app');
    const { listenerArn, lbArn, url } = await buildAlb(
      s,
      [{ name: 'control', targets: [app] }],
      ([t]) => weighted([t as string, 1]),
    );
    const listed = (await (await fetch(`${s.endpoint}/_sandbox/elbv2/listeners`)).json()) as Array<
      Record<string, unknown>
    >;
    expect(listed).toContainEqual({ listenerArn, loadBalancerArn: lbArn, port: 80, url });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});

describe('ALB data plane timeouts', () => {
  let s: Sandbox;
  // 1/200 of AWS's timers: the 60 s idle timeout becomes 300 ms.
  beforeAll(async () => {
    s = await startSandbox({ healthCheckTimeScale: 0.005 });
  });
  afterAll(async () => stopSandbox(s));

  it('answers 504 when the target does not respond within the idle timeout', async () => {
    const slow = await startTarget('slow');
    slow.hangRequests = true;
    const { url } = await buildAlb(s, [{ name: 'slow', targets: [slow] }], ([t]) =>
      weighted([t as string, 1]),
    );
    const started = Date.now();
    const res = await fetch(url);
    expect(res.status).toBe(504);
    expect(await res.text()).toContain('504 Gateway Time-out');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });
});
