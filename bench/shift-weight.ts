/**
 * shift-weight and sandbox benchmarks, printed (not asserted):
 *
 *   npm run bench      (or: node scripts/run-ts.mjs bench/shift-weight.ts [--runs 5])
 *
 * 1. shift-weight bundle, end to end, divided by a bare AWS SDK script making the same calls
 *    (both are fresh node processes against the same sandbox, alternated, medians compared).
 * 2. AWS calls per route per step, from the sandbox's call log: shift-weight's, and (2b) a
 *    rollout apply step's (in process, with the route lock and the last-step record, an
 *    analysis of target health only, GitHub in memory).
 * 3. A rollout with 100 routes under AWS's default ELBv2 throttling (the sandbox's model of the
 *    documented token buckets, sandbox/elbv2/limits.ts): time divided by the floor those buckets
 *    impose on 100 writes, (100 - 20) / 3 s, and every throttled call counted.
 * 4. Bundle cold start: `node dist/shift-weight/index.js` failing on its first input check,
 *    against `node -e ""`.
 * 5. Sandbox data-plane throughput through one ALB listener, requests/s.
 * Ratios against a baseline measured in the same run are what to compare across machines.
 * `--only 2,2b` runs the figures named.
 */
import { spawn } from 'node:child_process';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { createWebService, sendTraffic, type WebService } from '../sandbox/scenario.js';
import { elbv2ApiLimits } from '../sandbox/elbv2/limits.js';
import { systemClock } from '../src/common/clock.js';
import { pathFilter } from '../src/common/glob.js';
import { silentLogger } from '../src/common/logger.js';
import { runApply } from '../src/operations/apply.js';
import { MemoryGitHub } from '../test/fakes/memory-github.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, only: { type: 'string' } },
});
const runs = Number(values.runs);
const only = values.only?.split(',').map((f) => f.trim());
const figure = (name: string): boolean => !only || only.includes(name);
const dir = mkdtempSync(join(tmpdir(), 'ecc-bench-'));

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ ms: number; code: number | null; out: string }> {
  const start = process.hrtime.bigint();
  return new Promise((done) => {
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) =>
      done({ ms: Number(process.hrtime.bigint() - start) / 1e6, code, out }),
    );
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
const fmt = (ms: number): string => `${ms.toFixed(0)} ms`;
const spread = (xs: number[]): string =>
  `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;

/** The calls shift-weight makes for one step, as a plain SDK script: read all, then write and read back each. */
function bareScript(web: WebService, weights: Record<string, number>): string {
  const path = join(dir, `bare-${Date.now()}.mjs`);
  const sdk = resolve('node_modules/@aws-sdk/client-elastic-load-balancing-v2/dist-cjs/index.js');
  writeFileSync(
    path,
    `import { createRequire } from 'node:module';
const { ElasticLoadBalancingV2Client, DescribeListenersCommand, ModifyListenerCommand } = createRequire(import.meta.url)(${JSON.stringify(sdk)});
const client = new ElasticLoadBalancingV2Client({ region: process.env.AWS_REGION });
const arns = ${JSON.stringify(web.listenerArns)};
const groups = ${JSON.stringify(Object.entries(web.targetGroups).map(([c, arn]) => ({ TargetGroupArn: arn, Weight: weights[c] })))};
await client.send(new DescribeListenersCommand({ ListenerArns: arns }));
for (const arn of arns) {
  await client.send(new ModifyListenerCommand({ ListenerArn: arn, DefaultActions: [{ Type: 'forward', ForwardConfig: { TargetGroups: groups } }] }));
  await client.send(new DescribeListenersCommand({ ListenerArns: [arn] }));
}
`,
  );
  return path;
}

async function shiftWeightVsBare(sandbox: Sandbox): Promise<void> {
  const web = await createWebService(sandbox, { name: 'bench1', extraListeners: 1 });
  const bundleMs: number[] = [];
  const bareMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const green = i % 2 === 0 ? 10 : 20;
    const weights = { blue: 100 - green, green };
    const file = join(dir, `bench1-${i}.yaml`);
    writeFileSync(file, web.rolloutFile(weights));
    const a = await run([resolve('dist/shift-weight/index.js')], {
      ...sandbox.env,
      INPUT_FILE: file,
      'INPUT_SETTLE-SECONDS': '0',
    });
    if (a.code !== 0) throw new Error(`shift-weight failed:\n${a.out}`);
    bundleMs.push(a.ms);
    const b = await run([bareScript(web, { blue: green, green: 100 - green })], sandbox.env);
    if (b.code !== 0) throw new Error(`bare script failed:\n${b.out}`);
    bareMs.push(b.ms);
  }
  console.log(
    `1. shift-weight bundle, 2 routes, end to end: median ${fmt(median(bundleMs))}; bare SDK script: ${fmt(median(bareMs))}; ratio ${(median(bundleMs) / median(bareMs)).toFixed(2)} (each run against the bare run after it: ${spread(bundleMs.map((b, i) => b / (bareMs[i] as number)))})`,
  );
  await web.close();
}

async function callsPerRoute(sandbox: Sandbox): Promise<void> {
  const web = await createWebService(sandbox, { name: 'bench2', extraListeners: 1, rules: 2 });
  const file = join(dir, 'bench2.yaml');
  writeFileSync(file, web.rolloutFile({ blue: 75, green: 25 }));
  sandbox.core.resetCalls();
  const r = await run([resolve('dist/shift-weight/index.js')], {
    ...sandbox.env,
    INPUT_FILE: file,
    'INPUT_SETTLE-SECONDS': '0',
  });
  if (r.code !== 0) throw new Error(r.out);
  const counts = sandbox.core.callCounts();
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const routes = web.listenerArns.length + web.ruleArns.length;
  console.log(
    `2. AWS calls per route per step: ${(total / routes).toFixed(1)} (${total} calls for ${routes} routes: ${Object.entries(
      counts,
    )
      .map(([k, v]) => `${k.split(':')[1]} ${v}`)
      .join(', ')})`,
  );
  await web.close();
}

async function rolloutCallsPerRoute(sandbox: Sandbox): Promise<void> {
  const web = await createWebService(sandbox, { name: 'bench2b', extraListeners: 1, rules: 2 });
  const quick =
    'analysis:\n  warmup: 0s\n  interval: 1s\n  duration: 1s\n  checks:\n    - targetHealth: { minHealthy: 1 }\n';
  const github = new MemoryGitHub();
  const path = 'rollouts/web.yaml';
  const before = github.commit('main', { [path]: web.rolloutFile({ blue: 100, green: 0 }, quick) });
  const after = github.commit('main', { [path]: web.rolloutFile({ blue: 90, green: 10 }, quick) });
  const cloudwatch = new CloudWatchClient({
    region: sandbox.region,
    endpoint: sandbox.endpoint,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
    },
  });
  sandbox.core.resetCalls();
  const out = await runApply(
    { kind: 'push', before, after, branch: 'main', defaultBranch: 'main' },
    {
      filter: pathFilter(['rollouts/*.yaml'], 'files'),
      settings: { settleMs: 0, cloudWatchPeriodMs: 1000, cloudWatchDelayMs: 0 },
      autoAdvance: false,
      lock: { owner: 'bench', waitMs: 10_000 },
    },
    {
      github,
      aws: () => ({ elbv2: web.client, cloudwatch }),
      logger: silentLogger,
      clock: systemClock,
      fetch: globalThis.fetch,
    },
  );
  if (out.result !== 'applied')
    throw new Error(`rollout apply: ${out.result} ${out.failure ?? ''}`);
  const elb = sandbox.core.calls.filter((c) => c.service === 'elasticloadbalancing');
  const counts: Record<string, number> = {};
  for (const c of elb) counts[c.operation] = (counts[c.operation] ?? 0) + 1;
  const routes = web.listenerArns.length + web.ruleArns.length;
  console.log(
    `2b. rollout apply, AWS (ELB) calls per route per step: ${(elb.length / routes).toFixed(1)} (${elb.length} calls for ${routes} routes: ${Object.entries(
      counts,
    )
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')})`,
  );
  await web.close();
}

/** The writes of one 100-route step from full buckets: 20 at once, then 3 a second. */
const HUNDRED_ROUTES_FLOOR_MS = ((100 - 20) / 3) * 1000;

async function hundredRoutesRateLimited(sandbox: Sandbox): Promise<void> {
  const web = await createWebService(sandbox, { name: 'bench3', rules: 99 });
  const limitRuns = Math.min(runs, 3);
  const ms: number[] = [];
  let throttled = 0;
  let modifies = 0;
  let calls = 0;
  for (let i = 0; i < limitRuns; i++) {
    const green = i % 2 === 0 ? 10 : 20;
    const file = join(dir, `bench3-${i}.yaml`);
    writeFileSync(file, web.rolloutFile({ blue: 100 - green, green }));
    // AWS's default ELBv2 buckets, full at the start of each run as after an idle minute.
    sandbox.core.clearFaults();
    for (const fault of elbv2ApiLimits()) sandbox.core.injectFault(fault);
    sandbox.core.resetCalls();
    const r = await run([resolve('dist/shift-weight/index.js')], {
      ...sandbox.env,
      INPUT_FILE: file,
      'INPUT_SETTLE-SECONDS': '0',
    });
    sandbox.core.clearFaults();
    if (r.code !== 0) {
      throw new Error(
        `shift-weight failed:\n${r.out
          .split('\n')
          .filter((l) => l.startsWith('::error'))
          .join('\n')}`,
      );
    }
    ms.push(r.ms);
    throttled += sandbox.core.calls.filter((c) => c.status === 400).length;
    calls += sandbox.core.calls.length;
    modifies += sandbox.core.calls.filter((c) => c.operation.startsWith('Modify')).length;
  }
  console.log(
    `3. 100 routes under AWS's default ELBv2 throttling (mutating bucket 20 + 3/s, account 40 + 10/s): median ${(median(ms) / 1000).toFixed(1)} s = ${(median(ms) / HUNDRED_ROUTES_FLOOR_MS).toFixed(2)} x the ${(HUNDRED_ROUTES_FLOOR_MS / 1000).toFixed(1)} s floor (range ${spread(ms.map((m) => m / HUNDRED_ROUTES_FLOOR_MS))}, ${limitRuns} runs); ${throttled} throttled of ${calls} ELB calls (${modifies} Modify)`,
  );
  await web.close();
}

async function coldStart(): Promise<void> {
  const bundle: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    bundle.push((await run([resolve('dist/shift-weight/index.js')], {})).ms);
    bare.push((await run(['-e', ''], {})).ms);
  }
  console.log(
    `4. bundle cold start (load, fail on the first input check): median ${fmt(median(bundle))} (${fmt(Math.min(...bundle))}-${fmt(Math.max(...bundle))}); node -e "": ${fmt(median(bare))}; ratio ${(median(bundle) / median(bare)).toFixed(2)}`,
  );
}

async function dataPlaneThroughput(sandbox: Sandbox): Promise<void> {
  const web = await createWebService(sandbox, { name: 'bench5', weights: { blue: 50, green: 50 } });
  await sendTraffic(web.url, 200, 16);
  const start = performance.now();
  const t = await sendTraffic(web.url, 4000, 16);
  const seconds = (performance.now() - start) / 1000;
  console.log(
    `5. data-plane throughput: ${(t.total / seconds).toFixed(0)} requests/s through one listener (4000 requests, 16 concurrent, ${t.errors} errors; load generator in the same process)`,
  );
  await web.close();
}

const sandbox = await startSandbox({ healthCheckTimeScale: 0.05 });
try {
  console.log(`shift-weight / sandbox benchmarks (${runs} runs where repeated)`);
  if (figure('1')) await shiftWeightVsBare(sandbox);
  if (figure('2')) await callsPerRoute(sandbox);
  if (figure('2b')) await rolloutCallsPerRoute(sandbox);
  if (figure('3')) await hundredRoutesRateLimited(sandbox);
  if (figure('4')) await coldStart();
  if (figure('5')) await dataPlaneThroughput(sandbox);
} finally {
  await sandbox.close();
}
