/**
 * The sandbox's metric store: what CloudWatch keeps behind PutMetricData and the ALB data
 * plane's per-request metrics. Raw values are kept (not pre-aggregated) because percentiles
 * need them; each series is keyed by namespace, metric name and its exact dimension set, as in
 * CloudWatch, where a query for {LoadBalancer} never matches a series that also has
 * {TargetGroup}.
 */

export interface MetricDatum {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  value: number;
  /** Epoch milliseconds. */
  timestamp: number;
  unit?: string;
  /** How many times `value` was observed (PutMetricData Values + Counts); 1 when absent. */
  count?: number;
  /** Seconds the timestamp is kept at: 1 (high resolution) or 60 (standard). Default 1. */
  storageResolution?: number;
}

/** A pre-aggregated set of observations (PutMetricData StatisticValues). */
export interface MetricStatisticSet {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  sampleCount: number;
  sum: number;
  minimum: number;
  maximum: number;
  timestamp: number;
  unit?: string;
  storageResolution?: number;
}

export interface MetricIdentity {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
}

export interface MetricSeriesQuery extends MetricIdentity {
  /** Epoch ms of the first period's start (already aligned by the caller). */
  start: number;
  /** Epoch ms, exclusive. */
  end: number;
  /** Seconds. */
  period: number;
  /** Sum, Average, SampleCount, Minimum, Maximum, pNN or pNN.N. */
  stat: string;
  /** Only samples recorded with this unit; every unit when absent. */
  unit?: string;
}

export interface MetricSeries {
  /** Epoch ms of each period's start, ascending, only periods that have a value. */
  timestamps: number[];
  values: number[];
}

interface Sample {
  /** Epoch ms, truncated to the series' storage resolution. */
  t: number;
  unit: string;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** The value a percentile sees, or undefined for a statistic set whose values are unknown. */
  value: number | undefined;
}

interface Series extends MetricIdentity {
  /** Sorted by `t`. */
  samples: Sample[];
}

const PERCENTILE = /^p(\d{1,2}(?:\.\d{1,2})?|100)$/;

/** True for the statistics `aggregate` can compute. */
export function isSupportedStat(stat: string): boolean {
  return (
    ['Sum', 'Average', 'SampleCount', 'Minimum', 'Maximum'].includes(stat) || PERCENTILE.test(stat)
  );
}

export class MetricStore {
  private readonly series = new Map<string, Series>();
  private readonly retentionMs: number;
  private readonly now: () => number;
  private putsSincePrune = 0;

  /**
   * @param retentionMs samples older than this (relative to `now`) are dropped, so a
   *   long-running demo does not grow without bound. CloudWatch keeps 1-second data 3 hours;
   *   the default keeps everything for 15 days, the span it keeps 1-minute data.
   */
  constructor(options: { retentionMs?: number; now?: () => number } = {}) {
    this.retentionMs = options.retentionMs ?? 15 * 24 * 3600_000;
    this.now = options.now ?? Date.now;
  }

  put(datum: MetricDatum): void {
    const count = datum.count ?? 1;
    this.insert(datum, {
      t: truncate(datum.timestamp, datum.storageResolution),
      unit: datum.unit ?? 'None',
      count,
      sum: datum.value * count,
      min: datum.value,
      max: datum.value,
      value: datum.value,
    });
  }

  putStatisticSet(set: MetricStatisticSet): void {
    // CloudWatch can compute percentiles over a statistic set only when every observation in
    // it is known to be the same value.
    const uniform = set.minimum === set.maximum && set.sum === set.minimum * set.sampleCount;
    this.insert(set, {
      t: truncate(set.timestamp, set.storageResolution),
      unit: set.unit ?? 'None',
      count: set.sampleCount,
      sum: set.sum,
      min: set.minimum,
      max: set.maximum,
      value: uniform ? set.minimum : undefined,
    });
  }

  /** Every series that has data, as ListMetrics would show them. */
  list(): MetricIdentity[] {
    return [...this.series.values()]
      .filter((s) => s.samples.length > 0)
      .map(({ namespace, metricName, dimensions }) => ({ namespace, metricName, dimensions }));
  }

  /**
   * One value per period that has data, with the statistic over the samples in
   * [periodStart, periodStart + period). Periods with no samples are absent, not zero, as
   * CloudWatch returns them.
   */
  query(q: MetricSeriesQuery): MetricSeries {
    const out: MetricSeries = { timestamps: [], values: [] };
    const series = this.series.get(seriesKey(q));
    if (!series) return out;
    const periodMs = q.period * 1000;
    const samples = series.samples;
    let i = lowerBound(samples, q.start);
    for (let bucketStart = q.start; bucketStart < q.end; bucketStart += periodMs) {
      const bucketEnd = Math.min(bucketStart + periodMs, q.end);
      const inBucket: Sample[] = [];
      for (; i < samples.length && (samples[i] as Sample).t < bucketEnd; i++) {
        const s = samples[i] as Sample;
        if (q.unit === undefined || s.unit === q.unit) inBucket.push(s);
      }
      if (i >= samples.length && inBucket.length === 0) break;
      const value = aggregate(inBucket, q.stat);
      if (value !== undefined) {
        out.timestamps.push(bucketStart);
        out.values.push(value);
      }
    }
    return out;
  }

  private insert(id: MetricIdentity, sample: Sample): void {
    const key = seriesKey(id);
    let series = this.series.get(key);
    if (!series) {
      series = {
        namespace: id.namespace,
        metricName: id.metricName,
        dimensions: { ...id.dimensions },
        samples: [],
      };
      this.series.set(key, series);
    }
    const samples = series.samples;
    const last = samples[samples.length - 1];
    if (!last || last.t <= sample.t) samples.push(sample);
    else samples.splice(upperBound(samples, sample.t), 0, sample);
    if (++this.putsSincePrune >= 10_000) this.prune();
  }

  private prune(): void {
    this.putsSincePrune = 0;
    const cutoff = this.now() - this.retentionMs;
    for (const [key, s] of this.series) {
      const keep = lowerBound(s.samples, cutoff);
      if (keep > 0) s.samples.splice(0, keep);
      if (s.samples.length === 0) this.series.delete(key);
    }
  }
}

/** The statistic over one period's samples; undefined when it has no value there. */
export function aggregateValues(values: readonly number[], stat: string): number | undefined {
  return aggregate(
    values.map((v) => ({ t: 0, unit: 'None', count: 1, sum: v, min: v, max: v, value: v })),
    stat,
  );
}

function aggregate(samples: readonly Sample[], stat: string): number | undefined {
  if (samples.length === 0) return undefined;
  let count = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const s of samples) {
    count += s.count;
    sum += s.sum;
    min = Math.min(min, s.min);
    max = Math.max(max, s.max);
  }
  switch (stat) {
    case 'SampleCount':
      return count;
    case 'Sum':
      return sum;
    case 'Average':
      return count === 0 ? undefined : sum / count;
    case 'Minimum':
      return min;
    case 'Maximum':
      return max;
  }
  const m = PERCENTILE.exec(stat);
  if (!m) throw new Error(`unsupported statistic ${stat}`);
  return percentile(samples, Number(m[1]));
}

/**
 * Nearest-rank percentile: the smallest value with at least p% of observations at or below
 * it. CloudWatch returns no percentile when a period holds a negative value or a statistic
 * set whose individual values are unknown.
 */
function percentile(samples: readonly Sample[], p: number): number | undefined {
  const weighted: { value: number; count: number }[] = [];
  let total = 0;
  for (const s of samples) {
    if (s.value === undefined || s.value < 0) return undefined;
    if (s.count <= 0) continue;
    weighted.push({ value: s.value, count: s.count });
    total += s.count;
  }
  if (total === 0) return undefined;
  weighted.sort((a, b) => a.value - b.value);
  const rank = Math.max(1, Math.ceil((p / 100) * total - 1e-9));
  let seen = 0;
  for (const w of weighted) {
    seen += w.count;
    if (seen >= rank) return w.value;
  }
  return weighted[weighted.length - 1]?.value;
}

function seriesKey(id: MetricIdentity): string {
  const dims = Object.keys(id.dimensions)
    .sort()
    .map((k) => [k, id.dimensions[k]]);
  return JSON.stringify([id.namespace, id.metricName, dims]);
}

function truncate(timestamp: number, resolutionSeconds = 1): number {
  const ms = resolutionSeconds * 1000;
  return Math.floor(timestamp / ms) * ms;
}

/** First index whose sample time is >= t. */
function lowerBound(samples: readonly Sample[], t: number): number {
  let lo = 0;
  let hi = samples.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((samples[mid] as Sample).t < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose sample time is > t. */
function upperBound(samples: readonly Sample[], t: number): number {
  let lo = 0;
  let hi = samples.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((samples[mid] as Sample).t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
