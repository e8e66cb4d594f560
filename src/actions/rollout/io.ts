/** Input and output names of the root action.yml (the rollout action), in one place; a test keeps them equal. */
export const Inputs = {
  command: 'command',
  files: 'files',
  githubToken: 'github-token',
  file: 'file',
  to: 'to',
  weights: 'weights',
  owner: 'owner',
  force: 'force',
  autoAdvance: 'auto-advance',
  settleSeconds: 'settle-seconds',
  cloudwatchPeriod: 'cloudwatch-period',
  cloudwatchDelay: 'cloudwatch-delay',
  parallel: 'parallel',
  lock: 'lock',
  lockTimeout: 'lock-timeout',
} as const;

export const Outputs = {
  result: 'result',
  pullRequest: 'pull-request',
  report: 'report',
  changedFiles: 'changed-files',
} as const;
