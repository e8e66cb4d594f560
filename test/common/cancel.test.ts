import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  budgetFromSignal,
  createCancelBudget,
  DeadlineError,
  formatSeconds,
  untilAborted,
} from '../../src/common/cancel.js';

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-11-30T18:00:00.000Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('createCancelBudget', () => {
  it('has no deadline and unlimited time until a signal comes', () => {
    const { budget } = createCancelBudget();
    expect(budget.signal.aborted).toBe(false);
    expect(budget.cancelledAt()).toBeUndefined();
    expect(budget.timeLeft()).toBe(Infinity);
    const d = budget.deadline({ afterCancelMs: 100 });
    vi.advanceTimersByTime(60_000);
    expect(d.signal.aborted).toBe(false);
    expect(d.remaining()).toBe(Infinity);
    d.dispose();
  });

  it('a maxMs deadline ends without any signal', () => {
    const { budget } = createCancelBudget();
    const d = budget.deadline({ maxMs: 30_000 });
    vi.advanceTimersByTime(29_999);
    expect(d.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(d.signal.aborted).toBe(true);
    expect(d.signal.reason).toBeInstanceOf(DeadlineError);
  });

  it('SIGINT: the kill is 10 s away; restores end 1 s before it; a write gets its grace', () => {
    const { budget, cancel } = createCancelBudget();
    const restore = budget.deadline({ maxMs: 30_000 });
    const write = budget.deadline({ afterCancelMs: 2_000, reserveMs: 4_000 });
    const start = Date.now();
    cancel('SIGINT');
    expect(budget.signal.aborted).toBe(true);
    expect((budget.signal.reason as Error).message).toBe('received SIGINT');
    expect(budget.cancelledAt()).toBe(start);
    expect(budget.killAt()).toBe(start + 10_000);
    expect(budget.timeLeft()).toBe(9_000);
    expect(budget.timeLeft(0)).toBe(10_000);
    vi.advanceTimersByTime(1_999);
    expect(write.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(write.signal.aborted).toBe(true);
    vi.advanceTimersByTime(6_999);
    expect(restore.signal.aborted).toBe(false);
    expect(restore.remaining()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(restore.signal.aborted).toBe(true);
  });

  it("the runner's SIGTERM 7.5 s after the SIGINT leaves the kill where it was", () => {
    const { budget, cancel } = createCancelBudget();
    const start = Date.now();
    cancel('SIGINT');
    vi.advanceTimersByTime(7_500);
    cancel('SIGTERM');
    expect(budget.killAt()).toBe(start + 10_000);
    expect(budget.cancelledAt()).toBe(start);
  });

  it('a SIGTERM first leaves 2.5 s; an early SIGTERM after a SIGINT brings every deadline forward', () => {
    const first = createCancelBudget();
    first.cancel('SIGTERM');
    expect(first.budget.timeLeft(0)).toBe(2_500);

    const { budget, cancel } = createCancelBudget();
    const restore = budget.deadline();
    cancel('SIGINT');
    vi.advanceTimersByTime(1_000);
    cancel('SIGTERM');
    expect(budget.timeLeft(0)).toBe(2_500);
    vi.advanceTimersByTime(1_499);
    expect(restore.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(restore.signal.aborted).toBe(true);
  });

  it('announces the signal with the kill time known, before anything listening to the budget runs', () => {
    const { budget, cancel } = createCancelBudget();
    const seen: string[] = [];
    budget.signal.addEventListener('abort', () => seen.push('abort'));
    cancel('SIGINT', () => seen.push(`announce ${budget.timeLeft(0)}`));
    expect(seen).toEqual(['announce 10000', 'abort']);
  });

  it('takes the time of a signal received earlier (while the bundle loaded)', () => {
    const { budget, cancel } = createCancelBudget();
    cancel('SIGINT', undefined, Date.now() - 3_000);
    expect(budget.timeLeft(0)).toBe(7_000);
  });
});

describe('budgetFromSignal', () => {
  it("treats the signal's abort as the runner's SIGINT", () => {
    const controller = new AbortController();
    const budget = budgetFromSignal(controller.signal);
    expect(budget.timeLeft()).toBe(Infinity);
    controller.abort(new Error('received SIGINT'));
    expect(budget.signal).toBe(controller.signal);
    expect(budget.timeLeft(0)).toBe(10_000);
  });

  it('never cancels without a signal', () => {
    expect(budgetFromSignal(undefined).signal.aborted).toBe(false);
  });
});

describe('untilAborted', () => {
  it('rejects with the reason at the abort, though the work never ends', async () => {
    const controller = new AbortController();
    const pending = untilAborted(new Promise(() => undefined), controller.signal);
    controller.abort(new Error('received SIGINT'));
    await expect(pending).rejects.toThrow('received SIGINT');
  });

  it('passes a result, an error, or a plain value through', async () => {
    const signal = new AbortController().signal;
    await expect(untilAborted(Promise.resolve(1), signal)).resolves.toBe(1);
    await expect(untilAborted(Promise.reject(new Error('no')), signal)).rejects.toThrow('no');
    await expect(untilAborted(2, signal)).resolves.toBe(2);
  });
});

it('formats seconds with one decimal', () => {
  expect(formatSeconds(8_950)).toBe('9.0 s');
  expect(formatSeconds(2_000)).toBe('2.0 s');
  expect(formatSeconds(140)).toBe('0.1 s');
});
