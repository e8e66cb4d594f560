/**
 * Cancellation benchmark, printed (not asserted):
 *
 *   node scripts/run-ts.mjs bench/cancel.ts [--runs 3]
 *
 * The shift-weight bundle, run as the runner runs it against the sandbox, shifting 1 or 5
 * routes while the write of the last route never answers (a stalled call). Once every other
 * route is confirmed, the job is cancelled as the runner cancels it (SIGINT, SIGTERM 7.5 s
 * later, SIGKILL 2.5 s after that). Measured from the SIGINT: until every route is confirmed
 * back at its old weights (the log's "(confirmed)" lines), and until the process exits (after
 * watching for the abandoned write for 2 s). The routes already changed are restored at the
 * SIGINT; the stalled route is looked at once its write's grace (WRITE_GRACE_MS, 2 s) is over,
 * so that floor dominates "every route". With the sandbox answering at once and with 50 ms per
 * ELB call (closer to AWS).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSandbox } from '../sandbox/index.js';
import { createWebService } from '../sandbox/scenario.js';
import { cancelLikeRunner, startAction, waitForOutput } from '../test/e2e/harness.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Number(values.runs);
const dir = mkdtempSync(join(tmpdir(), 'ecc-bench-cancel-'));
/** A route the shift had changed, written back and read back. */
const CHANGED_BACK = /: restored to \S+=100, \S+=0 \(confirmed\)/g;
/** That, or the stalled route found never changed. */
const RESTORED = /: restored to \S+=100, \S+=0 \(confirmed\)|its write never landed \(confirmed\)/g;

/**
 * Longer than a run (~4.2 s from start to exit): the write never answers while the run looks.
 * Short enough that the sandbox's sleeping handler does not hold this process up for long.
 */
const STALLED_MS = 10_000;
let seq = 0;

async function once(
  routes: number,
  latencyMs: number,
): Promise<{
  confirmedMs: number;
  changedMs: number | undefined;
  exitMs: number;
  signals: string;
  clean: boolean;
}> {
  // One sandbox per run: a fault's `after` counts every matching call in its sandbox.
  const sandbox = await startSandbox({ healthCheckTimeScale: 0.05 });
  try {
    const listeners = Math.min(routes, 2);
    const rules = Math.max(0, routes - 2);
    const web = await createWebService(sandbox, {
      name: `bc${++seq}`,
      extraListeners: listeners - 1,
      rules,
      waitHealthy: false,
    });
    try {
      // Listeners are written first, then rules: stall the last write. (Injected first: the
      // sandbox applies the first fault that matches a call.)
      sandbox.core.injectFault({
        service: 'elasticloadbalancing',
        operation: rules > 0 ? 'ModifyRule' : 'ModifyListener',
        kind: 'latency',
        latencyMs: STALLED_MS,
        after: rules > 0 ? rules - 1 : listeners - 1,
        times: 1,
      });
      if (latencyMs > 0) {
        sandbox.core.injectFault({
          service: 'elasticloadbalancing',
          operation: '*',
          kind: 'latency',
          latencyMs,
        });
      }
      const file = join(dir, `${web.name}.yaml`);
      writeFileSync(file, web.rolloutFile({ blue: 75, green: 25 }));
      const started = startAction('shift-weight', { file, 'settle-seconds': '0' }, sandbox.env);
      let sigintAt = 0;
      let confirmedAt = 0;
      let changedAt = 0;
      started.child.stdout?.on('data', () => {
        if (!sigintAt) return;
        const out = started.stdout();
        if (!changedAt && (out.match(CHANGED_BACK) ?? []).length >= routes - 1) {
          changedAt = Date.now();
        }
        if (!confirmedAt && (out.match(RESTORED) ?? []).length >= routes) confirmedAt = Date.now();
      });
      const shifted = (out: string): boolean =>
        (out.match(/ -> \S+=75, \S+=25 \(confirmed\)/g) ?? []).length >= routes - 1 &&
        out.includes('::group::Shifting');
      await waitForOutput(started, shifted);
      // The last write is now in flight (and stalled).
      await new Promise((r) => setTimeout(r, 100));
      sigintAt = Date.now();
      const run = await cancelLikeRunner(started);
      sandbox.core.clearFaults();
      const weights = await Promise.all(
        [...web.listenerArns, ...web.ruleArns].map((arn) => web.liveWeights(arn)),
      );
      return {
        confirmedMs: confirmedAt ? confirmedAt - sigintAt : NaN,
        changedMs: routes > 1 ? (changedAt ? changedAt - sigintAt : NaN) : undefined,
        exitMs: run.cancelToExitMs,
        signals: run.signalsSent.join('+'),
        clean: run.signal === null && weights.every((w) => w.blue === 100 && w.green === 0),
      };
    } finally {
      await web.close();
    }
  } finally {
    await sandbox.close();
  }
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const spread = (xs: number[]): string =>
  `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;

console.log(
  `cancellation benchmark: shift-weight bundle, the last route's write stalled, cancelled as the runner does; ${runs} runs each`,
);
for (const latencyMs of [0, 50]) {
  console.log(`\nELB API latency ${latencyMs} ms per call`);
  for (const routes of [1, 5]) {
    const results = [];
    for (let i = 0; i < runs; i++) results.push(await once(routes, latencyMs));
    const signals = [...new Set(results.map((r) => r.signals))].join(', ');
    const changed = results.flatMap((r) => (r.changedMs === undefined ? [] : [r.changedMs]));
    console.log(
      `  ${routes} route(s): ` +
        (changed.length > 0
          ? `SIGINT → the ${routes - 1} changed routes confirmed back: ${spread(changed)}; `
          : '') +
        `SIGINT → every route confirmed back: ${spread(results.map((r) => r.confirmedMs))}; ` +
        `SIGINT → exit: ${spread(results.map((r) => r.exitMs))}; signals sent: ${signals}; ` +
        `all routes at the old weights and no kill: ${results.filter((r) => r.clean).length}/${runs}`,
    );
  }
}
