/**
 * Wiring the singleton transform into helm and helmfile. Both call `--post-renderer <path>` with
 * the rendered manifests on stdin, and the path must be an executable. We ship the transform as
 * a bundled entry next to the action (dist/sync-apps/post-render.js: the same code as the kubectl
 * path, with the `yaml` library, no install step) and write a two-line shell script into
 * RUNNER_TEMP that runs it with the action's own node and a policy file. The script, not
 * --post-renderer-args, carries the policy, because helmfile and helm-diff pass those args on
 * differently across versions.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SingletonPolicy } from './singletons.js';

export interface PostRenderPolicy extends SingletonPolicy {
  /** File the post-renderer appends stopped objects to (JSON lines). */
  record?: string;
  /**
   * File the post-renderer appends, per render, one JSON line: every object it passed on
   * (kind, namespace as rendered, name). The last line after a helm upgrade is what helm applied.
   */
  rendered?: string;
}

export interface PostRendererFiles {
  /** The executable to pass as --post-renderer. */
  executable: string;
  policyFile: string;
  recordFile: string;
  renderedFile: string;
}

export async function writePostRenderer(options: {
  dir: string;
  node: string;
  script: string;
  policy: SingletonPolicy;
}): Promise<PostRendererFiles> {
  const policyFile = join(options.dir, 'singletons-policy.json');
  const recordFile = join(options.dir, 'singletons-stopped.jsonl');
  const renderedFile = join(options.dir, 'rendered-objects.jsonl');
  const executable = join(options.dir, 'stop-singletons');
  const policy: PostRenderPolicy = {
    ...options.policy,
    record: recordFile,
    rendered: renderedFile,
  };
  await writeFile(policyFile, JSON.stringify(policy));
  await writeFile(recordFile, '');
  await writeFile(renderedFile, '');
  await writeFile(
    executable,
    `#!/bin/sh\nexec ${shellQuote(options.node)} ${shellQuote(options.script)} --policy ${shellQuote(policyFile)}\n`,
  );
  await chmod(executable, 0o755);
  return { executable, policyFile, recordFile, renderedFile };
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
