/**
 * sync-apps: deploys apps to one cluster with the user's helmfile, helm chart or kubectl
 * manifests, waits for them, binds the cluster's target group, and keeps singletons stopped
 * off the owner (src/operations/sync-apps.ts).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as core from '@actions/core';
import { makeElbv2Client } from '../../aws/clients.js';
import { systemClock } from '../../common/clock.js';
import { makeEksClient } from '../../eks/describe.js';
import { execToolRunner } from '../../kube/tools.js';
import { syncApps, type SyncAppsResult } from '../../operations/sync-apps.js';
import { coreLogger, runAction } from '../common/run.js';
import { readSyncAppsInputs } from './inputs.js';
import { Outputs } from './io.js';

/** The helper bundled beside this file (scripts/bundle.mjs): the post-renderer. */
function helper(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

export async function run(): Promise<void> {
  await runAction(async (signal) => {
    const inputs = await readSyncAppsInputs();
    const workDir = await mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), 'sync-apps-'));
    const env = Object.fromEntries(
      Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
    );
    const region = inputs.region ?? 'us-east-1';
    const eks = makeEksClient(region);
    const elbv2 = makeElbv2Client(inputs.rollout?.file.region ?? region);
    try {
      const result = await syncApps(
        {
          cluster: inputs.cluster,
          source: inputs.source,
          mode: inputs.mode,
          ...(inputs.rollout ? { rollout: inputs.rollout } : {}),
          timeoutMs: inputs.timeoutMs,
          workDir,
          helpers: {
            node: process.execPath,
            postRenderer: helper('post-render.js'),
          },
        },
        {
          tools: (toolEnv) => execToolRunner({ env: toolEnv, signal }),
          env,
          eks: () => eks,
          elbv2: () => elbv2,
          logger: coreLogger,
          clock: systemClock,
          signal,
          mask: (secret) => core.setSecret(secret),
        },
      );
      core.setOutput(Outputs.changed, String(result.changed));
      core.setOutput(Outputs.diff, result.diffPath);
      core.setOutput(Outputs.resources, JSON.stringify(result.resources));
      if (result.binding?.targets) {
        core.setOutput(
          Outputs.targetHealth,
          JSON.stringify({
            targetGroupArn: result.binding.targetGroupArn,
            healthyHere: result.binding.targets.healthyHere,
            minHealthy: result.binding.minHealthy,
            targets: result.binding.targets.targets,
          }),
        );
      }
      if (process.env.GITHUB_STEP_SUMMARY) await summarize(result, inputs.rollout?.as).write();
    } finally {
      eks.destroy();
      elbv2.destroy();
    }
  }, 'stopping the tool and everything it started (its process group).');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function summarize(r: SyncAppsResult, as: string | undefined): typeof core.summary {
  const s = core.summary.addHeading(
    `sync-apps${r.mode === 'diff' ? ' (diff)' : ''}: ${r.tool}${as ? ` on ${as}` : ''}`,
    2,
  );
  const ownerText =
    r.owner === undefined
      ? 'No rollout file: singletons applied as written'
      : r.owner
        ? 'This cluster owns the singletons'
        : 'Not the owner: singletons rendered stopped';
  s.addRaw(
    `${r.changed ? (r.mode === 'diff' ? 'Would change.' : 'Changed.') : 'Nothing to change.'} ${ownerText}. Tool ${seconds(r.toolMs)}, waiting ${seconds(r.waitMs)}, binding ${seconds(r.bindMs)}.`,
    true,
  );
  s.addTable([
    [
      { data: r.tool === 'kubectl' ? 'manifests' : 'release', header: true },
      { data: 'changed', header: true },
      { data: 'revision', header: true },
      { data: 'ready', header: true },
      { data: 'took', header: true },
    ],
    ...r.units.map((u) => [
      u.namespace ? `${u.namespace}/${u.name}` : u.name,
      u.changed === undefined ? 'unknown' : u.changed ? 'yes' : 'no',
      u.revision ? `${u.revision.before ?? '–'} → ${u.revision.after ?? '–'}` : '',
      u.workloads.map((w) => `${w.kind} ${w.name}: ${w.summary}`).join('<br>') || '–',
      u.durationMs !== undefined ? seconds(u.durationMs) : 'see above',
    ]),
  ]);
  if (r.stopped.length > 0) {
    s.addHeading('Stopped off the owner', 3);
    s.addList(r.stopped.map((o) => `${o.kind} ${o.namespace}/${o.name}: ${o.set}`));
  }
  if (r.binding) {
    s.addHeading('Target group', 3);
    s.addRaw(
      r.binding.targets
        ? `TargetGroupBinding ${r.binding.namespace}/${r.binding.name} → ${r.binding.targetGroupArn}: ${r.binding.targets.healthyHere} healthy target(s) from this cluster (need ${r.binding.minHealthy}).`
        : `Would bind Service ${r.binding.namespace}/${r.binding.serviceName} port ${r.binding.servicePort} → ${r.binding.targetGroupArn}.`,
      true,
    );
  }
  return s;
}
