/**
 * The shift-weight bundle run as the runner runs it, against the sandbox: real SDK, real wire
 * protocol, real data plane.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createWebService, sendTraffic, type WebService } from '../../sandbox/scenario.js';
import {
  CreateListenerCommand,
  DescribeListenersCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { runAction, startAction } from './harness.js';

let sandbox: Sandbox;
let web: WebService;
const dir = mkdtempSync(join(tmpdir(), 'ecc-shift-e2e-'));

beforeAll(async () => {
  sandbox = await startSandbox({ healthCheckTimeScale: 0.02, propagationDelayMs: 200 });
});

afterAll(async () => {
  await sandbox.close();
});

beforeEach(async () => {
  web = await createWebService(sandbox, {
    name: `web${Math.floor(Math.random() * 1e6)}`,
    extraListeners: 1,
    rules: 1,
  });
});

afterEach(async () => {
  sandbox.core.clearFaults();
  await web.close();
});

function rolloutFile(weights: Record<string, number>): string {
  const path = join(dir, `${web.name}-${weights.green}.yaml`);
  writeFileSync(path, web.rolloutFile(weights));
  return path;
}

async function allWeights(): Promise<Record<string, number>[]> {
  return Promise.all([...web.listenerArns, ...web.ruleArns].map((arn) => web.liveWeights(arn)));
}

/** Both listeners and the rule, as the ALB API reports them now. */
async function expectEveryRouteAt(weights: Record<string, number>): Promise<void> {
  expect(await allWeights()).toEqual([weights, weights, weights]);
}

describe('shift-weight bundle against the sandbox', () => {
  it('moves every route, and the data plane follows the weights', async () => {
    const run = await runAction(
      'shift-weight',
      { file: rolloutFile({ blue: 75, green: 25 }), 'settle-seconds': '1' },
      sandbox.env,
    );
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    await expectEveryRouteAt({ blue: 75, green: 25 });
    expect(run.outputs.changed).toBe('true');
    const previous = JSON.parse(run.outputs.previous as string);
    expect(previous[web.listenerArns[0] as string]).toEqual({
      [web.targetGroups.blue as string]: 100,
      [web.targetGroups.green as string]: 0,
    });
    const applied = JSON.parse(run.outputs.applied as string);
    expect(Object.keys(applied)).toHaveLength(3);
    expect(applied[web.ruleArns[0] as string]).toEqual({
      [web.targetGroups.blue as string]: 75,
      [web.targetGroups.green as string]: 25,
    });
    expect(Date.parse(run.outputs['applied-at'] as string)).toBeGreaterThan(Date.now() - 30_000);
    expect(run.summary).toContain('shift-weight: weights shifted');
    expect(run.summary).toContain(`${web.name}-blue=100, ${web.name}-green=0`);
    expect(run.summary).toContain(`${web.name}-blue=75, ${web.name}-green=25`);

    // After the settle time the data plane uses the new weights: 25% ± 7% reaches green.
    const traffic = await sendTraffic(web.url, 400);
    expect(traffic.errors).toBe(0);
    expect((traffic.byVersion['1.32'] ?? 0) / traffic.total).toBeGreaterThan(0.18);
    expect((traffic.byVersion['1.32'] ?? 0) / traffic.total).toBeLessThan(0.32);
  });

  it('is idempotent: a second run changes nothing and says so', async () => {
    const file = rolloutFile({ blue: 50, green: 50 });
    expect(
      (await runAction('shift-weight', { file, 'settle-seconds': '0' }, sandbox.env)).exitCode,
    ).toBe(0);
    sandbox.core.resetCalls();
    const again = await runAction('shift-weight', { file, 'settle-seconds': '0' }, sandbox.env);
    expect(again.exitCode).toBe(0);
    expect(again.outputs.changed).toBe('false');
    // Already in place when read: a verify step may count from then.
    expect(Date.parse(again.outputs['applied-at'] as string)).toBeGreaterThan(Date.now() - 30_000);
    expect(again.summary).toContain('already at the desired weights');
    const calls = sandbox.core.callCounts();
    expect(calls['elasticloadbalancing:ModifyListener']).toBeUndefined();
    expect(calls['elasticloadbalancing:ModifyRule']).toBeUndefined();
  });

  it('dry-run reports what would change and writes nothing', async () => {
    sandbox.core.resetCalls();
    const run = await runAction(
      'shift-weight',
      { file: rolloutFile({ blue: 90, green: 10 }), 'dry-run': 'true' },
      sandbox.env,
    );
    expect(run.exitCode).toBe(0);
    expect(run.outputs.changed).toBe('false');
    expect(run.stdout).toContain('Dry run: would set');
    expect(run.summary).toContain('would shift (dry run)');
    expect(Object.keys(sandbox.core.callCounts()).filter((k) => k.includes('Modify'))).toEqual([]);
    await expectEveryRouteAt({ blue: 100, green: 0 });
  });

  it('reaches the ALB through the service-specific AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2', async () => {
    const { AWS_ENDPOINT_URL, ...env } = sandbox.env;
    const run = await runAction(
      'shift-weight',
      { file: rolloutFile({ blue: 80, green: 20 }), 'settle-seconds': '0' },
      { ...env, AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: AWS_ENDPOINT_URL },
    );
    expect(run.exitCode).toBe(0);
    await expectEveryRouteAt({ blue: 80, green: 20 });
  });

  it('shifts an HTTPS listener that authenticates with OIDC first, keeping the client secret', async () => {
    const tg = web.targetGroups;
    const created = await web.client.send(
      new CreateListenerCommand({
        LoadBalancerArn: web.loadBalancerArn,
        Protocol: 'HTTPS',
        Port: 443,
        Certificates: [
          { CertificateArn: `arn:aws:acm:${sandbox.region}:123456789012:certificate/web` },
        ],
        DefaultActions: [
          {
            Type: 'authenticate-oidc',
            Order: 1,
            AuthenticateOidcConfig: {
              Issuer: 'https://idp.example.com',
              AuthorizationEndpoint: 'https://idp.example.com/auth',
              TokenEndpoint: 'https://idp.example.com/token',
              UserInfoEndpoint: 'https://idp.example.com/userinfo',
              ClientId: 'web',
              ClientSecret: 'secret',
            },
          },
          {
            Type: 'forward',
            Order: 2,
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: tg.blue, Weight: 100 },
                { TargetGroupArn: tg.green, Weight: 0 },
              ],
            },
          },
        ],
      }),
    );
    const arn = created.Listeners?.[0]?.ListenerArn as string;
    const run = await runAction(
      'shift-weight',
      { routes: arn, weights: `${tg.blue}=60\n${tg.green}=40`, 'settle-seconds': '0' },
      sandbox.env,
    );
    expect(run.stdout).not.toContain('::error');
    expect(run.exitCode).toBe(0);
    expect(await web.liveWeights(arn)).toEqual({ blue: 60, green: 40 });
    const actions = (await web.client.send(new DescribeListenersCommand({ ListenerArns: [arn] })))
      .Listeners?.[0]?.DefaultActions;
    expect(actions?.map((a) => [a.Type, a.Order])).toEqual([
      ['authenticate-oidc', 1],
      ['forward', 2],
    ]);
    expect(actions?.[0]?.AuthenticateOidcConfig?.ClientId).toBe('web');
  });

  it('refuses on drift, naming the route, and changes nothing', async () => {
    const run = await runAction(
      'shift-weight',
      {
        file: rolloutFile({ blue: 90, green: 10 }),
        expect: `${web.targetGroups.blue}=95\n${web.targetGroups.green}=5`,
      },
      sandbox.env,
    );
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain(
      '::error::Drift: 3 of 3 route(s) do not have the expected weights, so nothing was changed.',
    );
    expect(run.stdout).toContain('live web');
    await expectEveryRouteAt({ blue: 100, green: 0 });
  });

  it('restores the routes already shifted when the write of the 2nd route fails', async () => {
    // Every attempt (the SDK makes 6) of the 2nd write, the second listener, fails; then AWS recovers.
    sandbox.core.injectFault({
      service: 'elasticloadbalancing',
      operation: 'ModifyListener',
      kind: 'error5xx',
      after: 1,
      times: 6,
    });
    const run = await runAction(
      'shift-weight',
      { file: rolloutFile({ blue: 75, green: 25 }), 'settle-seconds': '0' },
      sandbox.env,
    );
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain(
      `::error::Shifting failed: ModifyListener on listener ${web.name} listener`,
    );
    expect(run.stdout).toContain('InternalFailure');
    expect(run.stdout).toMatch(
      /Restored to the previous weights \(confirmed by read-back\): listener \S+ listener \w+; listener \S+ listener \w+\./,
    );
    expect(run.stdout).not.toContain('NOT restored');
    expect(run.outputs.changed).toBe('false');
    expect(run.summary).toContain('restored (confirmed)');
    await expectEveryRouteAt({ blue: 100, green: 0 });
  });

  it('says exactly which route it could not restore, and how, when AWS keeps failing', async () => {
    sandbox.core.injectFault({
      service: 'elasticloadbalancing',
      operation: 'ModifyListener',
      kind: 'error5xx',
      after: 1,
    });
    const run = await runAction(
      'shift-weight',
      { file: rolloutFile({ blue: 75, green: 25 }), 'settle-seconds': '0' },
      sandbox.env,
    );
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain(
      `NOT restored: listener ${web.name} listener ${(web.listenerArns[0] as string).slice(-6)} is at ${web.name}-blue=75, ${web.name}-green=25 (ModifyListener on`,
    );
    expect(run.stdout).toContain(
      `Set it back by hand to ${web.name}-blue=100, ${web.name}-green=0 with:%0A  aws elbv2 modify-listener --region ${sandbox.region} --listener-arn ${web.listenerArns[0]} --default-actions '[{`,
    );
    expect(run.outputs.changed).toBe('true');
    // What the message says is what the ALB holds: the first listener is left shifted.
    expect(await allWeights()).toEqual([
      { blue: 75, green: 25 },
      { blue: 100, green: 0 },
      { blue: 100, green: 0 },
    ]);
  });

  it('restores the shifted routes when the job is cancelled (SIGINT, as the runner does) mid-shift', async () => {
    // Slow down the 2nd write so the signal arrives while it is in flight.
    sandbox.core.injectFault({
      service: 'elasticloadbalancing',
      operation: 'ModifyListener',
      kind: 'latency',
      latencyMs: 1500,
      after: 1,
      times: 1,
    });
    const started = startAction(
      'shift-weight',
      { file: rolloutFile({ blue: 75, green: 25 }), 'settle-seconds': '0' },
      sandbox.env,
    );
    const deadline = Date.now() + 15_000;
    while (!started.stdout().includes('(confirmed)')) {
      if (Date.now() > deadline)
        throw new Error(`the first write never confirmed:\n${started.stdout()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    started.child.kill('SIGINT');
    const run = await started.done;
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain('Received SIGINT: stopping and restoring the previous weights.');
    expect(run.stdout).toContain('the job was cancelled (received SIGINT)');
    // Both listeners are restored: the first, and the second whose write was in flight (it
    // ends within its 2 s grace, so it is written back rather than abandoned).
    expect(run.stdout.match(/: restored to \S+=100, \S+=0 \(confirmed\)/g)).toHaveLength(2);
    expect(run.summary).toContain('cancelled, weights restored');
    // A write abandoned by the client would land in the sandbox once its 1.5 s delay is over
    // and undo the restore; wait past that before looking.
    await new Promise((r) => setTimeout(r, 2000));
    await expectEveryRouteAt({ blue: 100, green: 0 });
  });

  it('rides out throttling with the SDK retry', async () => {
    sandbox.core.injectFault({
      service: 'elasticloadbalancing',
      operation: 'ModifyListener',
      kind: 'throttle',
      times: 2,
    });
    const run = await runAction(
      'shift-weight',
      { file: rolloutFile({ blue: 90, green: 10 }), 'settle-seconds': '0' },
      sandbox.env,
    );
    expect(run.exitCode).toBe(0);
    expect((await allWeights())[0]).toEqual({ blue: 90, green: 10 });
  });

  it('says how to provide AWS credentials when there are none, without a stack trace', async () => {
    const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...env } = sandbox.env;
    const run = await runAction(
      'shift-weight',
      { file: rolloutFile({ blue: 90, green: 10 }), 'dry-run': 'true' },
      {
        ...env,
        HOME: mkdtempSync(join(tmpdir(), 'ecc-nohome-')),
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    );
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain('::error::No usable AWS credentials: ');
    expect(run.stdout).toContain('Add aws-actions/configure-aws-credentials');
    // The stack goes to the debug log only (shown with ACTIONS_STEP_DEBUG), never as an error.
    const shown = run.stdout.split('\n').filter((l) => !l.startsWith('::debug::'));
    expect(shown.join('\n')).not.toContain('    at ');
  });

  it('fails with the file position when the rollout file is invalid, before any AWS call', async () => {
    const path = join(dir, 'invalid.yaml');
    writeFileSync(path, web.rolloutFile({ blue: 70, green: 20 }));
    sandbox.core.resetCalls();
    const run = await runAction('shift-weight', { file: path }, sandbox.env);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(
      /::error file=.*invalid\.yaml,line=\d+,col=\d+::weights sum to 90; they are percents of the traffic and must sum to 100\./,
    );
    expect(run.stdout).not.toContain('    at ');
    // The failure says which state the ALB is in.
    expect(run.stdout).toMatch(/::error::.*%0ANothing was changed\.\n/);
    expect(sandbox.core.calls).toEqual([]);
  });
});
