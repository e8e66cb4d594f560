/**
 * What both demos share (`npm run demo`, sandbox/demo.ts, and `npm run demo:migration`,
 * sandbox/demo-migration.ts): a reporter that prints each claim with its check and counts them,
 * a load generator that sends steady traffic through the sandbox ALB and counts the answers per
 * app version each second, the binomial check of a traffic split, and running an action's
 * bundle exactly as the runner does (`node dist/<name>/index.js` with INPUT_*, GITHUB_OUTPUT,
 * GITHUB_STEP_SUMMARY).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pullRequestPayload, pushPayload, runnerEnv } from './github/events.js';
import type { FakeGitHub, PullRequestState } from './github/server.js';
import type { WebService } from './scenario.js';

export interface CheckResult {
  claim: string;
  ok: boolean;
  detail: string;
}

/** Prints what happens and each claim with its check; `finish` says how many held. */
export class Reporter {
  readonly started = Date.now();
  readonly results: CheckResult[] = [];

  say(line = ''): void {
    console.log(line);
  }

  bold(s: string): string {
    return process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s;
  }

  /** Seconds since the start, right-aligned: `  42s`. */
  elapsed(): string {
    return `${((Date.now() - this.started) / 1000).toFixed(0).padStart(3)}s`;
  }

  check(claim: string, ok: boolean, detail: string): boolean {
    this.results.push({ claim, ok, detail });
    this.say(`   ${ok ? 'ok  ' : 'FAIL'} ${claim} (${detail})`);
    return ok;
  }

  /** The closing line; sets a non-zero exit code when any check failed. */
  finish(): void {
    const failed = this.results.filter((r) => !r.ok);
    this.say(
      this.bold(
        `\n${this.results.length - failed.length} of ${this.results.length} checks passed in ${this.elapsed().trim()}.`,
      ),
    );
    if (failed.length > 0) {
      for (const f of failed) this.say(`FAILED: ${f.claim} (${f.detail})`);
      process.exitCode = 1;
    }
  }
}

export interface VersionCount {
  requests: number;
  errors: number;
}

/** A request that got no HTTP answer at all (connection refused or reset) is counted here. */
export const NO_ANSWER = 'no answer';

/**
 * A steady load through the ALB, counted per app version (the `x-app-version` header; an answer
 * from the ALB itself is `ALB <status>`) in whole seconds.
 */
export class LoadGenerator {
  readonly seconds: { at: number; byVersion: Record<string, VersionCount> }[] = [];
  private running = false;
  private done: Promise<void> = Promise.resolve();

  start(url: string, perSecond: number): void {
    this.running = true;
    this.done = this.generate(url, perSecond);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  private async generate(url: string, perSecond: number): Promise<void> {
    const gap = 1000 / perSecond;
    let next = Date.now();
    const inFlight = new Set<Promise<void>>();
    while (this.running) {
      const request = fetch(url)
        .then(async (res) => {
          await res.arrayBuffer();
          this.record(res.headers.get('x-app-version') ?? `ALB ${res.status}`, res.status >= 500);
        })
        .catch(() => this.record(NO_ANSWER, true))
        .finally(() => inFlight.delete(request));
      inFlight.add(request);
      next += gap;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    await Promise.all(inFlight);
  }

  private record(version: string, failed: boolean): void {
    const at = Math.floor(Date.now() / 1000) * 1000;
    let second = this.seconds.at(-1);
    if (!second || second.at !== at) this.seconds.push((second = { at, byVersion: {} }));
    const v = (second.byVersion[version] ??= { requests: 0, errors: 0 });
    v.requests++;
    if (failed) v.errors++;
  }

  /** Requests and errors per version in the whole seconds of [from, to). */
  between(from: number, to: number): Record<string, VersionCount> {
    const out: Record<string, VersionCount> = {};
    for (const s of this.seconds.filter((s) => s.at >= from && s.at < to)) {
      for (const [v, c] of Object.entries(s.byVersion)) {
        const o = (out[v] ??= { requests: 0, errors: 0 });
        o.requests += c.requests;
        o.errors += c.errors;
      }
    }
    return out;
  }

  /** Requests and errors per version over the last `ms` (whole seconds only). */
  last(ms: number): Record<string, VersionCount> {
    const now = Math.floor(Date.now() / 1000) * 1000;
    return this.between(now - ms, now);
  }

  /** `1.31:  90% of traffic, 54 req/s, 0.0% errors | 1.32: …` over the last `ms`. */
  line(ms: number): string {
    const t = this.last(ms);
    const total = Object.values(t).reduce((a, c) => a + c.requests, 0) || 1;
    return Object.entries(t)
      .sort()
      .map(
        ([v, c]) =>
          `${v}: ${((100 * c.requests) / total).toFixed(0).padStart(3)}% of traffic, ${(c.requests / (ms / 1000)).toFixed(0)} req/s, ${((100 * c.errors) / Math.max(1, c.requests)).toFixed(1)}% errors`,
      )
      .join(' | ');
  }
}

/** Sums a per-version count into totals. */
export function totals(t: Record<string, VersionCount>): VersionCount {
  return Object.values(t).reduce(
    (a, c) => ({ requests: a.requests + c.requests, errors: a.errors + c.errors }),
    { requests: 0, errors: 0 },
  );
}

/**
 * The share of traffic the canary's version got over the last 3 s is its weight, give or take
 * sampling noise: each request goes to the canary with probability weight/100, so the share is
 * binomial and stays within 4 standard deviations of the weight except about once in 15,000
 * checks. A weight strictly between 0 and 100 must also have sent the canary something, however
 * few requests came.
 */
export function checkSplit(
  reporter: Reporter,
  load: LoadGenerator,
  weight: number,
  version: string,
  canary = 'green',
): boolean {
  const t = load.last(3000);
  const total = totals(t).requests;
  const share = total === 0 ? 0 : (100 * (t[version]?.requests ?? 0)) / total;
  const partial = weight > 0 && weight < 100;
  const tolerance = partial ? 4 * Math.sqrt((weight * (100 - weight)) / total) : 0;
  return reporter.check(
    `the data plane sends ${weight}% to ${canary}`,
    total > 0 && (!partial || share > 0) && Math.abs(share - weight) <= tolerance,
    `observed ${share.toFixed(1)}% of ${total} requests, allowed ${weight}% ± ${tolerance.toFixed(1)}`,
  );
}

export interface BundleRun {
  exitCode: number | null;
  outputs: Record<string, string>;
  log: string;
}

/**
 * Runs `node dist/<name>/index.js` as the runner does: inputs as INPUT_<NAME>, the outputs and
 * summary files in `work`, and only the environment given (plus PATH and RUNNER_TEMP).
 */
export function runBundle(
  work: string,
  name: string,
  inputs: Record<string, string>,
  env: Record<string, string>,
): Promise<BundleRun> {
  const stamp = `${Date.now()}-${Math.random().toString(36).slice(2, 6)}`;
  const outputFile = join(work, `${name}-${stamp}.out`);
  const summaryFile = join(work, `${name}-${stamp}.md`);
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
  return new Promise((resolveRun, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode) => {
      const outputs: Record<string, string> = {};
      const text = readFileSync(outputFile, 'utf8');
      for (const m of text.matchAll(/^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm))
        outputs[m[1] as string] = m[3] as string;
      resolveRun({ exitCode, outputs, log });
    });
  });
}

/** Prints the log lines worth showing: our info lines and errors, without group markers or debug. */
export function show(reporter: Reporter, run: BundleRun, match: RegExp): void {
  for (const line of run.log.split('\n')) {
    if (match.test(line))
      reporter.say(
        `     │ ${line
          .replace(/^::(error|warning)[^:]*::/, '$1: ')
          .replace(/%0A/g, ' ')
          .replace(/%25/g, '%')}`,
      );
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- the rollout action on pull requests and merges, against the GitHub stand-in ------------

/** How long the sandbox ALB takes to apply a weight change, like a real ALB's propagation. */
export const PROPAGATION_MS = 1000;
export const DEMO_TOKEN = 'ghs_demoTokenNeverPrinted';
/**
 * The demos' analysis: short, so a step bakes in seconds (a real one bakes for minutes on
 * 1-minute CloudWatch data): 1 s warmup, 5 s intervals, 6 s in all, no failure allowed.
 */
export const DEMO_ANALYSIS = `analysis:
  warmup: 1s
  interval: 5s
  duration: 6s
  failureLimit: 0
  checks:
    - targetHealth: { minHealthy: 2 }
    - cloudwatch: { metric: error-rate, max: 0.02, minRequests: 10 }
    - cloudwatch: { metric: latency-p99, max: 500ms, minRequests: 10 }
`;

/** What the rollout helpers below need: where to print, the traffic, GitHub, AWS, the ALB. */
export interface RolloutDemo {
  reporter: Reporter;
  load: LoadGenerator;
  /** Where outputs, summaries and reports are written (RUNNER_TEMP). */
  work: string;
  web: WebService;
  github: FakeGitHub;
  /** The sandbox's AWS environment. */
  aws: Record<string, string>;
}

export interface GitHubEvent {
  name: string;
  payload: Record<string, unknown>;
  sha: string;
  ref: string;
}

/** The rollout action on one event. The sandbox serves CloudWatch data at 1 s, at once. */
export function rollout(
  demo: RolloutDemo,
  command: string,
  event: GitHubEvent,
  inputs: Record<string, string> = {},
): Promise<BundleRun> {
  return runBundle(
    demo.work,
    'rollout',
    {
      command,
      'github-token': DEMO_TOKEN,
      // The plan checks the analysis as apply will run it: against 1 s data here.
      ...(command === 'plan' || command === 'apply' ? { 'cloudwatch-period': '1s' } : {}),
      ...(command === 'apply' ? { 'cloudwatch-delay': '0s' } : {}),
      ...inputs,
    },
    { ...demo.aws, ...runnerEnv(demo.github, event) },
  );
}

/** `blue/green` of every route, e.g. `90/10, 90/10`. */
export async function liveWeights(web: WebService): Promise<string> {
  const all = await Promise.all(web.listenerArns.map((arn) => web.liveWeights(arn)));
  return all.map((w) => `${w.blue}/${w.green}`).join(', ');
}

export function pull(demo: RolloutDemo, number: number): PullRequestState {
  const pr = demo.github.state.pulls.find((p) => p.number === number);
  if (!pr) throw new Error(`no PR #${number}`);
  return pr;
}

/** Commits `files` on a branch named after the title and opens a PR for it, as a person would. */
export function openPullRequest(
  demo: RolloutDemo,
  title: string,
  files: Record<string, string | null>,
): number {
  const branch = title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  demo.github.commit(branch, files, title);
  return demo.github.openPullRequest({ head: branch, title });
}

/** The comment lines a plan shows by default: base, step, drift and each check. */
export const PLAN_LINES = /^(Base branch|\*\*Step|\*\*Drift|- [✅❌])/u;

/** `plan` on the PR's pull_request event; shows the lines of its comment that matter. */
export async function plan(
  demo: RolloutDemo,
  number: number,
  lines: RegExp = PLAN_LINES,
): Promise<BundleRun> {
  const { reporter } = demo;
  const pr = pull(demo, number);
  reporter.say(
    reporter.bold(
      `\n[${reporter.elapsed()}] PR #${number} "${pr.title}": the rollout action plans it`,
    ),
  );
  const run = await rollout(demo, 'plan', {
    name: 'pull_request',
    payload: pullRequestPayload(demo.github, number),
    sha: pr.headSha,
    ref: `refs/pull/${number}/merge`,
  });
  show(reporter, run, /^::error::/);
  const comment = demo.github.state.comments.find(
    (c) => c.issueNumber === number && c.body.includes('eks-cluster-canary plan'),
  );
  for (const line of (comment?.body ?? '').split('\n')) {
    if (lines.test(line)) reporter.say(`     │ ${line}`);
  }
  reporter.check(
    `the plan passes PR #${number} and comments on it`,
    run.exitCode === 0 && run.outputs.result === 'planned' && comment !== undefined,
    `exit ${run.exitCode}, result ${run.outputs.result}, ${comment ? `comment ${comment.id}` : 'no comment'}`,
  );
  return run;
}

/** The apply log lines worth showing. */
export const APPLY_LINES =
  /\(confirmed\)|^Interval|^Verdict|Reconcile PR|^::error::|: (applied|unchanged|rolled-back)\./;

/** Merges the PR, then runs `apply` on the push, with the live view while it bakes. */
export async function mergeAndApply(
  demo: RolloutDemo,
  number: number,
  inputs: Record<string, string>,
  lines: RegExp = APPLY_LINES,
): Promise<BundleRun> {
  const { reporter } = demo;
  const before = demo.github.state.refs.main as string;
  const after = demo.github.mergePullRequest(number);
  reporter.say(
    reporter.bold(
      `[${reporter.elapsed()}] merged (${before.slice(0, 7)}..${after.slice(0, 7)}): the rollout action applies it`,
    ),
  );
  const ticker = liveView(demo);
  const run = await rollout(
    demo,
    'apply',
    { name: 'push', payload: pushPayload(before, after), sha: after, ref: 'refs/heads/main' },
    { 'settle-seconds': '2', ...inputs },
  ).finally(() => clearInterval(ticker));
  show(reporter, run, lines);
  return run;
}

/** Every 2 s while a step bakes: the weights the ALB API reports and the traffic seen. */
export function liveView(demo: RolloutDemo): NodeJS.Timeout {
  const { web, reporter, load } = demo;
  return setInterval(() => {
    void web
      .liveWeights(web.listenerArns[0] as string)
      .then((w) =>
        reporter.say(`     live  ALB blue ${w.blue}/green ${w.green}  traffic ${load.line(2000)}`),
      );
  }, 2000);
}
