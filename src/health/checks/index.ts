/**
 * Every kind of health check, and what is done with a list of them whatever their kinds:
 * reading `analysis.checks` (and verify-health's `checks` input), describing, masking.
 * A new kind is a module implementing CheckKind plus one line in CHECK_KINDS.
 */
import type { At, YamlSource } from '../../yaml/source.js';
import { closestMatch } from '../../yaml/suggest.js';
import type { CheckKindName, Measurement } from '../types.js';
import { cloudwatch } from './cloudwatch.js';
import { http } from './http.js';
import { scalarValue, type CheckContext, type CheckKind, type PreparedKind } from './kind.js';
import { prometheus } from './prometheus.js';
import { targetHealth, type TargetHealthCheck } from './target-health.js';

export const CHECK_KINDS = [targetHealth, cloudwatch, prometheus, http] as const;

type CheckOf<K> = K extends CheckKind<infer C> ? C : never;
/** One check of any kind, as parsed and validated. */
export type Check = CheckOf<(typeof CHECK_KINDS)[number]>;

// types.ts names the kinds without importing them; this fails to compile when the two differ.
const _sameKinds: [Check['kind']] extends [CheckKindName]
  ? [CheckKindName] extends [Check['kind']]
    ? true
    : never
  : never = true;

/** How a canary is watched after a shift. Durations are in milliseconds. */
export interface Analysis {
  warmupMs: number;
  intervalMs: number;
  durationMs: number;
  failureLimit: number;
  /**
   * Whether an interval may fail before it closes, when its data so far already shows a rate
   * check failing beyond doubt (early.ts). Absent means on.
   */
  failEarly?: boolean;
  checks: Check[];
}

/** The registry as the code that handles checks of any kind sees it. */
const KINDS: readonly CheckKind<Check>[] = CHECK_KINDS;
const CHECK_NAMES: readonly string[] = KINDS.map((k) => k.name);

/** The kind of a check. */
export function kindOf(check: Check): CheckKind<Check> {
  return KINDS.find((k) => k.name === check.kind) as CheckKind<Check>;
}

function kindNamed(name: string): CheckKind<Check> | undefined {
  return KINDS.find((k) => k.name === name);
}

/**
 * Prepares checks of any kinds, each kind all of its checks at once; an interval's
 * measurements come back in the checks' order, one list per check.
 */
export function prepareCheckList(checks: readonly Check[], context: CheckContext): PreparedKind {
  const groups = KINDS.flatMap((kind) => {
    const mine = checks.flatMap((check, index) =>
      check.kind === kind.name ? [{ check, index }] : [],
    );
    return mine.length ? [{ mine, prepared: kind.prepare(mine, context) }] : [];
  });
  const early = groups.filter((g) => g.prepared.evaluateEarly);
  return {
    async evaluate(window, io) {
      const byCheck: Measurement[][] = checks.map(() => []);
      await Promise.all(
        groups.map(async ({ mine, prepared }) => {
          const results = await prepared.evaluate(window, io);
          mine.forEach(({ index }, i) => (byCheck[index] = results[i] ?? []));
        }),
      );
      return byCheck;
    },
    ...(early.length
      ? {
          async evaluateEarly(partial, io, alpha) {
            const byCheck: Measurement[][] = checks.map(() => []);
            await Promise.all(
              early.map(async ({ mine, prepared }) => {
                const results = await (
                  prepared.evaluateEarly as NonNullable<PreparedKind['evaluateEarly']>
                )(partial, io, alpha);
                mine.forEach(({ index }, i) => (byCheck[index] = results[i] ?? []));
              }),
            );
            return byCheck;
          },
        }
      : {}),
  };
}

/** What a step checks when the file has no `analysis.checks`. */
export function defaultChecks(): Check[] {
  const check: TargetHealthCheck = { kind: 'targetHealth', minHealthy: 1, maxUnhealthy: 0 };
  return [check];
}

/** One line for the plan, about the canary named `canary`. */
export function describeCheck(check: Check, canary: string): string {
  return kindOf(check).describe(check, canary);
}

/** Reads a list of checks, each a one-key map naming its kind: `- cloudwatch: {...}`. */
export function readChecks(src: YamlSource, at: At): Check[] | undefined {
  const items = src.list(at, 'a list of checks, e.g. "- targetHealth: { minHealthy: 1 }"');
  if (!items) return undefined;
  if (items.length === 0) {
    src.reportValue(at, `${at.label} is empty; list at least one check.`);
    return undefined;
  }
  const checks: Check[] = [];
  for (const item of items) {
    const check = readCheck(src, item);
    if (check) checks.push(check);
  }
  return checks.length === items.length ? checks : undefined;
}

function readCheck(src: YamlSource, item: At): Check | undefined {
  const kinds = CHECK_NAMES.join(', ');
  const scalar = scalarValue(item.node);
  if (typeof scalar === 'string' && kindNamed(scalar)) {
    src.reportValue(
      item,
      `${item.label} must be a map; write "- ${scalar}: {}" to use its defaults.`,
    );
    return undefined;
  }
  const entries = src.map(item, undefined, `a map with one key naming the check (${kinds})`);
  if (!entries) return undefined;
  if (entries.size === 0) {
    src.reportValue(item, `${item.label} is empty; name one check: ${kinds}.`);
    return undefined;
  }
  let body: { kind: CheckKind<Check>; at: At } | undefined;
  let ok = true;
  for (const [name, at] of entries) {
    const kind = kindNamed(name);
    if (!kind) {
      src.reportEntry(at, unknownKindMessage(name, item.label));
      ok = false;
    } else if (body) {
      src.reportEntry(
        at,
        `${item.label} names two checks (${body.kind.name} and ${name}); start each check with its own "-".`,
      );
      ok = false;
    } else {
      body = { kind, at };
    }
  }
  if (!ok || !body) return undefined;
  return body.kind.parse(src, body.at);
}

function unknownKindMessage(name: string, label: string): string {
  const owners = KINDS.filter((k) => k.fields.includes(name)).map((k) => k.name);
  if (owners.length === 1) {
    return `Unknown check "${name}" in ${label}; "${name}" is a setting of ${owners[0]}: write "- ${owners[0]}: { ${name}: ... }".`;
  }
  const suggestion = closestMatch(name, CHECK_NAMES);
  if (suggestion) return `Unknown check "${name}" in ${label}; did you mean "${suggestion}"?`;
  return `Unknown check "${name}" in ${label}; the checks are ${CHECK_NAMES.join(', ')}.`;
}

export type { CheckContext, CheckIO, CheckKind, Numbered, PreparedKind } from './kind.js';
export type { CloudWatchCheck, CloudWatchMetric } from './cloudwatch.js';
export type { HttpCheck } from './http.js';
export type { PrometheusCheck } from './prometheus.js';
export type { TargetHealthCheck } from './target-health.js';
export {
  CLOUDWATCH_METRICS,
  DEFAULT_CLOUDWATCH_DELAY_MS,
  DEFAULT_CLOUDWATCH_PERIOD_MS,
} from './cloudwatch.js';
export { HTTP_CHECK_DEFAULTS } from './http.js';
