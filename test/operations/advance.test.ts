import { commandSummary } from '../../src/operations/markdown.js';
import { describe, expect, it } from 'vitest';
import { runAdvance } from '../../src/operations/advance.js';
import { parseRolloutFile } from '../../src/rollout-file/index.js';
import { PATH, SETTINGS, httpAnalysis, useSandboxRigs } from './fixture.js';

const stage = useSandboxRigs();

describe('advance', () => {
  it('opens the PR for the next step with the plan, then updates the same PR', async () => {
    const r = await stage.rig({ blue: 75, green: 25 });
    const text = r.web.rolloutFile(
      { blue: 75, green: 25 },
      `# comment kept\n${httpAnalysis(r.web)}`,
    );
    const sha = r.github.commit('main', { [PATH]: text });
    const event = {
      kind: 'workflow_dispatch' as const,
      sha,
      branch: 'main',
      defaultBranch: 'main',
    };
    stage.sandbox.core.resetCalls();
    const out = await runAdvance(event, PATH, SETTINGS, r.deps);
    expect(out.result).toBe('planned');
    const [pr] = r.github.pulls;
    expect(pr?.title).toBe(`rollout ${r.web.name}: green 25 → 50 (step 3 of 4)`);
    expect(pr?.base).toBe('main');
    expect(out.pullRequest).toBe(pr?.url);
    expect(pr?.files[0]?.content).toBe(
      text.replace('weights: { blue: 75, green: 25 }', 'weights: { blue: 50, green: 50 }'),
    );
    expect(pr?.body).toContain(
      'Moves `rollouts/web.yaml` from blue 75 / green 25 to **blue 50 / green 50**',
    );
    expect(pr?.body).toContain('**Step:** ✅ green 25 → 50: one step forward.');
    expect(pr?.body).toContain('- ✅ green: 2 healthy');
    expect(await Promise.all(r.web.listenerArns.map((a) => r.web.liveWeights(a)))).toEqual([
      { blue: 75, green: 25 },
      { blue: 75, green: 25 },
    ]);
    expect(
      stage.sandbox.core.calls.map((c) => c.operation).filter((op) => op.startsWith('Modify')),
    ).toEqual([]);
    expect(stage.sandbox.core.calls.length).toBeGreaterThan(0);

    await runAdvance(event, PATH, SETTINGS, r.deps);
    expect(r.github.pulls).toHaveLength(1);
    expect(r.github.pulls[0]?.updates).toBe(1);
  });

  it('judges the plan in its PR body with the CloudWatch period apply uses (high-resolution metrics)', async () => {
    const r = await stage.rig({ blue: 90, green: 10 });
    const analysis = httpAnalysis(r.web).replace(
      '    - targetHealth:',
      '    - cloudwatch: { metric: error-rate, max: 0.5 }\n    - targetHealth:',
    );
    const sha = r.github.commit('main', {
      [PATH]: r.web.rolloutFile({ blue: 90, green: 10 }, analysis),
    });
    const event = {
      kind: 'workflow_dispatch' as const,
      sha,
      branch: 'main',
      defaultBranch: 'main',
    };
    // With the sandbox's 1 s metrics, as apply will run: a 1s interval is fine.
    await runAdvance(event, PATH, { ...SETTINGS, cloudWatchPeriodMs: 1000 }, r.deps);
    expect(r.github.pulls[0]?.body).not.toContain('The analysis cannot run');
    expect(r.github.pulls[0]?.body).toContain('✅ The change can be applied');
    // Judged against 60 s data, the same file cannot run: the body says so.
    await runAdvance(event, PATH, { ...SETTINGS, cloudWatchPeriodMs: 60_000 }, r.deps);
    expect(r.github.pulls[0]?.body).toContain('The analysis cannot run');
  });

  it('says so at the last step and opens nothing', async () => {
    const r = await stage.rig({ blue: 0, green: 100 });
    const sha = r.github.commit('main', { [PATH]: r.web.rolloutFile({ blue: 0, green: 100 }) });
    const out = await runAdvance(
      { kind: 'workflow_dispatch', sha, branch: 'main', defaultBranch: 'main' },
      PATH,
      SETTINGS,
      r.deps,
    );
    expect(out.result).toBe('unchanged');
    expect(commandSummary(out)).toContain(
      `${r.web.name} is at the last step: green has 100, and steps end at 100. Nothing to advance.`,
    );
    expect(r.github.pulls).toEqual([]);
    expect(parseRolloutFile(r.github.commits.get(sha)?.[PATH] as string, PATH).weights).toEqual({
      blue: 0,
      green: 100,
    });
  });
});
