/**
 * Numbers as an on-call engineer reads them: rates as percents, latencies in ms or s, counts
 * as integers. Trailing zeros are dropped so thresholds read as written (`1%`, `0.5%`).
 */
function trim(n: number, decimals: number): string {
  return String(Number(n.toFixed(decimals)));
}

export function formatPercent(ratio: number): string {
  if (!Number.isFinite(ratio)) return String(ratio);
  const pct = ratio * 100;
  return `${trim(pct, Math.abs(pct) < 1 ? 2 : 1)}%`;
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  if (Math.abs(seconds) < 1) return `${trim(seconds * 1000, 1)}ms`;
  return `${trim(seconds, 3)}s`;
}

export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return trim(n, Math.abs(n) >= 100 ? 0 : 4);
}

/** `≤ 1%`, `≥ 10`, `≥ 5 and ≤ 100`, or `none` when the check sets no bound. */
export function formatBounds(
  bounds: { min?: number; max?: number },
  show: (n: number) => string,
): string {
  const parts: string[] = [];
  if (bounds.min !== undefined) parts.push(`≥ ${show(bounds.min)}`);
  if (bounds.max !== undefined) parts.push(`≤ ${show(bounds.max)}`);
  return parts.length ? parts.join(' and ') : 'none';
}

/** The first failed bound as a comparison (`4.2% > 1%`), or undefined when within bounds. */
export function boundViolation(
  value: number,
  bounds: { min?: number; max?: number },
  show: (n: number) => string,
): string | undefined {
  if (bounds.max !== undefined && value > bounds.max) return `${show(value)} > ${show(bounds.max)}`;
  if (bounds.min !== undefined && value < bounds.min) return `${show(value)} < ${show(bounds.min)}`;
  return undefined;
}

/** `1 interval`, `3 intervals`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
