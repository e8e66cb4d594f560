/**
 * Failed user requests during a bad 10% step, printed (not asserted):
 *
 *   node scripts/run-ts.mjs bench/bad-canary.ts [--runs 3] [--scale 1] [--rps 60]
 *
 * The demo's bad build (30% of green's requests fail) behind the sandbox ALB with its real data
 * plane and the demo's traffic (60 req/s, weight changes take 1 s to reach the data plane, a
 * 2 s settle). Each run merges blue 90 / green 10 and runs the rollout action's apply
 * in-process (the real shift, analysis, restore, reconcile PR on an in-memory GitHub) with:
 *
 *   ours     the rollout file's analysis defaults (warmup 0s, interval 1m, duration 5m,
 *            failureLimit 0, failEarly on) and one check, cloudwatch error-rate max 1%;
 *   ours-30  the same with a 30 s warmup (the default before issue 14; a warmup's errors are
 *            not judged, so this is what a user who sets one gets);
 *   flagger  what a user would configure to copy Flagger's loop: interval 1m, threshold 1 (the
 *            first failed check fails the step, at the interval's close), no warmup, the same
 *            check on the same metrics (warmup 0s, interval 1m, duration 1m, failEarly: false).
 *
 * Failed requests are read from the data plane's own counters (the sandbox's AWS/ApplicationELB
 * series, not CloudWatch queries): green's 5xx plus any 5xx of the ALB itself, from before the
 * shift to after the restore. Green takes traffic only between the two, so the count is every
 * request that failed because of the step. The exposure is the span of seconds in which green
 * served requests (the data plane's 1 s RequestCount), from the weights reaching the data plane
 * to the restore reaching it.
 *
 * Our windows sit on CloudWatch's grid (a 1 min interval starts on a whole minute), and Flagger's
 * do not (it checks one interval after the step). So that grid never costs the Flagger loop time
 * Flagger would not spend, its merges are timed so the shift lands just before a whole minute:
 * its window then closes about one interval after the shift, as Flagger's would. Ours need no
 * such help: early looks start when the warmup ends, whatever the grid.
 *
 * --scale multiplies every duration of all three analyses (0.5 makes the intervals 30s); the
 * traffic stays the same, so a scaled run favours the Flagger loop (the requests an early
 * failure needs take as long as before).
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/common/clock.js';
import { formatDuration } from '../src/common/duration.js';
import { pathFilter } from '../src/common/glob.js';
import type { Logger } from '../src/common/logger.js';
import { isCloudWatchPeriod } from '../src/health/checks/cloudwatch.js';
import { runApply } from '../src/operations/apply.js';
import type { RolloutDeps } from '../src/operations/context.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { createWebService, type WebService } from '../sandbox/scenario.js';
import { MemoryGitHub } from '../test/fakes/memory-github.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    scale: { type: 'string', default: '1' },
    rps: { type: 'string', default: '60' },
  },
});
const runs = Number(values.runs);
const scale = Number(values.scale);
const rps = Number(values.rps);
const intervalS = 60 * scale;
if (!(runs > 0) || !(rps > 0) || !(scale > 0) || !isCloudWatchPeriod(intervalS)) {
  console.error(
    'usage: bench/bad-canary.ts [--runs N] [--scale F] [--rps R]; 60 s x F must be a CloudWatch period (1, 5, 10, 20, 30 s or whole minutes)',
  );
  process.exit(2);
}

const PATH = 'rollouts/web.yaml';
const PROPAGATION_MS = 1_000;
const SETTLE_MS = 2_000;
const ERROR_RATE = 0.3;
const d = (ms: number) => formatDuration(Math.round(ms * scale));
const CHECKS = `  checks:\n    - cloudwatch: { metric: error-rate, max: 0.01 }\n`;

interface Loop {
  name: string;
  analysis: string;
  /** Land the shift just before the CloudWatch grid (see the header). */
  beforeGrid: boolean;
}
const LOOPS: Loop[] = [
  {
    name: 'ours',
    // Only the check is written: warmup, interval, duration, failureLimit, failEarly default.
    analysis:
      scale === 1
        ? `analysis:\n${CHECKS}`
        : `analysis:\n  warmup: 0s\n  interval: ${d(60_000)}\n  duration: ${d(300_000)}\n${CHECKS}`,
    beforeGrid: false,
  },
  {
    name: 'ours-30',
    analysis: `analysis:\n  warmup: ${d(30_000)}\n  interval: ${d(60_000)}\n  duration: ${d(300_000)}\n${CHECKS}`,
    beforeGrid: false,
  },
  {
    name: 'flagger',
    analysis: `analysis:\n  warmup: 0s\n  interval: ${d(60_000)}\n  duration: ${d(60_000)}\n  failureLimit: 0\n  failEarly: false\n${CHECKS}`,
    beforeGrid: true,
  },
];

/**
 * Steady arrivals: `rps` requests a second on average, catching up after a late timer, so a
 * busy machine does not quietly send fewer requests (and fail fewer) in one run than another.
 */
class SteadyLoad {
  private sent = 0;
  private readonly started = Date.now();
  private readonly timer: NodeJS.Timeout;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly url: string,
    private readonly rps: number,
  ) {
    this.timer = setInterval(() => this.tick(), 5);
  }

  private tick(): void {
    const due = Math.floor(((Date.now() - this.started) * this.rps) / 1000);
    for (; this.sent < due; this.sent++) {
      const p = fetch(this.url)
        .then((r) => r.arrayBuffer())
        .then(
          () => undefined,
          () => undefined,
        );
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.inFlight);
  }
}

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

interface Outcome {
  failed: number;
  /** Of `failed`, the ALB's own 5xx (no healthy target, a reset): 0 when the shift is clean. */
  elb5xx: number;
  greenRequests: number;
  /** From the first to the last second in which green served a request, s. */
  exposureS: number;
  /** From the shift confirmed (analysis since) to the failing verdict, ms. */
  detectMs: number;
  /** From the failing verdict to every route restored and read back, ms. */
  restoreMs: number;
  /** From the shift confirmed to the first window's start, ms. */
  gridWaitMs: number;
  verdict: string;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Sum of one data-plane series over [start, end), read from the sandbox's metric store. */
function counted(
  sandbox: Sandbox,
  metricName: string,
  dimensions: Record<string, string>,
  start: number,
  end: number,
): { total: number; seconds: number[] } {
  const from = Math.floor(start / 1000) * 1000;
  const series = sandbox.metrics.query({
    namespace: 'AWS/ApplicationELB',
    metricName,
    dimensions,
    start: from,
    end,
    period: 1,
    stat: 'Sum',
  });
  return { total: sum(series.values), seconds: series.timestamps };
}

let seq = 0;

async function once(sandbox: Sandbox, loop: Loop): Promise<Outcome> {
  const web: WebService = await createWebService(sandbox, {
    name: `bad${++seq}`,
    clusters: [
      { name: 'blue', version: '1.31' },
      { name: 'green', version: '1.32', errorRate: ERROR_RATE },
    ],
    weights: { blue: 100, green: 0 },
  });
  const load = new SteadyLoad(web.url, rps);
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
  const github = new MemoryGitHub();
  const deps: RolloutDeps = {
    github,
    aws: () => clients,
    logger,
    clock: systemClock,
    fetch: globalThis.fetch,
  };
  try {
    const before = github.commit('main', {
      [PATH]: web.rolloutFile({ blue: 100, green: 0 }, loop.analysis),
    });
    const after = github.commit('main', {
      [PATH]: web.rolloutFile({ blue: 90, green: 10 }, loop.analysis),
    });
    // Steady traffic first; then, for the Flagger loop, wait so the shift is confirmed some 2 s
    // before the grid (the shift and read-back take well under a second, then the settle).
    await new Promise((r) => setTimeout(r, 2_000));
    if (loop.beforeGrid) {
      const grid = Math.min(60_000, intervalS * 1000);
      const target = SETTLE_MS + 2_000;
      const wait = (grid - ((Date.now() + target) % grid)) % grid;
      await new Promise((r) => setTimeout(r, wait));
    }
    const started = Date.now();
    const out = await runApply(
      { kind: 'push', before, after, branch: 'main', defaultBranch: 'main' },
      {
        filter: pathFilter([PATH], 'files'),
        settings: { settleMs: SETTLE_MS, cloudWatchPeriodMs: 1_000, cloudWatchDelayMs: 0 },
        autoAdvance: false,
      },
      deps,
    );
    const file = out.files[0];
    const result = file?.analysis?.result;
    if (out.result !== 'rolled-back' || !result || result.healthy) {
      throw new Error(`apply ended ${out.result}: ${file?.message ?? out.failure ?? ''}`);
    }
    const restored = logger.ended.get('Restoring the previous weights') as number;
    const live = await web.liveWeights(web.listenerArns[0] as string);
    if (live.green !== 0) throw new Error(`not restored: ${JSON.stringify(live)}`);
    // The restore reaches the data plane PROPAGATION_MS after its write; count well past it.
    await new Promise((r) => setTimeout(r, PROPAGATION_MS + 2_000));
    const end = Date.now();
    const lb = web.loadBalancerArn.slice(web.loadBalancerArn.indexOf(':loadbalancer/') + 14);
    const green = web.targetGroups.green as string;
    const tg = green.slice(green.indexOf(':targetgroup/') + 1);
    const greenDims = { LoadBalancer: lb, TargetGroup: tg };
    const greenErrors = counted(sandbox, 'HTTPCode_Target_5XX_Count', greenDims, started, end);
    const elbErrors = counted(
      sandbox,
      'HTTPCode_ELB_5XX_Count',
      { LoadBalancer: lb },
      started,
      end,
    );
    const greenRequests = counted(sandbox, 'RequestCount', greenDims, started, end);
    const seconds = greenRequests.seconds;
    const first = result.intervals[0]?.window.start ?? result.since;
    return {
      failed: greenErrors.total + elbErrors.total,
      elb5xx: elbErrors.total,
      greenRequests: greenRequests.total,
      exposureS: seconds.length
        ? ((seconds.at(-1) as number) - (seconds[0] as number)) / 1000 + 1
        : 0,
      detectMs: result.verdictAt - result.since,
      restoreMs: restored - result.verdictAt,
      gridWaitMs: first - result.since,
      verdict: result.verdict,
    };
  } finally {
    await load.stop();
    clients.elbv2.destroy();
    clients.cloudwatch.destroy();
    await web.close();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const spread = (xs: number[], digits = 0) =>
  `median ${median(xs).toFixed(digits)} (min ${Math.min(...xs).toFixed(digits)}, max ${Math.max(...xs).toFixed(digits)})`;

async function main(): Promise<void> {
  const sandbox = await startSandbox({
    healthCheckTimeScale: 0.05,
    propagationDelayMs: PROPAGATION_MS,
  });
  console.log(
    `bad-canary benchmark: green at 10% with ${ERROR_RATE * 100}% of its requests failing, ${rps} req/s through the sandbox ALB, ` +
      `weight changes reach the data plane after ${PROPAGATION_MS / 1000}s, settle ${SETTLE_MS / 1000}s, CloudWatch data at 1s; ${runs} runs each` +
      (scale === 1
        ? ''
        : `\nSCALED: every analysis duration x${scale} (interval ${intervalS}s) in all three loops; traffic unscaled`),
  );
  const results = new Map<string, Outcome[]>(LOOPS.map((l) => [l.name, []]));
  try {
    for (let run = 1; run <= runs; run++) {
      for (const loop of LOOPS) {
        const o = await once(sandbox, loop);
        results.get(loop.name)?.push(o);
        console.log(
          `  run ${run} ${loop.name.padEnd(7)} ${String(o.failed).padStart(4)} failed (${o.elb5xx} by the ALB itself) of ${String(o.greenRequests).padStart(4)} green requests; ` +
            `green served for ${o.exposureS}s; verdict ${(o.detectMs / 1000).toFixed(1)}s after the shift` +
            (loop.beforeGrid
              ? ` (window opened ${(o.gridWaitMs / 1000).toFixed(1)}s after it)`
              : '') +
            `, restored ${o.restoreMs} ms later — ${o.verdict}`,
        );
      }
    }
  } finally {
    await sandbox.close();
  }
  console.log('');
  for (const loop of LOOPS) {
    const rs = results.get(loop.name) as Outcome[];
    console.log(
      `  ${loop.name.padEnd(7)} failed requests ${spread(rs.map((r) => r.failed))}; ` +
        `verdict after the shift ${spread(
          rs.map((r) => r.detectMs / 1000),
          1,
        )} s; ` +
        `restore ${spread(rs.map((r) => r.restoreMs))} ms`,
    );
  }
  const flagger = median((results.get('flagger') as Outcome[]).map((r) => r.failed));
  for (const name of ['ours', 'ours-30']) {
    const ours = results.get(name) as Outcome[];
    const ratios = ours.map(
      (o, i) => o.failed / ((results.get('flagger') as Outcome[])[i]?.failed ?? NaN),
    );
    console.log(
      `  ${name}/flagger failed requests: ${(median(ours.map((o) => o.failed)) / flagger).toFixed(2)} of the medians ` +
        `(per run ${ratios.map((r) => r.toFixed(2)).join(', ')}); goal <= 0.5`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
