/**
 * create-cluster's wall time against its critical path on the sandbox, printed (goal ≤ 1.1×):
 *
 *   node scripts/run-ts.mjs bench/create-cluster.ts [--runs 1] [--transition-ms 2000]
 *
 * The bundle runs as the runner runs it, for a full ClusterConfig (OIDC, two access entries,
 * five add-ons, two node groups, a pod identity association) against a sandbox whose clusters
 * run real Kubernetes. The critical path is the longest chain of waits the sandbox imposes:
 * CreateCluster → the cluster ACTIVE (its apiserver ready, and no sooner than the transition
 * time), then a node group's transition (add-ons, created at the same moment, are ACTIVE by
 * then). Everything else (process start, reads, the other creates, polling slack) is overhead.
 * Without the tools (`npm run kube-tools`) it says so and exits 0, as the other benches run.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSandbox } from '../sandbox/index.js';
import { missingKubeTools } from '../sandbox/kube/tools.js';
import { runAction } from '../test/e2e/harness.js';
import { sandboxClusterConfig } from '../test/eks/sandbox-config.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    'transition-ms': { type: 'string', default: '2000' },
  },
});
const runs = Number(values.runs);
const transitionMs = Number(values['transition-ms']);

const missing = missingKubeTools();
if (missing) {
  console.log(`create-cluster bench skipped: ${missing}`);
  process.exit(0);
}

const sandbox = await startSandbox({ kubernetes: true, eksTransitionMs: transitionMs });
const kube = sandbox.kube as NonNullable<typeof sandbox.kube>;
const dir = mkdtempSync(join(tmpdir(), 'ecc-bench-create-'));
console.log(`create-cluster: wall time against the critical path (transition ${transitionMs} ms)`);
try {
  for (let i = 1; i <= runs; i++) {
    const name = `bench-${i}`;
    const config = join(dir, `${name}.yaml`);
    writeFileSync(config, sandboxClusterConfig({ name }));
    sandbox.core.resetCalls();
    // When the apiserver turned ready, seen from here every 10 ms.
    let readyAt: number | undefined;
    const watch = setInterval(() => {
      if (readyAt === undefined && kube.state(sandbox.region, name).phase === 'ready') {
        readyAt = Date.now();
      }
    }, 10);
    const t0 = Date.now();
    const run = await runAction(
      'create-cluster',
      { config, 'poll-interval': '100ms', kubeconfig: join(dir, `${name}.kubeconfig`) },
      { ...sandbox.env, NODE_NO_WARNINGS: '1' },
    );
    const wall = Date.now() - t0;
    clearInterval(watch);
    if (run.exitCode !== 0) throw new Error(`create-cluster failed:\n${run.stdout}\n${run.stderr}`);
    const createdAt = sandbox.core.calls.find((c) => c.operation === 'CreateCluster')?.at;
    if (createdAt === undefined || readyAt === undefined) throw new Error('no CreateCluster seen');
    const clusterWait = Math.max(readyAt - createdAt, transitionMs);
    const critical = clusterWait + transitionMs;
    const ratio = wall / critical;
    console.log(
      `  run ${i}: wall ${wall} ms; critical path ${critical} ms (cluster ${clusterWait} + node group ${transitionMs}); ` +
        `${ratio.toFixed(2)}× ${ratio <= 1.1 ? '(within the 1.1× goal)' : '(OVER the 1.1× goal)'}; ` +
        `started CreateCluster ${createdAt - t0} ms after launch`,
    );
  }
} finally {
  await sandbox.close();
}
