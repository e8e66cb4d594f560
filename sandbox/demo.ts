/**
 * `npm run demo`: the PR-driven rollout loop on the local sandbox. The rollout action's bundle
 * (dist/rollout/index.js) runs exactly as a GitHub runner runs it (INPUT_*, GITHUB_EVENT_PATH
 * with a real event payload, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY), against the sandbox for AWS
 * and a local stand-in of GitHub's REST API (sandbox/github) for pull requests, comments and
 * deployments, while a load generator sends real traffic through the sandbox ALB.
 *
 * Part 1: a PR sets green to 10; `plan` comments on it; the merge runs `apply` with
 * auto-advance, which shifts, verifies and opens the PR for the next step; repeated to 100.
 * Part 2: a dispatched `rollback` sends everything back to blue and opens the reconcile PR;
 * then a bad build of green is merged at 10, and `apply` rolls it back, opens the reconcile PR
 * and comments on the merged PR. Every claim it prints is checked against what happened (ALB
 * weights read back, traffic observed through the data plane, the PRs and comments on the
 * GitHub stand-in); it exits non-zero if any check fails.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSandbox } from './index.js';
import { dispatchPayload, pullRequestPayload, pushPayload, runnerEnv } from './github/events.js';
import { startFakeGitHub, type FakeGitHub } from './github/server.js';
import { createWebService, type WebService } from './scenario.js';

const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'eks-cluster-canary-demo-'));
const results: { claim: string; ok: boolean; detail: string }[] = [];
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s`;

function say(line = ''): void {
  console.log(line);
}

function check(claim: string, ok: boolean, detail: string): void {
  results.push({ claim, ok, detail });
  say(`   ${ok ? 'ok  ' : 'FAIL'} ${claim} (${detail})`);
}

// ---- traffic: a steady load through the ALB, counted per app version each second ----------
interface Second {
  at: number;
  byVersion: Record<string, { requests: number; errors: number }>;
}
const seconds: Second[] = [];
let loadRunning = true;

async function generateLoad(url: string, perSecond: number): Promise<void> {
  const gap = 1000 / perSecond;
  let next = Date.now();
  const inFlight = new Set<Promise<void>>();
  while (loadRunning) {
    const request = fetch(url)
      .then(async (res) => {
        await res.arrayBuffer();
        const version = res.headers.get('x-app-version') ?? `ALB ${res.status}`;
        const at = Math.floor(Date.now() / 1000) * 1000;
        let second = seconds.at(-1);
        if (!second || second.at !== at) seconds.push((second = { at, byVersion: {} }));
        const v = (second.byVersion[version] ??= { requests: 0, errors: 0 });
        v.requests++;
        if (res.status >= 500) v.errors++;
      })
      .catch(() => undefined)
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
    next += gap;
    await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
  }
  await Promise.all(inFlight);
}

/** Requests and error rate per version over the last `ms` (whole seconds only). */
function traffic(ms: number): Record<string, { requests: number; errors: number }> {
  const now = Math.floor(Date.now() / 1000) * 1000;
  const out: Record<string, { requests: number; errors: number }> = {};
  for (const s of seconds.filter((s) => s.at >= now - ms && s.at < now)) {
    for (const [v, c] of Object.entries(s.byVersion)) {
      const o = (out[v] ??= { requests: 0, errors: 0 });
      o.requests += c.requests;
      o.errors += c.errors;
    }
  }
  return out;
}

function trafficLine(ms: number): string {
  const t = traffic(ms);
  const total = Object.values(t).reduce((a, c) => a + c.requests, 0) || 1;
  return Object.entries(t)
    .sort()
    .map(
      ([v, c]) =>
        `${v}: ${((100 * c.requests) / total).toFixed(0).padStart(3)}% of traffic, ${(c.requests / (ms / 1000)).toFixed(0)} req/s, ${((100 * c.errors) / Math.max(1, c.requests)).toFixed(1)}% errors`,
    )
    .join(' | ');
}

// ---- running the bundles as the runner does ------------------------------------------------
interface Run {
  exitCode: number | null;
  outputs: Record<string, string>;
  log: string;
}

function runBundle(
  name: string,
  inputs: Record<string, string>,
  env: Record<string, string>,
): Promise<Run> {
  const outputFile = join(work, `${name}-${Date.now()}.out`);
  const summaryFile = join(work, `${name}-${Date.now()}.md`);
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const child = spawn(process.execPath, [resolve('dist', name, 'index.js')], {
    env: {
      PATH: process.env.PATH,
      ...env,
      RUNNER_TEMP: work,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      ...Object.fromEntries(
        Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]),
      ),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  return new Promise((resolveRun) =>
    child.on('close', (exitCode) => {
      const outputs: Record<string, string> = {};
      const text = readFileSync(outputFile, 'utf8');
      for (const m of text.matchAll(/^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm))
        outputs[m[1] as string] = m[3] as string;
      resolveRun({ exitCode, outputs, log });
    }),
  );
}

/** The log lines worth showing: our info lines and errors, without group markers or debug. */
function show(run: Run, match: RegExp): void {
  for (const line of run.log.split('\n')) {
    if (match.test(line))
      say(
        `     │ ${line
          .replace(/^::(error|warning)[^:]*::/, '$1: ')
          .replace(/%0A/g, ' ')
          .replace(/%25/g, '%')}`,
      );
  }
}

// ---- the rollout: pull requests, merges and the rollout action ------------------------------
const PATH = 'rollouts/web.yaml';
/** How long the sandbox ALB takes to apply a weight change, like a real ALB's propagation. */
const PROPAGATION_MS = 1000;
const TOKEN = 'ghs_demoTokenNeverPrinted';
const ANALYSIS = `analysis:
  warmup: 1s
  interval: 5s
  duration: 6s
  failureLimit: 0
  checks:
    - targetHealth: { minHealthy: 2 }
    - cloudwatch: { metric: error-rate, max: 0.02, minRequests: 10 }
    - cloudwatch: { metric: latency-p99, max: 500ms, minRequests: 10 }
`;

interface Stage {
  web: WebService;
  github: FakeGitHub;
  aws: Record<string, string>;
  file(weights: { blue: number; green: number }): string;
}

interface GitHubEvent {
  name: string;
  payload: Record<string, unknown>;
  sha: string;
  ref: string;
}

/** The rollout action on one event. The sandbox serves CloudWatch data at 1 s, at once. */
function rollout(
  stage: Stage,
  command: string,
  event: GitHubEvent,
  inputs: Record<string, string> = {},
): Promise<Run> {
  return runBundle(
    'rollout',
    {
      command,
      'github-token': TOKEN,
      // The plan checks the analysis as apply will run it: against 1 s data here.
      ...(command === 'plan' || command === 'apply' ? { 'cloudwatch-period': '1s' } : {}),
      ...(command === 'apply' ? { 'cloudwatch-delay': '0s' } : {}),
      ...inputs,
    },
    { ...stage.aws, ...runnerEnv(stage.github, event) },
  );
}

async function liveWeights(web: WebService): Promise<string> {
  const all = await Promise.all(web.listenerArns.map((arn) => web.liveWeights(arn)));
  return all.map((w) => `${w.blue}/${w.green}`).join(', ');
}

function pull(stage: Stage, number: number) {
  const pr = stage.github.state.pulls.find((p) => p.number === number);
  if (!pr) throw new Error(`no PR #${number}`);
  return pr;
}

/** `plan` on the PR's pull_request event; shows the lines of its comment that matter. */
async function plan(stage: Stage, number: number): Promise<void> {
  const pr = pull(stage, number);
  say(bold(`\n[${elapsed()}] PR #${number} "${pr.title}": the rollout action plans it`));
  const run = await rollout(stage, 'plan', {
    name: 'pull_request',
    payload: pullRequestPayload(stage.github, number),
    sha: pr.headSha,
    ref: `refs/pull/${number}/merge`,
  });
  show(run, /^::error::/);
  const comment = stage.github.state.comments.find(
    (c) => c.issueNumber === number && c.body.includes('eks-cluster-canary plan'),
  );
  for (const line of (comment?.body ?? '').split('\n')) {
    if (/^(Base branch|\*\*Step|\*\*Drift|- [✅❌])/u.test(line)) say(`     │ ${line}`);
  }
  check(
    `the plan passes PR #${number} and comments on it`,
    run.exitCode === 0 && run.outputs.result === 'planned' && comment !== undefined,
    `exit ${run.exitCode}, result ${run.outputs.result}, ${comment ? `comment ${comment.id}` : 'no comment'}`,
  );
}

/** Merges the PR, then runs `apply` on the push, with the live view while it bakes. */
async function mergeAndApply(
  stage: Stage,
  number: number,
  inputs: Record<string, string>,
): Promise<Run> {
  const before = stage.github.state.refs.main as string;
  const after = stage.github.mergePullRequest(number);
  say(
    bold(
      `[${elapsed()}] merged (${before.slice(0, 7)}..${after.slice(0, 7)}): the rollout action applies it`,
    ),
  );
  const ticker = liveView(stage.web);
  const run = await rollout(
    stage,
    'apply',
    { name: 'push', payload: pushPayload(before, after), sha: after, ref: 'refs/heads/main' },
    { 'settle-seconds': '2', ...inputs },
  ).finally(() => clearInterval(ticker));
  show(
    run,
    /\(confirmed\)|^Interval|^Verdict|Reconcile PR|^::error::|: (applied|unchanged|rolled-back)\./,
  );
  return run;
}

/** Opens a PR that sets the file to `weights`, as a person would. */
function openPullRequest(stage: Stage, title: string, weights: { blue: number; green: number }) {
  const branch = title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  stage.github.commit(branch, { [PATH]: stage.file(weights) }, title);
  return stage.github.openPullRequest({ head: branch, title });
}

async function healthyPromotion(stage: Stage): Promise<void> {
  say(bold('\nPart 1: a healthy canary, one merged PR per step (steps: [10, 25, 50, 100])'));
  let number = openPullRequest(stage, 'web: green 10%', { blue: 90, green: 10 });
  for (const green of [10, 25, 50, 100]) {
    await plan(stage, number);
    const apply = await mergeAndApply(stage, number, { 'auto-advance': 'true' });
    const live = await liveWeights(stage.web);
    check(
      `apply shifts every route to blue ${100 - green}/green ${green} and verifies it`,
      apply.exitCode === 0 &&
        apply.outputs.result === 'applied' &&
        live === `${100 - green}/${green}, ${100 - green}/${green}`,
      `exit ${apply.exitCode}, result ${apply.outputs.result}, live ${live}`,
    );
    const deployment = stage.github.state.deployments.at(-1);
    check(
      'a deployment is recorded with status success',
      deployment?.statuses.at(-1)?.state === 'success',
      deployment ? `deployment ${deployment.id} to ${deployment.environment}` : 'none',
    );
    say(`   traffic, last 3 s: ${trafficLine(3000)}`);
    checkSplit(green, '1.32');
    const advance = stage.github.state.pulls.find(
      (p) => p.head === `rollout/${stage.web.name}/advance` && p.state === 'open',
    );
    if (green === 100) {
      check('at the last step no advance PR is opened', advance === undefined, 'none open');
      break;
    }
    check(
      'auto-advance opens the PR for the next step',
      advance !== undefined &&
        apply.outputs['pull-request'] === `https://github.com/acme/infra/pull/${advance.number}`,
      advance ? `#${advance.number} "${advance.title}"` : 'none',
    );
    if (!advance || apply.exitCode !== 0) return;
    number = advance.number;
  }
}

async function rollbackThenBadBuild(stage: Stage): Promise<void> {
  say(bold('\nPart 2: an emergency rollback to blue, then a bad build of green merged at 10%'));
  say(bold(`\n[${elapsed()}] workflow_dispatch: rollback ${PATH} to blue`));
  const main = stage.github.state.refs.main as string;
  const rollback = await rollout(
    stage,
    'rollback',
    {
      name: 'workflow_dispatch',
      payload: dispatchPayload({ file: PATH, to: 'blue' }),
      sha: main,
      ref: 'refs/heads/main',
    },
    { file: PATH, to: 'blue' },
  );
  show(rollback, /\(confirmed\)|Reconcile PR|^::error::/);
  const reconcile = stage.github.state.pulls.find(
    (p) => p.head === `rollout/${stage.web.name}/reconcile` && p.state === 'open',
  );
  check(
    'rollback moves every route to blue at once and opens the reconcile PR',
    rollback.exitCode === 0 &&
      (await liveWeights(stage.web)) === '100/0, 100/0' &&
      reconcile !== undefined,
    reconcile ? `#${reconcile.number} "${reconcile.title}"` : 'no PR',
  );
  if (!reconcile) return;
  const merged = await mergeAndApply(stage, reconcile.number, {});
  check(
    'merging the reconcile PR changes nothing on the ALB',
    merged.exitCode === 0 && merged.outputs.result === 'unchanged',
    `result ${merged.outputs.result}`,
  );

  say(bold(`\n[${elapsed()}] green gets a bad build: 30% of its requests fail`));
  for (const app of stage.web.apps.green ?? []) app.setBehaviour({ errorRate: 0.3 });
  const number = openPullRequest(stage, 'web: green 10% again', { blue: 90, green: 10 });
  await plan(stage, number);
  const startedAt = Date.now();
  const apply = await mergeAndApply(stage, number, {});
  check(
    'apply fails the job and reports rolled-back',
    apply.exitCode === 1 && apply.outputs.result === 'rolled-back',
    `exit ${apply.exitCode}, result ${apply.outputs.result}, ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
  );
  const live = await liveWeights(stage.web);
  check('every route is back at blue 100/green 0', live === '100/0, 100/0', `live ${live}`);
  const pr = stage.github.state.pulls.find(
    (p) => p.head === `rollout/${stage.web.name}/reconcile` && p.state === 'open',
  );
  check(
    'a reconcile PR sets the file back to blue 100/green 0, naming the failed check with its numbers',
    pr !== undefined &&
      /error-rate of green \d+(\.\d+)?% > 2%/.test(pr.title) &&
      stage.github.fileAt(pr.head, PATH) === stage.file({ blue: 100, green: 0 }) &&
      apply.outputs['pull-request'] === `https://github.com/acme/infra/pull/${pr.number}`,
    pr ? `#${pr.number}` : 'none opened',
  );
  if (pr) {
    say(`   reconcile PR #${pr.number}: ${pr.title}`);
    for (const line of (pr.body ?? '').split('\n').slice(0, 8)) say(`     │ ${line}`);
  }
  const comment = stage.github.state.comments.find(
    (c) => c.issueNumber === number && c.body.includes('rolled back'),
  );
  check(
    'the merged PR gets a comment that says it was rolled back',
    comment !== undefined,
    comment ? `comment ${comment.id}` : 'none',
  );
  // The restore is not followed by a settle wait (every second counts), and the sandbox ALB,
  // like a real one, takes a moment (1 s here) to apply a weight change. The window below holds
  // whole seconds only, all after that.
  await new Promise((r) => setTimeout(r, PROPAGATION_MS + 4200));
  say(`   traffic, last 3 s: ${trafficLine(3000)}`);
  checkSplit(0, '1.32');
}

/** Every 2 s while a step bakes: the weights the ALB API reports and the traffic seen. */
function liveView(web: WebService): NodeJS.Timeout {
  return setInterval(() => {
    void web
      .liveWeights(web.listenerArns[0] as string)
      .then((w) =>
        say(`     live  ALB blue ${w.blue}/green ${w.green}  traffic ${trafficLine(2000)}`),
      );
  }, 2000);
}

/**
 * The share of traffic green got over the last 3 s is the weight, give or take sampling noise:
 * each request goes to green with probability weight/100, so the share is binomial and stays
 * within 4 standard deviations of the weight except about once in 15,000 checks. A weight
 * strictly between 0 and 100 must also have sent green something, however few requests came.
 */
function checkSplit(greenWeight: number, version: string): void {
  const t = traffic(3000);
  const total = Object.values(t).reduce((a, c) => a + c.requests, 0);
  const share = total === 0 ? 0 : (100 * (t[version]?.requests ?? 0)) / total;
  const partial = greenWeight > 0 && greenWeight < 100;
  const tolerance = partial ? 4 * Math.sqrt((greenWeight * (100 - greenWeight)) / total) : 0;
  check(
    `the data plane sends ${greenWeight}% to green`,
    total > 0 && (!partial || share > 0) && Math.abs(share - greenWeight) <= tolerance,
    `observed ${share.toFixed(1)}% of ${total} requests, allowed ${greenWeight}% ± ${tolerance.toFixed(1)}`,
  );
}

async function main(): Promise<void> {
  say(bold('eks-cluster-canary demo: the rollout action, PR by PR, against the local sandbox'));
  const sandbox = await startSandbox({
    healthCheckTimeScale: 0.05,
    propagationDelayMs: PROPAGATION_MS,
  });
  const web = await createWebService(sandbox, {
    clusters: [
      { name: 'blue', version: '1.31', instances: 2 },
      { name: 'green', version: '1.32', instances: 2 },
    ],
    extraListeners: 1,
  });
  const file = (w: { blue: number; green: number }): string =>
    `# web: blue runs Kubernetes 1.31, green 1.32\n${web.rolloutFile(w, ANALYSIS)}`;
  const github = await startFakeGitHub({
    owner: 'acme',
    repo: 'infra',
    token: TOKEN,
    files: { [PATH]: file({ blue: 100, green: 0 }) },
  });
  const stage: Stage = { web, github, aws: sandbox.env, file };
  say(
    `sandbox at ${sandbox.endpoint}; ALB "${web.name}" with 2 listeners forwarding to blue (1.31) and green (1.32), 2 pods each`,
  );
  say(`GitHub stand-in at ${github.url}: acme/infra holds ${PATH} at blue 100 / green 0`);
  say(`traffic goes to ${web.url} at 60 req/s; step summaries and reports are in ${work}`);
  const load = generateLoad(web.url, 60);
  await new Promise((r) => setTimeout(r, 3000));
  say(`   traffic, last 2 s: ${trafficLine(2000)}`);

  try {
    await healthyPromotion(stage);
    await rollbackThenBadBuild(stage);
  } finally {
    loadRunning = false;
    await load;
    await web.close();
    await github.close();
    await sandbox.close();
  }

  const failed = results.filter((r) => !r.ok);
  say(
    bold(
      `\n${results.length - failed.length} of ${results.length} checks passed in ${elapsed().trim()}.`,
    ),
  );
  if (failed.length > 0) {
    for (const f of failed) say(`FAILED: ${f.claim} (${f.detail})`);
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
