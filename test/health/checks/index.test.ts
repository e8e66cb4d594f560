import { describe, expect, it } from 'vitest';
import { describeCheck, type Check } from '../../../src/health/index.js';

describe('describeCheck', () => {
  it.each<[Check, string]>([
    [
      { kind: 'targetHealth', minHealthy: 2, maxUnhealthy: 0 },
      'targetHealth: every cluster with weight has ≥ 2 healthy and ≤ 0 unhealthy targets',
    ],
    [
      { kind: 'cloudwatch', metric: 'error-rate', max: 0.01, minRequests: 5 },
      'cloudwatch: error-rate of green ≤ 1% (judged from 5 requests)',
    ],
    [
      {
        kind: 'cloudwatch',
        metric: 'latency-p99',
        min: 0.01,
        max: 0.8,
        vsBaseline: { maxIncrease: 0.15, maxRatio: 1.5 },
      },
      'cloudwatch: latency-p99 of green ≥ 10ms and ≤ 800ms, ≤ baseline +150ms, ≤ baseline ×1.5',
    ],
    [
      { kind: 'cloudwatch', queries: [{ Id: 'rate' }], returnId: 'rate', max: 5 },
      'cloudwatch: custom query `rate` of green ≤ 5',
    ],
    [
      { kind: 'prometheus', url: 'http://prometheus:9090', query: 'up', min: 1, headers: {} },
      'prometheus: `up` ≥ 1',
    ],
    [
      {
        kind: 'http',
        url: 'https://web.example.com/healthz',
        method: 'GET',
        headers: {},
        expectStatus: 200,
        count: 1,
        timeoutMs: 5_000,
        minSuccessRatio: 1,
      },
      'http: GET https://web.example.com/healthz answers 200',
    ],
    [
      {
        kind: 'http',
        url: 'https://web.example.com/healthz',
        method: 'HEAD',
        headers: {},
        expectStatus: 204,
        count: 10,
        timeoutMs: 5_000,
        minSuccessRatio: 0.9,
      },
      'http: HEAD https://web.example.com/healthz answers 204 (90% of 10)',
    ],
  ])('%o', (check, line) => {
    expect(describeCheck(check, 'green')).toBe(line);
  });
});
