/**
 * What the CLI prints: the same typed results the actions render as Markdown, as plain lines
 * for a terminal. Pure functions.
 */
import { shortName } from '../aws/arn.js';
import { formatClusterWeights, type ClusterWeights } from '../rollout-file/step.js';
import type { ApplyOutcome, FilePlan, RollbackOutcome } from '../operations/results.js';
import { describeAnalysis } from '../operations/markdown.js';
import type { HealthPrecheck } from '../operations/live.js';

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
  /** Per cluster, over the last window: requests and the share that were 5xx (--watch). */
  traffic?: Record<string, { requests: number; errorRate?: number }>;
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
      if (f.problem) return `${f.path}: ${f.problem}`;
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
