import { describe, expect, it } from 'vitest';
import type { Check } from '../../src/health/index.js';
import { checkSecrets, maskCheckSecrets, redactCheck } from '../../src/health/secrets.js';

const probe = (headers: Record<string, string>): Check => ({
  kind: 'http',
  url: 'https://web.example.com/healthz',
  method: 'GET',
  headers,
  expectStatus: 200,
  count: 1,
  timeoutMs: 5_000,
  minSuccessRatio: 1,
});
const prometheus = (headers: Record<string, string>, bearerToken?: string): Check => ({
  kind: 'prometheus',
  url: 'https://prometheus.example.com',
  query: 'up',
  max: 1,
  headers,
  ...(bearerToken !== undefined ? { bearerToken } : {}),
});

describe('checkSecrets', () => {
  it('masks credentials of prometheus and http checks, and nothing else', () => {
    const checks: Check[] = [
      { kind: 'targetHealth', minHealthy: 1, maxUnhealthy: 0 },
      prometheus({ 'X-Scope-OrgID': '1', 'X-Api-Key': 'prom-key' }, 'prom-token'),
      probe({ 'X-Canary': '1', Cookie: 'session=abc123', Authorization: 'Bearer probe-token' }),
    ];
    expect(checkSecrets(checks)).toEqual([
      'prom-token',
      'prom-key',
      'session=abc123',
      'Bearer probe-token',
      // The credential alone, as a log line may show it without "Bearer".
      'probe-token',
    ]);
  });

  it('splits only Authorization values into scheme and credential', () => {
    expect(checkSecrets([probe({ 'X-Api-Key': 'two words' })])).toEqual(['two words']);
    expect(checkSecrets([probe({ Authorization: 'Basic dXNlcjpwYXNz' })])).toEqual([
      'Basic dXNlcjpwYXNz',
      'dXNlcjpwYXNz',
    ]);
  });

  it('masks a value once and never an empty one', () => {
    const checks = [
      prometheus({ 'X-Auth-Token': 't0ken', Authorization: ' ' }, 't0ken'),
      probe({ 'X-Auth-Token': 't0ken' }),
    ];
    expect(checkSecrets(checks)).toEqual(['t0ken']);
  });
});

describe('maskCheckSecrets', () => {
  it('hands every secret to the mask function', () => {
    const masked: string[] = [];
    maskCheckSecrets([prometheus({ 'X-Scope-OrgID': '1' }, 'prom-token')], (v) => masked.push(v));
    expect(masked).toEqual(['prom-token']);
  });
});

describe('redactCheck', () => {
  it('blanks every header value and the bearer token, and leaves other checks alone', () => {
    const targetHealth: Check = { kind: 'targetHealth', minHealthy: 1, maxUnhealthy: 0 };
    expect(redactCheck(targetHealth)).toBe(targetHealth);
    expect(redactCheck(prometheus({ 'X-Scope-OrgID': '1' }, 'prom-token'))).toEqual(
      prometheus({ 'X-Scope-OrgID': '***' }, '***'),
    );
    expect(redactCheck(probe({ Authorization: 'Bearer t' }))).toEqual(
      probe({ Authorization: '***' }),
    );
  });
});
