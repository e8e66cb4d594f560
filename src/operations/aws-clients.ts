/**
 * The AWS clients of one run, made on first use per region (a rollout file names its region)
 * and closed together at the end: what the rollout action and the CLI hand the operations.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { clientOptions, makeElbv2Client } from '../aws/clients.js';
import type { AwsClients } from './context.js';

export function regionalClients(): { aws(region: string): AwsClients; destroy(): void } {
  const clients = new Map<string, AwsClients>();
  return {
    aws(region) {
      let c = clients.get(region);
      if (!c) {
        c = {
          elbv2: makeElbv2Client(region),
          cloudwatch: new CloudWatchClient(clientOptions(region)),
        };
        clients.set(region, c);
      }
      return c;
    },
    destroy() {
      for (const c of clients.values()) {
        c.elbv2.destroy();
        c.cloudwatch.destroy();
      }
    },
  };
}
