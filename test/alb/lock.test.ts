/**
 * The route lock against the sandbox's ELBv2 tags (AddTags, DescribeTags, RemoveTags with AWS's
 * semantics): one holder at a time however the writes interleave, expiry, release.
 */
import { DescribeTagsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createWebService, type WebService } from '../../sandbox/scenario.js';
import { acquireRouteLock, LOCK_TAG, LockBusyError } from '../../src/alb/lock.js';
import { readLastSteps, type LastStep } from '../../src/alb/last-step.js';
import { systemClock } from '../../src/common/clock.js';
import { MemoryLogger } from '../../src/common/logger.js';

let sandbox: Sandbox;
let web: WebService;

beforeAll(async () => {
  sandbox = await startSandbox();
  web = await createWebService(sandbox, {
    name: 'lock',
    extraListeners: 1,
    rules: 1,
    waitHealthy: false,
  });
});
afterAll(async () => {
  await web?.close();
  await sandbox?.close();
});

const routes = (): string[] => [...web.listenerArns, ...web.ruleArns];

async function lockTags(): Promise<string[]> {
  const out = await web.client.send(new DescribeTagsCommand({ ResourceArns: routes() }));
  return (out.TagDescriptions ?? []).flatMap((d) =>
    (d.Tags ?? []).filter((t) => t.Key === LOCK_TAG).map((t) => t.Value as string),
  );
}

describe('route lock', () => {
  it('lets one step at a time hold the routes, however their writes interleave', async () => {
    const holding: string[] = [];
    let overlap = false;
    const step = async (name: string): Promise<void> => {
      const lock = await acquireRouteLock(
        { routes: routes(), owner: name, ttlMs: 60_000, waitMs: 20_000 },
        {
          client: web.client,
          clock: systemClock,
          logger: new MemoryLogger(),
          backoffMs: () => 50 + Math.random() * 200,
        },
      );
      if (holding.length > 0) overlap = true;
      holding.push(name);
      await new Promise((r) => setTimeout(r, 300));
      holding.splice(holding.indexOf(name), 1);
      await lock.release();
    };
    await Promise.all(['a', 'b', 'c'].map(step));
    expect(overlap).toBe(false);
    expect(await lockTags()).toEqual([]);
  });

  it('refuses within the wait while another holds a route, naming the holder and saying nothing changed', async () => {
    const held = await acquireRouteLock(
      {
        routes: [web.listenerArns[0] as string],
        owner: 'rollouts/a.yaml@1',
        ttlMs: 60_000,
        waitMs: 0,
      },
      { client: web.client, clock: systemClock, logger: new MemoryLogger() },
    );
    const logger = new MemoryLogger();
    await expect(
      acquireRouteLock(
        { routes: routes(), owner: 'rollouts/b.yaml@2', ttlMs: 60_000, waitMs: 300 },
        { client: web.client, clock: systemClock, logger, backoffMs: () => 100 },
      ),
    ).rejects.toThrow(LockBusyError);
    expect(logger.text()).toMatch(/Waiting: .* is locked by rollouts\/a\.yaml@1 until \d{4}-/);
    // The refused step wrote no lock of its own anywhere.
    expect(await lockTags()).toEqual([expect.stringMatching(/\/rollouts\/a\.yaml@1$/)]);
    await held.release();
    expect(await lockTags()).toEqual([]);
  });

  it('does not wait for an expired lock (a killed runner)', async () => {
    const dead = await acquireRouteLock(
      { routes: routes(), owner: 'killed@1', ttlMs: 1, waitMs: 0 },
      { client: web.client, clock: systemClock, logger: new MemoryLogger() },
    );
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    const lock = await acquireRouteLock(
      { routes: routes(), owner: 'next@2', ttlMs: 60_000, waitMs: 0 },
      { client: web.client, clock: systemClock, logger: new MemoryLogger() },
    );
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(await lockTags()).toEqual(routes().map(() => expect.stringMatching(/\/next@2$/)));
    // The dead owner's release removes nothing that is no longer its own.
    await dead.release();
    expect(await lockTags()).toHaveLength(routes().length);
    await lock.release();
    expect(await lockTags()).toEqual([]);
  });

  it('records the step in its release: one AddTags per 20 routes more, and a failed record still unlocks', async () => {
    const step: LastStep = {
      verdict: 'passed',
      op: 'apply',
      weights: { blue: 75, green: 25 },
      at: new Date('2026-11-30T21:00:00Z'),
      by: 'https://github.com/acme/web/actions/runs/7/attempts/1',
      file: 'rollouts/lock.yaml',
    };
    const lock = await acquireRouteLock(
      { routes: routes(), owner: 'rollouts/lock.yaml@7', ttlMs: 60_000, waitMs: 0 },
      { client: web.client, clock: systemClock, logger: new MemoryLogger() },
    );
    sandbox.core.resetCalls();
    await lock.release(step);
    expect(sandbox.core.callCounts()).toEqual({
      'elasticloadbalancing:DescribeTags': 1,
      'elasticloadbalancing:AddTags': 1,
      'elasticloadbalancing:RemoveTags': 1,
    });
    expect(await lockTags()).toEqual([]);
    const recorded = await readLastSteps(web.client, routes());
    expect(routes().map((r) => recorded.get(r))).toEqual(routes().map(() => step));

    const logger = new MemoryLogger();
    const next = await acquireRouteLock(
      { routes: routes(), owner: 'rollouts/lock.yaml@8', ttlMs: 60_000, waitMs: 0 },
      { client: web.client, clock: systemClock, logger },
    );
    sandbox.core.injectFault({
      service: 'elasticloadbalancing',
      operation: 'AddTags',
      kind: 'error5xx',
      times: 100,
    });
    try {
      await next.release({ ...step, verdict: 'rolled-back', why: 'error-rate over max' });
    } finally {
      sandbox.core.clearFaults();
    }
    expect(logger.text()).toMatch(
      /warning: Could not record the last step \(apply blue=75 green=25: rolled-back \(error-rate over max\) at 2026-11-30T21:00:00\.000Z\) in the tag eks-cluster-canary:last-step on 3 of 3 route\(s\): .*The step itself stands/,
    );
    // The lock is gone all the same, and the routes keep the record before.
    expect(await lockTags()).toEqual([]);
    const kept = await readLastSteps(web.client, routes());
    expect(routes().map((r) => kept.get(r)?.verdict)).toEqual(routes().map(() => 'passed'));
  });
});
