// Bundles one ESM file per action into dist/<name>/index.js.
// The createRequire banner is needed because a CommonJS dependency inside the
// AWS SDK / @actions toolkit does a dynamic `require` of a Node builtin.
import { build } from 'esbuild';
import { readdirSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const actions = readdirSync('src', { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join('src', d.name, 'index.ts')))
  .map((d) => d.name)
  .sort();

rmSync('dist', { recursive: true, force: true });
for (const name of actions) {
  await build({
    entryPoints: [join('src', name, 'index.ts')],
    outfile: join('dist', name, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    legalComments: 'none',
    logLevel: 'warning',
    banner: {
      js: "import { createRequire as __ecc_createRequire } from 'node:module'; const require = __ecc_createRequire(import.meta.url);",
    },
  });
  console.log(`bundled dist/${name}/index.js`);
}
