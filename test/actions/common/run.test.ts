import { afterEach, describe, expect, it, vi } from 'vitest';
import { runAction } from '../../../src/actions/common/run.js';

/** What the runner's signal looks like to a listener: Node passes the name and the number. */
const deliver = (name: 'SIGINT' | 'SIGTERM'): boolean =>
  (process.emit as (event: string, ...args: unknown[]) => boolean)(
    name,
    name,
    name === 'SIGINT' ? 2 : 15,
  );

afterEach(() => {
  process.exitCode = undefined; // core.setFailed sets it; this test's failures are on purpose
  vi.restoreAllMocks();
});

function captureStdout(): () => string {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  return () => lines.join('');
}

describe('runAction', () => {
  it('starts the budget at the first signal: the kill is 10 s after a SIGINT, still after the SIGTERM', async () => {
    const out = captureStdout();
    const seen: number[] = [];
    await runAction(async (signal, budget) => {
      setTimeout(() => deliver('SIGINT'), 10);
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      seen.push(budget.timeLeft(0));
      deliver('SIGTERM');
      seen.push(budget.timeLeft(0));
      throw signal.reason;
    }, 'stopping.');
    expect(seen[0]).toBeGreaterThan(9_900);
    expect(seen[0]).toBeLessThanOrEqual(10_000);
    expect(seen[1]).toBeLessThanOrEqual(2_500);
    const text = out();
    expect(text).toMatch(
      /::warning::Received SIGINT: stopping\. The runner kills this step in 10\.0 s\./,
    );
    expect(text).toContain(
      '::warning::Received SIGTERM again: still stopping. The runner kills this step in 2.5 s.',
    );
    expect(text).toContain('::error::Cancelled (received SIGINT).');
    // Its handlers, and the early recorder it took over, are gone once the body has ended.
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('says which state a bare cancellation leaves, and prints no stack for an AbortError', async () => {
    const out = captureStdout();
    await runAction(
      async (signal) => {
        deliver('SIGINT');
        const e = new Error('Request aborted');
        e.name = 'AbortError';
        if (signal.aborted) throw e;
      },
      'stopping.',
      'Nothing was changed on the ALB.',
    );
    expect(out()).toContain(
      '::error::Cancelled (received SIGINT). Nothing was changed on the ALB.',
    );
    expect(out()).not.toContain('    at ');
  });
});
