/**
 * Runs one demo app in the foreground:
 *   node scripts/run-ts.mjs sandbox/app/cli.ts --version v2 [--port 8081] [--error-rate 0.1]
 *     [--latency-ms 50] [--unhealthy]
 *
 * Or once, as a Job's pod runs it (the sandbox's node agent adds --job for pods a Job owns):
 *   ... sandbox/app/cli.ts --version v2 --job [--duration-ms 500] [--exit-code 0]
 * prints what it does, works for --duration-ms, then exits with --exit-code. With
 * --notify <url> it first sends a "push notification": POST {pod, namespace, node} (from the
 * environment POD_NAME, POD_NAMESPACE, NODE_NAME, which the downward API sets) to the url, e.g.
 * the sandbox's /_sandbox/notifications counter.
 */
import { parseArgs } from 'node:util';
import { startDemoApp } from './server.js';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    version: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'error-rate': { type: 'string', default: '0' },
    'latency-ms': { type: 'string', default: '0' },
    unhealthy: { type: 'boolean', default: false },
    job: { type: 'boolean', default: false },
    'duration-ms': { type: 'string', default: '0' },
    'exit-code': { type: 'string', default: '0' },
    notify: { type: 'string' },
  },
  strict: true,
});

if (!values.version) {
  console.error('demo app: --version is required (the label its responses carry, e.g. v1)');
  process.exit(2);
}
if (values.job) {
  const durationMs = Number(values['duration-ms']);
  const exitCode = Number(values['exit-code']);
  if (
    !Number.isFinite(durationMs) ||
    durationMs < 0 ||
    !Number.isInteger(exitCode) ||
    exitCode < 0 ||
    exitCode > 255
  ) {
    console.error('demo app: --duration-ms must be a non-negative number and --exit-code 0-255');
    process.exit(2);
  }
  if (values.notify) {
    const res = await fetch(values.notify, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        pod: process.env.POD_NAME,
        namespace: process.env.POD_NAMESPACE,
        node: process.env.NODE_NAME,
      }),
    }).catch((e: unknown) => {
      console.error(`demo app: the notification failed: ${String(e)}`);
      process.exit(1);
    });
    console.log(`demo app ${values.version} job: notification sent (${res.status})`);
    if (!res.ok) process.exit(1);
  }
  console.log(`demo app ${values.version} job: working for ${durationMs} ms`);
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  console.log(`demo app ${values.version} job: done, exit code ${exitCode}`);
  process.exit(exitCode);
}
const app = await startDemoApp({
  version: values.version,
  port: Number(values.port),
  host: values.host,
  errorRate: Number(values['error-rate']),
  latencyMs: Number(values['latency-ms']),
  healthy: !values.unhealthy,
}).catch((e: unknown) => {
  console.error(`demo app: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(2);
});
console.log(`demo app ${app.version} listening on ${app.url}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0));
  });
}
