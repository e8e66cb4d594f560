import { describe, expect, it } from 'vitest';
import {
  EARLY_MIN_REQUESTS,
  EARLY_SIGNIFICANCE,
  decisivelyOver,
  earlyLookEnds,
  errorTailBound,
} from '../../src/health/early.js';

/** P(X ≥ k) for X ~ Binomial(n, p), summed exactly (small n). */
function exactTail(k: number, n: number, p: number): number {
  let logC = 0; // log C(n, 0)
  let total = 0;
  for (let i = 0; i <= n; i++) {
    if (i > 0) logC += Math.log((n - i + 1) / i);
    if (i >= k) total += Math.exp(logC + i * Math.log(p) + (n - i) * Math.log(1 - p));
  }
  return total;
}

/** A small deterministic generator, so the simulation below is the same on every run. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

/**
 * Analyses of a canary with a true 5xx rate `rate` against max 1%: 5 intervals of 1 min, 6
 * requests a second (10% of 60 req/s), looked at every second as on 1 s CloudWatch data.
 * Returns how many analyses failed early.
 */
function simulate(rate: number, analyses: number, seed: number): number {
  const random = lcg(seed);
  const looksPerInterval = 59;
  const alpha = EARLY_SIGNIFICANCE / (5 * looksPerInterval);
  let failed = 0;
  for (let a = 0; a < analyses; a++) {
    let early = false;
    for (let w = 0; w < 5 && !early; w++) {
      let requests = 0;
      let errors = 0;
      for (let look = 0; look < looksPerInterval && !early; look++) {
        for (let r = 0; r < 6; r++) {
          requests++;
          if (random() < rate) errors++;
        }
        early = decisivelyOver(errors, requests, 0.01, alpha);
      }
    }
    if (early) failed++;
  }
  return failed;
}

describe('errorTailBound', () => {
  it('is never below the exact binomial tail, so the stated confidence is a floor', () => {
    for (const n of [20, 50, 100, 300]) {
      for (const p of [0.001, 0.01, 0.05, 0.2]) {
        for (let k = Math.ceil(n * p) + 1; k <= n; k += Math.max(1, Math.floor(n / 25))) {
          const exact = exactTail(k, n, p);
          expect(errorTailBound(k, n, p)).toBeGreaterThanOrEqual(exact * (1 - 1e-9));
        }
      }
    }
  });

  it('gives no evidence for a rate at or under the threshold, and certainty over a max of 0', () => {
    expect(errorTailBound(3, 300, 0.01)).toBe(1);
    expect(errorTailBound(0, 300, 0.01)).toBe(1);
    expect(errorTailBound(1, 300, 0)).toBe(0);
    expect(errorTailBound(300, 300, 1)).toBe(1);
  });
});

describe('decisivelyOver', () => {
  // One analysis of 5 intervals of 1 min looked at every second: 295 looks share 0.1%.
  const alpha = EARLY_SIGNIFICANCE / 295;

  it('calls 90 errors in 300 requests against a 1% max decisive', () => {
    expect(decisivelyOver(90, 300, 0.01, alpha)).toBe(true);
    // The demo's bad build at 10%: 6 req/s, 30% failing, after a few seconds.
    expect(decisivelyOver(6, 20, 0.01, alpha)).toBe(true);
  });

  it(`never fails on fewer than ${EARLY_MIN_REQUESTS} requests, or the check's minRequests`, () => {
    expect(decisivelyOver(EARLY_MIN_REQUESTS - 1, EARLY_MIN_REQUESTS - 1, 0.01, alpha)).toBe(false);
    expect(decisivelyOver(EARLY_MIN_REQUESTS, EARLY_MIN_REQUESTS, 0.01, alpha)).toBe(true);
    expect(decisivelyOver(90, 300, 0.01, alpha, 500)).toBe(false);
    expect(decisivelyOver(150, 500, 0.01, alpha, 500)).toBe(true);
  });

  it('does not call a rate a little over the threshold on a small sample', () => {
    // 2% of 100 requests against 1% could well be a 1% canary's bad luck.
    expect(decisivelyOver(2, 100, 0.01, alpha)).toBe(false);
    expect(decisivelyOver(10, 300, 0.01, alpha)).toBe(false);
  });

  it('never fails early a canary exactly at the threshold (2000 simulated analyses), but does fail one at 3x it', () => {
    expect(simulate(0.01, 2000, 7)).toBe(0);
    // Not a vacuous test: the same loop fails a 3% canary early in most analyses, a 30% one always.
    expect(simulate(0.03, 100, 7)).toBeGreaterThan(50);
    expect(simulate(0.3, 20, 7)).toBe(20);
  });
});

describe('earlyLookEnds', () => {
  const T = Date.parse('2026-05-01T12:00:00Z');
  const at = (ends: number[]) => ends.map((t) => (t - T) / 1000);

  it('looks every second of a 1 min interval on 1 s data (the sandbox, high-resolution metrics)', () => {
    expect(at(earlyLookEnds({ start: T, end: T + 60_000 }, 1_000))).toEqual(
      Array.from({ length: 59 }, (_, i) => i + 1),
    );
  });

  it('has no early look in a 1 min interval on 1 min ALB data: its only datapoint comes after it closes', () => {
    expect(earlyLookEnds({ start: T, end: T + 60_000 }, 60_000)).toEqual([]);
  });

  it('looks at each whole minute of a longer interval on ALB data', () => {
    expect(at(earlyLookEnds({ start: T, end: T + 300_000 }, 60_000))).toEqual([60, 120, 180, 240]);
  });

  it('looks at most 60 times an interval', () => {
    const ends = earlyLookEnds({ start: T, end: T + 3600_000 }, 1_000);
    expect(ends).toHaveLength(59);
    expect(at(ends).slice(0, 2)).toEqual([60, 120]);
  });
});
