/**
 * AWS clients as every action makes them: the SDK's adaptive retry (client-side rate limiting
 * on throttling), our user agent, and the SDK's own endpoint resolution, which honours
 * AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> (the sandbox and other local stand-ins
 * depend on that).
 */
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { USER_AGENT } from '../common/version.js';

const common = (region: string) => ({
  region,
  retryMode: 'adaptive' as const,
  maxAttempts: 6,
  customUserAgent: USER_AGENT,
});

export function makeElbv2Client(region: string): ElasticLoadBalancingV2Client {
  return new ElasticLoadBalancingV2Client(common(region));
}

export function clientOptions(region: string): ReturnType<typeof common> {
  return common(region);
}
