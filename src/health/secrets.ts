/**
 * Which parts of the checks' settings are secrets: what to mask in the log and blank in the
 * report. Each kind says which of its own settings are (see ./checks/headers.ts for why
 * masking is kept to real credentials).
 */
import { kindOf, type Check } from './checks/index.js';

/** The values of these checks to mask in the log, each once. */
export function checkSecrets(checks: readonly Check[]): string[] {
  const secrets = new Set<string>();
  for (const check of checks) {
    for (const value of kindOf(check).secrets(check)) {
      if (value.trim() !== '') secrets.add(value);
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

/** A check's settings as written to the report, summary or a PR. */
export function redactCheck(check: Check): Check {
  return kindOf(check).redact(check);
}
