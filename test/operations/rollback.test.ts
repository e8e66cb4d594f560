import { readLastSteps } from '../../src/alb/last-step.js';
import { commandSummary } from '../../src/operations/markdown.js';
import { describe, expect, it } from 'vitest';
import { runRollback, rollbackWeights } from '../../src/operations/rollback.js';
import { parseRolloutFile } from '../../src/rollout-file/index.js';
import { describeTargetStates } from '../../src/health/target-health.js';
import { VALID } from '../rollout-file/fixtures.js';
import { PATH, SETTINGS, httpAnalysis, useSandboxRigs, type Rig } from './fixture.js';

const stage = useSandboxRigs();

async function setup(
  live: Record<string, number>,
  fileWeights: Record<string, number>,
): Promise<{ r: Rig; sha: string }> {
  const r = await stage.rig(live);
  const sha = r.github.commit('main', {
    [PATH]: r.web.rolloutFile(fileWeights, `# the runbook\n${httpAnalysis(r.web)}`),
  });
  return { r, sha };
}

const dispatch = (sha: string) => ({
  kind: 'workflow_dispatch' as const,
  sha,
  branch: 'main',
  defaultBranch: 'main',
});

describe('rollback', () => {
  it('moves every route at once, logs what it overwrote and opens the reconcile PR', async () => {
    const { r, sha } = await setup({ blue: 50, green: 50 }, { blue: 50, green: 50 });
    const out = await runRollback(
      dispatch(sha),
      { file: PATH, to: 'blue', force: false },
      SETTINGS,
      r.deps,
    );
    expect(out.result).toBe('rolled-back');
    expect(out.failure).toBeUndefined();
    expect(await r.live()).toEqual(['100/0', '100/0']);
    const log = r.deps.logger.text();
    for (const arn of r.web.listenerArns) {
      expect(log).toContain(
        `  listener ${arn}: was blue 50 / green 50; actions were [{"Type":"forward"`,
      );
    }
    const [pr] = r.github.pulls;
    expect(pr?.title).toBe(`rollout ${r.web.name}: record the rollback to blue 100 / green 0`);
    expect(pr?.body).toContain(`- listener \`${r.web.listenerArns[0]}\`: blue 50 / green 50`);
    expect(parseRolloutFile(pr?.files[0]?.content as string, PATH).weights).toEqual({
      blue: 100,
      green: 0,
    });
    expect(pr?.files[0]?.content).toContain('# the runbook');
    expect(out.pullRequest).toBe(pr?.url);
    expect(commandSummary(out)).toMatch(
      /\| web[\d-]+ listener [0-9a-f]{6} \| blue 50 \/ green 50 \| blue 100 \/ green 0 \| written \(confirmed\) \|/,
    );
  });

  it('reads every route in one call, then writes all routes at once, each read back', async () => {
    const { r, sha } = await setup({ blue: 50, green: 50 }, { blue: 50, green: 50 });
    stage.sandbox.core.resetCalls();
    await runRollback(dispatch(sha), { file: PATH, to: 'blue', force: false }, SETTINGS, r.deps);
    const calls = stage.sandbox.core.calls
      .map((c) => c.operation)
      .filter((c) => c !== 'DescribeTargetHealth');
    // Every route read at once (DescribeListeners takes a list) ...
    expect(calls[0]).toBe('DescribeListeners');
    // ... then one write and one read-back per route, the two routes side by side.
    expect([...calls.slice(1, -1)].sort()).toEqual([
      'DescribeListeners',
      'DescribeListeners',
      'ModifyListener',
      'ModifyListener',
    ]);
    // Both writes went out before either read-back: the emergency path does not go one by one.
    expect(calls.slice(1, 3)).toEqual(['ModifyListener', 'ModifyListener']);
    // Then the step is recorded on both routes in one call, after the routes are confirmed.
    expect(calls.at(-1)).toBe('AddTags');
    const recorded = await readLastSteps(
      r.deps.aws(stage.sandbox.region).elbv2,
      r.web.listenerArns,
    );
    expect(r.web.listenerArns.map((arn) => recorded.get(arn))).toEqual(
      r.web.listenerArns.map(() =>
        expect.objectContaining({
          verdict: 'done',
          op: 'rollback',
          weights: { blue: 100, green: 0 },
          file: PATH,
        }),
      ),
    );
  });

  it('refuses to send traffic to a cluster without a healthy target, unless forced', async () => {
    const { r, sha } = await setup({ blue: 100, green: 0 }, { blue: 100, green: 0 });
    for (const t of r.web.apps.green ?? []) t.setBehaviour({ healthy: false });
    const elbv2 = r.deps.aws(stage.sandbox.region).elbv2;
    const deadline = Date.now() + 10_000;
    while ((await describeTargetStates(elbv2, r.web.targetGroups.green as string)).healthy > 0) {
      if (Date.now() > deadline) throw new Error('green did not become unhealthy');
      await new Promise((res) => setTimeout(res, 50));
    }
    await expect(
      runRollback(dispatch(sha), { file: PATH, to: 'green', force: false }, SETTINGS, r.deps),
    ).rejects.toThrow(
      /^Refusing to send traffic to green \(0 healthy, \d unhealthy.*\): no healthy target, so every request would fail with 503\. Nothing was changed\./,
    );
    expect(await r.live()).toEqual(['100/0', '100/0']);
    const forced = await runRollback(
      dispatch(sha),
      { file: PATH, to: 'green', force: true },
      SETTINGS,
      r.deps,
    );
    expect(forced.result).toBe('rolled-back');
    expect(await r.live()).toEqual(['0/100', '0/100']);
    expect(r.deps.logger.text()).toMatch(
      /warning: force: sending traffic to green \(0 healthy, .*\) although it has no healthy target\./,
    );
  });

  it('says unchanged, and opens no PR, when the ALB and the file already agree', async () => {
    const { r, sha } = await setup({ blue: 100, green: 0 }, { blue: 100, green: 0 });
    const out = await runRollback(
      dispatch(sha),
      { file: PATH, weights: 'blue=100, green=0', force: false },
      SETTINGS,
      r.deps,
    );
    expect(out.result).toBe('unchanged');
    expect(r.github.pulls).toEqual([]);
    expect(commandSummary(out)).toContain(
      'already says blue 100 / green 0; no reconcile PR needed.',
    );
  });
});

describe('rollback weights', () => {
  const file = parseRolloutFile(VALID, 'web.yaml');
  it.each([
    [{ to: 'green' }, { blue: 0, green: 100 }],
    [{ weights: 'blue=80, green=20' }, { blue: 80, green: 20 }],
    [{ weights: 'blue: 100' }, { blue: 100, green: 0 }],
  ])('%j gives %j', (request, expected) => {
    expect(rollbackWeights(file, request)).toEqual(expected);
  });
  // As the rollout action names its inputs (the CLI passes its flags).
  const ACTION = {
    file: 'input "file"',
    to: 'input "to"',
    weights: 'input "weights"',
    force: '"force: true"',
  };
  it.each([
    [
      {},
      'rollback needs either input "to" (the cluster that gets all traffic: blue, green) or input "weights" (e.g. "blue=100, green=0")',
    ],
    [{ to: 'red' }, 'Input "to" is "red", which is not a cluster of web.yaml (blue, green).'],
    [
      { weights: 'blue=80' },
      'Input "weights": the weights add up to 80, not 100 (clusters not named get 0).',
    ],
    [{ weights: 'blue=80, blue=20' }, 'Input "weights": blue is given twice.'],
    [
      { weights: 'blue 100' },
      'Input "weights": "blue 100" is not <cluster>=<weight>, e.g. "blue=100".',
    ],
  ])('%j is refused', (request, message) => {
    expect(() => rollbackWeights(file, request, ACTION)).toThrow(message);
  });
  it("names the options plainly without the caller's names (no action input in the domain)", () => {
    expect(() => rollbackWeights(file, { to: 'red' })).toThrow(
      '"to" is "red", which is not a cluster of web.yaml (blue, green).',
    );
  });
});
