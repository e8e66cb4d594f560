import { describe, expect, it } from 'vitest';
import { MetricStore } from '../../sandbox/metrics.js';

const T = Date.UTC(2026, 0, 1, 0, 0, 0);
const id = {
  namespace: 'AWS/ApplicationELB',
  metricName: 'RequestCount',
  dimensions: { LoadBalancer: 'app/a/1' },
};

describe('MetricStore', () => {
  it('keeps data put out of order and aggregates it per period', () => {
    const store = new MetricStore();
    store.put({ ...id, value: 1, timestamp: T + 70_000 });
    store.put({ ...id, value: 2, timestamp: T + 5_000 });
    store.put({ ...id, value: 3, timestamp: T + 10_000 });
    expect(store.query({ ...id, start: T, end: T + 120_000, period: 60, stat: 'Sum' })).toEqual({
      timestamps: [T, T + 60_000],
      values: [5, 1],
    });
  });

  it('treats dimension order as irrelevant but the dimension set as exact', () => {
    const store = new MetricStore();
    store.put({
      ...id,
      dimensions: { TargetGroup: 'tg', LoadBalancer: 'lb' },
      value: 1,
      timestamp: T,
    });
    const q = { ...id, start: T, end: T + 60_000, period: 60, stat: 'SampleCount' };
    expect(
      store.query({ ...q, dimensions: { LoadBalancer: 'lb', TargetGroup: 'tg' } }).values,
    ).toEqual([1]);
    expect(store.query({ ...q, dimensions: { LoadBalancer: 'lb' } }).values).toEqual([]);
  });

  it('filters by unit when the query names one', () => {
    const store = new MetricStore();
    store.put({ ...id, value: 1, timestamp: T, unit: 'Count' });
    store.put({ ...id, value: 1000, timestamp: T, unit: 'Milliseconds' });
    const q = { ...id, start: T, end: T + 60_000, period: 60, stat: 'Sum' };
    expect(store.query({ ...q, unit: 'Count' }).values).toEqual([1]);
    expect(store.query(q).values).toEqual([1001]);
  });

  it('drops samples older than the retention once it prunes', () => {
    let now = T;
    const store = new MetricStore({ retentionMs: 60_000, now: () => now });
    store.put({ ...id, value: 1, timestamp: T });
    now = T + 10 * 60_000;
    // Pruning runs every 10,000 puts, so a long-running demo stays bounded.
    for (let i = 0; i < 10_000; i++) store.put({ ...id, value: 1, timestamp: now });
    const q = { ...id, start: T, end: now + 1, period: 60, stat: 'Sum' };
    expect(store.query(q)).toEqual({ timestamps: [now], values: [10_000] });
  });
});
