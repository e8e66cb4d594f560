/**
 * Rollback benchmark, printed (not asserted):
 *
 *   npx node scripts/run-ts.mjs bench/rollback.ts [--runs 5]
 *
 * The rollout action's apply, in-process against the sandbox, with a canary whose every
 * request fails: the time from the failing verdict (the analysis' verdictAt) to every route
 * restored and confirmed by read-back, and on to the end of the file's apply (reconcile PR,
 * deployment and comment, on an in-memory GitHub). For 1, 2
 * and 5 routes, with the sandbox answering at once and with 50 ms per ELB call (closer to AWS).
 * Also the emergency rollback command: its whole run, from start to confirmed weights.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/common/clock.js';
import type { Logger } from '../src/common/logger.js';
import { runApply } from '../src/operations/apply.js';
import type { RolloutDeps } from '../src/operations/context.js';
import { pathFilter } from '../src/common/glob.js';
import { runRollback } from '../src/operations/rollback.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { createWebService } from '../sandbox/scenario.js';
import { MemoryGitHub } from '../test/fakes/memory-github.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
const PATH = 'rollouts/web.yaml';

/** Notes when each log group ends, so the restore's end is timed where it happens. */
class TimingLogger implements Logger {
  readonly ended = new Map<string, number>();
  info(): void {}
  debug(): void {}
  warning(): void {}
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      this.ended.set(name, Date.now());
    }
  }
}

let seq = 0;

async function once(
  sandbox: Sandbox,
  routes: number,
  command: 'apply' | 'rollback',
): Promise<{ restoreMs: number; prMs: number }> {
  const web = await createWebService(sandbox, {
    name: `bench${++seq}`,
    extraListeners: Math.min(routes, 2) - 1,
    rules: Math.max(0, routes - 2),
    weights: command === 'apply' ? { blue: 100, green: 0 } : { blue: 50, green: 50 },
  });
  for (const app of web.apps.green ?? []) app.setBehaviour({ errorRate: 1 });
  const analysis = `analysis:\n  warmup: 0s\n  interval: 1s\n  duration: 1s\n  checks:\n    - http: { url: "${web.apps.green?.[0]?.url}/" }\n`;
  const github = new MemoryGitHub();
  const config = {
    endpoint: sandbox.endpoint,
    region: sandbox.region,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
    },
  };
  const clients = {
    elbv2: new ElasticLoadBalancingV2Client(config),
    cloudwatch: new CloudWatchClient(config),
  };
  const logger = new TimingLogger();
  const deps: RolloutDeps = {
    github,
    aws: () => clients,
    logger,
    clock: systemClock,
    fetch: globalThis.fetch,
    readBackDelayMs: 100,
  };
  const settings = { settleMs: 0, cloudWatchPeriodMs: 1000, cloudWatchDelayMs: 0 };
  try {
    if (command === 'rollback') {
      const sha = github.commit('main', {
        [PATH]: web.rolloutFile({ blue: 50, green: 50 }, analysis),
      });
      const started = Date.now();
      const out = await runRollback(
        { kind: 'workflow_dispatch', sha, branch: 'main', defaultBranch: 'main' },
        { file: PATH, to: 'blue', force: false },
        settings,
        deps,
      );
      if (out.result !== 'rolled-back')
        throw new Error(`rollback: ${out.result} ${out.failure ?? ''}`);
      const restored = logger.ended.get('Shifting') as number;
      return { restoreMs: restored - started, prMs: Date.now() - started };
    }
    const before = github.commit('main', {
      [PATH]: web.rolloutFile({ blue: 100, green: 0 }, analysis),
    });
    const after = github.commit('main', {
      [PATH]: web.rolloutFile({ blue: 90, green: 10 }, analysis),
    });
    const out = await runApply(
      { kind: 'push', before, after, branch: 'main', defaultBranch: 'main' },
      { filter: pathFilter([PATH], 'files'), settings, autoAdvance: false },
      deps,
    );
    // The file's apply ends with the reconcile PR, the deployment and the comment.
    const prOpened = Date.now();
    const file = (out.report.files as { analysis?: { verdictAt: string } }[])[0];
    if (out.result !== 'rolled-back' || !file?.analysis)
      throw new Error(`apply: ${out.result} ${out.failure ?? ''}`);
    const verdictAt = Date.parse(file.analysis.verdictAt);
    const restored = logger.ended.get('Restoring the previous weights') as number;
    const live = await Promise.all(
      [...web.listenerArns, ...web.ruleArns].map((arn) => web.liveWeights(arn)),
    );
    if (!live.every((w) => w.blue === 100 && w.green === 0))
      throw new Error(`not restored: ${JSON.stringify(live)}`);
    return { restoreMs: restored - verdictAt, prMs: prOpened - verdictAt };
  } finally {
    clients.elbv2.destroy();
    clients.cloudwatch.destroy();
    await web.close();
  }
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const range = (xs: number[]): string =>
  `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;

async function main(): Promise<void> {
  const sandbox = await startSandbox({ healthCheckTimeScale: 0.05 });
  console.log(`rollback benchmark, ${runs} runs each (sandbox at ${sandbox.endpoint})`);
  try {
    for (const latencyMs of [0, 50]) {
      sandbox.core.clearFaults();
      if (latencyMs > 0)
        sandbox.core.injectFault({
          service: 'elasticloadbalancing',
          operation: '*',
          kind: 'latency',
          latencyMs,
        });
      console.log(`\nELB API latency ${latencyMs} ms per call`);
      for (const routes of [1, 2, 5]) {
        const apply: { restoreMs: number; prMs: number }[] = [];
        const rollback: { restoreMs: number; prMs: number }[] = [];
        for (let i = 0; i < runs; i++) {
          apply.push(await once(sandbox, routes, 'apply'));
          rollback.push(await once(sandbox, routes, 'rollback'));
        }
        console.log(
          `  ${routes} route${routes === 1 ? ' ' : 's'}: apply, failing verdict -> weights restored and confirmed: ${range(apply.map((r) => r.restoreMs))}`,
        );
        console.log(
          `           apply, failing verdict -> reconcile PR, comment done:  ${range(apply.map((r) => r.prMs))}`,
        );
        console.log(
          `           rollback command, start -> weights confirmed:          ${range(rollback.map((r) => r.restoreMs))}`,
        );
      }
    }
  } finally {
    await sandbox.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
