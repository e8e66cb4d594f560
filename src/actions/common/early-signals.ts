/**
 * A SIGINT or SIGTERM that came before runAction installed its handlers. The runner starts
 * dist/<name>/index.js, a small loader (scripts/bundle.mjs) that records such signals from its
 * first line, while Node still parses the bundle, and hands them over through a global. Without
 * the loader (the bundle run directly, or the sources in tests), this module, the entry's first
 * import, records them from when it is evaluated. Either way a cancel that early still ends
 * with "cancelled; nothing was changed" instead of a process killed with nothing logged.
 */
interface EarlySignal {
  name: NodeJS.Signals;
  at: number;
}

const loader = (globalThis as { __eccEarlySignals?: { take(): EarlySignal[] } }).__eccEarlySignals;

const early: EarlySignal[] = [];
const record = (name: NodeJS.Signals): void => {
  early.push({ name, at: Date.now() });
};
if (!loader) {
  process.on('SIGINT', record);
  process.on('SIGTERM', record);
}

/** The signals received so far; from now on they are runAction's to handle. */
export function takeEarlySignals(): EarlySignal[] {
  if (loader) return loader.take();
  process.off('SIGINT', record);
  process.off('SIGTERM', record);
  return early.splice(0);
}
