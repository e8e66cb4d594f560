/**
 * Secrets in the headers of checks that send requests (prometheus, http). Masking is by value
 * everywhere in the log, so it is kept to values that are really credentials: masking
 * `X-Scope-OrgID: "1"` would blank every "1" the job prints.
 */

/** Header names that carry credentials (Authorization, X-Api-Key, Cookie, X-Auth-Token, …). */
export const CREDENTIAL_HEADER = /authorization|token|secret|key|cookie|session|password/i;

export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADER.test(name);
}

/** What the report shows instead of a secret. */
export const REDACTED = '***';

/**
 * The values of credential headers. Of an `Authorization: <scheme> <credential>` value the
 * credential alone is a secret too, as it may be printed without its scheme.
 */
export function headerSecrets(headers: Record<string, string>): string[] {
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!isCredentialHeader(name)) continue;
    secrets.push(value);
    const credential = /authorization/i.test(name)
      ? /^\s*[\w-]+\s+(\S+)\s*$/.exec(value)?.[1]
      : undefined;
    if (credential !== undefined) secrets.push(credential);
  }
  return secrets;
}

/**
 * Every header value blanked, not only credential ones: a report is uploaded and kept, and a
 * header name does not always tell.
 */
export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(headers).map((name) => [name, REDACTED]));
}
