/**
 * The AWS clients of one run, made on first use per region (a rollout file names its region)
 * and closed together at the end: what the rollout action and the CLI hand the operations. Also
 * the apiservers of EKS clusters (the owner step), reached with DescribeCluster and an EKS
 * token minted from the same credentials as the other clients.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EKSClient } from '@aws-sdk/client-eks';
import { clientOptions, makeElbv2Client } from '../aws/clients.js';
import { makeEksClient } from '../eks/describe.js';
import type { KubeApi } from '../kube/api.js';
import type { AwsClients } from './context.js';
import { connectCluster } from './kube-access.js';

export function regionalClients(): {
  aws(region: string): AwsClients;
  kube(region: string, eksName: string, cluster: string): Promise<KubeApi>;
  destroy(): void;
} {
  const clients = new Map<string, AwsClients>();
  const eksClients = new Map<string, EKSClient>();
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
    kube(region, eksName, cluster) {
      let eks = eksClients.get(region);
      if (!eks) {
        eks = makeEksClient(region);
        eksClients.set(region, eks);
      }
      const client = eks;
      return connectCluster({
        eks: client,
        region,
        eksName,
        cluster,
        credentials: () => client.config.credentials(),
      });
    },
    destroy() {
      for (const c of clients.values()) {
        c.elbv2.destroy();
        c.cloudwatch.destroy();
      }
      for (const e of eksClients.values()) e.destroy();
    },
  };
}
