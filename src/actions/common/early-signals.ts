/**
 * The first module every action's entry imports, before the bundle's heavy modules load (about
 * 0.2-0.5 s): until runAction installs its handlers, a SIGINT or SIGTERM would end the process
 * at once, with nothing in the log. This records such a signal instead; runAction takes it over,
 * so a cancel that comes that early still ends with "cancelled; nothing was changed".
 */
const early: { name: NodeJS.Signals; at: number }[] = [];
const record = (name: NodeJS.Signals): void => {
  early.push({ name, at: Date.now() });
};
process.on('SIGINT', record);
process.on('SIGTERM', record);

/** The signals received so far; from now on they are runAction's to handle. */
export function takeEarlySignals(): { name: NodeJS.Signals; at: number }[] {
  process.off('SIGINT', record);
  process.off('SIGTERM', record);
  return early.splice(0);
}
