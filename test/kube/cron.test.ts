import { describe, expect, it } from 'vitest';
import { nextSlot } from '../../src/kube/cron.js';

const at = (iso: string): Date => new Date(iso);
const next = (schedule: string, after: string): string | undefined =>
  nextSlot(schedule, at(after))?.toISOString();

describe('nextSlot', () => {
  it('reads the five fields with lists, ranges, steps and macros, in UTC', () => {
    expect(next('* * * * *', '2026-11-30T19:00:30Z')).toBe('2026-11-30T19:01:00.000Z');
    expect(next('*/15 * * * *', '2026-11-30T19:01:00Z')).toBe('2026-11-30T19:15:00.000Z');
    expect(next('0 3 * * *', '2026-11-30T19:00:00Z')).toBe('2026-12-01T03:00:00.000Z');
    expect(next('30 9 * * 1-5', '2026-12-04T10:00:00Z')).toBe('2026-12-07T09:30:00.000Z'); // Fri → Mon
    expect(next('0 0 1 1 *', '2026-11-30T00:00:00Z')).toBe('2027-01-01T00:00:00.000Z');
    expect(next('@hourly', '2026-11-30T19:00:00Z')).toBe('2026-11-30T20:00:00.000Z');
    expect(next('0 12 * * 7', '2026-11-30T19:00:00Z')).toBe('2026-12-06T12:00:00.000Z'); // 7 is Sunday
  });

  it('takes either day field when both are restricted, as cron does', () => {
    // The 15th (a Tuesday) or any Friday: Friday 4 December comes first.
    expect(next('0 0 15 * 5', '2026-11-30T19:00:00Z')).toBe('2026-12-04T00:00:00.000Z');
  });

  it('answers undefined for what it does not read', () => {
    expect(next('0 0 * JAN *', '2026-11-30T19:00:00Z')).toBeUndefined();
    expect(next('61 * * * *', '2026-11-30T19:00:00Z')).toBeUndefined();
    expect(next('0 0 30 2 *', '2026-11-30T19:00:00Z')).toBeUndefined();
  });
});
