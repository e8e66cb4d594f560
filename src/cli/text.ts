/**
 * What the CLI prints: the same typed results the actions render as Markdown, as plain lines
 * for a terminal. Pure functions.
 */
import { shortName } from '../aws/arn.js';
import { describeLastStep, type LastStep } from '../alb/last-step.js';
import { formatClusterWeights, type ClusterWeights } from '../rollout-file/step.js';
import { formatDuration } from '../common/duration.js';
import type {
  ApplyOutcome,
  FilePlan,
  RetireItem,
  RetireOutcome,
  RollbackOutcome,
} from '../operations/results.js';
import { RETIRE_HEADING, describeAnalysis } from '../operations/markdown.js';
import type { HealthPrecheck } from '../operations/live.js';
import { activeJobs, lastSlot, type SingletonState } from '../kube/handoff.js';

/** One CronJob or singleton Deployment on one cluster, as status shows it. */
export interface SingletonView {
  kind: 'CronJob' | 'Deployment';
  namespace: string;
  name: string;
  /** CronJob: not suspended; Deployment: replicas above 0. */
  live: boolean;
  suspend?: boolean;
  schedule?: string;
  /** The latest slot this cluster ran or started (status.lastScheduleTime or its Jobs). */
  lastSchedule?: string;
  runningJobs?: number;
  replicas?: number;
  pods?: number;
  /** A handoff left in flight marked this object: the cluster it was going to. */
  handoffTo?: string;
}

export function singletonView(s: SingletonState): SingletonView {
  const base = { kind: s.kind, namespace: s.namespace, name: s.name, live: s.live };
  const mark = s.mark ? { handoffTo: s.mark.to } : {};
  if (s.kind === 'CronJob') {
    const last = lastSlot(s);
    return {
      ...base,
      suspend: s.suspend === true,
      ...(s.schedule ? { schedule: s.schedule } : {}),
      ...(last ? { lastSchedule: last } : {}),
      runningJobs: activeJobs(s).length,
      ...mark,
    };
  }
  return { ...base, replicas: s.replicas ?? 1, pods: s.pods, ...mark };
}

export interface FileStatus {
  path: string;
  name?: string;
  /** Why the file could not be read or checked, when it could not. */
  problem?: string;
  region?: string;
  order: string[];
  desired?: ClusterWeights;
  /** The committed version's weights differ from the file on disk. */
  uncommitted?: ClusterWeights;
  routes: { arn: string; weights: ClusterWeights; drift: boolean }[];
  health: HealthPrecheck[];
  owner?: string;
  canary?: string;
  /** Per cluster: its CronJobs and singleton Deployments, or why its apiserver was not read. */
  singletons?: { cluster: string; error?: string; objects?: SingletonView[] }[];
  /** Per cluster, over the last window: requests and the share that were 5xx (--watch). */
  traffic?: Record<string, { requests: number; errorRate?: number }>;
  /** The newest last-step record on the routes; null when none carries one. */
  lastStep?: LastStepView | null;
  /** Why the last step could not be read (the rest of the status stands). */
  lastStepError?: string;
}

/** A last-step record as status shows it: `at` as ISO text, and how many routes carry it. */
export type LastStepView = Omit<LastStep, 'at'> & { at: string; onRoutes: number; routes: number };

function lastStepLine(f: FileStatus): string[] {
  if (f.lastStepError) return [`  last step: ${f.lastStepError}`];
  if (f.lastStep === undefined) return [];
  if (f.lastStep === null) return ['  last step: none recorded on the routes'];
  const s = f.lastStep;
  const where =
    s.onRoutes < s.routes
      ? `  (on ${s.onRoutes} of ${s.routes} routes; the others carry an older record or none)`
      : '';
  const other = s.file !== f.path ? ` [recorded for ${s.file}]` : '';
  return [
    `  last step: ${describeLastStep({ ...s, at: new Date(s.at) })}, ${s.at} by ${s.by}${other}${where}`,
  ];
}

export function planText(p: FilePlan): string {
  const lines = [`${p.path}${p.name ? ` (${p.name})` : ''}: ${p.status}`];
  const order = p.head?.clusters.map((c) => c.name);
  const show = (w: ClusterWeights | undefined): string =>
    w ? formatClusterWeights(w, order) : '—';
  if (p.desired) {
    lines.push(
      `  desired: ${show(p.desired)}${p.newFile ? ' (new file)' : `   committed: ${show(p.baseWeights)}`}`,
    );
  }
  const drifted = new Set(p.drift.map((d) => d.ref.arn));
  for (const r of p.live) {
    lines.push(
      `  ${shortName(r.ref.arn)}: live ${show(r.weights)}${drifted.has(r.ref.arn) ? '  DRIFT' : ''}`,
    );
  }
  if (p.step) lines.push(`  step: ${p.step.allowed ? 'ok' : 'REFUSED'}: ${p.step.message}`);
  for (const h of p.health)
    lines.push(
      `  health: ${h.ok ? 'ok' : 'NOT ENOUGH'}: ${h.cluster} ${h.shown} (needs ≥ ${h.required})`,
    );
  if (p.head && !p.noChange) lines.push(...describeAnalysis(p.head, p).map((l) => `  check: ${l}`));
  for (const n of p.notes) lines.push(`  note: ${n}`);
  for (const x of p.problems)
    lines.push(`  problem: ${x.at ? `${p.path}:${x.at.line}:${x.at.col}: ` : ''}${x.message}`);
  return lines.join('\n');
}

export function applyText(outcome: ApplyOutcome): string {
  if (outcome.files.length === 0) return 'No rollout file to apply.';
  return outcome.files
    .map((f) => {
      const lines = [`${f.path}: ${f.status}. ${f.message}`];
      if (f.analysis) lines.push(`  verdict: ${f.analysis.result.verdict}`);
      return lines.join('\n');
    })
    .join('\n');
}

export function rollbackText(outcome: RollbackOutcome): string {
  if (outcome.error !== undefined) return `${outcome.path}: rollback failed.\n${outcome.error}`;
  if (outcome.handoff) {
    const h = outcome.handoff;
    return [
      `${outcome.path}: owner ${h.from} → ${h.to} (${outcome.result}): ${h.message}`,
      ...h.objects.map(
        (o) =>
          `  ${o.ref.kind} ${o.ref.namespace}/${o.ref.name}${o.carried ? `: last slot ${o.carried} carried over` : ''}`,
      ),
    ].join('\n');
  }
  const show = (w: ClusterWeights): string => formatClusterWeights(w, outcome.order);
  return [
    `${outcome.path}: every route to ${show(outcome.desired)} (${outcome.result})`,
    ...outcome.routes.map(
      (r) =>
        `  ${shortName(r.ref.arn)}: was ${show(r.was)}, now ${show(r.now)}${r.status === 'written' ? ' (written, confirmed)' : ' (already there)'}`,
    ),
  ].join('\n');
}

export function statusText(files: readonly FileStatus[]): string {
  return files
    .map((f) => {
      if (f.problem) return [`${f.path}: ${f.problem}`, ...singletonLines(f)].join('\n');
      const show = (w: ClusterWeights | undefined): string =>
        w ? formatClusterWeights(w, f.order) : '—';
      const lines = [
        `${f.path} (${f.name}, ${f.region}): file ${show(f.desired)}, canary ${f.canary}, owner ${f.owner}`,
      ];
      if (f.uncommitted) lines.push(`  uncommitted: the last commit says ${show(f.uncommitted)}`);
      for (const r of f.routes) {
        lines.push(
          `  ${shortName(r.arn)}: live ${show(r.weights)}${r.drift ? '  DRIFT (differs from the file)' : ''}`,
        );
      }
      for (const h of f.health)
        lines.push(
          `  ${h.cluster}: ${h.shown}${h.ok ? '' : `  (fewer than ${h.required} healthy)`}`,
        );
      lines.push(...lastStepLine(f));
      lines.push(...singletonLines(f));
      if (f.traffic) {
        for (const [cluster, t] of Object.entries(f.traffic)) {
          const rate =
            t.errorRate === undefined ? 'no requests' : `${(t.errorRate * 100).toFixed(2)}% 5xx`;
          lines.push(`  traffic ${cluster}: ${t.requests} requests, ${rate}`);
        }
      }
      return lines.join('\n');
    })
    .join('\n\n');
}

function singletonLines(f: FileStatus): string[] {
  const lines: string[] = [];
  for (const c of f.singletons ?? []) {
    if (c.error !== undefined) {
      lines.push(`  singletons on ${c.cluster}: UNREACHABLE (${c.error})`);
      continue;
    }
    const objects = c.objects ?? [];
    if (objects.length === 0) {
      lines.push(`  singletons on ${c.cluster}: none`);
      continue;
    }
    lines.push(`  singletons on ${c.cluster}${c.cluster === f.owner ? ' (the owner)' : ''}:`);
    for (const o of objects) {
      const state =
        o.kind === 'CronJob'
          ? `${o.suspend ? 'suspended' : 'active'}${o.schedule ? `, schedule "${o.schedule}"` : ''}, last schedule ${o.lastSchedule ?? 'never'}, ${o.runningJobs ?? 0} running Job(s)`
          : `replicas ${o.replicas}, ${o.pods} pod(s)`;
      // A live object off the owner is what the handoff exists to prevent: flag it.
      const wrong = f.owner !== undefined && o.live && c.cluster !== f.owner;
      lines.push(
        `    ${o.kind} ${o.namespace}/${o.name}: ${state}${o.handoffTo ? `; a handoff to ${o.handoffTo} was left in flight` : ''}${wrong ? '  ACTIVE OFF THE OWNER' : ''}`,
      );
    }
  }
  return lines;
}

/** retire: the verdict, every reason of a refusal, the plan, what was done, and after a stop what is left. */
export function retireText(o: RetireOutcome): string {
  const seconds = (from: Date, to: Date): string =>
    formatDuration(Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000)) * 1000);
  const item = (p: RetireItem): string =>
    `    ${p.action.padEnd(7)} ${p.resource} ${p.name}: ${p.state}`;
  const lines = [
    `retire ${o.cluster} (${o.eksName}): ${RETIRE_HEADING[o.status]}${o.status === 'retired' && o.steps.length > 0 ? ` in ${seconds(o.startedAt, o.endedAt)}` : ''}`,
    `  EKS cluster ${o.eksName} in ${o.region}; target group${o.targetGroups.length === 1 ? '' : 's'} ${o.targetGroups.map(shortName).join(', ')}`,
  ];
  for (const r of o.refusals) lines.push(`  refused: ${r}`);
  if (o.failure && o.status !== 'refused') lines.push(`  ${o.failure}`);
  if (o.plan.length > 0) lines.push('  plan:', ...o.plan.map(item));
  for (const s of o.steps) lines.push(`  done: ${s.what} (${seconds(s.startedAt, s.endedAt)})`);
  if (o.left) {
    const still = o.left.filter((p) => p.action !== 'gone');
    lines.push(
      ...(still.length > 0
        ? ['  left:', ...still.map(item)]
        : ['  left: nothing, every resource is gone']),
    );
  }
  for (const n of o.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}
