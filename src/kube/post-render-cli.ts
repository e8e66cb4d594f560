/**
 * helm's post-renderer (bundled as dist/sync-apps/post-render.js; see post-render.ts):
 *   node post-render.js --policy <policy.json>  < rendered manifests  > manifests to apply
 * Stops singletons (singletons.ts) and appends what it stopped, one JSON line per object, to the
 * policy's `record` file, so the action can say which CronJobs it created suspended; and one
 * line listing every object of this render to its `rendered` file, so the action knows what helm
 * applied as soon as helm returns.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stopSingletons } from './singletons.js';
import type { PostRenderPolicy } from './post-render.js';

try {
  const { values } = parseArgs({ options: { policy: { type: 'string' } }, strict: false });
  if (typeof values.policy !== 'string') throw new Error('--policy <file> is required');
  const policy = JSON.parse(readFileSync(values.policy, 'utf8')) as PostRenderPolicy;
  const input = readFileSync(0, 'utf8');
  const { manifests, stopped, objects } = stopSingletons(input, policy);
  if (policy.record && stopped.length > 0) {
    appendFileSync(policy.record, stopped.map((s) => `${JSON.stringify(s)}\n`).join(''));
  }
  if (policy.rendered) appendFileSync(policy.rendered, `${JSON.stringify(objects)}\n`);
  process.stdout.write(manifests);
} catch (e) {
  process.stderr.write(`sync-apps post-renderer: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
