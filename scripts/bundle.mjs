// Bundles one ESM file per action into dist/<name>/index.js.
// The createRequire banner is needed because a CommonJS dependency inside the
// AWS SDK / @actions toolkit does a dynamic `require` of a Node builtin.
import { build } from 'esbuild';
import { chmodSync, readdirSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

// One bundle per declared action: actions/<name>/action.yml runs dist/<name>/index.js,
// built from src/actions/<name>/index.ts.
const actions = readdirSync('actions', { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join('actions', d.name, 'action.yml')))
  .map((d) => d.name)
  .sort();
// The root action.yml (the rollout action) runs dist/<name>/index.js too, once it is a node action.
const rootMain = /^\s*main:\s*['"]?dist\/([\w-]+)\/index\.js/m.exec(
  readFileSync('action.yml', 'utf8'),
);
if (rootMain) actions.push(rootMain[1]);
for (const name of actions) {
  if (!existsSync(join('src', 'actions', name, 'index.ts'))) {
    throw new Error(`actions/${name}/action.yml has no entry point src/actions/${name}/index.ts`);
  }
}

// Programs an action runs besides its entry point: the kubeconfigs of create-cluster and
// sync-apps name the EKS token minter (the exec credential plugin) beside their bundle, and
// sync-apps passes its singleton post-renderer to helm.
const extras = {
  'create-cluster': { 'eks-token.js': join('src', 'eks', 'token-cli.ts') },
  'sync-apps': {
    'eks-token.js': join('src', 'eks', 'token-cli.ts'),
    'post-render.js': join('src', 'kube', 'post-render-cli.ts'),
  },
};

// The CLI (package.json bin) is bundled the same way, with a shebang.
const entries = [
  ...actions.flatMap((name) => [
    {
      entry: join('src', 'actions', name, 'index.ts'),
      out: join('dist', name, 'index.js'),
      shebang: '',
    },
    ...Object.entries(extras[name] ?? {}).map(([file, entry]) => ({
      entry,
      out: join('dist', name, file),
      shebang: '',
    })),
  ]),
  {
    entry: join('src', 'cli', 'index.ts'),
    out: join('dist', 'cli', 'index.js'),
    shebang: '#!/usr/bin/env node\n',
  },
];

rmSync('dist', { recursive: true, force: true });
for (const { entry, out, shebang } of entries) {
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    legalComments: 'none',
    logLevel: 'warning',
    banner: {
      js: `${shebang}import { createRequire as __ecc_createRequire } from 'node:module'; const require = __ecc_createRequire(import.meta.url);`,
    },
  });
  if (shebang) chmodSync(out, 0o755);
  console.log(`bundled ${out}`);
}
