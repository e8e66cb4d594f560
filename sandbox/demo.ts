/**
 * `npm run demo`: a canary rollout on the local sandbox, driven by the real action bundles in
 * dist/ exactly as a GitHub runner runs them (node dist/<action>/index.js with INPUT_*,
 * GITHUB_OUTPUT and GITHUB_STEP_SUMMARY).
 *
 * Part 1 promotes a healthy green cluster through every step of the rollout file; part 2 merges
 * a PR that gives a bad build of green 10%, and the rollout action (apply, on the push event,
 * against a local stand-in of GitHub's API) catches it, rolls it back and opens the PR that puts
 * the file back to the live weights. Every claim
 * it prints is checked against what happened (ALB weights read back, traffic observed through
 * the ALB's data plane), and it exits non-zero if any check fails.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSandbox } from './index.js';
import { startFakeGitHub } from './github/server.js';
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

// ---- the rollout ---------------------------------------------------------------------------
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

async function step(
  web: WebService,
  env: Record<string, string>,
  from: Record<string, number>,
  to: Record<string, number>,
  /** A canary step moves at most 50 points; going back toward the baseline may jump (null). */
  maxStep: string | null = '50',
  bake = true,
): Promise<{ applied: boolean; healthy: boolean }> {
  const file = join(work, 'rollouts', `${web.name}.yaml`);
  writeFileSync(file, web.rolloutFile(to, ANALYSIS));
  say(
    bold(
      `\n[${elapsed()}] shift-weight: blue ${from.blue}/green ${from.green} -> blue ${to.blue}/green ${to.green}`,
    ),
  );
  const shift = await runBundle(
    'shift-weight',
    {
      file,
      expect: `${web.targetGroups.blue}=${from.blue}\n${web.targetGroups.green}=${from.green}`,
      ...(maxStep !== null ? { 'max-step': maxStep } : {}),
      'settle-seconds': '2',
    },
    env,
  );
  show(shift, /\(confirmed\)|^::error/);
  const live = await Promise.all([...web.listenerArns].map((arn) => web.liveWeights(arn)));
  check(
    `every route reads back blue ${to.blue}/green ${to.green}`,
    shift.exitCode === 0 && live.every((w) => w.blue === to.blue && w.green === to.green),
    `exit ${shift.exitCode}, live ${live.map((w) => `${w.blue}/${w.green}`).join(', ')}`,
  );
  if (!bake) return { applied: shift.exitCode === 0, healthy: true };
  say(bold(`[${elapsed()}] verify-health since ${shift.outputs['applied-at']}`));
  const ticker = liveView(web);
  const run = runBundle(
    'verify-health',
    {
      file,
      since: shift.outputs['applied-at'] ?? new Date().toISOString(),
      'cloudwatch-period': '1s',
      'cloudwatch-delay': '0s',
      'fail-on-unhealthy': 'false',
    },
    env,
  );
  const verify = await run.finally(() => clearInterval(ticker));
  show(verify, /^(Interval|Verdict|::error)|: (pass|FAIL|inconclusive)/);
  say(`   traffic, last 3 s: ${trafficLine(3000)}`);
  return {
    applied: shift.exitCode === 0,
    healthy: verify.exitCode === 0 && verify.outputs.healthy === 'true',
  };
}

/** Every 2 s while verify-health bakes: the weights the ALB API reports and the traffic seen. */
function liveView(web: WebService): NodeJS.Timeout {
  return setInterval(() => {
    void web
      .liveWeights(web.listenerArns[0] as string)
      .then((w) =>
        say(`     live  ALB blue ${w.blue}/green ${w.green}  traffic ${trafficLine(2000)}`),
      );
  }, 2000);
}

/** The share of traffic green got over the last 3 s is the weight, give or take sampling noise. */
function checkSplit(greenWeight: number, version: string): void {
  const t = traffic(3000);
  const total = Object.values(t).reduce((a, c) => a + c.requests, 0);
  const share = total === 0 ? 0 : (100 * (t[version]?.requests ?? 0)) / total;
  const tolerance = greenWeight === 0 || greenWeight === 100 ? 0 : 12;
  check(
    `the data plane sends ${greenWeight}% to green`,
    total > 0 && Math.abs(share - greenWeight) <= tolerance,
    `observed ${share.toFixed(1)}% of ${total} requests`,
  );
}

// ---- part 2: the rollout action's apply on a merged PR, against a local GitHub ---------------
const PATH = 'rollouts/web.yaml';
const TOKEN = 'ghs_demoToken';

/**
 * The repository holds rollouts/web.yaml at blue 100 / green 0; a PR sets green to 10 and is
 * merged. The rollout action runs on that push exactly as the runner runs it: it shifts, the
 * analysis catches the bad canary, it restores blue 100 / green 0, opens the reconcile PR and
 * comments on the merged PR. Each of those is checked against the fake GitHub and the ALB.
 */
async function badCanaryMerged(web: WebService, env: Record<string, string>): Promise<void> {
  const file = (w: Record<string, number>): string =>
    `# web: blue 1.31 -> green 1.32\n${web.rolloutFile(w, ANALYSIS)}`;
  const github = await startFakeGitHub({
    owner: 'acme',
    repo: 'infra',
    token: TOKEN,
    files: { [PATH]: file({ blue: 100, green: 0 }) },
  });
  try {
    const before = github.state.refs.main as string;
    github.commit('canary-10', { [PATH]: file({ blue: 90, green: 10 }) }, 'web: green 10%');
    const number = github.openPullRequest({ head: 'canary-10', title: 'web: green 10%' });
    const after = github.mergePullRequest(number);
    say(
      bold(
        `\n[${elapsed()}] PR #${number} "web: green 10%" merged; the rollout action applies it (push ${before.slice(0, 7)}..${after.slice(0, 7)})`,
      ),
    );
    const repository = {
      name: 'infra',
      full_name: 'acme/infra',
      owner: { login: 'acme' },
      default_branch: 'main',
    };
    const eventPath = join(work, 'push.json');
    writeFileSync(
      eventPath,
      JSON.stringify({
        ref: 'refs/heads/main',
        before,
        after,
        created: false,
        deleted: false,
        forced: false,
        repository,
        pusher: { name: 'octocat' },
      }),
    );
    const ticker = liveView(web);
    const startedAt = Date.now();
    const apply = await runBundle(
      'rollout',
      {
        command: 'apply',
        'github-token': TOKEN,
        'cloudwatch-period': '1s',
        'cloudwatch-delay': '0s',
        'settle-seconds': '2',
      },
      {
        ...env,
        GITHUB_EVENT_NAME: 'push',
        GITHUB_EVENT_PATH: eventPath,
        GITHUB_REPOSITORY: 'acme/infra',
        GITHUB_SHA: after,
        GITHUB_REF: 'refs/heads/main',
        GITHUB_API_URL: github.url,
        GITHUB_RUN_ID: '1',
        GITHUB_WORKSPACE: work,
      },
    ).finally(() => clearInterval(ticker));
    show(apply, /\(confirmed\)|^Interval|: (pass|FAIL)|^Rolling back|Reconcile PR|^::error::/);
    const live = await Promise.all(web.listenerArns.map((arn) => web.liveWeights(arn)));
    check(
      'apply fails the job and reports rolled-back',
      apply.exitCode === 1 && apply.outputs.result === 'rolled-back',
      `exit ${apply.exitCode}, result ${apply.outputs.result}, ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );
    check(
      'every route is back at blue 100/green 0',
      live.every((w) => w.blue === 100 && w.green === 0),
      `live ${live.map((w) => `${w.blue}/${w.green}`).join(', ')}`,
    );
    const reconcile = github.state.pulls.find((p) => p.head === `rollout/${web.name}/reconcile`);
    const reconciled = reconcile ? github.fileAt(reconcile.head, PATH) : undefined;
    check(
      'a reconcile PR sets the file back to blue 100/green 0, naming the failed check with its numbers',
      reconcile !== undefined &&
        /error-rate of green \d+(\.\d+)?% > 2%/.test(reconcile.title) &&
        reconciled === file({ blue: 100, green: 0 }) &&
        apply.outputs['pull-request'] === `https://github.com/acme/infra/pull/${reconcile.number}`,
      reconcile ? `#${reconcile.number}` : 'none opened',
    );
    if (reconcile) {
      say(`   reconcile PR #${reconcile.number}: ${reconcile.title}`);
      for (const line of (reconcile.body ?? '').split('\n').slice(0, 14)) say(`     │ ${line}`);
    }
    const comment = github.state.comments.find((c) => c.issueNumber === number);
    check(
      'the merged PR gets a comment that says it was rolled back',
      comment?.body.includes('rolled back') === true,
      comment ? `comment ${comment.id}` : 'none',
    );
  } finally {
    await github.close();
  }
}

async function main(): Promise<void> {
  say(bold('eks-cluster-canary demo: the real action bundles against the local sandbox'));
  const sandbox = await startSandbox({ healthCheckTimeScale: 0.05, propagationDelayMs: 1000 });
  const web = await createWebService(sandbox, {
    clusters: [
      { name: 'blue', version: '1.31', instances: 2 },
      { name: 'green', version: '1.32', instances: 2 },
    ],
    extraListeners: 1,
  });
  mkdirSync(join(work, 'rollouts'), { recursive: true });
  const env = sandbox.env;
  say(
    `sandbox at ${sandbox.endpoint}; ALB "${web.name}" with 2 listeners forwarding to blue (1.31) and green (1.32), 2 pods each`,
  );
  say(`traffic goes to ${web.url} at 60 req/s; the rollout file and summaries are in ${work}`);
  const load = generateLoad(web.url, 60);
  await new Promise((r) => setTimeout(r, 3000));
  say(`   traffic, last 2 s: ${trafficLine(2000)}`);

  try {
    say(bold('\nPart 1: a healthy canary, promoted step by step (steps: [10, 25, 50, 100])'));
    let from = { blue: 100, green: 0 };
    for (const green of [10, 25, 50, 100]) {
      const to = { blue: 100 - green, green };
      const { applied, healthy } = await step(web, env, from, to);
      if (applied) from = to;
      check(`verify-health passes green at ${green}%`, healthy, healthy ? 'healthy' : 'unhealthy');
      checkSplit(green, '1.32');
      if (!applied || !healthy) break;
    }

    say(
      bold(
        '\nPart 2: a bad build, merged as a PR. Back to blue 100, then green (1.32) starts failing 30% of requests',
      ),
    );
    if ((await step(web, env, from, { blue: 100, green: 0 }, null, false)).applied) {
      from = { blue: 100, green: 0 };
    }
    for (const app of web.apps.green ?? []) app.setBehaviour({ errorRate: 0.3 });
    await badCanaryMerged(web, env);
    // The window below holds whole seconds only, all after the rollback was confirmed and settled.
    await new Promise((r) => setTimeout(r, 4200));
    say(`   traffic, last 3 s: ${trafficLine(3000)}`);
    checkSplit(0, '1.32');
  } finally {
    loadRunning = false;
    await load;
    await web.close();
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
