/**
 * Early failure: an interval that is still open can already show beyond doubt that the canary
 * fails a rate threshold (90 errors in 300 requests against a 1% max). The analysis then fails
 * the interval at once instead of waiting for it to close, so fewer users meet the bad build.
 *
 * Only failing is early; passing still needs the whole interval. The test is one-sided: the
 * canary's true error rate is over `max` unless the errors seen would be very unlikely at a rate
 * of exactly `max`. Their probability is bounded with the Chernoff bound of the binomial tail,
 * P(X ≥ k) ≤ exp(-n·D(k/n ‖ max)) for X ~ Binomial(n, max) and k/n > max, where D is the
 * Kullback-Leibler divergence of two Bernoulli rates. The bound is never below the exact tail,
 * so a healthy canary is failed early less often than the stated significance. The whole
 * analysis may fail a canary whose rate is at or under `max` early with probability at most
 * EARLY_SIGNIFICANCE: it is shared evenly among every early look of every interval (Bonferroni).
 */

/** The probability, over a whole analysis, of failing early a canary whose rate is ≤ max. */
export const EARLY_SIGNIFICANCE = 0.001;
/** The confidence an early failure is called with, as people read it. */
export const EARLY_CONFIDENCE_TEXT = '99.9%';
/**
 * Fewer requests than this never fail early, whatever they show: requests are not quite
 * independent (one restarting pod fails a burst), and a handful is too few to rest on.
 */
export const EARLY_MIN_REQUESTS = 20;
/** At most this many early looks per interval (one GetMetricData call each). */
export const MAX_EARLY_LOOKS = 60;

/**
 * An upper bound on P(X ≥ errors) for X ~ Binomial(requests, max): 1 when the observed rate is
 * not above `max` (no evidence), 0 when any error at all breaks a max of 0.
 */
export function errorTailBound(errors: number, requests: number, max: number): number {
  if (requests <= 0 || errors <= 0) return 1;
  const rate = Math.min(1, errors / requests);
  if (rate <= max) return 1;
  if (max <= 0) return 0;
  if (max >= 1) return 1;
  const term = (q: number, p: number) => (q === 0 ? 0 : q * Math.log(q / p));
  const divergence = term(rate, max) + term(1 - rate, 1 - max);
  return Math.exp(-requests * divergence);
}

/** Whether `errors` of `requests` show a rate over `max` at significance `alpha`. */
export function decisivelyOver(
  errors: number,
  requests: number,
  max: number,
  alpha: number,
  minRequests = EARLY_MIN_REQUESTS,
): boolean {
  if (requests < Math.max(minRequests, EARLY_MIN_REQUESTS)) return false;
  return errorTailBound(errors, requests, max) <= alpha;
}

/**
 * The moments up to which an open interval's data is looked at early: every step from `start`,
 * where the step is the data's resolution (CloudWatch's period: ALB metrics come in whole
 * minutes), made coarser so an interval of `intervalMs` takes at most MAX_EARLY_LOOKS looks
 * (the first interval's span, which starts when the warmup ends, may be longer than its
 * window and take more). The close itself is not a look. An interval of one period has none:
 * its data is one datapoint, published after it closes.
 */
export function earlyLookEnds(
  span: { start: number; end: number },
  resolutionMs: number,
  intervalMs = span.end - span.start,
): number[] {
  const resolution = Math.max(1_000, resolutionMs);
  const step = Math.max(
    resolution,
    Math.ceil(intervalMs / MAX_EARLY_LOOKS / resolution) * resolution,
  );
  const ends: number[] = [];
  for (let t = span.start + step; t < span.end; t += step) ends.push(t);
  return ends;
}
