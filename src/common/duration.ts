/**
 * Durations as the rollout file writes them: a sequence of <number><unit> with units ms, s, m,
 * h (`500ms`, `30s`, `5m`, `1h`, `1m30s`, `1.5s`), the same spelling as Go and Argo Rollouts.
 * A bare `0` is also accepted. Results are whole milliseconds (sub-millisecond parts round).
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '0') return 0;
  if (!WHOLE.test(s)) return undefined;
  let total = 0;
  for (const [, amount, unit] of s.matchAll(PART)) {
    total += Number(amount) * (UNIT_MS[unit as string] as number);
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

/** The shortest spelling parseDuration reads back: 90000 -> `1m30s`, 800 -> `800ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
