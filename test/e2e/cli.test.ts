/**
 * The CLI bundle (`dist/cli/index.js`, the package's bin) against the sandbox, in a throwaway
 * git repository holding a rollout file: the same gates and restores as the actions, without
 * GitHub. Needs `npm run bundle` first.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createWebService, sendTraffic, type WebService } from '../../sandbox/scenario.js';
import { parseRolloutFile } from '../../src/rollout-file/index.js';
import { CLI_BUNDLE, runCli, type CliOptions, type CliRun } from './cli-harness.js';

const BUNDLE = CLI_BUNDLE;
const PATH = 'rollouts/web.yaml';

let sandbox: Sandbox;
const services: WebService[] = [];
let seq = 0;

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "npm run bundle" first.`);
  sandbox = await startSandbox({ healthCheckTimeScale: 0.05 });
});
afterAll(async () => {
  await Promise.all(services.map((s) => s.close()));
  await sandbox?.close();
});

function cli(
  cwd: string,
  args: string[],
  onStart?: CliOptions['onStart'],
  onLine?: CliOptions['onLine'],
): Promise<CliRun> {
  return runCli(args, {
    cwd,
    env: sandbox.env,
    ...(onStart ? { onStart } : {}),
    ...(onLine ? { onLine } : {}),
  });
}

/** A repository whose last commit holds the file at `committed`; the worktree as given. */
async function repoWith(
  live: Record<string, number>,
  analysis: (web: WebService) => string = () => '',
): Promise<{
  dir: string;
  web: WebService;
  write(w: Record<string, number>): void;
  live(): Promise<string[]>;
}> {
  const web = await createWebService(sandbox, {
    name: `cli${++seq}`,
    weights: live,
    extraListeners: 1,
  });
  services.push(web);
  const dir = mkdtempSync(join(tmpdir(), 'ecc-cli-'));
  mkdirSync(join(dir, 'rollouts'));
  const write = (w: Record<string, number>): void =>
    writeFileSync(join(dir, PATH), web.rolloutFile(w, analysis(web)));
  write(live);
  const git = (...args: string[]): string =>
    execFileSync('git', args, { cwd: dir, encoding: 'utf8' });
  git('init', '-q');
  git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'add', '.');
  git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'rollout file');
  return {
    dir,
    web,
    write,
    live: async () =>
      (await Promise.all(web.listenerArns.map((a) => web.liveWeights(a)))).map(
        (w) => `${w.blue}/${w.green}`,
      ),
  };
}

const HTTP = (web: WebService): string => `analysis:
  warmup: 0s
  interval: 1s
  duration: 1s
  checks:
    - targetHealth: { minHealthy: 1 }
    - http: { url: "${web.apps.green?.[0]?.url}/", expectStatus: 200 }
`;
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

/** The last step `status --json` shows for the file: read from the tags on its routes. */
async function lastStep(dir: string): Promise<LastStepJson | null | undefined> {
  const out = await cli(dir, ['status', '--json']);
  expect(out.code, out.stderr).toBe(0);
  const [file] = JSON.parse(out.stdout) as { lastStep?: LastStepJson | null }[];
  return file?.lastStep;
}

const BY_CLI = expect.stringMatching(/^cli:[^ ]+@[^ ]+$/);

const TIMING = ['--cloudwatch-period', '1s', '--cloudwatch-delay', '0s', '--settle', '0s'];

describe.concurrent('eks-cluster-canary CLI', () => {
  it('prints help for every command and refuses an unknown one with exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ecc-cli-'));
    const all = await cli(dir, ['--help']);
    expect(all.code).toBe(0);
    for (const c of [
      'status',
      'plan',
      'apply',
      'rollback',
      'advance',
      'handoff',
      'create-cluster',
      'sync',
      'retire',
      'token',
    ]) {
      expect(all.stdout).toContain(`${c} `);
      const one = await cli(dir, [c, '--help']);
      expect(one.code).toBe(0);
      expect(one.stdout).toMatch(new RegExp(`^eks-cluster-canary ${c} `));
    }
    const bad = await cli(dir, ['deploy']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      'Unknown command "deploy". Commands: status, plan, apply, rollback, advance, handoff, create-cluster, sync, retire, token.',
    );
    const badFlag = await cli(dir, ['apply', '--frobnicate']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("Unknown option '--frobnicate'");
  });

  it('status shows live weights, drift and target health; --json gives the same as data', async () => {
    const r = await repoWith({ blue: 90, green: 10 });
    r.write({ blue: 75, green: 25 });
    const text = await cli(r.dir, ['status']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(
      `rollouts/web.yaml (${r.web.name}, ${sandbox.region}): file blue 75 / green 25, canary green, owner blue`,
    );
    expect(text.stdout).toContain('uncommitted: the last commit says blue 90 / green 10');
    expect(text.stdout).toMatch(/live blue 90 \/ green 10 {2}DRIFT/);
    expect(text.stdout).toMatch(/ {2}green: 2 healthy, 0 unhealthy/);
    const json = await cli(r.dir, ['status', '--json']);
    const [file] = JSON.parse(json.stdout) as {
      path: string;
      routes: { weights: Record<string, number>; drift: boolean }[];
    }[];
    expect(file?.path).toBe(PATH);
    expect(file?.routes.map((x) => x.weights)).toEqual([
      { blue: 90, green: 10 },
      { blue: 90, green: 10 },
    ]);
    expect(file?.routes.every((x) => x.drift)).toBe(true);
    // No step has run on these routes yet.
    expect(text.stdout).toContain('  last step: none recorded on the routes');
    expect((JSON.parse(json.stdout) as { lastStep: unknown }[])[0]?.lastStep).toBeNull();
  });

  it('status --watch shows the live traffic split and error rate per cluster until Ctrl-C', async () => {
    const r = await repoWith({ blue: 50, green: 50 });
    for (const app of r.web.apps.green ?? []) app.setBehaviour({ errorRate: 0.5 });
    let sending = true;
    const traffic = (async () => {
      while (sending) await sendTraffic(r.web.url, 20, 4);
    })();
    const frames: {
      files: { traffic?: Record<string, { requests: number; errorRate?: number }> }[];
    }[] = [];
    const out = await cli(
      r.dir,
      ['status', '--watch', '--json', '--interval', '1s', '--window', '10s'],
      (kill) => {
        const deadline = Date.now() + 20_000;
        const poll = setInterval(() => {
          const t = frames.at(-1)?.files[0]?.traffic;
          if (
            (t && (t.blue?.requests ?? 0) >= 20 && (t.green?.requests ?? 0) >= 20) ||
            Date.now() > deadline
          ) {
            clearInterval(poll);
            kill('SIGINT');
          }
        }, 100);
      },
      (line) => frames.push(JSON.parse(line) as (typeof frames)[number]),
    );
    sending = false;
    await traffic;
    expect(out.code, out.stderr).toBe(0);
    const last = frames.at(-1)?.files[0]?.traffic;
    expect(last?.blue?.requests).toBeGreaterThanOrEqual(20);
    expect(last?.green?.requests).toBeGreaterThanOrEqual(20);
    // Blue serves cleanly; half of green's answers are 5xx.
    expect(last?.blue?.errorRate).toBe(0);
    expect(last?.green?.errorRate).toBeGreaterThan(0.3);
    expect(last?.green?.errorRate).toBeLessThan(0.7);
  });

  it('plan judges the file on disk against the last commit and exits 3 on a refused step', async () => {
    const r = await repoWith({ blue: 90, green: 10 }, HTTP);
    r.write({ blue: 50, green: 50 });
    const out = await cli(r.dir, ['plan', PATH, ...TIMING.slice(0, 4)]);
    expect(out.code, out.stderr).toBe(3);
    expect(out.stdout).toContain('rollouts/web.yaml');
    expect(out.stdout).toMatch(/step: REFUSED: green 10 → 50 is too large a step/);
    const forced = await cli(r.dir, ['plan', PATH, '--force', ...TIMING.slice(0, 4)]);
    expect(forced.code, forced.stdout).toBe(0);
    expect(await r.live()).toEqual(['90/10', '90/10']);
  });

  it('apply shifts, verifies and says to commit; a bad canary is rolled back and --write puts the file back', async () => {
    const r = await repoWith({ blue: 100, green: 0 }, HTTP);
    r.write({ blue: 90, green: 10 });
    const ok = await cli(r.dir, ['apply', PATH, ...TIMING]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(
      'rollouts/web.yaml: applied. Applied blue 90 / green 10 on 2 route(s) and verified',
    );
    expect(ok.stderr).toContain('Commit rollouts/web.yaml so that git says what the ALB has.');
    expect(await r.live()).toEqual(['90/10', '90/10']);
    expect(await lastStep(r.dir)).toMatchObject({
      verdict: 'passed',
      op: 'apply',
      weights: { blue: 90, green: 10 },
      by: BY_CLI,
      file: PATH,
      onRoutes: 2,
      routes: 2,
    });

    // Commit the step, then a bad one.
    execFileSync('git', ['-c', 'user.email=t@e', '-c', 'user.name=t', 'commit', '-qam', 'step'], {
      cwd: r.dir,
    });
    for (const app of r.web.apps.green ?? []) app.setBehaviour({ errorRate: 1 });
    r.write({ blue: 75, green: 25 });
    const bad = await cli(r.dir, ['apply', PATH, '--write', ...TIMING]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(
      'rollouts/web.yaml: rolled-back. Rolled back to blue 90 / green 10 (restored and confirmed by read-back on every route)',
    );
    expect(await r.live()).toEqual(['90/10', '90/10']);
    expect(bad.stderr).toContain('Wrote rollouts/web.yaml');
    expect(parseRolloutFile(readFileSync(join(r.dir, PATH), 'utf8'), PATH).weights).toEqual({
      blue: 90,
      green: 10,
    });
    // The file now says 90/10 again, and the routes say the step to 75/25 was rolled back.
    const rolledBack = await lastStep(r.dir);
    expect(rolledBack).toMatchObject({
      verdict: 'rolled-back',
      op: 'apply',
      weights: { blue: 75, green: 25 },
      by: BY_CLI,
      why: expect.stringMatching(/^http /),
    });
    const text = await cli(r.dir, ['status']);
    expect(text.stdout).toContain(
      `  last step: apply blue=75 green=25: rolled-back (${rolledBack?.why}), ${rolledBack?.at} by ${rolledBack?.by}`,
    );
  });

  it('apply refuses drift with exit 3 and changes nothing', async () => {
    const r = await repoWith({ blue: 80, green: 20 }, HTTP);
    // The commit says 100/0, the ALB has 80/20: drift.
    r.write({ blue: 100, green: 0 });
    execFileSync('git', ['-c', 'user.email=t@e', '-c', 'user.name=t', 'commit', '-qam', 'x'], {
      cwd: r.dir,
    });
    r.write({ blue: 90, green: 10 });
    const out = await cli(r.dir, ['apply', PATH, ...TIMING]);
    expect(out.code).toBe(3);
    expect(out.stdout).toContain('but the file in HEAD says blue 100 / green 0');
    expect(out.stdout).toContain('Nothing was changed.');
    expect(await r.live()).toEqual(['80/20', '80/20']);
  });

  it('rollback moves every route at once and prints the file change; --json is the report', async () => {
    const r = await repoWith({ blue: 50, green: 50 }, HTTP);
    const out = await cli(r.dir, ['rollback', PATH, '--to', 'blue', '--json']);
    expect(out.code, out.stderr).toBe(0);
    expect(await r.live()).toEqual(['100/0', '100/0']);
    const report = JSON.parse(out.stdout) as { command: string; desired: Record<string, number> };
    expect(report).toMatchObject({ command: 'rollback', desired: { blue: 100, green: 0 } });
    expect(out.stderr).toContain(
      'rollouts/web.yaml must become (run again with --write to write it):',
    );
    expect(out.stderr).toContain('weights: { blue: 100, green: 0 }');
    expect(await lastStep(r.dir)).toMatchObject({
      verdict: 'done',
      op: 'rollback',
      weights: { blue: 100, green: 0 },
      by: BY_CLI,
    });
    const wrong = await cli(r.dir, ['rollback', PATH, '--to', 'red']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(
      '--to is "red", which is not a cluster of rollouts/web.yaml (blue, green).',
    );
  });

  it('advance writes the next step into the file with --write, touching no ALB', async () => {
    const r = await repoWith({ blue: 90, green: 10 }, HTTP);
    const out = await cli(r.dir, ['advance', PATH, '--write', ...TIMING.slice(0, 4)]);
    expect(out.code, out.stderr).toBe(0);
    expect(parseRolloutFile(readFileSync(join(r.dir, PATH), 'utf8'), PATH).weights).toEqual({
      blue: 75,
      green: 25,
    });
    expect(await r.live()).toEqual(['90/10', '90/10']);
  });

  it('Ctrl-C during verification restores the weights and exits 130', async () => {
    const long = (): string =>
      'analysis:\n  warmup: 1s\n  interval: 1s\n  duration: 60s\n  checks:\n    - targetHealth: { minHealthy: 1 }\n';
    const r = await repoWith({ blue: 100, green: 0 }, long);
    r.write({ blue: 90, green: 10 });
    const out = await cli(r.dir, ['apply', PATH, ...TIMING], (kill, err) => {
      const wait = setInterval(() => {
        if (/Warming up|Interval 1\//.test(err())) {
          clearInterval(wait);
          kill('SIGINT');
        }
      }, 50);
    });
    expect(out.code, out.stderr).toBe(130);
    expect(out.stderr).toContain(
      'Received SIGINT: stopping; weights changed by this run are restored first.',
    );
    expect(out.stdout).toContain(
      'Rolled back to blue 100 / green 0 (restored and confirmed by read-back on every route): the job was cancelled during verification',
    );
    expect(await r.live()).toEqual(['100/0', '100/0']);
  });
});
