import { main } from './main.js';

const cancel = new AbortController();
const onSignal = (signal: NodeJS.Signals): void => {
  if (cancel.signal.aborted) return;
  process.stderr.write(
    `\nReceived ${signal}: stopping; weights changed by this run are restored first.\n`,
  );
  cancel.abort(new Error(`received ${signal}`));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.exitCode = await main(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  cwd: process.cwd(),
  signal: cancel.signal,
});
