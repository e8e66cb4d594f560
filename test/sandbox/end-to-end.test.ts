/**
 * The whole sandbox as verify-health will use it: traffic through a sandbox ALB to two demo
 * apps, then the error rate and request counts per target group read back through the real
 * CloudWatch client.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { startDemoApp, type DemoApp } from '../../sandbox/app/server.js';
import { parseElbArn, type ElbArn } from '../../src/aws/arn.js';

let sandbox: Sandbox;
let apps: DemoApp[] = [];
let elb: ElasticLoadBalancingV2Client;
let cw: CloudWatchClient;

beforeAll(async () => {
  sandbox = await startSandbox({ healthCheckTimeScale: 0.05, propagationDelayMs: 0 });
  apps = [
    await startDemoApp({ version: 'blue' }),
    await startDemoApp({ version: 'green', errorRate: 0.5 }),
  ];
  const config = {
    endpoint: sandbox.endpoint,
    region: sandbox.region,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
    },
  };
  elb = new ElasticLoadBalancingV2Client(config);
  cw = new CloudWatchClient(config);
});

afterAll(async () => {
  elb.destroy();
  cw.destroy();
  await Promise.all(apps.map((a) => a.close()));
  await sandbox.close();
});

it('reports per-target-group requests and 5xx rate of ALB traffic through GetMetricData', async () => {
  const started = Date.now();
  const lb = await elb.send(
    new CreateLoadBalancerCommand({
      Name: 'web',
      Subnets: ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'],
    }),
  );
  const lbArn = lb.LoadBalancers?.[0]?.LoadBalancerArn as string;
  const tgArns: string[] = [];
  for (const app of apps) {
    const tg = await elb.send(
      new CreateTargetGroupCommand({
        Name: `web-${app.version}`,
        Protocol: 'HTTP',
        Port: 80,
        VpcId: 'vpc-sandbox-a',
        TargetType: 'ip',
        HealthCheckPath: '/healthz',
        HealthCheckIntervalSeconds: 5,
        HealthCheckTimeoutSeconds: 2,
        HealthyThresholdCount: 2,
      }),
    );
    const arn = tg.TargetGroups?.[0]?.TargetGroupArn as string;
    await elb.send(
      new RegisterTargetsCommand({
        TargetGroupArn: arn,
        Targets: [{ Id: '127.0.0.1', Port: app.port }],
      }),
    );
    tgArns.push(arn);
  }
  const listener = await elb.send(
    new CreateListenerCommand({
      LoadBalancerArn: lbArn,
      Protocol: 'HTTP',
      Port: 80,
      DefaultActions: [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: tgArns.map((TargetGroupArn) => ({ TargetGroupArn, Weight: 50 })),
          },
        },
      ],
    }),
  );
  const url = sandbox.elbv2.listenerUrl(listener.Listeners?.[0]?.ListenerArn as string);

  for (const arn of tgArns) {
    for (;;) {
      const h = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }));
      if (h.TargetHealthDescriptions?.[0]?.TargetHealth?.State === 'healthy') break;
      if (Date.now() - started > 10_000) throw new Error(`target of ${arn} never became healthy`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const versions: string[] = [];
  for (let i = 0; i < 40; i++) {
    const res = await fetch(url);
    versions.push(`${res.headers.get('x-app-version')}:${res.status}`);
  }
  const greenErrors = versions.filter((v) => v === 'green:500').length;
  const greenTotal = versions.filter((v) => v.startsWith('green:')).length;
  expect(greenTotal).toBeGreaterThan(0);

  const lbDim = (parseElbArn(lbArn, 'loadbalancer') as ElbArn).loadBalancerDimension as string;
  const dims = (tgArn: string) => [
    { Name: 'LoadBalancer', Value: lbDim },
    {
      Name: 'TargetGroup',
      Value: (parseElbArn(tgArn, 'targetgroup') as ElbArn).targetGroupDimension as string,
    },
  ];
  const stat = (id: string, metricName: string, tgArn: string) => ({
    Id: id,
    MetricStat: {
      Metric: { Namespace: 'AWS/ApplicationELB', MetricName: metricName, Dimensions: dims(tgArn) },
      Period: 3600,
      Stat: 'Sum',
    },
  });
  const green = tgArns[1] as string;
  const out = await cw.send(
    new GetMetricDataCommand({
      MetricDataQueries: [
        stat('blue', 'RequestCount', tgArns[0] as string),
        stat('green', 'RequestCount', green),
        { ...stat('greenErrors', 'HTTPCode_Target_5XX_Count', green), ReturnData: false },
        { Id: 'greenErrorRate', Expression: 'FILL(greenErrors, 0) / green' },
      ],
      StartTime: new Date(started - 60_000),
      EndTime: new Date(Date.now() + 60_000),
    }),
  );
  const sums = Object.fromEntries(
    (out.MetricDataResults ?? []).map((r) => [r.Id, r.Values?.reduce((a, b) => a + b, 0)]),
  );
  expect(sums).toEqual({
    blue: 40 - greenTotal,
    green: greenTotal,
    greenErrorRate: greenErrors / greenTotal,
  });
});
