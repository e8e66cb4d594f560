/** Input and output names of actions/create-cluster/action.yml, in one place (a test keeps them equal). */
export const Inputs = {
  config: 'config',
  dryRun: 'dry-run',
  timeout: 'timeout',
  pollInterval: 'poll-interval',
  kubeconfig: 'kubeconfig',
} as const;

export const Outputs = {
  clusterName: 'cluster-name',
  clusterArn: 'cluster-arn',
  endpoint: 'endpoint',
  certificateAuthorityData: 'certificate-authority-data',
  oidcIssuer: 'oidc-issuer',
  kubeconfig: 'kubeconfig',
  changed: 'changed',
  plan: 'plan',
} as const;
