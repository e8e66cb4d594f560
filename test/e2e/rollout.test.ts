/**
 * The rollout bundle (dist/rollout/index.js) run as the runner runs it, with real event
 * payloads in GITHUB_EVENT_PATH, the GitHub REST API served by the fake GitHub server and AWS by
 * the sandbox, with real traffic through the sandbox ALB. Needs `npm run bundle` first.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeTagsCommand,
  ModifyListenerCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRolloutFile } from '../../src/rollout-file/index.js';
import { startFakeGitHub, type FakeGitHub } from '../../sandbox/github/server.js';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createWebService, type WebService } from '../../sandbox/scenario.js';
import { LoadGenerator } from '../fakes/sandbox-stack.js';
import {
  OWNER,
  REPO,
  TOKEN,
  dispatchPayload,
  pullRequestPayload,
  pushPayload,
  runnerEnv,
} from '../../sandbox/github/events.js';
import { runAction, startAction, type ActionRun } from './harness.js';
import { runCli } from './cli-harness.js';
import { LAST_STEP_TAG } from '../../src/alb/last-step.js';

const BUNDLE = 'dist/rollout/index.js';
const PATH = 'rollouts/web.yaml';

let sandbox: Sandbox;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "npm run bundle" first.`);
  // Health checks every second with a 0.4 s timeout: quick, yet no target times out when
  // several bundles and load generators share two cores.
  sandbox = await startSandbox({ healthCheckTimeScale: 0.2 });
});
afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
  await sandbox?.close();
});

const ANALYSIS = `analysis:
  warmup: 1s
  interval: 5s
  duration: 6s
  failureLimit: 0
  checks:
    - targetHealth: { minHealthy: 1 }
    - cloudwatch: { metric: error-rate, max: 0.01, minRequests: 5 }
`;

let seq = 0;
interface Stage {
  web: WebService;
  github: FakeGitHub;
  file(weights: Record<string, number>, analysis?: string): string;
  live(): Promise<string[]>;
}

/** A web service at `live` weights with traffic, and a repository whose main has the file at `committed`. */
async function stage(
  live: Record<string, number>,
  committed: Record<string, number>,
  options: { traffic?: boolean; greenErrorRate?: number } = {},
): Promise<Stage> {
  const web = await createWebService(sandbox, {
    name: `e2e${++seq}`,
    weights: live,
    extraListeners: 1,
    clusters: [
      { name: 'blue', version: '1.31' },
      { name: 'green', version: '1.32', errorRate: options.greenErrorRate ?? 0 },
    ],
  });
  // Only the CloudWatch checks need traffic: 50 requests/s, so green at 10% gets 25 per 5 s
  // interval, five times minRequests, leaving room for a load generator slowed by a busy machine.
  const load = new LoadGenerator(web.url, options.traffic ? 50 : 0);
  const file = (w: Record<string, number>, analysis = ANALYSIS) =>
    `# web: blue 1.31 -> green 1.32\n${web.rolloutFile(w, analysis)}`;
  const github = await startFakeGitHub({
    owner: OWNER,
    repo: REPO,
    token: TOKEN,
    files: { [PATH]: file(committed), 'README.md': '# infra\n' },
  });
  closers.push(async () => {
    await load.stop();
    await web.close();
    await github.close();
  });
  return {
    web,
    github,
    file,
    async live() {
      const all = await Promise.all(web.listenerArns.map((arn) => web.liveWeights(arn)));
      return all.map((w) => `${w.blue}/${w.green}`);
    },
  };
}

const TIMING = { 'cloudwatch-period': '1s', 'cloudwatch-delay': '0s', 'settle-seconds': '1' };

function env(
  s: Stage,
  event: { name: string; payload: Record<string, unknown>; sha: string; ref: string },
): Record<string, string> {
  return { ...sandbox.env, ...runnerEnv(s.github, event) };
}

/** Merges a PR that changes the file to `weights`; returns the push event of the merge. */
function merge(s: Stage, branch: string, text: string) {
  const before = s.github.state.refs.main as string;
  s.github.commit(branch, { [PATH]: text });
  const number = s.github.openPullRequest({ head: branch, title: `web: ${branch}` });
  const after = s.github.mergePullRequest(number);
  return {
    number,
    event: {
      name: 'push',
      payload: pushPayload(before, after),
      sha: after,
      ref: 'refs/heads/main',
    },
  };
}

/** The log groups a run opened, in order; fails on a group opened inside another. */
function foldsOf(stdout: string): string[] {
  const folds: string[] = [];
  let open = false;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('::group::')) {
      expect(open, `nested group ${line}`).toBe(false);
      open = true;
      folds.push(line.slice('::group::'.length));
    } else if (line.startsWith('::endgroup::')) {
      open = false;
    }
  }
  return folds;
}

function log(run: ActionRun): string {
  return run.stdout + run.stderr;
}

interface LastStepJson {
  verdict: string;
  op: string;
  weights?: Record<string, number>;
  at: string;
  by: string;
  file: string;
  why?: string;
  onRoutes: number;
  routes: number;
}

/**
 * What an SRE's terminal shows for the file after the step, GitHub or not: the CLI's `status
 * --json` in a checkout holding the file as main has it.
 */
async function lastStepShown(s: Stage): Promise<LastStepJson | null | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'ecc-status-'));
  mkdirSync(join(dir, 'rollouts'));
  writeFileSync(join(dir, PATH), s.github.fileAt('main', PATH) as string);
  const out = await runCli(['status', '--json'], { cwd: dir, env: sandbox.env });
  expect(out.code, out.stderr).toBe(0);
  const [file] = JSON.parse(out.stdout) as { lastStep?: LastStepJson | null }[];
  return file?.lastStep;
}

describe.concurrent('rollout bundle', () => {
  it('plan: comments once, updates the comment on the next push, and refuses a step that is too large', async () => {
    const s = await stage({ blue: 100, green: 0 }, { blue: 100, green: 0 });
    s.github.commit('canary-10', { [PATH]: s.file({ blue: 90, green: 10 }) });
    const number = s.github.openPullRequest({ head: 'canary-10', title: 'web: green 10%' });
    const planEvent = (action: string) => {
      const payload = pullRequestPayload(s.github, number, action);
      return {
        name: 'pull_request',
        payload,
        sha: (payload.pull_request as { head: { sha: string } }).head.sha,
        ref: `refs/pull/${number}/merge`,
      };
    };

    const first = await runAction(
      'rollout',
      { command: 'plan', 'github-token': TOKEN, 'cloudwatch-period': '1s' },
      env(s, planEvent('opened')),
    );
    expect(first.exitCode, log(first)).toBe(0);
    expect(first.outputs.result).toBe('planned');
    expect(s.github.state.comments).toHaveLength(1);
    const comment = s.github.state.comments[0];
    expect(comment?.issueNumber).toBe(number);
    expect(comment?.body).toContain('<!-- eks-cluster-canary plan: rollouts/*.yaml -->');
    expect(comment?.body).toContain('**Step:** ✅ green 0 → 10: one step forward.');
    expect(comment?.body).toContain(
      '- cloudwatch: error-rate of green ≤ 1% (judged from 5 requests)',
    );
    // The plan says how apply will judge, on the 1 s data it is given (and the default delay).
    expect(comment?.body).toContain(
      '- Early failure: the error rate of an open interval is looked at every 1s, 1m behind as CloudWatch data comes late; an interval fails at once when it is over max with 99.9% confidence (20 requests at least). Passing still needs the whole interval.',
    );
    expect(first.summary).toContain('## Rollout plan');
    // The token is masked before anything else is printed, and never printed otherwise.
    expect(first.stdout.indexOf(`::add-mask::${TOKEN}`)).toBe(0);
    expect(log(first).split(TOKEN)).toHaveLength(2);

    s.github.commit('canary-10', { [PATH]: s.file({ blue: 50, green: 50 }) });
    const second = await runAction(
      'rollout',
      { command: 'plan', 'github-token': TOKEN, 'cloudwatch-period': '1s' },
      env(s, planEvent('synchronize')),
    );
    expect(second.exitCode).toBe(1);
    expect(second.outputs.result).toBe('failed');
    expect(s.github.state.comments).toHaveLength(1);
    expect(s.github.state.comments[0]?.id).toBe(comment?.id);
    expect(s.github.state.comments[0]?.body).toContain(
      '**Step:** ❌ green 0 → 50 is too large a step',
    );
    const text = s.file({ blue: 50, green: 50 });
    const line = text.split('\n').findIndex((l) => l.startsWith('weights:')) + 1;
    const col = (text.split('\n')[line - 1] as string).indexOf('green: 50') + 'green: '.length + 1;
    expect(second.stdout).toContain(
      `::error file=${PATH},line=${line},col=${col}::green 0 → 50 is too large a step`,
    );
    expect(await s.live()).toEqual(['100/0', '100/0']);
  });

  it('changed: lists the rollout files a push changed, for a matrix of applies', async () => {
    const s = await stage({ blue: 100, green: 0 }, { blue: 100, green: 0 });
    const { event } = merge(s, 'canary-10', s.file({ blue: 90, green: 10 }));
    const run = await runAction(
      'rollout',
      { command: 'changed', 'github-token': TOKEN },
      env(s, event),
    );
    expect(run.exitCode, log(run)).toBe(0);
    expect(JSON.parse(run.outputs['changed-files'] as string)).toEqual([PATH]);
    expect(run.outputs.result).toBe('planned');
    // It only lists: the ALB is untouched.
    expect(await s.live()).toEqual(['100/0', '100/0']);
  });

  it("apply: locks the routes with a tag for the step and leaves only the step's record behind", async () => {
    const s = await stage({ blue: 100, green: 0 }, { blue: 100, green: 0 });
    const quick =
      'analysis:\n  warmup: 0s\n  interval: 1s\n  duration: 1s\n  checks:\n    - targetHealth: { minHealthy: 1 }\n';
    const { event } = merge(s, 'canary-10', s.file({ blue: 90, green: 10 }, quick));
    const run = await runAction(
      'rollout',
      { command: 'apply', 'github-token': TOKEN, ...TIMING },
      env(s, event),
    );
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(
        `Locked 2 route\\(s\\) for rollouts/web\\.yaml@${OWNER}/${REPO}:run-\\d+\\.1 until `,
      ),
    );
    expect(run.stdout).toContain('Unlocked 2 route(s).');
    // The lock is gone; what stays is the record of the step, on every route.
    const tags = await s.web.client.send(
      new DescribeTagsCommand({ ResourceArns: s.web.listenerArns }),
    );
    expect(tags.TagDescriptions?.flatMap((d) => d.Tags ?? []).map((t) => t.Key)).toEqual([
      LAST_STEP_TAG,
      LAST_STEP_TAG,
    ]);
    expect(tags.TagDescriptions?.[0]?.Tags?.[0]?.Value).toMatch(
      new RegExp(
        `^verdict=passed op=apply weights=blue:90\\+green:10 at=\\S+Z by=https://github\\.com/${OWNER}/${REPO}/actions/runs/4242 file=rollouts/web\\.yaml why=`,
      ),
    );
    // (The record's cost, one AddTags per 20 routes in the lock's release, is counted in
    // test/alb/lock.test.ts: the tests here run at once on one sandbox.)
    expect(run.stdout).toContain('Recorded the last step on 2 route(s)');
    const shown = await lastStepShown(s);
    expect(shown).toMatchObject({
      verdict: 'passed',
      op: 'apply',
      weights: { blue: 90, green: 10 },
      by: `https://github.com/${OWNER}/${REPO}/actions/runs/4242`,
      file: PATH,
      onRoutes: 2,
      routes: 2,
    });
    expect(Date.now() - Date.parse(shown?.at ?? '')).toBeLessThan(60_000);
  });

  it('apply: shifts, verifies with real traffic and records the deployment', async () => {
    const s = await stage({ blue: 100, green: 0 }, { blue: 100, green: 0 }, { traffic: true });
    const { number, event } = merge(s, 'canary-10', s.file({ blue: 90, green: 10 }));
    const run = await runAction(
      'rollout',
      { command: 'apply', 'github-token': TOKEN, ...TIMING },
      env(s, event),
    );
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.outputs.result).toBe('applied');
    expect(await s.live()).toEqual(['90/10', '90/10']);
    const [deployment] = s.github.state.deployments;
    expect(deployment).toMatchObject({ sha: event.sha, environment: s.web.name });
    expect(deployment?.statuses.map((x) => x.state)).toEqual(['success']);
    expect(deployment?.statuses[0]?.logUrl).toBe(
      `https://github.com/${OWNER}/${REPO}/actions/runs/4242`,
    );
    expect(s.github.state.comments).toEqual([
      expect.objectContaining({
        issueNumber: number,
        body: expect.stringContaining('### ✅ applied: `rollouts/web.yaml`'),
      }),
    ]);
    // The error rate of green was measured on enough traffic and passed, not skipped or
    // called inconclusive.
    expect(run.stdout).toMatch(
      /^ {2}pass: error-rate of green = \d+(\.\d+)?% \(threshold ≤ 1%\)$/m,
    );
  });

  it('apply: rolls a bad canary back, opens the reconcile PR with the numbers, tells the merged PR and fails', async () => {
    const s = await stage(
      { blue: 100, green: 0 },
      { blue: 100, green: 0 },
      { traffic: true, greenErrorRate: 0.3 },
    );
    const { number, event } = merge(s, 'canary-10', s.file({ blue: 90, green: 10 }));
    const run = await runAction(
      'rollout',
      { command: 'apply', 'github-token': TOKEN, ...TIMING },
      env(s, event),
    );
    expect(run.exitCode).toBe(1);
    expect(run.outputs.result).toBe('rolled-back');
    expect(await s.live()).toEqual(['100/0', '100/0']);

    const reconcile = s.github.state.pulls.find(
      (p) => p.head === `rollout/${s.web.name}/reconcile`,
    );
    expect(reconcile?.title).toMatch(
      new RegExp(
        // Judged early when green had its 20 requests before the 5 s interval closed (some
        // 25 are expected, fewer on a busy machine); at the close otherwise.
        `^rollout ${s.web.name}: back to blue 100 / green 0 — error-rate of green \\d+(\\.\\d+)?% > 1%( with 99\\.9% confidence \\(\\d+ 5xx of \\d+ requests in \\d+s, judged early\\))? in 1 of 1 interval$`,
      ),
    );
    expect(reconcile?.body).toContain(
      'Every route was restored to **blue 100 / green 0** and confirmed by read-back.',
    );
    expect(run.outputs['pull-request']).toBe(
      `https://github.com/${OWNER}/${REPO}/pull/${reconcile?.number}`,
    );
    const reconciled = s.github.fileAt(`rollout/${s.web.name}/reconcile`, PATH) as string;
    expect(reconciled).toBe(s.file({ blue: 100, green: 0 }));
    expect(parseRolloutFile(reconciled, PATH).weights).toEqual({ blue: 100, green: 0 });

    const told = s.github.state.comments.find((c) => c.issueNumber === number);
    expect(told?.body).toContain('### ↩️ rolled back: `rollouts/web.yaml`');
    expect(told?.body).toMatch(
      /\| error-rate of green \| ≤ 1% \| \d+(\.\d+)?% \| 0 \| 1 \| 0 \| ❌ fail \|/,
    );
    expect(s.github.state.deployments[0]?.statuses.map((x) => x.state)).toEqual(['failure']);
    expect(await lastStepShown(s)).toMatchObject({
      verdict: 'rolled-back',
      op: 'apply',
      weights: { blue: 90, green: 10 },
      why: expect.stringMatching(/^error-rate of green \d+(\.\d+)?pct over 1pct/),
    });
    expect(run.stdout).toMatch(
      /::error::rollouts\/web.yaml: Rolled back to blue 100 \/ green 0 \(restored and confirmed by read-back on every route\): error-rate of green/,
    );
    // The runner's log cannot nest groups: every phase is a fold of its own, in order.
    expect(foldsOf(run.stdout)).toEqual([
      'Locking the routes: rollouts/web.yaml',
      'Reading live weights: rollouts/web.yaml',
      'Checking the step: rollouts/web.yaml',
      'Shifting',
      'Verifying: rollouts/web.yaml',
      'Restoring the previous weights',
    ]);
  });

  it('apply: refuses on drift and changes nothing', async () => {
    const s = await stage({ blue: 100, green: 0 }, { blue: 100, green: 0 });
    // Someone moves the ALB by hand after the file said 100/0.
    for (const arn of s.web.listenerArns) {
      await s.web.client.send(
        new ModifyListenerCommand({
          ListenerArn: arn,
          DefaultActions: [
            {
              Type: 'forward',
              ForwardConfig: {
                TargetGroups: [
                  { TargetGroupArn: s.web.targetGroups.blue, Weight: 80 },
                  { TargetGroupArn: s.web.targetGroups.green, Weight: 20 },
                ],
              },
            },
          ],
        }),
      );
    }
    const { event } = merge(s, 'canary-10', s.file({ blue: 90, green: 10 }));
    const run = await runAction(
      'rollout',
      { command: 'apply', 'github-token': TOKEN, ...TIMING },
      env(s, event),
    );
    expect(run.exitCode).toBe(1);
    expect(run.outputs.result).toBe('failed');
    expect(run.stdout).toContain(
      'has blue 80 / green 20, but the file before this push says blue 100 / green 0 (2 of 2 route(s) differ).',
    );
    expect(await s.live()).toEqual(['80/20', '80/20']);
    expect(s.github.state.pulls.filter((p) => p.state === 'open')).toEqual([]);
  });

  it('apply: restores the weights when the job is cancelled (SIGTERM) during verification', async () => {
    const s = await stage({ blue: 100, green: 0 }, { blue: 100, green: 0 });
    // Target health only, so no traffic is needed; long enough to be cancelled in the middle.
    const long =
      'analysis:\n  warmup: 1s\n  interval: 1s\n  duration: 60s\n  checks:\n    - targetHealth: { minHealthy: 1 }\n';
    const { event } = merge(s, 'canary-10', s.file({ blue: 90, green: 10 }, long));
    const started = startAction(
      'rollout',
      { command: 'apply', 'github-token': TOKEN, ...TIMING },
      env(s, event),
    );
    const deadline = Date.now() + 20_000;
    while (!started.stdout().includes('Warming up') && !started.stdout().includes('Interval 1/')) {
      if (Date.now() > deadline) throw new Error(`never got to verifying:\n${started.stdout()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await s.live()).toEqual(['90/10', '90/10']);
    started.child.kill('SIGTERM');
    const run = await started.done;
    expect(run.exitCode).toBe(1);
    expect(run.outputs.result).toBe('rolled-back');
    expect(run.stdout).toContain('Received SIGTERM');
    expect(await s.live()).toEqual(['100/0', '100/0']);
    expect(
      s.github.state.pulls.find((p) => p.head === `rollout/${s.web.name}/reconcile`)?.title,
    ).toBe(
      `rollout ${s.web.name}: back to blue 100 / green 0 — the job was cancelled during verification`,
    );
  });

  it('rollback: moves all traffic at once on a dispatch and opens the reconcile PR', async () => {
    const s = await stage({ blue: 50, green: 50 }, { blue: 50, green: 50 });
    const inputs = { file: PATH, to: 'blue', force: 'false' };
    const sha = s.github.state.refs.main as string;
    const run = await runAction(
      'rollout',
      { command: 'rollback', 'github-token': TOKEN, ...inputs },
      env(s, {
        name: 'workflow_dispatch',
        payload: dispatchPayload(inputs),
        sha,
        ref: 'refs/heads/main',
      }),
    );
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.outputs.result).toBe('rolled-back');
    expect(await s.live()).toEqual(['100/0', '100/0']);
    expect(run.stdout).toContain('What this rollback overwrote, exactly:');
    expect(run.stdout).toContain(
      `listener ${s.web.listenerArns[0]}: was blue 50 / green 50; actions were [{`,
    );
    const pr = s.github.state.pulls.find((p) => p.head === `rollout/${s.web.name}/reconcile`);
    expect(run.outputs['pull-request']).toBe(
      `https://github.com/${OWNER}/${REPO}/pull/${pr?.number}`,
    );
    expect(
      parseRolloutFile(s.github.fileAt(pr?.head as string, PATH) as string, PATH).weights,
    ).toEqual({ blue: 100, green: 0 });
    expect(await lastStepShown(s)).toMatchObject({
      verdict: 'done',
      op: 'rollback',
      weights: { blue: 100, green: 0 },
      by: `https://github.com/${OWNER}/${REPO}/actions/runs/4242`,
      onRoutes: 2,
    });
  });

  it('advance: opens the PR for the next step without touching the ALB', async () => {
    const s = await stage({ blue: 90, green: 10 }, { blue: 90, green: 10 });
    const inputs = { file: PATH };
    const sha = s.github.state.refs.main as string;
    const run = await runAction(
      'rollout',
      { command: 'advance', 'github-token': TOKEN, ...inputs },
      env(s, {
        name: 'workflow_dispatch',
        payload: dispatchPayload(inputs),
        sha,
        ref: 'refs/heads/main',
      }),
    );
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.outputs.result).toBe('planned');
    const pr = s.github.state.pulls.find((p) => p.head === `rollout/${s.web.name}/advance`);
    expect(pr?.title).toBe(`rollout ${s.web.name}: green 10 → 25 (step 2 of 4)`);
    expect(pr?.body).toContain('**Step:** ✅ green 10 → 25: one step forward.');
    expect(s.github.fileAt(pr?.head as string, PATH)).toBe(s.file({ blue: 75, green: 25 }));
    expect(await s.live()).toEqual(['90/10', '90/10']);
  });
});
