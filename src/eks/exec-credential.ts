/**
 * The exec credential plugin our kubeconfigs name (see kubeconfig.ts; its entry point is
 * token-cli.ts):  node eks-token.js --cluster <name> --region <region>  prints an ExecCredential (client.authentication.k8s.io/v1beta1, or the version kubectl asks for
 * in KUBERNETES_EXEC_INFO) holding a fresh EKS token and its expirationTimestamp. Credentials are
 * the AWS SDK's default chain (environment, profile, web identity, …), session tokens included.
 */
import { parseArgs } from 'node:util';
import { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import { mintEksToken } from './token.js';

export async function execCredential(argv: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const { values } = parseArgs({
    args: argv,
    options: { cluster: { type: 'string' }, region: { type: 'string' } },
    strict: true,
  });
  const region = values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!values.cluster) throw new Error('--cluster is required (the EKS cluster name)');
  if (!region) throw new Error('--region is required (or AWS_REGION)');
  // Environment credentials come first in the SDK's chain too; reading them from `env` keeps
  // this function free of process-wide state.
  let credentials: AwsCredentialIdentity;
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    credentials = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  } else {
    const sts = new STSClient({ region });
    credentials = await sts.config.credentials();
    sts.destroy();
  }
  const { token, expiresAt } = await mintEksToken({
    clusterName: values.cluster,
    region,
    credentials,
  });
  let apiVersion = 'client.authentication.k8s.io/v1beta1';
  if (env.KUBERNETES_EXEC_INFO) {
    try {
      const info = JSON.parse(env.KUBERNETES_EXEC_INFO) as { apiVersion?: string };
      if (info.apiVersion) apiVersion = info.apiVersion;
    } catch {
      // kubectl always sends JSON; keep the default otherwise
    }
  }
  return JSON.stringify({
    kind: 'ExecCredential',
    apiVersion,
    spec: {},
    status: { expirationTimestamp: expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z'), token },
  });
}
