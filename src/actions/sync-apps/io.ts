/** Input and output names of actions/sync-apps/action.yml, in one place (a test keeps them equal). */
export const Inputs = {
  cluster: 'cluster',
  kubeconfig: 'kubeconfig',
  region: 'region',
  helmfile: 'helmfile',
  environment: 'environment',
  selector: 'selector',
  chart: 'chart',
  release: 'release',
  namespace: 'namespace',
  values: 'values',
  manifests: 'manifests',
  mode: 'mode',
  rolloutFile: 'rollout-file',
  as: 'as',
  timeout: 'timeout',
} as const;

export const Outputs = {
  changed: 'changed',
  diff: 'diff',
  resources: 'resources',
  targetHealth: 'target-health',
} as const;
