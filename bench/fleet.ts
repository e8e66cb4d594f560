/**
 * Fleet scale: one push changes 100 rollout files (100 services, one listener rule each, on 4
 * ALBs of the sandbox), each a step with a 5 s bake. One apply job applies them `parallel` at
 * a time, each locking its rule, shifting, verifying and unlocking on its own, against an
 * in-memory GitHub that counts the calls. The ELB API is limited as AWS limits it by default
 * (the documented token buckets: writes 20 + 3/s, every call 40 + 10/s, per account and region;
 * sandbox/elbv2/limits.ts), and every throttled call is counted.
 *
 * Compared with: the same step of one file alone (the longest single step), and the ideal for
 * a parallelism of P, ceil(100 / P) steps one after another.
 *
 *   node scripts/run-ts.mjs bench/fleet.ts [--files 100] [--parallel 10]
 */
import { parseArgs } from 'node:util';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { startSandbox } from '../sandbox/index.js';
import { startDemoApp } from '../sandbox/app/server.js';
import { waitHealthy } from '../sandbox/scenario.js';
import { elbv2ApiLimits } from '../sandbox/elbv2/limits.js';
import { makeElbv2Client } from '../src/aws/clients.js';
import { systemClock } from '../src/common/clock.js';
import { pathFilter } from '../src/common/glob.js';
import { silentLogger } from '../src/common/logger.js';
import type { GitHubApi } from '../src/github/types.js';
import { runApply } from '../src/operations/apply.js';
import type { RolloutDeps } from '../src/operations/context.js';
import { MemoryGitHub } from '../test/fakes/memory-github.js';

const { values } = parseArgs({
  options: { files: { type: 'string' }, parallel: { type: 'string' } },
});
const FILES = Number(values.files ?? 100);
const PARALLEL = Number(values.parallel ?? 10);
const ALBS = 4;
const BAKE =
  'analysis:\n  warmup: 0s\n  interval: 5s\n  duration: 5s\n  checks:\n    - targetHealth: { minHealthy: 1 }\n';

const sandbox = await startSandbox({ healthCheckTimeScale: 0.05 });
const config = {
  endpoint: sandbox.endpoint,
  region: sandbox.region,
  credentials: {
    accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
    secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
  },
};
// Setup goes through a plain client; the step through the actions' own (paced) client.
const elbv2 = new ElasticLoadBalancingV2Client(config);
Object.assign(process.env, sandbox.env);
const actionElbv2 = makeElbv2Client(sandbox.region);
const cloudwatch = new CloudWatchClient(config);
const blueApp = await startDemoApp({ version: '1.31' });
const greenApp = await startDemoApp({ version: '1.32' });

/** One service: a rule of its own on one of the ALBs' listeners, two target groups of its own. */
interface Service {
  path: string;
  text(weights: { blue: number; green: number }): string;
}

async function setup(): Promise<Service[]> {
  const listeners: string[] = [];
  for (let i = 0; i < ALBS; i++) {
    const lb = await elbv2.send(
      new CreateLoadBalancerCommand({
        Name: `fleet-${i}`,
        Subnets: ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'],
      }),
    );
    const l = await elbv2.send(
      new CreateListenerCommand({
        LoadBalancerArn: lb.LoadBalancers?.[0]?.LoadBalancerArn,
        Protocol: 'HTTP',
        Port: 80,
        DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }],
      }),
    );
    listeners.push(l.Listeners?.[0]?.ListenerArn as string);
  }
  const services: Service[] = [];
  const allTargetGroups: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const tg = async (color: string, port: number): Promise<string> => {
      const out = await elbv2.send(
        new CreateTargetGroupCommand({
          Name: `svc${i}-${color}`,
          Protocol: 'HTTP',
          Port: 80,
          VpcId: 'vpc-sandbox-a',
          TargetType: 'ip',
          HealthCheckPath: '/healthz',
          HealthCheckIntervalSeconds: 5,
          HealthCheckTimeoutSeconds: 4,
          HealthyThresholdCount: 2,
        }),
      );
      const arn = out.TargetGroups?.[0]?.TargetGroupArn as string;
      await elbv2.send(
        new RegisterTargetsCommand({
          TargetGroupArn: arn,
          Targets: [{ Id: '127.0.0.1', Port: port }],
        }),
      );
      allTargetGroups.push(arn);
      return arn;
    };
    const blue = await tg('blue', blueApp.port);
    const green = await tg('green', greenApp.port);
    const listener = listeners[i % ALBS] as string;
    const rule = await elbv2.send(
      new CreateRuleCommand({
        ListenerArn: listener,
        Priority: Math.floor(i / ALBS) + 1,
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: [`/svc${i}/*`] } }],
        Actions: [
          {
            Type: 'forward',
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: blue, Weight: 100 },
                { TargetGroupArn: green, Weight: 0 },
              ],
            },
          },
        ],
      }),
    );
    const ruleArn = rule.Rules?.[0]?.RuleArn as string;
    services.push({
      path: `rollouts/svc${String(i).padStart(3, '0')}.yaml`,
      text: (w) =>
        [
          'version: 1',
          `name: svc${i}`,
          `region: ${sandbox.region}`,
          'clusters:',
          '  blue: { eks: prod-1-31, targetGroup: ' + blue + ' }',
          '  green: { eks: prod-1-32, targetGroup: ' + green + ' }',
          'routes:',
          `  - rule: ${ruleArn}`,
          `weights: { blue: ${w.blue}, green: ${w.green} }`,
          'canary: green',
          'steps: [10, 25, 50, 100]',
          'owner: blue',
          BAKE,
        ].join('\n'),
    });
  }
  await waitHealthy(elbv2, allTargetGroups);
  return services;
}

/** Counts every call the operations make on GitHub. */
function counted(github: MemoryGitHub): { api: GitHubApi; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const api = new Proxy(github, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function' || typeof name !== 'string') return value;
      return (...args: unknown[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { api: api as unknown as GitHubApi, calls };
}

async function step(
  services: Service[],
  parallel: number,
): Promise<{ ms: number; result: string; github: Map<string, number>; failures: number }> {
  const github = new MemoryGitHub();
  const before = github.commit(
    'main',
    Object.fromEntries(services.map((s) => [s.path, s.text({ blue: 100, green: 0 })])),
  );
  const after = github.commit(
    'main',
    Object.fromEntries(services.map((s) => [s.path, s.text({ blue: 90, green: 10 })])),
  );
  const { api, calls } = counted(github);
  const deps: RolloutDeps = {
    github: api,
    aws: () => ({ elbv2: actionElbv2, cloudwatch }),
    logger: silentLogger,
    clock: systemClock,
    fetch: globalThis.fetch,
    readBackDelayMs: 100,
  };
  const t0 = Date.now();
  const out = await runApply(
    { kind: 'push', before, after, branch: 'main', defaultBranch: 'main' },
    {
      filter: pathFilter(['rollouts/*.yaml'], 'files'),
      settings: { settleMs: 0, cloudWatchPeriodMs: 1000, cloudWatchDelayMs: 0 },
      autoAdvance: false,
      parallel,
      lock: { owner: 'bench', waitMs: 60_000 },
    },
    deps,
  );
  const failures = out.files.filter((f) => f.status !== 'applied').length;
  return { ms: Date.now() - t0, result: out.result, github: calls, failures };
}

try {
  process.stdout.write(
    `fleet benchmark: ${FILES} rollout files, one rule each on ${ALBS} ALBs, 5 s bake, parallel ${PARALLEL}\n`,
  );
  const services = await setup();
  // AWS's default ELBv2 throttling, the documented token buckets (sandbox/elbv2/limits.ts).
  for (const fault of elbv2ApiLimits()) sandbox.core.injectFault(fault);
  // The single file's step: the first file alone; the fleet is the other files.
  const single = await step(services.slice(0, 1), 1);
  sandbox.core.resetCalls();
  const fleet = await step(services.slice(1), PARALLEL);
  const n = FILES - 1;
  const throttled = sandbox.core.calls.filter((c) => c.status === 400).length;
  const writes = sandbox.core.calls.filter((c) => /^(Modify|Add|Remove)/.test(c.operation)).length;
  const ideal = Math.ceil(n / PARALLEL) * single.ms;
  // The buckets' floors: the writes' (20 at once, then 3 a second) and every call's, in the
  // account's bucket (40 at once, then 10 a second).
  const writeFloor = (Math.max(0, writes - 20) / 3) * 1000;
  const accountFloor = (Math.max(0, sandbox.core.calls.length - 40) / 10) * 1000;
  const floor = Math.max(ideal, writeFloor, accountFloor);
  process.stdout.write(
    [
      `  one file alone: ${single.ms} ms (${single.result})`,
      `  ${n} files, parallel ${PARALLEL}: ${fleet.ms} ms (${fleet.result}; ${fleet.failures} not applied)`,
      `  against ${Math.ceil(n / PARALLEL)} single steps back to back (${ideal} ms): ${(fleet.ms / ideal).toFixed(2)}x; against one step: ${(fleet.ms / single.ms).toFixed(1)}x`,
      `  ELB calls throttled: ${throttled} of ${sandbox.core.calls.length} (${writes} writes); floors: the writes' bucket ${(writeFloor / 1000).toFixed(1)} s, the account's bucket ${(accountFloor / 1000).toFixed(1)} s; ${(fleet.ms / floor).toFixed(2)}x the largest floor`,
      `  GitHub calls: ${[...fleet.github].map(([k, v]) => `${k} ${v}`).join(', ')} (${[...fleet.github.values()].reduce((a, b) => a + b, 0)} in all, ${([...fleet.github.values()].reduce((a, b) => a + b, 0) / n).toFixed(1)} per file)`,
      '',
    ].join('\n'),
  );
} finally {
  elbv2.destroy();
  actionElbv2.destroy();
  cloudwatch.destroy();
  await blueApp.close();
  await greenApp.close();
  await sandbox.close();
}
