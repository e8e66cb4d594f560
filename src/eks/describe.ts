/**
 * What a kubeconfig needs from EKS: the cluster's endpoint and certificate authority
 * (DescribeCluster). A cluster that is not ACTIVE has neither, so it is refused with its status.
 */
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { clientOptions } from '../aws/clients.js';
import { ConfigurationError, ExplainedError } from '../common/errors.js';

export interface ClusterAccess {
  name: string;
  endpoint: string;
  /** base64 of the PEM, as DescribeCluster gives it. */
  certificateAuthorityData: string;
  version?: string;
}

export function makeEksClient(region: string): EKSClient {
  return new EKSClient(clientOptions(region));
}

export async function describeClusterAccess(eks: EKSClient, name: string): Promise<ClusterAccess> {
  let cluster;
  try {
    cluster = (await eks.send(new DescribeClusterCommand({ name }))).cluster;
  } catch (e) {
    if (e instanceof Error && e.name === 'ResourceNotFoundException') {
      throw new ConfigurationError(
        `EKS cluster "${name}" does not exist in this region (${await eks.config.region()}): ${e.message}`,
      );
    }
    throw e;
  }
  if (
    !cluster ||
    cluster.status !== 'ACTIVE' ||
    !cluster.endpoint ||
    !cluster.certificateAuthority?.data
  ) {
    throw new ExplainedError(
      `EKS cluster "${name}" is ${cluster?.status ?? 'unknown'}, not ACTIVE: it has no endpoint to deploy to yet. Run sync-apps after create-cluster has finished.`,
    );
  }
  return {
    name,
    endpoint: cluster.endpoint,
    certificateAuthorityData: cluster.certificateAuthority.data,
    ...(cluster.version ? { version: cluster.version } : {}),
  };
}
