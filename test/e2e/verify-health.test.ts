/**
 * The verify-health bundle run as the runner runs it (`node dist/verify-health/index.js` with
 * INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files) against the sandbox's
 * endpoint, with real traffic through the sandbox ALB. Needs `npm run bundle` first.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { startCanaryStack, type CanaryStack } from '../fakes/sandbox-stack.js';
import { runAction, startAction } from './harness.js';

const BUNDLE = 'dist/verify-health/index.js';

let sandbox: Sandbox;
const stacks: CanaryStack[] = [];

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "npm run bundle" first.`);
  sandbox = await startSandbox({ healthCheckTimeScale: 0.05 });
});
afterAll(async () => {
  await Promise.all(stacks.map((s) => s.close()));
  await sandbox?.close();
});

const CHECKS = `
- targetHealth: { minHealthy: 1 }
- cloudwatch: { metric: error-rate, max: 0.01, minRequests: 20 }
`;

describe.concurrent('verify-health bundle against the sandbox', () => {
  it('stops at once on SIGTERM, saying it was cancelled without a verdict, with no stack trace', async () => {
    const s = await startCanaryStack(sandbox, {
      weights: { blue: 50, green: 50 },
      requestsPerSecond: 5,
    });
    stacks.push(s);
    const started = startAction(
      'verify-health',
      {
        'canary-target-group': s.greenArn,
        checks: '- targetHealth: { minHealthy: 1 }',
        warmup: '1s',
        interval: '1s',
        duration: '60s',
      },
      { ...sandbox.env, RUNNER_TEMP: mkdtempSync(join(tmpdir(), 'vh-e2e-')) },
    );
    const deadline = Date.now() + 20_000;
    while (!/Warming up|Interval 1\//.test(started.stdout())) {
      if (Date.now() > deadline)
        throw new Error(`never started the analysis:\n${started.stdout()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const sent = Date.now();
    started.child.kill('SIGTERM');
    const run = await started.done;
    // Well inside the runner's 7.5 s before SIGTERM becomes SIGKILL... and far from the 60 s bake.
    expect(Date.now() - sent).toBeLessThan(3_000);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain(
      'Received SIGTERM: stopping the analysis without a verdict (verify-health changes nothing).',
    );
    expect(run.stdout).toContain('::error::Cancelled (received SIGTERM).');
    expect(run.stdout).not.toMatch(/\n\s+at /);
    expect(run.outputs.healthy).toBeUndefined();
  });

  it('fails a bad canary within one interval after warmup, with outputs, report and summary', async () => {
    const s = await startCanaryStack(sandbox, {
      weights: { blue: 50, green: 50 },
      requestsPerSecond: 30,
      green: { errorRate: 0.05 },
    });
    stacks.push(s);
    const since = new Date();
    const run = await runAction(
      'verify-health',
      {
        'canary-target-group': s.greenArn,
        'baseline-target-group': s.blueArn,
        checks: CHECKS,
        warmup: '1s',
        interval: '5s',
        duration: '30s',
        'cloudwatch-period': '1s',
        'cloudwatch-delay': '0s',
        since: since.toISOString(),
      },
      { ...sandbox.env, RUNNER_TEMP: mkdtempSync(join(tmpdir(), 'vh-e2e-')) },
    );
    expect(run.exitCode, run.stdout + run.stderr).toBe(1);
    expect(run.outputs.healthy).toBe('false');
    expect(JSON.parse(run.outputs['failed-checks'] as string)).toEqual([
      expect.stringMatching(/^error-rate of vh-\d+-green$/),
    ]);
    expect(run.stdout).toMatch(
      // Workflow commands escape % as %25; the runner shows it as %.
      /::error::Canary unhealthy: error-rate of vh-\d+-green \d+(\.\d)?%25 > 1%25 in 1 of 1 interval/,
    );
    // First window starts after the 1 s warmup on the 5 s grid; the verdict follows its end,
    // with 3 s of slack for GetMetricData and a busy machine (still short of a second interval).
    const verdictAt = Date.parse(run.outputs['verdict-at'] as string);
    expect(verdictAt - since.getTime()).toBeLessThan(1_000 + 5_000 + 5_000 + 3_000);

    const report = JSON.parse(readFileSync(run.outputs.report as string, 'utf8'));
    expect(report).toMatchObject({ healthy: false, endedEarly: true, failedIntervals: 1 });
    expect(report.intervals).toHaveLength(1);
    expect(Date.parse(report.intervals[0].start)).toBeGreaterThanOrEqual(since.getTime() + 1_000);
    expect(verdictAt - Date.parse(report.intervals[0].end)).toBeLessThan(3_000);
    const errorRate = report.intervals[0].measurements.find((m: { name: string }) =>
      m.name.startsWith('error-rate'),
    );
    expect(errorRate.status).toBe('fail');
    // Every 20th green request fails; 20 or more of them in the window put the rate above 2%.
    expect(errorRate.value).toBeGreaterThan(0.02);
    expect(errorRate.details.canary.requests).toBeGreaterThanOrEqual(20);

    expect(run.summary).toContain('### ❌ Canary unhealthy');
    expect(run.summary).toMatch(
      /\| error-rate of vh-\d+-green \| ≤ 1% \| \d+(\.\d)?% \| 0 \| 1 \| 0 \| ❌ fail \|/,
    );
    expect(run.stdout).toMatch(/FAIL: error-rate of vh-\d+-green = \d+(\.\d)?% \(threshold ≤ 1%\)/);
  });

  it('fails a clearly bad canary early, and only at the close with fail-early: false', async () => {
    const s = await startCanaryStack(sandbox, {
      weights: { blue: 50, green: 50 },
      requestsPerSecond: 30,
      green: { errorRate: 0.3 },
    });
    stacks.push(s);
    const inputs = (failEarly?: string) => ({
      'canary-target-group': s.greenArn,
      'baseline-target-group': s.blueArn,
      checks: CHECKS,
      warmup: '0s',
      interval: '10s',
      duration: '10s',
      'cloudwatch-period': '1s',
      'cloudwatch-delay': '0s',
      ...(failEarly ? { 'fail-early': failEarly } : {}),
    });
    const env = { ...sandbox.env, RUNNER_TEMP: mkdtempSync(join(tmpdir(), 'vh-e2e-')) };
    const [early, atClose] = await Promise.all([
      runAction('verify-health', inputs(), env),
      runAction('verify-health', inputs('false'), env),
    ]);
    for (const run of [early, atClose]) {
      expect(run.exitCode, run.stdout + run.stderr).toBe(1);
      expect(run.outputs.healthy).toBe('false');
    }
    const report = (run: typeof early) =>
      JSON.parse(readFileSync(run.outputs.report as string, 'utf8')) as {
        intervals: { end: string; judgedEarly?: unknown }[];
      };
    // 15 green requests a second, 30% failing: decisive after 20 or so, long before 10 s.
    expect(early.stdout).toMatch(
      /with 99\.9%25 confidence \(\d+ 5xx of \d+ requests in \d+s, judged early\)/,
    );
    expect(report(early).intervals[0]?.judgedEarly).toBeDefined();
    expect(
      Date.parse(report(early).intervals[0]!.end) -
        Date.parse(early.outputs['verdict-at'] as string),
    ).toBeGreaterThan(4_000);
    expect(atClose.stdout).not.toContain('judged early');
    expect(report(atClose).intervals[0]?.judgedEarly).toBeUndefined();
    expect(Date.parse(atClose.outputs['verdict-at'] as string)).toBeGreaterThanOrEqual(
      Date.parse(report(atClose).intervals[0]!.end),
    );
  });

  it('fails at once on a bad fail-early input, naming it', async () => {
    const run = await runAction(
      'verify-health',
      {
        'canary-target-group':
          'arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/x/0123456789abcdef',
        checks: CHECKS,
        'fail-early': 'yes',
      },
      sandbox.env,
    );
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain('::error::Input "fail-early" must be true or false, got "yes".');
  });

  it('passes a good canary from a rollout file', async () => {
    const s = await startCanaryStack(sandbox, {
      weights: { blue: 50, green: 50 },
      requestsPerSecond: 30,
    });
    stacks.push(s);
    const dir = mkdtempSync(join(tmpdir(), 'vh-e2e-'));
    const file = join(dir, 'web.yaml');
    writeFileSync(
      file,
      `version: 1
name: web
region: ${sandbox.region}
clusters:
  blue: { eks: prod-1-31, targetGroup: ${s.blueArn} }
  green: { eks: prod-1-32, targetGroup: ${s.greenArn} }
routes:
  - listener: ${s.listenerArn}
weights: { blue: 50, green: 50 }
canary: green
steps: [50, 100]
owner: blue
analysis:
  warmup: 1s
  interval: 5s
  duration: 11s
  failureLimit: 0
  checks:
    - targetHealth: { minHealthy: 1 }
    - cloudwatch: { metric: error-rate, max: 0.01, minRequests: 20 }
    - cloudwatch: { metric: error-rate, vsBaseline: { maxIncrease: 0.01 }, minRequests: 20 }
`,
    );
    const run = await runAction(
      'verify-health',
      { file, 'cloudwatch-period': '1s', 'cloudwatch-delay': '0s' },
      { ...sandbox.env, RUNNER_TEMP: dir },
    );
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.outputs.healthy).toBe('true');
    expect(run.outputs['failed-checks']).toBe('[]');
    expect(run.stdout).toMatch(/Verdict: healthy: 4 checks passed in (\d) of \1 intervals?/);
    expect(run.summary).toContain('### ✅ Canary healthy');
    expect(run.summary).toContain('| error-rate of green vs blue | ≤ blue +1% |');
  });

  it('masks only credential header values in the log and blanks every header in the report', async () => {
    const s = await startCanaryStack(sandbox, {
      weights: { blue: 50, green: 50 },
      requestsPerSecond: 5,
    });
    stacks.push(s);
    // A Prometheus stand-in that answers "up" with 1 for the instant query.
    const prometheus = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          status: 'success',
          data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, '1'] }] },
        }),
      );
    });
    await new Promise<void>((resolve) => prometheus.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = prometheus.address() as AddressInfo;
      const dir = mkdtempSync(join(tmpdir(), 'vh-e2e-'));
      const run = await runAction(
        'verify-health',
        {
          'canary-target-group': s.greenArn,
          checks: `
- http: { url: "${s.url}/healthz", headers: { X-Canary: "1", Authorization: "Bearer e2e-probe-secret" } }
- prometheus:
    url: http://127.0.0.1:${port}
    query: up
    min: 1
    bearerToken: e2e-prom-token
    headers: { X-Scope-OrgID: "1", X-Api-Key: e2e-prom-key }
`,
          warmup: '0s',
          interval: '1s',
          duration: '1s',
        },
        { ...sandbox.env, RUNNER_TEMP: dir },
      );
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      const masks = run.stdout
        .split('\n')
        .filter((line) => line.startsWith('::add-mask::'))
        .map((line) => line.slice('::add-mask::'.length));
      expect(masks.sort()).toEqual(
        ['Bearer e2e-probe-secret', 'e2e-probe-secret', 'e2e-prom-key', 'e2e-prom-token'].sort(),
      );
      const report = readFileSync(run.outputs.report as string, 'utf8');
      expect(
        JSON.parse(report).analysis.checks.map((c: { headers: unknown }) => c.headers),
      ).toEqual([
        { 'X-Canary': '***', Authorization: '***' },
        { 'X-Scope-OrgID': '***', 'X-Api-Key': '***' },
      ]);
      for (const secret of ['e2e-probe-secret', 'e2e-prom-key', 'e2e-prom-token']) {
        expect(report).not.toContain(secret);
      }
    } finally {
      await new Promise((resolve) => prometheus.close(resolve));
    }
  });

  it('fails at once on a bad input, naming it', async () => {
    const run = await runAction(
      'verify-health',
      {
        'canary-target-group':
          'arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/x/0123456789abcdef',
        checks: CHECKS,
        interval: 'soon',
      },
      sandbox.env,
    );
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain(
      '::error::Input "interval" must be a duration such as 0s, 30s, 1m or 1m30s, got "soon".',
    );
    expect(run.outputs.healthy).toBeUndefined();
  });
});
