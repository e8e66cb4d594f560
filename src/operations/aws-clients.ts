/**
 * The AWS clients of one run, made on first use per region (a rollout file names its region)
 * and closed together at the end: what the rollout action and the CLI hand the operations. Also
 * the apiservers of EKS clusters (the owner step), reached with DescribeCluster and an EKS
 * token minted from the same credentials as the other clients.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { clientOptions, makeElbv2Client } from '../aws/clients.js';
import { makeEksClient } from '../eks/describe.js';
import type { KubeApi } from '../kube/api.js';
import type { AwsClients } from './context.js';
import { connectCluster } from './kube-access.js';
import type { RetireClients } from './retire-cluster.js';

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

/**
 * What a retirement talks to (the retire-cluster action and the CLI's retire): EKS and IAM in
 * the cluster's region, ELBv2 in the rollout files' region (their target groups and routes),
 * and the cluster's apiserver. `destroy` closes them.
 */
export function retireClients(target: {
  region: string;
  fileRegion: string;
  eksName: string;
  as: string;
}): RetireClients & { destroy(): void } {
  const eks = makeEksClient(target.region);
  const iam = new IAMClient(clientOptions(target.region));
  const elbv2 = makeElbv2Client(target.fileRegion);
  return {
    eks,
    iam,
    elbv2,
    kube: () =>
      connectCluster({
        eks,
        region: target.region,
        eksName: target.eksName,
        cluster: target.as,
        credentials: () => eks.config.credentials(),
      }),
    destroy() {
      eks.destroy();
      iam.destroy();
      elbv2.destroy();
    },
  };
}
