/**
 * The analysis loop: wait out the warmup, then judge every interval until the duration is
 * over. A failed interval counts toward the failure limit; going over it ends the analysis at
 * once, so the rollback that follows is fast. A check that was never judged (too little
 * traffic, no data) by the end fails: no data is not a pass.
 *
 * Windows are contiguous, never start before `since`, and when there are CloudWatch checks
 * they are aligned to the metric period, so each CloudWatch query covers whole periods only.
 */
import { untilAborted } from '../common/cancel.js';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ConfigurationError, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { formatDuration } from '../common/duration.js';
import {
  DEFAULT_CLOUDWATCH_PERIOD_MS,
  isCloudWatchPeriod,
  judgesEarly,
} from './checks/cloudwatch.js';
import { prepareCheckList, type Analysis } from './checks/index.js';
import {
  EARLY_CONFIDENCE_TEXT,
  EARLY_MIN_REQUESTS,
  EARLY_SIGNIFICANCE,
  earlyLookEnds,
} from './early.js';
import { plural } from './format.js';
import type {
  AnalysisResult,
  CheckOutcome,
  Clock,
  FetchLike,
  HealthTargets,
  IntervalResult,
  IntervalWindow,
  Measurement,
} from './types.js';

export interface AnalysisRequest {
  analysis: Analysis;
  targets: HealthTargets;
  /** Epoch ms when the shift was confirmed; no data from before it is used. Default: now. */
  since?: number;
  /**
   * Resolution of the CloudWatch metrics, ms: the interval must be a multiple of it. ALB
   * metrics are 60 s (the default); the sandbox serves 1 s.
   */
  cloudWatchPeriodMs?: number;
  /**
   * How long after a window closes its CloudWatch data is complete enough to judge, ms.
   * Real ALB metrics arrive a minute or more late; the sandbox's at once. Default 0.
   */
  cloudWatchDelayMs?: number;
}

export interface AnalysisDeps {
  cloudwatch: CloudWatchClient;
  elbv2: ElasticLoadBalancingV2Client;
  fetch: FetchLike;
  clock: Clock;
  logger: Logger;
  /** Aborts the analysis at once (a cancelled job); the clock's sleeps should honour it too. */
  signal?: AbortSignal;
}

export interface AnalysisSchedule {
  since: number;
  /** Every interval window the analysis will judge if nothing fails. */
  windows: IntervalWindow[];
}

/**
 * How many intervals an analysis judges: as many whole intervals as fit in the duration after
 * the warmup (at least one). It does not depend on when the shift lands, so the plan can say
 * exactly what apply will do.
 */
export function analysisIntervalCount(analysis: Analysis): number {
  const { warmupMs, intervalMs, durationMs } = analysis;
  return Math.max(1, Math.floor((durationMs - warmupMs) / intervalMs));
}

/**
 * When each interval starts and ends. The first window starts when the warmup is over, rounded
 * up to `alignMs`; then `analysisIntervalCount` windows follow. Rounding up to the CloudWatch
 * grid can end the bake up to one `alignMs` after `since + duration`: never fewer intervals
 * than the file asks for (the plan says how many; apply judges that many).
 */
export function scheduleAnalysis(analysis: Analysis, since: number, alignMs = 1): AnalysisSchedule {
  const { warmupMs, intervalMs, durationMs } = analysis;
  if (!(intervalMs > 0)) {
    throw new ConfigurationError(
      `The analysis interval must be longer than 0, got ${intervalMs}ms.`,
    );
  }
  if (durationMs < warmupMs + intervalMs) {
    throw new ConfigurationError(
      `The analysis duration (${formatDuration(durationMs)}) must be at least warmup ` +
        `(${formatDuration(warmupMs)}) + one interval (${formatDuration(intervalMs)}).`,
    );
  }
  if (!Number.isInteger(analysis.failureLimit) || analysis.failureLimit < 0) {
    throw new ConfigurationError(
      `The failure limit must be a whole number of intervals, 0 or more, got ${analysis.failureLimit}.`,
    );
  }
  const firstStart = Math.ceil((since + warmupMs) / alignMs) * alignMs;
  const count = analysisIntervalCount(analysis);
  const windows: IntervalWindow[] = [];
  for (let i = 0; i < count; i++) {
    const start = firstStart + i * intervalMs;
    windows.push({ index: i + 1, start, end: start + intervalMs });
  }
  return { since, windows };
}

/**
 * What CloudWatch windows must align to. GetMetricData rounds StartTime down to the Period for
 * periods of 1-30 s and to the minute otherwise (API reference, StartTime); a window that
 * starts off that grid would silently take in data from before its start, even before `since`.
 */
export function cloudWatchAlignmentMs(intervalMs: number): number {
  return intervalMs < 60_000 ? intervalMs : 60_000;
}

function validateCloudWatchTiming(intervalMs: number, periodMs: number): void {
  const period = periodMs / 1000;
  if (!Number.isInteger(period) || !isCloudWatchPeriod(period)) {
    throw new ConfigurationError(
      `The CloudWatch period must be 1, 5, 10, 20 or 30 seconds, or a multiple of 60 seconds, got ${formatDuration(periodMs)}.`,
    );
  }
  const interval = intervalMs / 1000;
  if (intervalMs % periodMs !== 0 || !isCloudWatchPeriod(interval)) {
    throw new ConfigurationError(
      `With cloudwatch checks the interval (${formatDuration(intervalMs)}) must be a multiple of ` +
        `the CloudWatch period (${formatDuration(periodMs)}) that GetMetricData accepts as a period ` +
        `(1, 5, 10, 20, 30 s or a multiple of 60 s). ALB metrics have 60 s resolution: use an interval of 1m, 2m, ...`,
    );
  }
}

/** One interval's work, prepared once: bad placeholders and queries fail before the warmup. */
interface PreparedChecks {
  evaluate(window: IntervalWindow, deps: AnalysisDeps): Promise<Measurement[]>;
  /** Decisive failures in the open interval's data so far (early.ts); absent when none can be. */
  evaluateEarly?(
    partial: IntervalWindow,
    deps: AnalysisDeps,
    alpha: number,
  ): Promise<Measurement[]>;
}

function prepareChecks(request: AnalysisRequest, periodMs: number | undefined): PreparedChecks {
  const { analysis, targets } = request;
  const prepared = prepareCheckList(analysis.checks, {
    targets,
    intervalMs: analysis.intervalMs,
    ...(periodMs !== undefined ? { cloudWatchPeriodMs: periodMs } : {}),
  });
  const early = prepared.evaluateEarly;
  return {
    async evaluate(window, deps) {
      return uniqueNames((await prepared.evaluate(window, deps)).flat());
    },
    ...(early && analysis.failEarly !== false
      ? {
          // The kinds name early failures as they name the closed interval's measurements.
          async evaluateEarly(partial, deps, alpha) {
            return (await early(partial, deps, alpha)).flat();
          },
        }
      : {}),
  };
}

/** Two checks that measure the same thing get `#2`, so names stay unique in every table. */
function uniqueNames(measurements: Measurement[]): Measurement[] {
  const seen = new Map<string, number>();
  return measurements.map((m) => {
    const n = (seen.get(m.name) ?? 0) + 1;
    seen.set(m.name, n);
    return n === 1 ? m : { ...m, name: `${m.name} #${n}` };
  });
}

const STATUS_WORD: Record<Measurement['status'], string> = {
  pass: 'pass',
  fail: 'FAIL',
  inconclusive: 'inconclusive',
  skipped: 'skipped',
};

/** One log line per check: name, value, threshold, pass/fail, and why. */
export function measurementLine(m: Measurement): string {
  const why = m.reason && m.status !== 'pass' ? ` — ${m.reason}` : '';
  return `  ${STATUS_WORD[m.status]}: ${m.name} = ${m.shown} (threshold ${m.threshold})${why}`;
}

function intervalStatus(measurements: readonly Measurement[]): IntervalResult['status'] {
  if (measurements.some((m) => m.status === 'fail')) return 'fail';
  if (measurements.some((m) => m.status === 'inconclusive')) return 'inconclusive';
  return 'pass';
}

async function sleepUntil(clock: Clock, t: number): Promise<void> {
  for (let wait = t - clock.now().getTime(); wait > 0; wait = t - clock.now().getTime()) {
    await clock.sleep(wait);
  }
}

export interface PreparedAnalysis {
  /** The CloudWatch period, when the analysis has CloudWatch checks. */
  periodMs?: number;
  /** How long after a window closes it is judged. */
  delayMs: number;
  checks: PreparedChecks;
}

/**
 * Everything about an analysis that can be wrong before it starts: the timing rules, the
 * schedule, placeholders and queries. A caller that changes traffic calls this before the
 * change, so a mistake in the file refuses the step instead of shifting and rolling back.
 */
export function prepareAnalysis(request: Omit<AnalysisRequest, 'since'>): PreparedAnalysis {
  const { analysis } = request;
  const hasCloudWatch = analysis.checks.some((c) => c.kind === 'cloudwatch');
  const periodMs = hasCloudWatch
    ? (request.cloudWatchPeriodMs ?? DEFAULT_CLOUDWATCH_PERIOD_MS)
    : undefined;
  if (periodMs !== undefined) validateCloudWatchTiming(analysis.intervalMs, periodMs);
  if (analysis.checks.length === 0) {
    throw new ConfigurationError(
      'The analysis has no checks; add at least one to analysis.checks.',
    );
  }
  scheduleAnalysis(analysis, 0); // its rules do not depend on when the shift happened
  return {
    ...(periodMs !== undefined ? { periodMs } : {}),
    delayMs: periodMs === undefined ? 0 : (request.cloudWatchDelayMs ?? 0),
    checks: prepareChecks(request, periodMs),
  };
}

/**
 * One line for the plan on early failure (early.ts), as apply will run it with this CloudWatch
 * period and delay; undefined when no check can fail early or the file turns it off.
 */
export function describeEarlyFailure(
  analysis: Analysis,
  cloudWatchPeriodMs = DEFAULT_CLOUDWATCH_PERIOD_MS,
  cloudWatchDelayMs = 0,
): string | undefined {
  if (analysis.failEarly === false) return undefined;
  const early = analysis.checks.filter((c) => c.kind === 'cloudwatch' && judgesEarly(c));
  if (early.length === 0) return undefined;
  const ends = earlyLookEnds({ start: 0, end: analysis.intervalMs }, cloudWatchPeriodMs);
  const period = formatDuration(cloudWatchPeriodMs);
  if (ends.length === 0) {
    return (
      `No early failure: with ${period} CloudWatch data an interval of ${formatDuration(analysis.intervalMs)} ` +
      `has no datapoint before it closes (a longer interval, or high-resolution metrics, would allow one).`
    );
  }
  const step = formatDuration(ends[0] as number);
  const delay = cloudWatchDelayMs
    ? `, ${formatDuration(cloudWatchDelayMs)} behind as CloudWatch data comes late`
    : '';
  return (
    `Early failure: the error rate of an open interval is looked at every ${step}${delay}; an interval ` +
    `fails at once when it is over max with ${EARLY_CONFIDENCE_TEXT} confidence (${EARLY_MIN_REQUESTS} requests ` +
    `at least). Passing still needs the whole interval.`
  );
}

export async function runAnalysis(
  request: AnalysisRequest,
  deps: AnalysisDeps,
): Promise<AnalysisResult> {
  const { analysis } = request;
  const { clock, logger } = deps;
  const { periodMs, delayMs, checks: prepared } = prepareAnalysis(request);
  const since = request.since ?? clock.now().getTime();
  const schedule = scheduleAnalysis(
    analysis,
    since,
    periodMs === undefined ? 1 : cloudWatchAlignmentMs(analysis.intervalMs),
  );

  // Early looks (early.ts) read the open interval's data so far at the metrics' resolution. The
  // first interval's looks start when the warmup ends: the stretch before the window, left so
  // the window sits on the CloudWatch grid (up to a minute), is after the warmup and counts.
  const early = prepared.evaluateEarly && periodMs !== undefined ? periodMs : undefined;
  const warmupEnd =
    early === undefined ? undefined : Math.ceil((since + analysis.warmupMs) / early) * early;
  const spans = schedule.windows.map((window) => {
    const from = window.index === 1 && warmupEnd !== undefined ? warmupEnd : window.start;
    const ends =
      early === undefined
        ? []
        : earlyLookEnds({ start: from, end: window.end }, early, analysis.intervalMs);
    return { from, ends };
  });
  const looks = spans.reduce((n, s) => n + s.ends.length, 0);
  const alpha = looks ? EARLY_SIGNIFICANCE / looks : 0;

  const first = schedule.windows[0] as IntervalWindow;
  const judgingFrom = Math.min(first.start, (spans[0] as { from: number }).from);
  if (judgingFrom > clock.now().getTime()) {
    await logger.group(`Warming up until ${iso(judgingFrom)}`, async () => {
      logger.info(
        `Shift confirmed at ${iso(since)}; warmup ${formatDuration(analysis.warmupMs)}, then ` +
          `${plural(schedule.windows.length, 'interval')} of ${formatDuration(analysis.intervalMs)}, ` +
          `failure limit ${analysis.failureLimit}` +
          (delayMs
            ? `; each interval judged ${formatDuration(delayMs)} after it closes, when its CloudWatch data is in.`
            : '.'),
      );
      if (looks) {
        logger.info(
          `An interval fails early when its data so far shows an error rate over max with ` +
            `${EARLY_CONFIDENCE_TEXT} confidence; the first interval's early looks start at ${iso(judgingFrom)}.`,
        );
      }
      await sleepUntil(clock, judgingFrom);
    });
  }

  const intervals: IntervalResult[] = [];
  let failedIntervals = 0;
  for (const [i, window] of schedule.windows.entries()) {
    const span = spans[i] as { from: number; ends: number[] };
    let result = await judgeEarly(window, span.from, span.ends, alpha, prepared, delayMs, deps);
    if (!result) {
      await sleepUntil(clock, window.end + delayMs);
      // A cancelled job must get to its restore at once, not after a slow probe or query.
      const measurements = await untilAborted(prepared.evaluate(window, deps), deps.signal);
      result = {
        window,
        evaluatedAt: clock.now().getTime(),
        status: intervalStatus(measurements),
        measurements,
      };
    }
    const { measurements } = result;
    intervals.push(result);
    if (result.status === 'fail') failedIntervals++;
    const judgedEarly = result.early
      ? ` early, on its data in [${iso(result.early.from)}, ${iso(result.early.through)})`
      : '';
    logger.info(
      `Interval ${window.index}/${schedule.windows.length} [${iso(window.start)}, ${iso(window.end)}): ${result.status}${judgedEarly}` +
        (result.status === 'fail'
          ? ` (${failedIntervals} failed, limit ${analysis.failureLimit})`
          : ''),
    );
    for (const m of measurements) logger.info(measurementLine(m));
    if (failedIntervals > analysis.failureLimit) break;
  }
  return judge(analysis, schedule, intervals, failedIntervals, clock.now().getTime());
}

/**
 * Looks at an open interval's data from `from` to each of `ends` (once the data is in) and
 * returns the interval failed as soon as a check fails it beyond doubt; undefined when none did,
 * and the interval is judged when it closes. A look that CloudWatch cannot answer is passed
 * over: the close judges the interval anyway.
 */
async function judgeEarly(
  window: IntervalWindow,
  from: number,
  ends: readonly number[],
  alpha: number,
  prepared: PreparedChecks,
  delayMs: number,
  deps: AnalysisDeps,
): Promise<IntervalResult | undefined> {
  const evaluateEarly = prepared.evaluateEarly;
  if (!evaluateEarly) return undefined;
  for (const [i, through] of ends.entries()) {
    await sleepUntil(deps.clock, through + delayMs);
    // Behind (a slow look): the next look sees more data, and a skipped look costs no confidence.
    const next = ends[i + 1];
    if (next !== undefined && deps.clock.now().getTime() >= next + delayMs) continue;
    let failures: Measurement[];
    try {
      failures = await untilAborted(
        evaluateEarly({ index: window.index, start: from, end: through }, deps, alpha),
        deps.signal,
      );
    } catch (e) {
      if (deps.signal?.aborted) throw e;
      deps.logger.debug(
        `Early look at interval ${window.index} up to ${iso(through)}: ${errorMessage(e)}`,
      );
      continue;
    }
    if (failures.length) {
      return {
        window,
        evaluatedAt: deps.clock.now().getTime(),
        early: { from, through },
        status: 'fail',
        measurements: failures,
      };
    }
  }
  return undefined;
}

function judge(
  analysis: Analysis,
  schedule: AnalysisSchedule,
  intervals: IntervalResult[],
  failedIntervals: number,
  verdictAt: number,
): AnalysisResult {
  const outcomes = new Map<string, CheckOutcome & { lastReason?: string; lastFailure?: string }>();
  for (const interval of intervals) {
    for (const m of interval.measurements) {
      let o = outcomes.get(m.name);
      if (!o) {
        o = {
          name: m.name,
          kind: m.kind,
          threshold: m.threshold,
          passed: 0,
          failed: 0,
          inconclusive: 0,
          skipped: 0,
          lastShown: m.shown,
          result: 'pass',
        };
        outcomes.set(m.name, o);
      }
      o.lastShown = m.shown;
      if (m.status === 'pass') o.passed++;
      if (m.status === 'fail') {
        o.failed++;
        o.lastFailure = m.reason ?? m.shown;
      }
      if (m.status === 'inconclusive') {
        o.inconclusive++;
        o.lastReason = m.reason ?? 'no data';
      }
      if (m.status === 'skipped') {
        o.skipped++;
        o.lastReason = m.reason ?? 'not applicable';
      }
    }
  }
  const evaluated = intervals.length;
  const endedEarly = failedIntervals > analysis.failureLimit;
  const reasons: string[] = [];
  const failedChecks: string[] = [];
  for (const o of outcomes.values()) {
    if (o.skipped === evaluated) o.result = 'skipped';
    else if (o.passed === 0) o.result = o.failed > 0 ? 'fail' : 'not enough data';
    else o.result = o.failed > 0 && endedEarly ? 'fail' : 'pass';

    if (endedEarly && o.failed > 0) {
      failedChecks.push(o.name);
      reasons.push(`${o.name} ${o.lastFailure} in ${o.failed} of ${plural(evaluated, 'interval')}`);
    } else if (o.result === 'fail') {
      // Failures within the failure limit, but never a pass: the canary was not shown healthy.
      failedChecks.push(o.name);
      const noVerdict = o.inconclusive ? `, no verdict in ${o.inconclusive}` : '';
      reasons.push(
        `${o.name} ${o.lastFailure} in ${o.failed} of ${plural(evaluated, 'interval')} and passed in none${noVerdict}`,
      );
    } else if (!endedEarly && o.result === 'not enough data') {
      failedChecks.push(o.name);
      const reason = o.lastReason ?? 'no data';
      reasons.push(
        reason.startsWith('not enough traffic to judge: ')
          ? `${o.name}: not enough traffic to judge in ${o.inconclusive} of ${plural(evaluated, 'interval')} (${reason.slice('not enough traffic to judge: '.length)})`
          : `${o.name}: no verdict in ${o.inconclusive} of ${plural(evaluated, 'interval')} (${reason})`,
      );
    }
  }
  const healthy = failedChecks.length === 0;
  let verdict: string;
  if (healthy) {
    const judged = [...outcomes.values()].filter((o) => o.result === 'pass').length;
    const passedIntervals = intervals.filter((i) => i.status === 'pass').length;
    const notes: string[] = [];
    if (failedIntervals) {
      notes.push(`${failedIntervals} failed within the failure limit of ${analysis.failureLimit}`);
    }
    const inconclusive = intervals.filter((i) => i.status === 'inconclusive').length;
    if (inconclusive) notes.push(`${inconclusive} inconclusive`);
    verdict =
      `healthy: ${plural(judged, 'check')} passed in ${passedIntervals} of ${plural(evaluated, 'interval')}` +
      (notes.length ? ` (${notes.join(', ')})` : '');
  } else {
    verdict = reasons.join('; ');
  }
  return {
    healthy,
    verdict,
    verdictAt,
    failedChecks,
    endedEarly,
    since: schedule.since,
    plannedIntervals: schedule.windows.length,
    failedIntervals,
    failureLimit: analysis.failureLimit,
    intervals,
    checks: [...outcomes.values()].map(({ lastReason: _r, lastFailure: _f, ...o }) => o),
  };
}

function iso(t: number): string {
  return new Date(t).toISOString();
}
