/**
 * What the rollout action tells people, in Markdown: the plan (PR comment and job summary),
 * the outcome of an apply (job summary, comment on the merged PR), and the bodies of the PRs
 * it opens. Pure functions of what the commands saw and did.
 */
import { consoleLink, shortName } from '../aws/arn.js';
import {
  formatBounds,
  formatIncrease,
  formatMetric,
  formatNumber,
  formatPercent,
} from '../health/format.js';
import { formatDuration } from '../common/duration.js';
import type { FilePlan } from './plan.js';
import type { Check, RolloutFile } from '../rollout-file/types.js';
import { formatClusterWeights, type ClusterWeights } from '../rollout-file/step.js';
import { FORCE_LABEL } from '../actions/rollout/io.js';

/**
 * The hidden marker of the one plan comment per PR (per `files` glob, so two workflows that
 * plan different rollout files do not overwrite each other's comment).
 */
export function planMarker(patterns: readonly string[]): string {
  return `<!-- eks-cluster-canary plan: ${patterns.join(' ').replace(/--/g, '- -')} -->`;
}

const STATUS_HEADING: Record<FilePlan['status'], string> = {
  ok: '✅',
  refused: '❌',
  invalid: '❌ invalid',
  deleted: '➖ deleted',
};

export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The checks the analysis will run, one line each, plus its timing. */
export function describeAnalysis(file: RolloutFile): string[] {
  const a = file.analysis;
  return [
    `Warmup ${formatDuration(a.warmupMs)}, then ${formatDuration(a.intervalMs)} intervals for ${formatDuration(a.durationMs)} in all; ` +
      `${a.failureLimit === 0 ? 'the first failed interval rolls' : `more than ${a.failureLimit} failed intervals roll`} the step back.`,
    ...a.checks.map((c) => describeCheck(c, file)),
  ];
}

export function describeCheck(check: Check, file: RolloutFile): string {
  const canary = file.canary;
  switch (check.kind) {
    case 'targetHealth':
      return `targetHealth: every cluster with weight has ≥ ${check.minHealthy} healthy and ≤ ${check.maxUnhealthy} unhealthy targets`;
    case 'cloudwatch': {
      if (!check.metric)
        return `cloudwatch: custom query \`${check.returnId ?? ''}\` of ${canary} ${formatBounds(check, formatNumber)}`;
      const metric = check.metric;
      const parts: string[] = [];
      if (check.max !== undefined || check.min !== undefined)
        parts.push(formatBounds(check, (n) => formatMetric(metric, n)));
      if (check.vsBaseline?.maxIncrease !== undefined)
        parts.push(`≤ baseline ${formatIncrease(metric, check.vsBaseline.maxIncrease)}`);
      if (check.vsBaseline?.maxRatio !== undefined)
        parts.push(`≤ baseline ×${formatNumber(check.vsBaseline.maxRatio)}`);
      const min =
        check.minRequests !== undefined ? ` (judged from ${check.minRequests} requests)` : '';
      return `cloudwatch: ${metric} of ${canary} ${parts.join(', ')}${min}`;
    }
    case 'prometheus':
      return `prometheus: \`${check.query}\` ${formatBounds(check, formatNumber)}`;
    case 'http':
      return `http: ${check.method} ${check.url} answers ${check.expectStatus}${check.count > 1 ? ` (${formatPercent(check.minSuccessRatio)} of ${check.count})` : ''}`;
  }
}

function weightsCell(weights: ClusterWeights | undefined, order: readonly string[]): string {
  return weights ? formatClusterWeights(weights, order) : '—';
}

/** One file's plan in Markdown. */
export function filePlanMarkdown(p: FilePlan): string[] {
  const title = p.name ? `\`${p.path}\` (${p.name})` : `\`${p.path}\``;
  const lines = [`### ${STATUS_HEADING[p.status]} ${title}`, ''];
  if (p.status === 'deleted' || p.status === 'invalid') {
    for (const n of p.notes) lines.push(n, '');
    for (const x of p.problems) lines.push(`- ${x.at ? `line ${x.at.line}: ` : ''}${x.message}`);
    lines.push('');
    return lines;
  }
  const head = p.head as RolloutFile;
  const order = head.clusters.map((c) => c.name);
  lines.push(
    p.newFile
      ? `Desired: **${weightsCell(p.desired, order)}** (new file)`
      : `Base branch: ${weightsCell(p.baseWeights, order)} → desired: **${weightsCell(p.desired, order)}**`,
    '',
  );
  if (p.live.length > 0) {
    const driftOf = new Set(p.drift.map((d) => d.ref.arn));
    lines.push('| route | live | desired | |', '| --- | --- | --- | --- |');
    for (const r of p.live) {
      const status = driftOf.has(r.ref.arn) ? '❌ drift' : p.noChange ? 'unchanged' : 'will shift';
      lines.push(
        `| [${cell(shortName(r.ref.arn))}](${consoleLink(r.ref.arn, head.region)}) | ${weightsCell(r.weights, order)} | ${weightsCell(p.desired, order)} | ${status} |`,
      );
    }
    lines.push('');
  }
  if (p.step)
    lines.push(
      `**Step:** ${p.step.allowed ? (p.step.forced ? '⚠️' : '✅') : '❌'} ${p.step.message}`,
      '',
    );
  if (p.live.length > 0) {
    lines.push(
      p.noChange
        ? '**Drift:** not a concern: merging writes nothing to the ALB.'
        : p.newFile
          ? '**Drift:** not checked (no baseline on the base branch).'
          : p.drift.length === 0
            ? '**Drift:** ✅ none; every route has the weights of the file on the base branch.'
            : `**Drift:** ❌ ${p.drift.length} of ${p.live.length} route(s) differ from the file on the base branch.`,
      '',
    );
  }
  if (p.health.length > 0) {
    lines.push('**Target health before the shift** (clusters that gain weight):', '');
    for (const h of p.health)
      lines.push(
        `- ${h.ok ? '✅' : '❌'} ${h.cluster}: ${h.shown} (needs ≥ ${h.required} healthy)`,
      );
    lines.push('');
  } else if (p.live.length > 0) {
    lines.push('**Target health before the shift:** no cluster gains weight.', '');
  }
  if (p.noChange)
    lines.push('The ALB already has these weights: merging changes nothing on it.', '');
  lines.push('**Checks after the shift:**', '', ...describeAnalysis(head).map((l) => `- ${l}`), '');
  for (const n of p.notes) lines.push(`> ${n}`, '');
  if (p.problems.length > 0) {
    lines.push('**Problems:**', '');
    for (const x of p.problems) lines.push(`- ${x.at ? `line ${x.at.line}: ` : ''}${x.message}`);
    lines.push('');
  }
  return lines;
}

export function planMarkdown(
  plans: readonly FilePlan[],
  options: { force: boolean; marker?: string; heading?: string },
): string {
  const refused = plans.filter((p) => p.status === 'refused' || p.status === 'invalid').length;
  const lines = [
    ...(options.marker ? [options.marker] : []),
    `## ${options.heading ?? 'Rollout plan'}`,
    '',
    refused === 0
      ? `✅ ${plans.length === 1 ? 'The change can be applied' : `All ${plans.length} changes can be applied`}: merging applies ${plans.length === 1 ? 'it' : 'them in path order'}, verifies, and rolls back automatically on a failed check.`
      : `❌ ${refused} of ${plans.length} rollout file${plans.length === 1 ? '' : 's'} cannot be applied as ${refused === 1 ? 'it is' : 'they are'}; see the problems below.`,
    '',
  ];
  if (options.force)
    lines.push(
      `> The label \`${FORCE_LABEL}\` is set: a step larger than the next entry of \`steps\` is allowed.`,
      '',
    );
  for (const p of plans) lines.push(...filePlanMarkdown(p));
  return `${lines.join('\n').trimEnd()}\n`;
}
