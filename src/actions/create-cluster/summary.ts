/**
 * The job summary of create-cluster: the plan as a table, then what was done with times (or,
 * after a stop, what exists and in what state), with a console link to the cluster.
 */
import * as core from '@actions/core';
import { formatDuration } from '../../common/duration.js';
import type { ClusterConfig } from '../../eks/cluster-config.js';
import type { PlanItem } from '../../eks/plan.js';
import type {
  CreateClusterResult,
  CreateClusterStoppedError,
  DoneStep,
  DriftError,
} from '../../operations/create-cluster.js';

export function summarizeCreate(
  config: ClusterConfig,
  r: CreateClusterResult,
): typeof core.summary {
  const heading = r.dryRun
    ? `create-cluster ${config.name}: plan (dry run, nothing changed)`
    : r.changed
      ? `create-cluster ${config.name}: done in ${formatDuration(roundSeconds(r.endedAt.getTime() - r.startedAt.getTime()))}`
      : r.steps.length > 0
        ? `create-cluster ${config.name}: nothing to change; waited for what a previous run left in progress`
        : `create-cluster ${config.name}: already as configured (nothing changed)`;
  const s = core.summary.addHeading(heading, 2);
  s.addRaw(
    `<a href="${consoleLink(config)}">${config.name}</a> in ${config.region}, Kubernetes ${config.version}`,
    true,
  );
  planTable(r.plan);
  if (r.steps.length > 0) stepsTable(r.steps, r.startedAt);
  return s;
}

export function summarizeStopped(
  config: ClusterConfig,
  e: CreateClusterStoppedError,
): typeof core.summary {
  const s = core.summary
    .addHeading(`create-cluster ${config.name}: stopped`, 2)
    .addCodeBlock(e.message);
  if (e.plan.length > 0) planTable(e.plan);
  s.addHeading('State now', 3).addTable([
    [
      { data: 'Resource', header: true },
      { data: 'Name', header: true },
      { data: 'State', header: true },
      { data: 'Issues', header: true },
    ],
    ...e.states.map((x) => [x.resource, x.name, x.state, (x.issues ?? []).join('; ')]),
  ]);
  if (e.steps.length > 0) stepsTable(e.steps, e.steps[0]?.startedAt ?? new Date());
  return s;
}

export function summarizeDrift(config: ClusterConfig, e: DriftError): typeof core.summary {
  const s = core.summary.addHeading(
    `create-cluster ${config.name}: refused (drift), nothing changed`,
    2,
  );
  planTable(e.plan);
  return s;
}

function planTable(plan: PlanItem[]): void {
  core.summary.addHeading('Plan', 3).addTable([
    [
      { data: 'Resource', header: true },
      { data: 'Name', header: true },
      { data: 'Action', header: true },
      { data: 'Why', header: true },
    ],
    ...plan.map((p) => [
      p.resource,
      p.name,
      p.action,
      [p.why, ...(p.changes ?? []).map((c) => `${c.field}: ${c.live} → ${c.desired}`)].join('<br>'),
    ]),
  ]);
}

function stepsTable(steps: DoneStep[], start: Date): void {
  core.summary.addHeading('Done', 3).addTable([
    [
      { data: 'What', header: true },
      { data: 'Started', header: true },
      { data: 'Took', header: true },
    ],
    ...[...steps]
      .sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime())
      .map((x) => [
        x.what,
        `+${formatDuration(roundSeconds(x.startedAt.getTime() - start.getTime()))}`,
        formatDuration(roundSeconds(x.endedAt.getTime() - x.startedAt.getTime())),
      ]),
  ]);
}

function roundSeconds(ms: number): number {
  return Math.max(0, Math.round(ms / 1000) * 1000);
}

function consoleLink(config: ClusterConfig): string {
  return `https://${config.region}.console.aws.amazon.com/eks/clusters/${encodeURIComponent(config.name)}?region=${config.region}`;
}
