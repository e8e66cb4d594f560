import { describe, expect, it } from 'vitest';
import { isCredentialHeader } from '../../../src/health/checks/headers.js';

describe('isCredentialHeader', () => {
  it.each([
    'Authorization',
    'Proxy-Authorization',
    'X-Api-Key',
    'x-auth-token',
    'X-Amz-Security-Token',
    'Cookie',
    'X-Session-Id',
    'X-Client-Secret',
    'X-Password',
  ])('%s carries a credential', (name) => {
    expect(isCredentialHeader(name)).toBe(true);
  });

  it.each(['X-Scope-OrgID', 'X-Canary', 'Accept', 'User-Agent', 'Host'])('%s does not', (name) => {
    expect(isCredentialHeader(name)).toBe(false);
  });
});
