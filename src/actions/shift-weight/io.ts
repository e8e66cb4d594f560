/** Input and output names of actions/shift-weight/action.yml, in one place (a test keeps them equal). */
export const Inputs = {
  file: 'file',
  routes: 'routes',
  weights: 'weights',
  expect: 'expect',
  maxStep: 'max-step',
  dryRun: 'dry-run',
  settleSeconds: 'settle-seconds',
  region: 'region',
} as const;

export const Outputs = {
  previous: 'previous',
  desired: 'desired',
  applied: 'applied',
  changed: 'changed',
  appliedAt: 'applied-at',
} as const;
