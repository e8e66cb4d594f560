/**
 * An apiserver client for an EKS cluster named in a rollout file: DescribeCluster's endpoint and
 * CA, and an EKS token minted in process (renewed before it expires) from the SDK's credentials.
 */
import type { EKSClient } from '@aws-sdk/client-eks';
import type { AwsCredentialIdentity } from '@smithy/types';
import { describeClusterAccess } from '../eks/describe.js';
import { mintEksToken } from '../eks/token.js';
import { httpsKubeApi, type KubeApi } from '../kube/api.js';

export interface KubeAccessInput {
  eks: EKSClient;
  region: string;
  /** The EKS cluster name (clusters.<name>.eks). */
  eksName: string;
  /** The rollout file's name for it, for messages. */
  cluster: string;
  credentials(): Promise<AwsCredentialIdentity>;
  timeoutMs?: number;
}

export async function connectCluster(input: KubeAccessInput): Promise<KubeApi> {
  const access = await describeClusterAccess(input.eks, input.eksName);
  let cached: { token: string; expiresAt: number } | undefined;
  return httpsKubeApi({
    cluster: input.cluster,
    endpoint: access.endpoint,
    caPem: Buffer.from(access.certificateAuthorityData, 'base64').toString('utf8'),
    ...(input.timeoutMs !== undefined ? { timeoutMs: input.timeoutMs } : {}),
    async token() {
      if (!cached || cached.expiresAt <= Date.now()) {
        const t = await mintEksToken({
          clusterName: input.eksName,
          region: input.region,
          credentials: await input.credentials(),
        });
        cached = { token: t.token, expiresAt: t.expiresAt.getTime() };
      }
      return cached.token;
    },
  });
}
