/**
 * Which parts of a check's settings are secrets: what to mask in the log and blank in the
 * report. Masking is by value everywhere in the log, so it is kept to values that are really
 * credentials: masking `X-Scope-OrgID: "1"` would blank every "1" the job prints.
 */
import type { Check, PrometheusCheck } from '../rollout-file/types.js';

/** Header names that carry credentials (Authorization, X-Api-Key, Cookie, X-Auth-Token, …). */
export const CREDENTIAL_HEADER = /authorization|token|secret|key|cookie|session|password/i;

export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADER.test(name);
}

/** What the report shows instead of a secret. */
export const REDACTED = '***';

/**
 * The values of these checks to mask in the log: Prometheus bearer tokens, and the values of
 * credential headers of prometheus and http checks. Of an `Authorization: <scheme> <credential>`
 * value the credential alone is masked too, as it may be printed without its scheme.
 */
export function checkSecrets(checks: readonly Check[]): string[] {
  const secrets = new Set<string>();
  const add = (value: string): void => {
    if (value.trim() !== '') secrets.add(value);
  };
  for (const check of checks) {
    if (check.kind !== 'prometheus' && check.kind !== 'http') continue;
    if (check.kind === 'prometheus' && check.bearerToken) add(check.bearerToken);
    for (const [name, value] of Object.entries(check.headers)) {
      if (!isCredentialHeader(name)) continue;
      add(value);
      const credential = /authorization/i.test(name)
        ? /^\s*[\w-]+\s+(\S+)\s*$/.exec(value)?.[1]
        : undefined;
      if (credential !== undefined) add(credential);
    }
  }
  return [...secrets];
}

/** Registers every secret of these checks with the log's masking (e.g. `core.setSecret`). */
export function maskCheckSecrets(
  checks: readonly Check[],
  setSecret: (value: string) => void,
): void {
  for (const secret of checkSecrets(checks)) setSecret(secret);
}

/**
 * A check's settings as written to the report, summary or a PR: every header value and the
 * bearer token blanked. All header values, not only credential ones, because a report is
 * uploaded and kept, and a header name does not always tell.
 */
export function redactCheck(check: Check): Check {
  switch (check.kind) {
    case 'prometheus': {
      const redacted: PrometheusCheck = { ...check, headers: redactHeaders(check.headers) };
      if (check.bearerToken !== undefined) redacted.bearerToken = REDACTED;
      return redacted;
    }
    case 'http':
      return { ...check, headers: redactHeaders(check.headers) };
    default:
      return check;
  }
}

function redactHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(headers).map((name) => [name, REDACTED]));
}
