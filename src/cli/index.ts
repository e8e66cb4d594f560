import { main } from './main.js';

const cancel = new AbortController();
// What a cancel does, by command: the same words as the actions' cancel.
const onCancel: Record<string, string> = {
  'create-cluster': 'stopping the waits and reporting what exists.',
  sync: 'stopping the tool and everything it started (its process group).',
  handoff: 'handing the CronJobs and singletons back to the old owner first.',
};
const onSignal = (signal: NodeJS.Signals): void => {
  if (cancel.signal.aborted) return;
  const doing =
    onCancel[process.argv[2] ?? ''] ?? 'stopping; weights changed by this run are restored first.';
  process.stderr.write(`\nReceived ${signal}: ${doing}\n`);
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
