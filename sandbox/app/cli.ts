/**
 * Runs one demo app in the foreground:
 *   node scripts/run-ts.mjs sandbox/app/cli.ts --version v2 [--port 8081] [--error-rate 0.1]
 *     [--latency-ms 50] [--unhealthy]
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
  },
  strict: true,
});

if (!values.version) {
  console.error('demo app: --version is required (the label its responses carry, e.g. v1)');
  process.exit(2);
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
