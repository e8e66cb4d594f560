/**
 * The last-step record's tag value: what a step writes is what status reads back, it always fits
 * ELBv2's tag value (256 characters of its charset), and what does not fit is cut where it
 * matters least. Then the record against the sandbox's tags: written in ceil(routes / 20) calls,
 * never failing the step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createWebService, type WebService } from '../../sandbox/scenario.js';
import {
  decodeLastStep,
  describeLastStep,
  encodeLastStep,
  LAST_STEP_TAG,
  readLastSteps,
  TAG_VALUE_MAX,
  TAG_VALUE_PATTERN,
  writeLastStep,
  type LastStep,
} from '../../src/alb/last-step.js';
import { MemoryLogger } from '../../src/common/logger.js';

const at = new Date('2026-11-30T21:30:05.000Z');
const passed: LastStep = {
  verdict: 'passed',
  op: 'apply',
  weights: { blue: 90, green: 10 },
  at,
  by: 'https://github.com/acme/web/actions/runs/4242/attempts/1',
  file: 'rollouts/web.yaml',
  why: 'passed: 3 of 3 intervals healthy',
};

function fits(value: string): void {
  expect(value.length).toBeLessThanOrEqual(TAG_VALUE_MAX);
  expect(value).toMatch(TAG_VALUE_PATTERN);
  expect(value).toBe(value.trim());
}

describe('last-step value', () => {
  it('reads back what was written', () => {
    const value = encodeLastStep(passed);
    expect(value).toBe(
      'verdict=passed op=apply weights=blue:90+green:10 at=2026-11-30T21:30:05Z by=https://github.com/acme/web/actions/runs/4242/attempts/1 file=rollouts/web.yaml why=passed: 3 of 3 intervals healthy',
    );
    fits(value);
    expect(decodeLastStep(value)).toEqual(passed);
    const handoff: LastStep = {
      verdict: 'not-restored',
      op: 'handoff',
      owner: 'green',
      from: 'blue',
      left: 'unsafe',
      at,
      by: 'cli:alice@laptop-7',
      file: 'rollouts/web.yaml',
    };
    expect(decodeLastStep(encodeLastStep(handoff))).toEqual(handoff);
    const rolledBack: LastStep = {
      ...passed,
      verdict: 'not-restored',
      left: 'changed:1+unknown:2',
      why: 'error-rate 0.2 over max 0.01: why= inside the reason is kept',
    };
    expect(decodeLastStep(encodeLastStep(rolledBack))).toEqual(rolledBack);
    expect(describeLastStep(rolledBack)).toBe(
      'apply blue=90 green=10: not-restored (left: changed:1+unknown:2) (error-rate 0.2 over max 0.01: why= inside the reason is kept)',
    );
    expect(describeLastStep(handoff)).toBe(
      'handoff owner blue → green: not-restored (left: unsafe)',
    );
  });

  it('is not ours when it does not say a verdict, an operation and a time', () => {
    expect(decodeLastStep(undefined)).toBeUndefined();
    expect(decodeLastStep('')).toBeUndefined();
    expect(decodeLastStep('hand-written note')).toBeUndefined();
    expect(decodeLastStep('verdict=maybe op=apply at=2026-11-30T21:30:05Z')).toBeUndefined();
    expect(decodeLastStep('verdict=passed op=apply at=yesterday')).toBeUndefined();
  });

  it('replaces characters a tag value cannot hold', () => {
    const value = encodeLastStep({
      ...passed,
      file: 'rollouts/my web#1.yaml',
      by: 'cli:bob smith@host,1',
      why: 'latency p99 > 800ms;\nerror-rate 1% (of "all")',
    });
    fits(value);
    const back = decodeLastStep(value);
    expect(back?.file).toBe('rollouts/my_web_1.yaml');
    expect(back?.by).toBe('cli:bob_smith@host_1');
    // In the reason, the usual signs become words; what is left becomes `_`.
    expect(back?.why).toBe('latency p99 over 800ms error-rate 1pct of all');
    expect(
      decodeLastStep(encodeLastStep({ ...passed, why: 'p99 ≤ 800ms, 5xx ≥ 2 <x> 1→2 #3 & *' }))
        ?.why,
    ).toBe('p99 at most 800ms 5xx at least 2 under x over 1 to 2 _3 _ _');
    // Letters and digits of any script are allowed, as in AWS.
    expect(decodeLastStep(encodeLastStep({ ...passed, why: 'Grün 名前 ٣' }))?.why).toBe(
      'Grün 名前 ٣',
    );
  });

  it('cuts the reason first, then keeps the ends of who and the file', () => {
    const long = encodeLastStep({ ...passed, why: 'x '.repeat(300) });
    fits(long);
    // Filled up to the limit (less the space trimmed before the `..` that marks the cut).
    expect(long.length).toBeGreaterThanOrEqual(TAG_VALUE_MAX - 1);
    expect(decodeLastStep(long)?.why).toMatch(/^x x .*\.\.$/);
    expect(decodeLastStep(long)?.file).toBe('rollouts/web.yaml');

    const deep = `services/${'team-'.repeat(40)}/rollouts/web.yaml`;
    const url = `https://github.com/${'org-'.repeat(30)}/web/actions/runs/987654321/attempts/3`;
    const value = encodeLastStep({ ...passed, file: deep, by: url, why: 'reason' });
    fits(value);
    const back = decodeLastStep(value);
    expect(back?.file).toMatch(/^\.\..*\/rollouts\/web\.yaml$/);
    expect(back?.file.length).toBeGreaterThanOrEqual(40);
    expect(back?.by).toMatch(/^\.\..*\/runs\/987654321\/attempts\/3$/);
    expect(back?.weights).toEqual({ blue: 90, green: 10 });
    expect(back?.at).toEqual(at);
  });

  it('fits five clusters of 63-character names, shortening the names only then', () => {
    const names = ['a', 'b', 'c', 'd', 'e'].map((c) => c.repeat(63));
    const step: LastStep = {
      ...passed,
      verdict: 'not-restored',
      left: 'changed:20+unknown:20',
      weights: Object.fromEntries(names.map((n) => [n, 20])),
    };
    const value = encodeLastStep(step);
    fits(value);
    const back = decodeLastStep(value);
    expect(back?.verdict).toBe('not-restored');
    expect(back?.left).toBe('changed:20+unknown:20');
    expect(Object.values(back?.weights ?? {})).toEqual([20, 20, 20, 20, 20]);
    expect(Object.keys(back?.weights ?? {})[0]).toMatch(/^a+$/);
    expect(back?.file).toBe('rollouts/web.yaml');
  });

  it('fits whatever it is given', () => {
    const junk = '\u0000<>{}[]"\'`|\\#%&*?!,;~ \t\n名';
    for (let n = 0; n < 200; n++) {
      const text = Array.from({ length: n * 3 }, (_, i) => junk[(i * 7 + n) % junk.length]).join(
        '',
      );
      const value = encodeLastStep({
        verdict: 'rolled-back',
        op: 'rollback',
        owner: text.slice(0, 70),
        from: text.slice(5, 80),
        left: text,
        at,
        by: text,
        file: text,
        why: text,
      });
      fits(value);
      expect(decodeLastStep(value)?.verdict).toBe('rolled-back');
    }
  });
});

describe('last-step on the sandbox', () => {
  let sandbox: Sandbox;
  let web: WebService;
  beforeAll(async () => {
    sandbox = await startSandbox();
    web = await createWebService(sandbox, { name: 'last', rules: 21, waitHealthy: false });
  });
  afterAll(async () => {
    await web?.close();
    await sandbox?.close();
  });

  it('writes every route in ceil(routes / 20) calls and reads it back', async () => {
    const routes = [...web.listenerArns, ...web.ruleArns];
    expect(routes).toHaveLength(22);
    sandbox.core.resetCalls();
    const logger = new MemoryLogger();
    expect(await writeLastStep(web.client, routes, passed, logger)).toBe(true);
    expect(sandbox.core.callCounts()).toEqual({ 'elasticloadbalancing:AddTags': 2 });
    const read = await readLastSteps(web.client, routes);
    expect(read.size).toBe(22);
    for (const route of routes) expect(read.get(route)).toEqual(passed);
  });

  it('warns, and does not throw, when the record cannot be written', async () => {
    const logger = new MemoryLogger();
    const gone = `${web.ruleArns[0]?.slice(0, -4)}dead`;
    const ok = await writeLastStep(web.client, [gone], { ...passed, verdict: 'done' }, logger);
    expect(ok).toBe(false);
    expect(logger.lines.join('\n')).toMatch(
      new RegExp(
        `Could not record the last step \\(apply blue=90 green=10: done .*\\) at 2026-11-30T21:30:05.000Z\\) in the tag ${LAST_STEP_TAG} on 1 of 1 route\\(s\\): .*RuleNotFound|not found`,
      ),
    );
  });
});
