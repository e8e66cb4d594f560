/** Input and output names of actions/retire-cluster/action.yml, in one place (a test keeps them equal). */
export const Inputs = {
  rolloutFile: 'rollout-file',
  as: 'as',
  region: 'region',
  dryRun: 'dry-run',
  timeout: 'timeout',
  pollInterval: 'poll-interval',
} as const;

export const Outputs = {
  clusterName: 'cluster-name',
  deleted: 'deleted',
  plan: 'plan',
} as const;
