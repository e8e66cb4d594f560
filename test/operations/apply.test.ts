import { commandSummary, planMarkdown } from '../../src/operations/markdown.js';
import { planFile } from '../../src/operations/plan.js';
import { DescribeTagsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { describe, expect, it } from 'vitest';
import { acquireRouteLock, LOCK_TAG } from '../../src/alb/lock.js';
import { decodeLastStep, LAST_STEP_TAG } from '../../src/alb/last-step.js';
import { systemClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { runApply } from '../../src/operations/apply.js';
import type { RolloutEvent } from '../../src/operations/context.js';
import { pathFilter } from '../../src/common/glob.js';
import { parseRolloutFile } from '../../src/rollout-file/index.js';
import { PATH, SETTINGS, httpAnalysis, useSandboxRigs, type Rig } from './fixture.js';

const stage = useSandboxRigs();

const FILES = pathFilter(['rollouts/*.yaml'], 'files');
const OPTIONS = { filter: FILES, settings: SETTINGS, autoAdvance: false };

async function setup(live: Record<string, number>): Promise<Rig> {
  const r = await stage.rig(live);
  return r;
}

/** A merge of PR #7 onto main that changes the given files. */
function push(
  r: Rig,
  before: Record<string, string>,
  after: Record<string, string | null>,
): Extract<RolloutEvent, { kind: 'push' }> {
  const beforeSha = r.github.commit('main', before);
  const afterSha = r.github.commit('main', after);
  r.github.merged.set(afterSha, [{ number: 7, url: 'https://github.com/acme/infra/pull/7' }]);
  return {
    kind: 'push',
    before: beforeSha,
    after: afterSha,
    branch: 'main',
    defaultBranch: 'main',
  };
}

describe('apply', () => {
  it('shifts every route, verifies, records the deployment and opens the next step with auto-advance', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const file = (w: Record<string, number>) =>
      r.web.rolloutFile(w, `# keep me\n${httpAnalysis(r.web)}`);
    const event = push(
      r,
      { [PATH]: file({ blue: 100, green: 0 }) },
      { [PATH]: file({ blue: 90, green: 10 }) },
    );
    const out = await runApply(event, { ...OPTIONS, autoAdvance: true }, r.deps);
    expect(out.failure, r.deps.logger.text()).toBeUndefined();
    expect(out.result).toBe('applied');
    expect(await r.live()).toEqual(['90/10', '90/10']);
    expect(r.github.deployments).toEqual([
      expect.objectContaining({
        ref: event.after,
        environment: r.web.name,
        state: 'success',
        logUrl: SETTINGS.runUrl,
      }),
    ]);
    expect(r.github.deployments[0]?.description).toMatch(
      /^blue 90 \/ green 10: healthy: 3 checks passed in 1 of 1 interval$/,
    );
    expect(r.github.comments).toEqual([
      expect.objectContaining({
        issue: 7,
        body: expect.stringContaining('### ✅ applied: `rollouts/web.yaml`'),
      }),
    ]);

    const [advance] = r.github.pulls;
    expect(advance).toMatchObject({
      branch: `rollout/${r.web.name}/advance`,
      base: 'main',
      title: `rollout ${r.web.name}: green 10 → 25 (step 2 of 4)`,
    });
    expect(out.pullRequest).toBe(advance?.url);
    const advanced = advance?.files[0]?.content as string;
    expect(parseRolloutFile(advanced, PATH).weights).toEqual({ blue: 75, green: 25 });
    expect(advanced).toContain('# keep me');
    expect(advance?.body).toContain('**Step:** ✅ green 10 → 25: one step forward.');
  });

  it('rolls a failing canary back, opens the reconcile PR with the numbers and tells the merged PR', async () => {
    const r = await setup({ blue: 100, green: 0 });
    for (const app of r.web.apps.green ?? []) app.setBehaviour({ errorRate: 1 });
    const file = (w: Record<string, number>) =>
      r.web.rolloutFile(w, `# why we roll out\n${httpAnalysis(r.web)}`);
    const event = push(
      r,
      { [PATH]: file({ blue: 100, green: 0 }) },
      { [PATH]: file({ blue: 90, green: 10 }) },
    );
    const out = await runApply(event, OPTIONS, r.deps);
    expect(out.result).toBe('rolled-back');
    expect(await r.live()).toEqual(['100/0', '100/0']);
    const verdict = `http GET ${r.web.apps.green?.[0]?.url}/ 0% ok < 100% (status 500, expected 200) in 1 of 1 interval`;
    expect(out.failure).toBe(
      `${PATH}: Rolled back to blue 100 / green 0 (restored and confirmed by read-back on every route): ${verdict}.`,
    );

    const [pr] = r.github.pulls;
    expect(pr?.title).toBe(`rollout ${r.web.name}: back to blue 100 / green 0 — ${verdict}`);
    expect(pr?.branch).toBe(`rollout/${r.web.name}/reconcile`);
    expect(pr?.body).toContain(`was rolled back: **${verdict}**`);
    expect(pr?.body).toContain('| http GET');
    expect(pr?.files).toEqual([{ path: PATH, content: file({ blue: 100, green: 0 }) }]);
    expect(out.pullRequest).toBe(pr?.url);
    expect(r.github.comments).toEqual([
      expect.objectContaining({
        issue: 7,
        body: expect.stringContaining(`### ↩️ rolled back: \`${PATH}\``),
      }),
    ]);
    expect(r.github.comments[0]?.body).toContain(`Reconcile PR: ${pr?.url}`);
    expect(r.github.deployments).toEqual([
      expect.objectContaining({ state: 'failure', environment: r.web.name }),
    ]);
    expect(r.deps.logger.text()).toMatch(/restored to .*=100, .*=0 \(confirmed\)/);
  });

  it('reads every route once before the shift, and logs weights by cluster name', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const event = push(
      r,
      { [PATH]: file({ blue: 100, green: 0 }) },
      { [PATH]: file({ blue: 90, green: 10 }) },
    );
    stage.sandbox.core.resetCalls();
    const out = await runApply(event, OPTIONS, r.deps);
    expect(out.result, r.deps.logger.text()).toBe('applied');
    // Two listeners: one read by the gate, one read-back per write; the shift does not read
    // them again (it used to: three describes of every route per apply).
    const describes = stage.sandbox.core.calls.filter((c) => c.operation === 'DescribeListeners');
    const modifies = stage.sandbox.core.calls.filter((c) => c.operation === 'ModifyListener');
    expect(modifies).toHaveLength(2);
    expect(describes).toHaveLength(1 + modifies.length);
    const log = r.deps.logger.text();
    expect(log).toContain('blue=90, green=10 (confirmed)');
    expect(log).not.toContain(`${r.web.name}-green=`);
  });

  it('judges as many intervals as the plan says it will', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const analysis = httpAnalysis(r.web).replace('duration: 1s', 'duration: 3s');
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, analysis);
    const before = file({ blue: 100, green: 0 });
    const after = file({ blue: 90, green: 10 });
    const plan = await planFile(
      { path: PATH, baseText: before, headText: after, force: false, cloudWatchPeriodMs: 1000 },
      r.deps,
    );
    const planText = planMarkdown([plan], { force: false });
    expect(planText).toContain('Warmup 0s, then 3 intervals of 1s (3s of checks)');
    const out = await runApply(push(r, { [PATH]: before }, { [PATH]: after }), OPTIONS, r.deps);
    expect(out.result, r.deps.logger.text()).toBe('applied');
    expect(out.files[0]?.analysis?.result.intervals).toHaveLength(3);
  });

  it('shows the problem of an invalid file in the summary table, not only its heading', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const good = r.web.rolloutFile({ blue: 100, green: 0 }, httpAnalysis(r.web));
    const bad = good.replace(
      'weights: { blue: 100, green: 0 }',
      'weights: { blue: 90, green: 20 }',
    );
    const out = await runApply(push(r, { [PATH]: good }, { [PATH]: bad }), OPTIONS, r.deps);
    expect(out.result).toBe('failed');
    const row = commandSummary(out)
      .split('\n')
      .find((l) => l.startsWith(`| \`${PATH}\``));
    expect(row).toMatch(
      /\| ❌ refused \| .* \| Invalid rollout file: rollouts\/web\.yaml:\d+:\d+: .*weights sum to 110.* \|$/,
    );
    expect(await r.live()).toEqual(['100/0', '100/0']);
  });

  it('refuses a merge that moves the canary more than one step, unless its PR has rollout/force', async () => {
    const r = await setup({ blue: 90, green: 10 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const event = push(
      r,
      { [PATH]: file({ blue: 90, green: 10 }) },
      { [PATH]: file({ blue: 50, green: 50 }) },
    );
    const refused = await runApply(event, OPTIONS, r.deps);
    expect(refused.result).toBe('failed');
    expect(refused.failure).toContain('green 10 → 50');
    expect(refused.failure).toContain(
      'The change was merged from #7 without the rollout/force label. Nothing was changed.',
    );
    expect(await r.live()).toEqual(['90/10', '90/10']);

    r.github.merged.set(event.after, [
      { number: 7, url: 'https://github.com/acme/infra/pull/7', labels: ['rollout/force'] },
    ]);
    const forced = await runApply(event, OPTIONS, r.deps);
    expect(forced.failure, r.deps.logger.text()).toBeUndefined();
    expect(forced.result).toBe('applied');
    expect(await r.live()).toEqual(['50/50', '50/50']);
  });

  it('refuses on drift and changes nothing, saying how to reconcile', async () => {
    const r = await setup({ blue: 80, green: 20 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const out = await runApply(
      push(r, { [PATH]: file({ blue: 100, green: 0 }) }, { [PATH]: file({ blue: 90, green: 10 }) }),
      OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('failed');
    expect(await r.live()).toEqual(['80/20', '80/20']);
    expect(out.failure).toContain(
      'has blue 80 / green 20, but the file before this push says blue 100 / green 0 (2 of 2 route(s) differ).',
    );
    expect(out.failure).toContain(
      'or first merge a PR that sets weights to the live blue 80 / green 20, then the step again.',
    );
    expect(out.failure).toContain('Nothing was changed.');
    expect(r.github.pulls).toEqual([]);
    expect(r.github.deployments).toEqual([]);
  });

  it('refuses a file whose analysis cannot run before any write, instead of shifting and rolling back', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const broken = `analysis:
  warmup: 0s
  interval: 1s
  duration: 1s
  checks:
    - prometheus: { url: "http://127.0.0.1:9/", query: 'up{cluster="{{clustr}}"}', max: 1 }
`;
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, broken);
    const out = await runApply(
      push(r, { [PATH]: file({ blue: 100, green: 0 }) }, { [PATH]: file({ blue: 90, green: 10 }) }),
      OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('failed');
    expect(out.failure).toContain('The analysis cannot run:');
    expect(out.failure).toContain('{{clustr}}');
    expect(out.failure).toContain('Nothing was changed.');
    expect(await r.live()).toEqual(['100/0', '100/0']);
    expect(r.github.pulls).toEqual([]);
  });

  it("masks the credentials of the file's probes before it runs them", async () => {
    const r = await setup({ blue: 100, green: 0 });
    const masked: string[] = [];
    const withHeader = httpAnalysis(r.web).replace(
      'expectStatus: 200 }',
      'expectStatus: 200, headers: { Authorization: "Bearer s3cr3t-probe-token" } }',
    );
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, withHeader);
    const out = await runApply(
      push(r, { [PATH]: file({ blue: 100, green: 0 }) }, { [PATH]: file({ blue: 90, green: 10 }) }),
      OPTIONS,
      { ...r.deps, mask: (secret) => masked.push(secret) },
    );
    expect(out.failure, r.deps.logger.text()).toBeUndefined();
    expect(masked).toContain('s3cr3t-probe-token');
  });

  it('refuses when the canary has too few healthy targets, before any write', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web, 3));
    const out = await runApply(
      push(r, { [PATH]: file({ blue: 100, green: 0 }) }, { [PATH]: file({ blue: 90, green: 10 }) }),
      OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('failed');
    expect(out.failure).toContain('green would gain weight but has 2 healthy targets');
    expect(await r.live()).toEqual(['100/0', '100/0']);
  });

  it('restores the weights when the job is cancelled during verification, and unlocks the routes', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const analysis = httpAnalysis(r.web).replace('duration: 1s', 'duration: 20s');
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, analysis);
    const running = runApply(
      push(r, { [PATH]: file({ blue: 100, green: 0 }) }, { [PATH]: file({ blue: 90, green: 10 }) }),
      { ...OPTIONS, lock: { owner: 'run-3', waitMs: 0 } },
      r.deps,
    );
    const deadline = Date.now() + 10_000;
    while (!r.deps.logger.text().includes('Interval 1/') && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 20));
    expect(await r.live()).toEqual(['90/10', '90/10']);
    r.cancel.abort(new Error('received SIGTERM'));
    const out = await running;
    expect(out.result).toBe('rolled-back');
    expect(out.failure).toContain('the job was cancelled during verification');
    expect(await r.live()).toEqual(['100/0', '100/0']);
    expect(r.github.pulls[0]?.title).toBe(
      `rollout ${r.web.name}: back to blue 100 / green 0 — the job was cancelled during verification`,
    );
    // The lock is released on the cancelled path too: the next step is not held up.
    const elbv2 = r.deps.aws(stage.sandbox.region).elbv2;
    const tags = await elbv2.send(new DescribeTagsCommand({ ResourceArns: r.web.listenerArns }));
    expect(
      tags.TagDescriptions?.flatMap((d) => d.Tags ?? []).filter((t) => t.Key === LOCK_TAG),
    ).toEqual([]);
  });

  it.each([1, 2])(
    'applies every file (parallel %i): a failing file restores itself and does not stop the others',
    async (parallel) => {
      const bad = await setup({ blue: 100, green: 0 });
      const good = await setup({ blue: 100, green: 0 });
      for (const app of bad.web.apps.green ?? []) app.setBehaviour({ errorRate: 1 });
      const a = (w: Record<string, number>) => bad.web.rolloutFile(w, httpAnalysis(bad.web));
      const b = (w: Record<string, number>) => good.web.rolloutFile(w, httpAnalysis(good.web));
      const event = push(
        bad,
        {
          'rollouts/a.yaml': a({ blue: 100, green: 0 }),
          'rollouts/b.yaml': b({ blue: 100, green: 0 }),
        },
        {
          'rollouts/b.yaml': b({ blue: 90, green: 10 }),
          'rollouts/a.yaml': a({ blue: 90, green: 10 }),
        },
      );
      const out = await runApply(event, { ...OPTIONS, parallel }, bad.deps);
      expect(out.result).toBe('rolled-back');
      expect(await bad.live()).toEqual(['100/0', '100/0']);
      expect(await good.live()).toEqual(['90/10', '90/10']);
      expect(commandSummary(out)).toMatch(/\| `rollouts\/a.yaml` \| ↩️ rolled back \|/);
      expect(commandSummary(out)).toMatch(/\| `rollouts\/b.yaml` \| ✅ applied \|/);
      expect(out.failure).toMatch(/^rollouts\/a.yaml: Rolled back to blue 100 \/ green 0/);
      // One reconcile PR, for the file that was rolled back.
      expect(bad.github.pulls.map((p) => p.files[0]?.path)).toEqual(['rollouts/a.yaml']);
      if (parallel > 1) {
        // Concurrent files cannot share log folds: every line says whose it is.
        const log = bad.deps.logger.lines.filter((l) => !l.startsWith('Rollout files changed'));
        expect(
          log.every((l) => /^(::debug::|warning: )?\[rollouts\/[ab]\.yaml\] /.test(l)),
          log.join('\n'),
        ).toBe(true);
      }
    },
  );

  it('locks the routes for the step and waits for (then refuses) a step that holds them', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const elbv2 = r.deps.aws(stage.sandbox.region).elbv2;
    // Another step (another job) holds the first listener for ten minutes.
    const other = await acquireRouteLock(
      {
        routes: [r.web.listenerArns[0] as string],
        owner: 'rollouts/other.yaml@run-9',
        ttlMs: 600_000,
        waitMs: 0,
      },
      { client: elbv2, clock: systemClock, logger: silentLogger },
    );
    const event = push(
      r,
      { [PATH]: file({ blue: 100, green: 0 }) },
      { [PATH]: file({ blue: 90, green: 10 }) },
    );
    const locked = { owner: 'run-1', waitMs: 1_500 };
    const refused = await runApply(event, { ...OPTIONS, lock: locked }, r.deps);
    expect(refused.result).toBe('failed');
    expect(refused.failure).toMatch(
      /Could not lock the routes within 2s: .* is locked by rollouts\/other\.yaml@run-9 until .*Nothing was changed\./,
    );
    expect(await r.live()).toEqual(['100/0', '100/0']);
    // Released: the step goes through, and leaves no lock behind.
    await other.release();
    const applied = await runApply(event, { ...OPTIONS, lock: locked }, r.deps);
    expect(applied.result, r.deps.logger.text()).toBe('applied');
    expect(await r.live()).toEqual(['90/10', '90/10']);
    const tags = await elbv2.send(new DescribeTagsCommand({ ResourceArns: r.web.listenerArns }));
    expect(
      tags.TagDescriptions?.flatMap((d) => d.Tags ?? []).filter((t) => t.Key === LOCK_TAG),
    ).toEqual([]);
    expect(r.deps.logger.text()).toContain('Locked 2 route(s) for rollouts/web.yaml@run-1 until');
  });

  it('releases the lock when the step is rolled back, so the next step is not held up', async () => {
    const r = await setup({ blue: 100, green: 0 });
    for (const app of r.web.apps.green ?? []) app.setBehaviour({ errorRate: 1 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const event = push(
      r,
      { [PATH]: file({ blue: 100, green: 0 }) },
      { [PATH]: file({ blue: 90, green: 10 }) },
    );
    const out = await runApply(event, { ...OPTIONS, lock: { owner: 'run-2', waitMs: 0 } }, r.deps);
    expect(out.result).toBe('rolled-back');
    const elbv2 = r.deps.aws(stage.sandbox.region).elbv2;
    const tags = await elbv2.send(new DescribeTagsCommand({ ResourceArns: r.web.listenerArns }));
    expect(
      tags.TagDescriptions?.flatMap((d) => d.Tags ?? []).filter((t) => t.Key === LOCK_TAG),
    ).toEqual([]);
  });

  it('does nothing when the ALB already has the weights (the merge of a reconcile PR)', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const out = await runApply(
      push(r, { [PATH]: file({ blue: 90, green: 10 }) }, { [PATH]: file({ blue: 100, green: 0 }) }),
      OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('unchanged');
    expect(out.failure).toBeUndefined();
    expect(commandSummary(out)).toContain(
      'Every route already has blue 100 / green 0; nothing to shift or verify.',
    );
  });

  it('refuses an owner change in the same merge as a weight change', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const before = r.web.rolloutFile({ blue: 100, green: 0 });
    const after = r.web.rolloutFile({ blue: 90, green: 10 }).replace('owner: blue', 'owner: green');
    const out = await runApply(push(r, { [PATH]: before }, { [PATH]: after }), OPTIONS, r.deps);
    expect(out.result).toBe('failed');
    expect(out.failure).toContain('owner changes from blue to green and the weights change too');
    expect(await r.live()).toEqual(['100/0', '100/0']);
  });

  it('fails the step, without hiding the applied weights, when GitHub refuses the deployment', async () => {
    const r = await setup({ blue: 100, green: 0 });
    r.github.failing.add('recordDeployment');
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const out = await runApply(
      push(r, { [PATH]: file({ blue: 100, green: 0 }) }, { [PATH]: file({ blue: 90, green: 10 }) }),
      OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('applied');
    expect(await r.live()).toEqual(['90/10', '90/10']);
    expect(out.failure).toBe(
      `${PATH}: could not record the deployment: Resource not accessible by integration (recordDeployment)`,
    );
  });

  it('records the step on the routes in the lock release; a record that cannot be written is a warning, not a failure', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const elbv2 = r.deps.aws(stage.sandbox.region).elbv2;
    const tagsOf = async (key: string) =>
      (
        await elbv2.send(new DescribeTagsCommand({ ResourceArns: r.web.listenerArns }))
      ).TagDescriptions?.flatMap((d) => d.Tags ?? [])
        .filter((t) => t.Key === key)
        .map((t) => t.Value);
    // The lock's own AddTags goes through; every AddTags after it (the record) fails.
    stage.sandbox.core.injectFault({
      service: 'elasticloadbalancing',
      operation: 'AddTags',
      kind: 'error5xx',
      after: 1,
      times: 1000,
    });
    let out;
    try {
      out = await runApply(
        push(
          r,
          { [PATH]: file({ blue: 100, green: 0 }) },
          { [PATH]: file({ blue: 90, green: 10 }) },
        ),
        { ...OPTIONS, lock: { owner: 'run-5', waitMs: 0 } },
        r.deps,
      );
    } finally {
      stage.sandbox.core.clearFaults();
    }
    expect(out.result).toBe('applied');
    expect(out.failure).toBeUndefined();
    expect(await r.live()).toEqual(['90/10', '90/10']);
    expect(r.deps.logger.text()).toMatch(
      /warning: Could not record the last step \(apply blue=90 green=10: passed \(.*\) at \S+\) in the tag eks-cluster-canary:last-step on 2 of 2 route\(s\): .*The step itself stands/,
    );
    expect(await tagsOf(LOCK_TAG)).toEqual([]);
    expect(await tagsOf(LAST_STEP_TAG)).toEqual([]);

    // The next step records: rolled back, on both routes, at the weights it tried.
    for (const app of r.web.apps.green ?? []) app.setBehaviour({ errorRate: 1 });
    const next = await runApply(
      push(r, { [PATH]: file({ blue: 90, green: 10 }) }, { [PATH]: file({ blue: 75, green: 25 }) }),
      { ...OPTIONS, lock: { owner: 'run-6', waitMs: 0 } },
      r.deps,
    );
    expect(next.result).toBe('rolled-back');
    const values = await tagsOf(LAST_STEP_TAG);
    expect(values).toHaveLength(2);
    expect(values?.[0]).toBe(values?.[1]);
    expect(decodeLastStep(values?.[0])).toMatchObject({
      verdict: 'rolled-back',
      op: 'apply',
      weights: { blue: 75, green: 25 },
      file: PATH,
    });
  });
});
