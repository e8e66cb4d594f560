// Runs a TypeScript entry point under plain Node: `node scripts/run-ts.mjs sandbox/cli.ts --port 4566`.
// Node's own type stripping cannot load our sources: they import `./x.js` (tsc NodeNext style)
// while the files are `x.ts`. So bundle the entry with esbuild (npm packages stay external and
// resolve from node_modules as usual), then import the bundle with the remaining arguments.
import { build } from 'esbuild';
import { mkdirSync, rmSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs <entry.ts> [arguments...]');
  process.exit(2);
}
const outDir = fileURLToPath(new URL('../.tmp/run-ts/', import.meta.url));
mkdirSync(outDir, { recursive: true });
const outfile = resolve(outDir, `${basename(entry, '.ts')}-${process.pid}.mjs`);
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: 'inline',
  logLevel: 'warning',
});
process.argv = [process.argv[0], resolve(entry), ...args];
try {
  await import(pathToFileURL(outfile).href);
} finally {
  rmSync(outfile, { force: true });
}
