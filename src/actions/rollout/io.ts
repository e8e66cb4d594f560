/** Input and output names of the root action.yml (the rollout action), in one place; a test keeps them equal. */
export const Inputs = {
  command: 'command',
  files: 'files',
  githubToken: 'github-token',
  file: 'file',
  to: 'to',
  weights: 'weights',
  force: 'force',
  autoAdvance: 'auto-advance',
  settleSeconds: 'settle-seconds',
  cloudwatchPeriod: 'cloudwatch-period',
  cloudwatchDelay: 'cloudwatch-delay',
} as const;

export const Outputs = {
  result: 'result',
  pullRequest: 'pull-request',
  report: 'report',
} as const;

export const COMMANDS = ['plan', 'apply', 'rollback', 'advance'] as const;
export type Command = (typeof COMMANDS)[number];

/** What the `result` output can be. */
export type RolloutResult = 'applied' | 'rolled-back' | 'unchanged' | 'planned' | 'failed';

/** The PR label that lets a plan pass a step larger than the next entry of `steps`. */
export const FORCE_LABEL = 'rollout/force';
