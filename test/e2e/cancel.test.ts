/**
 * Cancellation as the runner does it (SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after), and
 * AWS calls that stall or keep timing out, against the shift-weight and rollout bundles. After
 * every run the routes are all at the old weights or all at the new ones, or the log's last
 * line names each route left otherwise with the command that puts it back; no run is killed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Fault } from '../../sandbox/core.js';
import { startFakeGitHub, type FakeGitHub } from '../../sandbox/github/server.js';
import { OWNER, REPO, TOKEN, pushPayload, runnerEnv } from '../../sandbox/github/events.js';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createWebService, type WebService } from '../../sandbox/scenario.js';
import {
  cancelLikeRunner,
  startAction,
  waitForOutput,
  type ActionRun,
  type StartedAction,
} from './harness.js';

const OLD = { blue: 100, green: 0 };
const NEW = { blue: 75, green: 25 };
const dir = mkdtempSync(join(tmpdir(), 'ecc-cancel-e2e-'));
/** Longer than any test here: the call never answers while the test looks. */
const STALLED_MS = 120_000;

const sandboxes: Sandbox[] = [];
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
  await Promise.all(sandboxes.map((s) => s.close()));
});

async function newSandbox(): Promise<Sandbox> {
  const s = await startSandbox({ healthCheckTimeScale: 0.05 });
  sandboxes.push(s);
  return s;
}

let seq = 0;
/** shift-weight checks no health: its webs need not wait for healthy targets; apply's do. */
async function newWeb(sandbox: Sandbox, rules = 1, waitHealthy = false): Promise<WebService> {
  const web = await createWebService(sandbox, {
    name: `cx${++seq}`,
    extraListeners: 1,
    rules,
    waitHealthy,
  });
  closers.push(() => web.close());
  return web;
}

function startShift(sandbox: Sandbox, web: WebService): StartedAction {
  const file = join(dir, `${web.name}.yaml`);
  writeFileSync(file, web.rolloutFile(NEW));
  return startAction('shift-weight', { file, 'settle-seconds': '0' }, sandbox.env);
}

const same = (a: Record<string, number>, b: Record<string, number>): boolean =>
  a.blue === b.blue && a.green === b.green;

/**
 * What every run must end with: not killed, no stack trace, and an ALB that is all-old or
 * all-new, or a last error line naming (by ARN, in the command that puts it back) each route
 * at other weights. A failure says which state the ALB is in.
 */
async function expectTruthfulEnd(
  run: ActionRun,
  routes: string[],
  read: (arn: string) => Promise<Record<string, number>>,
): Promise<{ live: Record<string, number>[]; error: string | undefined }> {
  const context = `exit ${run.exitCode} ${run.signal ?? ''}\n${run.stdout}`;
  if (run.signal === 'SIGINT' && run.stdout === '') {
    // Cancelled in Node's own start-up (its first ~30 ms, more on a busy machine), before any code of
    // ours ran: nothing can have changed, and nothing could say so.
    expect(await Promise.all(routes.map(read))).toEqual(routes.map(() => OLD));
    return { live: routes.map(() => OLD), error: undefined };
  }
  expect(run.signal, context).toBeNull();
  const lines = run.stdout.trimEnd().split('\n');
  expect(lines.filter((l) => !l.startsWith('::debug::')).join('\n'), context).not.toMatch(
    /\n\s+at /,
  );
  // Writes abandoned in flight answer late (the slowed ones within 0.5 s): let them land first.
  await new Promise((r) => setTimeout(r, 700));
  const live = await Promise.all(routes.map(read));
  const error = lines.slice(-3).find((l) => l.startsWith('::error::'));
  if (run.exitCode === 0) {
    expect(
      live.every((w) => same(w, NEW)),
      context,
    ).toBe(true);
    return { live, error };
  }
  expect(error, context).toBeDefined();
  expect(error, context).toMatch(
    /nothing was changed|restored and confirmed|not restored|could NOT be restored/i,
  );
  if (!live.every((w) => same(w, OLD)) && !live.every((w) => same(w, NEW))) {
    routes.forEach((arn, i) => {
      if (!same(live[i] as Record<string, number>, OLD)) expect(error, context).toContain(arn);
    });
  }
  return { live, error };
}

describe.concurrent(
  'shift-weight: cancelled at many offsets, every ELB call slowed to 300 ms',
  () => {
    // 3 routes: read listeners, read rules, then write + read back each: ~8 calls, 2.4 s.
    const OFFSETS_MS = [150, 400, 700, 1000, 1300, 1600, 1900, 2200, 2500, 2900, 3400];
    let sandbox: Sandbox;
    const webs: WebService[] = [];
    beforeAll(async () => {
      sandbox = await newSandbox();
      for (const _ of OFFSETS_MS) webs.push(await newWeb(sandbox));
      // Set up first: the slowdown is for the action's calls.
      sandbox.core.injectFault({
        service: 'elasticloadbalancing',
        operation: '*',
        kind: 'latency',
        latencyMs: 300,
      });
    }, 60_000);

    OFFSETS_MS.forEach((offset, i) => {
      it(`SIGINT ${offset} ms after the start`, { timeout: 30_000 }, async () => {
        const web = webs[i] as WebService;
        const started = startShift(sandbox, web);
        await new Promise((r) => setTimeout(r, offset));
        const run = await cancelLikeRunner(started);
        // The restore never needs the SIGTERM: every route here answers, slowly. (No signal
        // at all when the shift ended before the offset.)
        expect(run.signalsSent, run.stdout).not.toContain('SIGTERM');
        const routes = [...web.listenerArns, ...web.ruleArns];
        const { live } = await expectTruthfulEnd(run, routes, (arn) => web.liveWeights(arn));
        if (run.exitCode !== 0) {
          // Every call answers, so every route is restored and confirmed.
          expect(
            live.every((w) => same(w, OLD)),
            run.stdout,
          ).toBe(true);
        }
      });
    });
  },
);

/** One sandbox per case: a fault's `after` counts every matching call in its sandbox. */
async function stalled(
  fault: Omit<Fault, 'service' | 'kind' | 'latencyMs'>,
  forApply = false,
): Promise<{ sandbox: Sandbox; web: WebService }> {
  const sandbox = await newSandbox();
  const web = forApply ? await newWeb(sandbox, 0, true) : await newWeb(sandbox);
  sandbox.core.injectFault({
    service: 'elasticloadbalancing',
    kind: 'latency',
    latencyMs: STALLED_MS,
    ...fault,
  });
  return { sandbox, web };
}

/** Reads the routes with the faults removed (the stalled call itself still sleeps). */
function reader(sandbox: Sandbox, web: WebService) {
  return (arn: string) => {
    sandbox.core.clearFaults();
    return web.liveWeights(arn);
  };
}

const confirmed = (n: number) => (out: string) =>
  (out.match(/ -> \S+=75, \S+=25 \(confirmed\)/g) ?? []).length >= n;

describe.concurrent('shift-weight: one call stalled forever, then the runner cancels', () => {
  it('the first read stalls: "cancelled before any write; nothing was changed", no stack', async () => {
    const { sandbox, web } = await stalled({ operation: 'DescribeListeners' });
    const started = startShift(sandbox, web);
    await waitForOutput(started, (o) => o.includes('::group::Reading live weights'));
    await new Promise((r) => setTimeout(r, 500));
    const run = await cancelLikeRunner(started);
    expect(run.cancelToExitMs).toBeLessThan(2_000);
    await expectTruthfulEnd(run, [...web.listenerArns, ...web.ruleArns], reader(sandbox, web));
    expect(run.stdout).toContain(
      '::error::Cancelled (received SIGINT) before any write; nothing was changed.',
    );
    expect(run.stdout).not.toContain('AbortError');
    expect(run.summary).toContain('cancelled, nothing changed');
  });

  it('the 2nd write stalls: the write gets its grace, then everything is restored and the late write watched', async () => {
    const { sandbox, web } = await stalled({ operation: 'ModifyListener', after: 1, times: 1 });
    const started = startShift(sandbox, web);
    await waitForOutput(started, confirmed(1));
    await new Promise((r) => setTimeout(r, 300));
    const run = await cancelLikeRunner(started);
    expect(run.signalsSent).toEqual(['SIGINT']);
    // 2 s of grace for the write, a restore, then 2 s of watching for the late write.
    expect(run.cancelToExitMs).toBeLessThan(6_000);
    const { live, error } = await expectTruthfulEnd(
      run,
      [...web.listenerArns, ...web.ruleArns],
      reader(sandbox, web),
    );
    expect(live).toEqual([OLD, OLD, OLD]);
    expect(run.stdout).toContain('Cancelled during the shift (received SIGINT)');
    expect(run.stdout).toMatch(/write to \S+=75, \S+=25 in flight, given 2\.0 s to end/);
    // The listener already changed is restored at once, not after the stalled write's grace.
    expect(run.stdout.indexOf(': restored to ')).toBeGreaterThan(-1);
    expect(run.stdout.indexOf(': restored to ')).toBeLessThan(
      run.stdout.indexOf('::group::Restoring previous weights'),
    );
    expect(error).toContain('Every route is at its previous weights: restored and confirmed.');
    // The abandoned write could still land: the message says so, with the command.
    expect(error).toContain('was abandoned in flight and AWS may still apply it');
    expect(error).toContain(`--listener-arn ${web.listenerArns[1]} --default-actions`);
  });

  it("the read-back stalls after the first write landed (the sweep's case): restored, or named with its command", async () => {
    // Every DescribeListeners after the first read stalls: the read-back, and the restore's.
    const { sandbox, web } = await stalled({ operation: 'DescribeListeners', after: 1 });
    const started = startShift(sandbox, web);
    await waitForOutput(started, (o) => o.includes(`${web.listenerArns[0]} new actions`));
    await new Promise((r) => setTimeout(r, 500));
    const run = await cancelLikeRunner(started);
    // It cannot confirm the listener: it says so before the runner's SIGKILL.
    expect(run.signal).toBeNull();
    expect(run.cancelToExitMs).toBeLessThan(10_000);
    const { live, error } = await expectTruthfulEnd(
      run,
      [...web.listenerArns, ...web.ruleArns],
      reader(sandbox, web),
    );
    // The restore write itself went through: the ALB is back, though nobody could read it.
    expect(live).toEqual([OLD, OLD, OLD]);
    expect(error).toContain('UNKNOWN, could not be read: listener');
    expect(error).toContain('AWS accepted the restore, but it could not be read back');
    expect(error).toContain(
      `aws elbv2 modify-listener --region ${sandbox.region} --listener-arn ${web.listenerArns[0]} --default-actions '[{`,
    );
    expect(error).not.toContain('NOT restored');
  });

  it('the 3rd write (ModifyRule) stalls: listeners restored, the rule never changed', async () => {
    const { sandbox, web } = await stalled({ operation: 'ModifyRule' });
    const started = startShift(sandbox, web);
    await waitForOutput(started, confirmed(2));
    await new Promise((r) => setTimeout(r, 300));
    const run = await cancelLikeRunner(started);
    expect(run.signalsSent).toEqual(['SIGINT']);
    const { live, error } = await expectTruthfulEnd(
      run,
      [...web.listenerArns, ...web.ruleArns],
      reader(sandbox, web),
    );
    expect(live).toEqual([OLD, OLD, OLD]);
    expect(run.stdout).toContain('its write never landed (confirmed)');
    expect(error).toContain('restored and confirmed');
  });
});

describe.concurrent('shift-weight: failures without a cancel', () => {
  it(
    'every call times out: the run ends within 45 s and says nothing was changed',
    { timeout: 60_000 },
    async () => {
      const { sandbox, web } = await stalled({ operation: '*' });
      const at = Date.now();
      const run = await startShift(sandbox, web).done;
      // 6 attempts of 5 s each plus at most 6.2 s of backoff: 36.2 s (src/aws/clients.ts).
      expect(Date.now() - at).toBeLessThan(45_000);
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(
        /::error::Could not read the routes: TimeoutError: AWS did not answer within 5 s \(after 6 attempts\)\. Nothing was changed\./,
      );
      await expectTruthfulEnd(run, [...web.listenerArns, ...web.ruleArns], reader(sandbox, web));
    },
  );

  it('persistent throttling before any write: the AWS error, then "Nothing was changed."', async () => {
    const sandbox = await newSandbox();
    const web = await newWeb(sandbox);
    sandbox.core.injectFault({
      service: 'elasticloadbalancing',
      operation: 'DescribeRules',
      kind: 'throttle',
    });
    const run = await startShift(sandbox, web).done;
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain(
      '::error::Could not read the routes: Throttling: Rate exceeded (after 6 attempts). Nothing was changed.',
    );
    expect(run.summary).toContain('failed, nothing changed');
    // Six throttled attempts with the SDK's throttling backoff (up to ~16 s, more with the
    // adaptive rate limiter's own waits) on a busy machine: more than vitest's 30 s default.
  }, 90_000);

  it('a write that lands but answers 500: read back, written back, confirmed', async () => {
    const sandbox = await newSandbox();
    const web = await newWeb(sandbox);
    sandbox.core.injectFault({
      service: 'elasticloadbalancing',
      operation: 'ModifyListener',
      kind: 'error5xxApplied',
      after: 1,
    });
    const run = await startShift(sandbox, web).done;
    sandbox.core.clearFaults();
    expect(run.exitCode).toBe(1);
    const { live, error } = await expectTruthfulEnd(
      run,
      [...web.listenerArns, ...web.ruleArns],
      (arn) => web.liveWeights(arn),
    );
    expect(live).toEqual([OLD, OLD, OLD]);
    expect(error).toContain('restored and confirmed');
  });
});

// The rollout action's apply: the same cancellations, through its named stages.
const PATH = 'rollouts/web.yaml';
const LONG_ANALYSIS =
  'analysis:\n  warmup: 1s\n  interval: 1s\n  duration: 60s\n  checks:\n    - targetHealth: { minHealthy: 1 }\n';

async function startApply(sandbox: Sandbox, web: WebService): Promise<StartedAction> {
  const github: FakeGitHub = await startFakeGitHub({
    owner: OWNER,
    repo: REPO,
    token: TOKEN,
    files: { [PATH]: web.rolloutFile(OLD, LONG_ANALYSIS) },
  });
  closers.push(() => github.close());
  const before = github.state.refs.main as string;
  github.commit('canary', { [PATH]: web.rolloutFile({ blue: 90, green: 10 }, LONG_ANALYSIS) });
  const after = github.mergePullRequest(
    github.openPullRequest({ head: 'canary', title: 'web: canary' }),
  );
  return startAction(
    'rollout',
    {
      command: 'apply',
      'github-token': TOKEN,
      'cloudwatch-period': '1s',
      'cloudwatch-delay': '0s',
      'settle-seconds': '0',
    },
    {
      ...sandbox.env,
      ...runnerEnv(github, {
        name: 'push',
        payload: pushPayload(before, after),
        sha: after,
        ref: 'refs/heads/main',
      }),
    },
  );
}

describe.concurrent(
  'rollout apply: cancelled at many offsets, every ELB call slowed to 200 ms',
  () => {
    const OFFSETS_MS = [300, 800, 1300, 1800, 2300, 2800, 3500, 4500];
    let sandbox: Sandbox;
    const webs: WebService[] = [];
    beforeAll(async () => {
      sandbox = await newSandbox();
      for (const _ of OFFSETS_MS) webs.push(await newWeb(sandbox, 0, true));
      sandbox.core.injectFault({
        service: 'elasticloadbalancing',
        operation: '*',
        kind: 'latency',
        latencyMs: 200,
      });
    }, 60_000);

    OFFSETS_MS.forEach((offset, i) => {
      it(`SIGINT ${offset} ms after the start`, { timeout: 30_000 }, async () => {
        const web = webs[i] as WebService;
        const started = await startApply(sandbox, web);
        await new Promise((r) => setTimeout(r, offset));
        const run = await cancelLikeRunner(started);
        expect(run.signalsSent, run.stdout).not.toContain('SIGTERM');
        const { live } = await expectTruthfulEnd(run, web.listenerArns, (arn) =>
          web.liveWeights(arn),
        );
        // The analysis runs 60 s: a cancelled apply never ends at the new weights. (No exit
        // code when the SIGINT came in Node's own start-up.)
        if (run.stdout !== '') expect(run.exitCode).toBe(1);
        expect(live, run.stdout).toEqual([OLD, OLD]);
      });
    });
  },
);

describe.concurrent('rollout apply: one call stalled forever, then the runner cancels', () => {
  it('the 2nd write stalls: restored and confirmed, well before the SIGKILL', async () => {
    const { sandbox, web } = await stalled(
      { operation: 'ModifyListener', after: 1, times: 1 },
      true,
    );
    const started = await startApply(sandbox, web);
    await waitForOutput(started, (o) => / -> \S+=90, \S+=10 \(confirmed\)/.test(o));
    await new Promise((r) => setTimeout(r, 300));
    const run = await cancelLikeRunner(started);
    expect(run.signalsSent).toEqual(['SIGINT']);
    const { live, error } = await expectTruthfulEnd(run, web.listenerArns, reader(sandbox, web));
    expect(live).toEqual([OLD, OLD]);
    expect(error).toContain('restored and confirmed');
    expect(run.outputs.result).toBe('rolled-back');
  });

  it('every read-back stalls: the last line names the route that could not be read, with its command', async () => {
    const { sandbox, web } = await stalled({ operation: 'DescribeListeners', after: 1 }, true);
    const started = await startApply(sandbox, web);
    await waitForOutput(started, (o) => o.includes(`${web.listenerArns[0]} new actions`));
    await new Promise((r) => setTimeout(r, 500));
    const run = await cancelLikeRunner(started);
    expect(run.signal).toBeNull();
    const { error } = await expectTruthfulEnd(run, web.listenerArns, reader(sandbox, web));
    expect(error).toContain('could NOT be restored or confirmed');
    expect(error).toContain('unknown, could not be read');
    expect(error).toContain(`--listener-arn ${web.listenerArns[0]} --default-actions`);
  });
});
