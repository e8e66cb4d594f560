/**
 * What the analysis tells people: the JSON report with every measurement (for artifacts and
 * later tooling) and the job summary table with the verdict sentence.
 */
import { formatDuration } from '../common/duration.js';
import { redactCheck } from './secrets.js';
import type { Analysis } from './checks/index.js';
import type { AnalysisResult, HealthTargets } from './types.js';

export interface HealthReport {
  healthy: boolean;
  verdict: string;
  verdictAt: string;
  failedChecks: string[];
  since: string;
  endedEarly: boolean;
  plannedIntervals: number;
  failedIntervals: number;
  analysis: Omit<Analysis, 'checks'> & { checks: unknown[] };
  targets: HealthTargets;
  checks: AnalysisResult['checks'];
  intervals: {
    index: number;
    start: string;
    end: string;
    evaluatedAt: string;
    status: string;
    /** Set when the interval failed before it closed: the data judged. */
    judgedEarly?: { from: string; through: string };
    measurements: AnalysisResult['intervals'][number]['measurements'];
  }[];
}

/**
 * The report is uploaded as an artifact and kept: bearer tokens and the header values of
 * prometheus and http checks are blanked in it.
 */
export function buildReport(
  result: AnalysisResult,
  analysis: Analysis,
  targets: HealthTargets,
): HealthReport {
  const iso = (t: number) => new Date(t).toISOString();
  return {
    healthy: result.healthy,
    verdict: result.verdict,
    verdictAt: iso(result.verdictAt),
    failedChecks: result.failedChecks,
    since: iso(result.since),
    endedEarly: result.endedEarly,
    plannedIntervals: result.plannedIntervals,
    failedIntervals: result.failedIntervals,
    analysis: {
      ...analysis,
      checks: analysis.checks.map(redactCheck),
    },
    targets,
    checks: result.checks,
    intervals: result.intervals.map((i) => ({
      index: i.window.index,
      start: iso(i.window.start),
      end: iso(i.window.end),
      evaluatedAt: iso(i.evaluatedAt),
      status: i.status,
      ...(i.early
        ? { judgedEarly: { from: iso(i.early.from), through: iso(i.early.through) } }
        : {}),
      measurements: i.measurements,
    })),
  };
}

const RESULT_MARK: Record<AnalysisResult['checks'][number]['result'], string> = {
  pass: '✅ pass',
  fail: '❌ fail',
  'not enough data': '⚠️ not enough data',
  skipped: '➖ skipped',
};

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Markdown for the job summary: the verdict sentence, then one row per check. */
export function summaryMarkdown(result: AnalysisResult, analysis: Analysis): string {
  const lines = [
    `### ${result.healthy ? '✅ Canary healthy' : '❌ Canary unhealthy'}`,
    '',
    result.verdict,
    '',
    `Warmup ${formatDuration(analysis.warmupMs)}, interval ${formatDuration(analysis.intervalMs)}, ` +
      `duration ${formatDuration(analysis.durationMs)}, failure limit ${analysis.failureLimit}; ` +
      `${result.intervals.length} of ${result.plannedIntervals} intervals judged, ${result.failedIntervals} failed` +
      (result.endedEarly ? ' (ended early: failure limit exceeded)' : '') +
      '.',
    '',
    '| check | threshold | last value | passed | failed | inconclusive | result |',
    '| --- | --- | --- | ---: | ---: | ---: | --- |',
    ...result.checks.map(
      (c) =>
        `| ${cell(c.name)} | ${cell(c.threshold)} | ${cell(c.lastShown)} | ${c.passed} | ${c.failed} | ${c.inconclusive} | ${RESULT_MARK[c.result]} |`,
    ),
    '',
  ];
  return lines.join('\n');
}
