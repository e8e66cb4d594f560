/**
 * What the rollout commands tell people, in Markdown: the plan (PR comment and job summary),
 * the outcome of an apply (job summary, comment on the merged PR), a rollback, an advance, and
 * the bodies of the PRs they open. Pure functions of the typed results in results.ts.
 */
import { consoleLink, shortName } from '../aws/arn.js';
import { formatDuration } from '../common/duration.js';
import type { RolloutFile } from '../rollout-file/types.js';
import { formatClusterWeights, type ClusterWeights } from '../rollout-file/step.js';
import {
  analysisIntervalCount,
  describeCheck,
  describeEarlyFailure,
  summaryMarkdown as analysisMarkdown,
} from '../health/index.js';
import { FORCE_LABEL } from './context.js';
import type {
  AdvanceOutcome,
  ApplyOutcome,
  CommandOutcome,
  FileApply,
  FilePlan,
  FileStatus,
  PlanOutcome,
  RetireItem,
  RetireOutcome,
  RollbackOutcome,
} from './results.js';

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

/**
 * The checks the analysis will run, one line each, plus its timing: the intervals apply will
 * judge, counted the way apply schedules them.
 */
export function describeAnalysis(
  file: RolloutFile,
  timing: { cloudWatchPeriodMs: number; cloudWatchDelayMs?: number },
): string[] {
  const a = file.analysis;
  const count = analysisIntervalCount(a);
  const early = describeEarlyFailure(a, timing.cloudWatchPeriodMs, timing.cloudWatchDelayMs);
  return [
    `Warmup ${formatDuration(a.warmupMs)}, then ${count} interval${count === 1 ? '' : 's'} of ${formatDuration(a.intervalMs)} ` +
      `(${formatDuration(a.warmupMs + count * a.intervalMs)} of checks); ` +
      `${a.failureLimit === 0 ? 'the first failed interval rolls' : `more than ${a.failureLimit} failed intervals roll`} the step back.`,
    ...(early ? [early] : []),
    ...a.checks.map((c) => describeCheck(c, file.canary)),
  ];
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
  if (p.handoff) {
    lines.push(
      `**Owner handoff** ${p.handoff.from} → ${p.handoff.to} (no traffic moves; on merge: stop on ${p.handoff.from}, wait for its running Jobs, carry the last schedule slot, start on ${p.handoff.to}, read both back):`,
      '',
      ...p.handoff.lines.map((l) => `- ${l}`),
      '',
    );
  } else {
    if (p.noChange)
      lines.push('The ALB already has these weights: merging changes nothing on it.', '');
    lines.push(
      '**Checks after the shift:**',
      '',
      ...describeAnalysis(head, p).map((l) => `- ${l}`),
      '',
    );
  }
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

const STATUS_MARK: Record<FileStatus, string> = {
  applied: '✅ applied',
  unchanged: '➖ unchanged',
  'rolled-back': '↩️ rolled back',
  refused: '❌ refused',
  failed: '❌ failed',
  'not-applied': '⏸️ not applied',
  deleted: '➖ deleted',
};

/** The comment on the merged PR about what its merge did to one rollout file. */
export function applyComment(f: FileApply, runUrl?: string): string {
  const lines = [
    `### ${STATUS_MARK[f.status]}: \`${f.path}\`${f.name ? ` (${f.name})` : ''}`,
    '',
    f.message,
    '',
  ];
  if (f.handoff) {
    const h = f.handoff;
    lines.push(
      `Owner ${h.from} → ${h.to}: **${h.state}** (drain ${(h.drainMs / 1000).toFixed(1)} s, handoff ${(h.totalMs / 1000).toFixed(1)} s)`,
      '',
    );
    for (const o of h.objects) {
      const details = [
        o.drained.length > 0 ? `waited for ${o.drained.join(', ')}` : '',
        o.carried ? `last slot ${o.carried} carried over` : '',
        o.replicas !== undefined ? `${o.replicas} replica(s)` : '',
      ].filter((x) => x !== '');
      lines.push(
        `- ${o.ref.kind} ${o.ref.namespace}/${o.ref.name}${details.length > 0 ? `: ${details.join('; ')}` : ''}`,
      );
    }
    lines.push('');
  }
  if (f.reconcile) lines.push(`Reconcile PR: ${f.reconcile.url}`, '');
  if (f.advance) lines.push(`Next step: ${f.advance.url}`, '');
  if (f.analysis) lines.push(analysisMarkdown(f.analysis.result, f.analysis.analysis));
  if (runUrl) lines.push(`Run: ${runUrl}`);
  return `${lines.join('\n').trimEnd()}\n`;
}

/** The one-line account of a file in the apply table: its first problem when it is invalid. */
function applyHeadline(f: FileApply): string {
  if (f.problems && f.problems.length > 0) {
    const more = f.problems.length - 1;
    return `Invalid rollout file: ${f.problems[0]}${more > 0 ? ` (and ${more} more problem${more === 1 ? '' : 's'})` : ''}`;
  }
  return f.message.split('\n')[0] ?? '';
}

export function applyMarkdown(outcome: ApplyOutcome): string {
  if (outcome.files.length === 0) {
    return `## Rollout apply\n\nThe push changes no rollout file (${outcome.patterns.join(', ')}).\n`;
  }
  const lines = [
    '## Rollout apply',
    '',
    '| file | result | weights | |',
    '| --- | --- | --- | --- |',
  ];
  for (const f of outcome.files) {
    const weights = f.desired ? formatClusterWeights(f.desired) : '—';
    lines.push(
      `| \`${cell(f.path)}\` | ${STATUS_MARK[f.status]} | ${cell(weights)} | ${cell(applyHeadline(f))} |`,
    );
  }
  lines.push('');
  for (const f of outcome.files.filter(
    (x) => x.status !== 'not-applied' && x.status !== 'unchanged' && x.status !== 'deleted',
  )) {
    lines.push(applyComment(f));
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

export function reconcileBody(
  out: FileApply,
  head: RolloutFile,
  why: { reason: string; detail?: string; live: ClusterWeights },
  runUrl: string | undefined,
): string {
  const order = head.clusters.map((c) => c.name);
  const show = (w: ClusterWeights): string => formatClusterWeights(w, order);
  const lines = [
    `The step of \`${out.path}\` to **${show(head.weights)}** was rolled back: **${why.reason}**.`,
    '',
    `Every route was restored to **${show(why.live)}** and confirmed by read-back. This PR sets \`weights\` in the file back to that, so git and the ALB agree again. Merging it changes nothing on the ALB.`,
    '',
  ];
  if (runUrl) lines.push(`Run: ${runUrl}`, '');
  if (why.detail) lines.push('```', why.detail, '```', '');
  if (out.analysis) lines.push(analysisMarkdown(out.analysis.result, out.analysis.analysis));
  lines.push('Fix the cause, then propose the step again in a new PR.');
  return lines.join('\n');
}

/** The body of the reconcile PR a rollback opens: what it overwrote. */
export function rollbackReconcileBody(outcome: RollbackOutcome, runUrl?: string): string {
  const show = (w: ClusterWeights): string => formatClusterWeights(w, outcome.order);
  return [
    `A \`rollback\` run moved every route of \`${outcome.path}\` to **${show(outcome.desired)}**${runUrl ? ` (${runUrl})` : ''}.`,
    '',
    'It overwrote:',
    '',
    ...outcome.routes.map((r) => `- ${r.ref.kind} \`${r.ref.arn}\`: ${show(r.was)}`),
    '',
    'This PR sets `weights` in the file to what the ALB now has, so git and the ALB agree again. Merging it changes nothing on the ALB.',
  ].join('\n');
}

export function rollbackMarkdown(outcome: RollbackOutcome): string {
  const show = (w: ClusterWeights): string => formatClusterWeights(w, outcome.order);
  if (outcome.error !== undefined) {
    return `## Rollout rollback of ${outcome.name}: failed\n\n\`\`\`\n${outcome.error}\n\`\`\`\n`;
  }
  if (outcome.handoff) {
    const h = outcome.handoff;
    const lines = [
      `## Rollout rollback of ${outcome.name}: owner ${h.from} → ${h.to}`,
      '',
      h.message,
      '',
      ...h.objects.map(
        (o) =>
          `- ${o.ref.kind} ${o.ref.namespace}/${o.ref.name}${o.carried ? `: last slot ${o.carried} carried over` : ''}${o.drained.length > 0 ? `; waited for ${o.drained.join(', ')}` : ''}`,
      ),
      '',
    ];
    if (outcome.reconcile === 'not-needed') {
      lines.push(
        `\`${outcome.path}\` on ${outcome.defaultBranch} already says owner: ${h.to}.`,
        '',
      );
    } else if (outcome.reconcile) {
      lines.push(`Reconcile PR: ${outcome.reconcile.url}`, '');
    }
    if (outcome.failure) lines.push(`❌ ${outcome.failure}`, '');
    return lines.join('\n');
  }
  const lines = [`## Rollout rollback of ${outcome.name} to ${show(outcome.desired)}`, ''];
  if (outcome.forcedOnto.length > 0) {
    lines.push(`> ⚠️ Forced although ${outcome.forcedOnto.join(', ')} had no healthy target.`, '');
  }
  lines.push('| route | was | now | |', '| --- | --- | --- | --- |');
  for (const r of outcome.routes) {
    lines.push(
      `| ${cell(shortName(r.ref.arn))} | ${show(r.was)} | ${show(r.now)} | ${r.status === 'written' ? 'written (confirmed)' : 'already there'} |`,
    );
  }
  lines.push('');
  if (outcome.reconcile === 'not-needed') {
    lines.push(
      `\`${outcome.path}\` on ${outcome.defaultBranch} already says ${show(outcome.desired)}; no reconcile PR needed.`,
      '',
    );
  } else if (outcome.reconcile) {
    lines.push(`Reconcile PR: ${outcome.reconcile.url}`, '');
  }
  if (outcome.failure) lines.push(`❌ ${outcome.failure}`, '');
  return lines.join('\n');
}

export function advanceMarkdown(outcome: AdvanceOutcome): string {
  return `## Rollout advance of ${outcome.name}\n\n${outcome.message}\n`;
}

export function planSummary(outcome: PlanOutcome): string {
  if (outcome.plans.length === 0) {
    return `## Rollout plan\n\nThis PR changes no rollout file (${outcome.patterns.join(', ')}).\n`;
  }
  return planMarkdown(outcome.plans, {
    force: outcome.force,
    marker: planMarker(outcome.patterns),
  });
}

/** The job summary of any rollout command. */
export function commandSummary(outcome: CommandOutcome): string {
  switch (outcome.command) {
    case 'plan':
      return planSummary(outcome);
    case 'apply':
      return applyMarkdown(outcome);
    case 'rollback':
      return rollbackMarkdown(outcome);
    case 'advance':
      return advanceMarkdown(outcome);
    case 'changed':
      return outcome.files.length === 0
        ? `## Rollout files changed\n\nNone (${outcome.patterns.join(', ')}).\n`
        : `## Rollout files changed\n\n${outcome.files.map((f) => `- \`${f}\``).join('\n')}\n`;
  }
}

/** A retirement's verdict in words: the job summary's heading and the CLI's first line. */
export const RETIRE_HEADING: Record<RetireOutcome['status'], string> = {
  retired: 'retired',
  planned: 'plan (dry run, nothing changed)',
  refused: 'refused, nothing changed',
  stopped: 'stopped',
  failed: 'failed',
};

const RETIRE_ACTION: Record<RetireItem['action'], string> = {
  delete: 'delete',
  wait: 'wait',
  gone: 'gone',
  unknown: 'unknown',
};

function retireTable(items: readonly RetireItem[], actionHeading: string): string[] {
  return [
    `| resource | name | ${actionHeading} | state |`,
    '| --- | --- | --- | --- |',
    ...items.map(
      (p) => `| ${p.resource} | ${cell(p.name)} | ${RETIRE_ACTION[p.action]} | ${cell(p.state)} |`,
    ),
  ];
}

/** The job summary of retire-cluster: the verdict, the gate's reasons, the plan, what was done, what is left. */
export function retireMarkdown(o: RetireOutcome): string {
  const took = formatDuration(
    Math.max(0, Math.round((o.endedAt.getTime() - o.startedAt.getTime()) / 1000) * 1000),
  );
  const lines = [
    `## retire-cluster ${o.cluster} (${o.eksName}): ${RETIRE_HEADING[o.status]}${o.status === 'retired' && o.steps.length > 0 ? ` in ${took}` : ''}`,
    '',
    `EKS cluster \`${o.eksName}\` in ${o.region}; target group${o.targetGroups.length === 1 ? '' : 's'} ${o.targetGroups.map((t) => `\`${shortName(t)}\``).join(', ')}.`,
    '',
  ];
  if (o.refusals.length > 0) {
    lines.push('### Why not', '', ...o.refusals.map((r) => `- ${r}`), '');
  }
  if (o.failure && o.status !== 'refused') lines.push(`❌ ${o.failure}`, '');
  if (o.plan.length > 0) {
    lines.push('### Plan', '', ...retireTable(o.plan, 'action'), '');
  }
  if (o.steps.length > 0) {
    lines.push('### Done', '', '| what | started | took |', '| --- | --- | --- |');
    for (const s of o.steps) {
      const at = Math.round((s.startedAt.getTime() - o.startedAt.getTime()) / 1000) * 1000;
      const dur = Math.round((s.endedAt.getTime() - s.startedAt.getTime()) / 1000) * 1000;
      lines.push(
        `| ${cell(s.what)} | +${formatDuration(Math.max(0, at))} | ${formatDuration(Math.max(0, dur))} |`,
      );
    }
    lines.push('');
  }
  if (o.left) {
    const still = o.left.filter((p) => p.action !== 'gone');
    lines.push('### Left', '');
    lines.push(
      ...(still.length > 0 ? retireTable(still, 'next') : ['Nothing: every resource is gone.']),
      '',
    );
  }
  if (o.notes.length > 0) lines.push(...o.notes.map((n) => `> ${n}`), '');
  return lines.join('\n');
}
