import { commandSummary } from '../../src/operations/markdown.js';
import { describe, expect, it } from 'vitest';
import { pathFilter } from '../../src/common/glob.js';
import { runPlan } from '../../src/operations/plan.js';
import type { RolloutEvent } from '../../src/operations/context.js';
import { PATH, httpAnalysis, useSandboxRigs, type Rig } from './fixture.js';

const stage = useSandboxRigs();

const FILES = pathFilter(['rollouts/*.yaml'], 'files');
/** The sandbox serves CloudWatch data at 1 s, so the plan checks the analysis against 1 s. */
const PLAN_OPTIONS = { filter: FILES, cloudWatchPeriodMs: 1000 };

async function setup(live: Record<string, number>): Promise<Rig> {
  const r = await stage.rig(live);
  return r;
}

/** A PR whose head changes the rollout file from `base` to `head` weights (or the given texts). */
function pullRequest(
  r: Rig,
  base: string | null,
  head: string | null,
  labels: string[] = [],
): Extract<RolloutEvent, { kind: 'pull_request' }> {
  const baseSha = r.github.commit('main', { [PATH]: base, 'README.md': 'hello' });
  r.github.branches.set('step', baseSha);
  const headSha = r.github.commit('step', { [PATH]: head });
  return {
    kind: 'pull_request',
    number: 7,
    url: 'https://github.com/acme/infra/pull/7',
    baseSha,
    headSha,
    baseRef: 'main',
    labels,
  };
}

describe('plan', () => {
  it('passes one step forward, comments once and updates that comment when the PR changes', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const event = pullRequest(r, file({ blue: 100, green: 0 }), file({ blue: 90, green: 10 }));
    const first = await runPlan(event, PLAN_OPTIONS, r.deps);
    expect(first.result).toBe('planned');
    expect(first.failure).toBeUndefined();
    expect(first.annotations).toEqual([]);
    expect(r.github.comments).toHaveLength(1);
    const body = r.github.comments[0]?.body as string;
    expect(body).toContain('<!-- eks-cluster-canary plan: rollouts/*.yaml -->');
    expect(body).toContain(`### ✅ \`${PATH}\` (${r.web.name})`);
    expect(body).toContain('Base branch: blue 100 / green 0 → desired: **blue 90 / green 10**');
    expect(body).toMatch(
      /\| \[web[\d-]+ listener [0-9a-f]{6}\]\(https:\/\/.+\) \| blue 100 \/ green 0 \| blue 90 \/ green 10 \| will shift \|/,
    );
    expect(body).toContain('**Step:** ✅ green 0 → 10: one step forward.');
    expect(body).toContain('**Drift:** ✅ none');
    expect(body).toContain('- ✅ green: 2 healthy, 0 unhealthy (needs ≥ 1 healthy)');
    expect(body).toContain(
      '- targetHealth: every cluster with weight has ≥ 1 healthy and ≤ 0 unhealthy targets',
    );
    expect(body).toContain(`- http: GET ${r.web.apps.green?.[0]?.url}/ answers 200`);
    expect(commandSummary(first)).toBe(body);

    // A new push to the PR jumps two steps: the same comment now says why it is refused.
    const headSha = r.github.commit('step', { [PATH]: file({ blue: 75, green: 25 }) });
    const second = await runPlan({ ...event, headSha }, PLAN_OPTIONS, r.deps);
    expect(second.result).toBe('failed');
    expect(r.github.comments).toHaveLength(1);
    expect(r.github.comments[0]?.body).toContain('**Step:** ❌ green 0 → 25 is too large a step');
    expect(second.failure).toContain(
      'one merge may raise green only to 10, the next entry of steps [10, 25, 50, 100] after 0',
    );
    // The annotation sits on the canary's weight, the 25 in `weights: { blue: 75, green: 25 }`.
    const text = file({ blue: 75, green: 25 });
    const weightsLine = text.split('\n').findIndex((l) => l.startsWith('weights:')) + 1;
    expect(second.annotations).toEqual([
      expect.objectContaining({
        file: PATH,
        line: weightsLine,
        col: (text.split('\n')[weightsLine - 1] as string).indexOf('25') + 1,
      }),
    ]);
  });

  it('lets the rollout/force label through a large step, and says so', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const out = await runPlan(
      pullRequest(r, file({ blue: 100, green: 0 }), file({ blue: 50, green: 50 }), [
        'rollout/force',
      ]),
      PLAN_OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('planned');
    expect(commandSummary(out)).toContain('The label `rollout/force` is set');
    expect(commandSummary(out)).toContain('**Step:** ⚠️ green 0 → 50 is larger than one step');
  });

  it('always allows going back toward the baseline', async () => {
    const r = await setup({ blue: 50, green: 50 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const out = await runPlan(
      pullRequest(r, file({ blue: 50, green: 50 }), file({ blue: 100, green: 0 })),
      PLAN_OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('planned');
    expect(commandSummary(out)).toContain(
      'green 50 → 0: back toward the baseline, which is always allowed.',
    );
    // blue gains weight, so its health is checked; green loses it, so it is not.
    expect(commandSummary(out)).toContain('- ✅ blue: 2 healthy');
    expect(commandSummary(out)).not.toContain('- ✅ green:');
  });

  it('refuses a file that shares a listener with another rollout file, naming both', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    // Another service's file, already on main, that names the same listeners.
    const other = file({ blue: 100, green: 0 }).replace(`name: ${r.web.name}`, 'name: other');
    r.github.commit('main', { 'rollouts/other.yaml': other });
    const event = pullRequest(r, file({ blue: 100, green: 0 }), file({ blue: 90, green: 10 }));
    const out = await runPlan(event, PLAN_OPTIONS, r.deps);
    expect(out.result).toBe('failed');
    const listener = r.web.listenerArns[0] as string;
    expect(out.failure).toContain(
      `rollouts/web.yaml and rollouts/other.yaml both shift listener ${listener.split('/').slice(-3, -2)[0]}`,
    );
    expect(out.failure).toContain('Keep each listener in one rollout file (one file per service).');
    expect(out.failure).toContain('both weight target group');
    // On the line of the shared route.
    const line =
      file({ blue: 90, green: 10 })
        .split('\n')
        .findIndex((l) => l.includes(listener)) + 1;
    expect(
      out.annotations.some((a) => a.line === line && a.message.includes('both shift listener')),
    ).toBe(true);
    expect(await r.live()).toEqual(['100/0', '100/0']);
  });

  it('refuses on drift: the ALB does not have what the base branch says', async () => {
    const r = await setup({ blue: 80, green: 20 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const out = await runPlan(
      pullRequest(r, file({ blue: 90, green: 10 }), file({ blue: 75, green: 25 })),
      PLAN_OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('failed');
    expect(commandSummary(out)).toContain(
      '**Drift:** ❌ 2 of 2 route(s) differ from the file on the base branch.',
    );
    expect(commandSummary(out)).toMatch(
      /\| blue 80 \/ green 20 \| blue 75 \/ green 25 \| ❌ drift \|/,
    );
    // The gate's wording, the same as apply's.
    expect(out.failure).toMatch(
      /Drift: .* has blue 80 \/ green 20; .* has blue 80 \/ green 20, but the file on the base branch says blue 90 \/ green 10 \(2 of 2 route\(s\) differ\)/,
    );
    expect(out.failure).toContain(
      'or first merge a PR that sets weights to the live blue 80 / green 20',
    );
  });

  it('plans a new file against the live weights and says there is no drift baseline', async () => {
    const r = await setup({ blue: 90, green: 10 });
    const out = await runPlan(
      pullRequest(r, null, r.web.rolloutFile({ blue: 75, green: 25 }, httpAnalysis(r.web))),
      PLAN_OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('planned');
    expect(commandSummary(out)).toContain('Desired: **blue 75 / green 25** (new file)');
    expect(commandSummary(out)).toContain(
      'New file: there is no version on the base branch to check drift against',
    );
    expect(commandSummary(out)).toContain(
      '**Drift:** not checked (no baseline on the base branch).',
    );
    expect(commandSummary(out)).toContain('green 10 → 25: one step forward.');
  });

  it('refuses an analysis that apply could not run, on the analysis line, with the CloudWatch period apply will use', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const cloudwatch = `analysis:
  warmup: 0s
  interval: 30s
  duration: 1m
  checks:
    - cloudwatch: { metric: error-rate, max: 0.01 }
`;
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, cloudwatch);
    const event = pullRequest(r, file({ blue: 100, green: 0 }), file({ blue: 90, green: 10 }));
    // Real ALB metrics are 60 s data: a 30 s interval cannot be judged.
    const out = await runPlan(event, { filter: FILES, cloudWatchPeriodMs: 60_000 }, r.deps);
    expect(out.result).toBe('failed');
    expect(out.failure).toContain(
      'The analysis cannot run: With cloudwatch checks the interval (30s)',
    );
    expect(out.annotations).toContainEqual(
      expect.objectContaining({
        file: PATH,
        message: expect.stringContaining('The analysis cannot run'),
      }),
    );
    // With 1 s data (the sandbox) the same file plans fine.
    const ok = await runPlan(event, PLAN_OPTIONS, r.deps);
    expect(ok.failure).toBeUndefined();
  });

  it('refuses when a cluster that gains weight has too few healthy targets', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web, 3));
    const out = await runPlan(
      pullRequest(r, file({ blue: 100, green: 0 }), file({ blue: 90, green: 10 })),
      PLAN_OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('failed');
    expect(commandSummary(out)).toContain('- ❌ green: 2 healthy, 0 unhealthy (needs ≥ 3 healthy)');
    expect(out.failure).toContain(
      'green would gain weight but has 2 healthy targets (2 healthy, 0 unhealthy); at least 3 must be healthy before the shift.',
    );
  });

  it('reports every problem of an invalid file on its line', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const bad = r.web
      .rolloutFile({ blue: 100, green: 0 })
      .replace('weights: { blue: 100, green: 0 }', 'weights: { blue: 100, green: 10 }');
    const out = await runPlan(
      pullRequest(r, r.web.rolloutFile({ blue: 100, green: 0 }), bad),
      PLAN_OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('failed');
    const line = bad.split('\n').findIndex((l) => l.startsWith('weights:')) + 1;
    expect(out.annotations).toEqual([
      expect.objectContaining({ file: PATH, line, message: expect.stringContaining('sum to 110') }),
    ]);
    expect(commandSummary(out)).toContain(`### ❌ invalid \`${PATH}\``);
  });

  it('passes a PR that brings the file in line with the ALB (a reconcile PR) despite the drift', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const out = await runPlan(
      pullRequest(r, file({ blue: 90, green: 10 }), file({ blue: 100, green: 0 })),
      PLAN_OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('planned');
    expect(commandSummary(out)).toContain(
      'already has the weights of this version: merging brings git in line with the ALB',
    );
    expect(commandSummary(out)).toContain(
      'The ALB already has these weights: merging changes nothing on it.',
    );
  });

  it('refuses an owner change in the same merge as a weight change', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const base = r.web.rolloutFile({ blue: 100, green: 0 });
    const head = r.web.rolloutFile({ blue: 90, green: 10 }).replace('owner: blue', 'owner: green');
    const out = await runPlan(pullRequest(r, base, head), PLAN_OPTIONS, r.deps);
    expect(out.result).toBe('failed');
    expect(out.failure).toContain(
      'owner changes from blue to green and the weights change too (blue 100 / green 0 → blue 90 / green 10)',
    );
    expect(out.failure).toContain('Split it');
    expect(out.annotations[0]?.line).toBe(
      head.split('\n').findIndex((l) => l.startsWith('owner:')) + 1,
    );
  });

  it('refuses an owner change it cannot check on the clusters', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const base = r.web.rolloutFile({ blue: 100, green: 0 });
    const out = await runPlan(
      pullRequest(r, base, base.replace('owner: blue', 'owner: green')),
      PLAN_OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('failed');
    expect(out.failure).toContain('owner changes from blue to green, a handoff');
    expect(out.failure).toContain('without access to the EKS clusters');
    expect(out.annotations[0]?.line).toBe(
      base.split('\n').findIndex((l) => l.startsWith('owner:')) + 1,
    );
  });

  it('still reports the plan, and fails, when the comment cannot be posted', async () => {
    const r = await setup({ blue: 100, green: 0 });
    r.github.failing.add('upsertStickyComment');
    const file = (w: Record<string, number>) => r.web.rolloutFile(w, httpAnalysis(r.web));
    const out = await runPlan(
      pullRequest(r, file({ blue: 100, green: 0 }), file({ blue: 90, green: 10 })),
      PLAN_OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('planned');
    expect(commandSummary(out)).toContain('**Step:** ✅ green 0 → 10: one step forward.');
    expect(out.failure).toBe(
      'The plan comment could not be posted: Resource not accessible by integration (upsertStickyComment)',
    );
  });

  it('does nothing, and posts nothing, when no rollout file changed', async () => {
    const r = await setup({ blue: 100, green: 0 });
    const base = r.github.commit('main', { [PATH]: r.web.rolloutFile({ blue: 100, green: 0 }) });
    r.github.branches.set('docs', base);
    const head = r.github.commit('docs', { 'README.md': 'docs' });
    const out = await runPlan(
      {
        kind: 'pull_request',
        number: 8,
        url: '',
        baseSha: base,
        headSha: head,
        baseRef: 'main',
        labels: [],
      },
      PLAN_OPTIONS,
      r.deps,
    );
    expect(out.result).toBe('unchanged');
    expect(r.github.comments).toEqual([]);
  });
});
