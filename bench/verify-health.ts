/**
 * How fast verify-health notices a canary going bad, in intervals:
 *
 *   node scripts/run-ts.mjs bench/verify-health.ts [--runs 3] [--interval 5s] [--rps 40]
 *
 * Each run starts a healthy canary behind the sandbox ALB with steady traffic, starts the
 * analysis, then at a random moment makes the canary app fail 5% of requests, and measures the
 * time from that moment to the failing verdict. Printed, not asserted: detection takes between
 * one and two intervals (the bad traffic must fill a whole window), plus the evaluation itself.
 */
import { systemClock } from '../src/common/clock.js';
import { parseArgs } from 'node:util';
import { silentLogger } from '../src/common/logger.js';
import { resolveTargets, runAnalysis, targetsFromArns } from '../src/health/index.js';
import { parseDuration } from '../src/common/duration.js';
import { startSandbox } from '../sandbox/index.js';
import { sandboxClients, startCanaryStack } from '../test/fakes/sandbox-stack.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    interval: { type: 'string', default: '5s' },
    rps: { type: 'string', default: '40' },
  },
});
const runs = Number(values.runs);
const intervalMs = parseDuration(values.interval) ?? NaN;
const rps = Number(values.rps);
if (!(runs > 0) || !(intervalMs > 0) || !(rps > 0)) {
  console.error('usage: bench/verify-health.ts [--runs N] [--interval 5s] [--rps 40]');
  process.exit(2);
}

const sandbox = await startSandbox({ healthCheckTimeScale: 0.05 });
const ratios: number[] = [];
try {
  for (let run = 1; run <= runs; run++) {
    const stack = await startCanaryStack(sandbox, {
      weights: { blue: 50, green: 50 },
      requestsPerSecond: rps,
    });
    const { elbv2, cloudwatch } = sandboxClients(sandbox);
    try {
      const targets = await resolveTargets(elbv2, targetsFromArns(stack.greenArn, stack.blueArn));
      const since = Date.now();
      const warmupMs = 1_000;
      // Go bad somewhere in the second or third interval, at a random phase.
      const failAfter = warmupMs + intervalMs + Math.random() * 2 * intervalMs;
      let failedAt = 0;
      const trigger = setTimeout(() => {
        stack.green.setBehaviour({ errorRate: 0.05 });
        failedAt = Date.now();
      }, failAfter);
      const result = await runAnalysis(
        {
          analysis: {
            warmupMs,
            intervalMs,
            durationMs: warmupMs + 10 * intervalMs,
            failureLimit: 0,
            checks: [{ kind: 'cloudwatch', metric: 'error-rate', max: 0.01, minRequests: 20 }],
          },
          targets,
          since,
          cloudWatchPeriodMs: 1_000,
        },
        { cloudwatch, elbv2, fetch, clock: systemClock, logger: silentLogger },
      );
      clearTimeout(trigger);
      if (result.healthy || failedAt === 0) {
        console.log(`run ${run}: no failing verdict (${result.verdict}); skipped`);
        continue;
      }
      const ratio = (result.verdictAt - failedAt) / intervalMs;
      ratios.push(ratio);
      console.log(
        `run ${run}: failing verdict ${((result.verdictAt - failedAt) / 1000).toFixed(2)} s after the canary went bad = ${ratio.toFixed(2)} intervals (${result.verdict})`,
      );
    } finally {
      elbv2.destroy();
      cloudwatch.destroy();
      await stack.close();
    }
  }
} finally {
  await sandbox.close();
}
if (ratios.length) {
  const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
  console.log(
    `detection time / interval (${values.interval}): mean ${mean.toFixed(2)}, max ${Math.max(...ratios).toFixed(2)} over ${ratios.length} runs`,
  );
}
