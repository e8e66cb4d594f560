/**
 * AWS clients as every action makes them: the SDK's adaptive retry (client-side rate limiting
 * on throttling), our user agent, timeouts on every request, and the SDK's own endpoint
 * resolution, which honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> (the sandbox and
 * other local stand-ins depend on that).
 *
 * The timeouts bound a call that AWS never answers: the SDK's default has none, so a stalled
 * call used to wait until the runner killed the step. One attempt ends after
 * REQUEST_TIMEOUT_MS; the SDK retries a timeout like any transient error, MAX_ATTEMPTS in all,
 * with at most ~6.2 s of backoff between them, so one call that keeps timing out fails after
 * at most MAX_ATTEMPTS × REQUEST_TIMEOUT_MS + 6.2 s = 36.2 s (CALL_BOUND_MS). A cancelled step
 * does not wait for that: reads are aborted at once, writes and restores by their deadlines
 * (src/common/cancel.ts).
 */
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { FinalizeRequestMiddleware, MetadataBearer } from '@smithy/types';
import { systemClock } from '../common/clock.js';
import { USER_AGENT } from '../common/version.js';
import { elbPacer, isThrottle, type ElbPacer } from './pacing.js';

/** ELB API token buckets of the whole process, per region (AWS's are per account and region). */
const elbPacers = new Map<string, ElbPacer>();

/** TCP (and TLS) connection to the regional endpoint; normally well under 100 ms. */
export const CONNECTION_TIMEOUT_MS = 2_000;
/** One attempt, connection included; ELBv2 and CloudWatch normally answer in under a second. */
export const REQUEST_TIMEOUT_MS = 5_000;
export const MAX_ATTEMPTS = 6;
/** The longest one SDK call can take before it fails: every attempt timed out, plus backoff. */
export const CALL_BOUND_MS = MAX_ATTEMPTS * REQUEST_TIMEOUT_MS + 6_200;

const common = (region: string) => ({
  region,
  retryMode: 'adaptive' as const,
  maxAttempts: MAX_ATTEMPTS,
  customUserAgent: USER_AGENT,
  // The options of @smithy/node-http-handler's NodeHttpHandler, which the SDK builds from them.
  // Without throwOnRequestTimeout the request timeout only logs a warning.
  requestHandler: {
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    throwOnRequestTimeout: true,
  },
});

export function makeElbv2Client(region: string): ElasticLoadBalancingV2Client {
  const client = new ElasticLoadBalancingV2Client(common(region));
  let pacer = elbPacers.get(region);
  if (!pacer) {
    pacer = elbPacer(systemClock);
    elbPacers.set(region, pacer);
  }
  const buckets = pacer;
  // Inside the retry middleware: every attempt takes its tokens, as AWS counts every attempt,
  // and a throttled attempt empties the buckets it drew from before the SDK retries it.
  const pacing: FinalizeRequestMiddleware<object, MetadataBearer> =
    (next, context) => async (args) => {
      const operation = context.commandName?.replace(/Command$/, '') ?? '';
      await buckets.take(operation);
      try {
        return await next(args);
      } catch (e) {
        if (isThrottle(e)) buckets.throttled(operation);
        throw e;
      }
    };
  client.middlewareStack.addRelativeTo(pacing, {
    relation: 'after',
    toMiddleware: 'retryMiddleware',
    name: 'eksCanaryElbPacing',
  });
  return client;
}

export function clientOptions(region: string): ReturnType<typeof common> {
  return common(region);
}
