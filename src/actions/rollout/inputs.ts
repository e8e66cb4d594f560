/**
 * Reads and validates every input of the rollout action before anything touches GitHub or AWS,
 * and checks the command fits the event that started the job.
 */
import * as core from '@actions/core';
import { ConfigurationError } from '../../common/errors.js';
import {
  getBooleanInput,
  getDurationInput,
  getIntegerInput,
  getMultilineInput,
  getOptionalInput,
  getRequiredInput,
} from '../common/inputs.js';
import { pathFilter, type PathFilter } from '../../common/glob.js';
import { DEFAULT_CLOUDWATCH_DELAY_MS, DEFAULT_CLOUDWATCH_PERIOD_MS } from '../../health/index.js';
import { COMMANDS, type Command } from '../../operations/context.js';
import { Inputs } from './io.js';

export const DEFAULT_FILES = 'rollouts/*.yaml';
/** Files one apply job shifts at once; each still restores on its own failure. */
export const DEFAULT_PARALLEL = 4;
/** How long an apply waits for another step's lock on one of its routes. */
export const DEFAULT_LOCK_TIMEOUT_MS = 15 * 60_000;
/** apply waits this long after the shift for the ALB data plane; rollback does not wait. */
export const DEFAULT_SETTLE_SECONDS: Record<Command, number> = {
  plan: 0,
  apply: 10,
  rollback: 0,
  advance: 0,
  changed: 0,
};

export interface RolloutInputs {
  command: Command;
  files: PathFilter;
  token: string;
  file?: string;
  to?: string;
  weights?: string;
  /** rollback: hand CronJobs and singletons over to this cluster. */
  owner?: string;
  force: boolean;
  autoAdvance: boolean;
  settleMs: number;
  cloudWatchPeriodMs: number;
  cloudWatchDelayMs: number;
  parallel: number;
  /** Lock the routes of each file for its step, waiting this long for another step; undefined: no lock. */
  lockWaitMs?: number;
}

export function readRolloutInputs(): RolloutInputs {
  const commandText = getRequiredInput(Inputs.command);
  if (!(COMMANDS as readonly string[]).includes(commandText)) {
    throw new ConfigurationError(
      `Input "${Inputs.command}" must be one of ${COMMANDS.join(', ')}, got "${commandText}".`,
    );
  }
  const command = commandText as Command;
  const token = getOptionalInput(Inputs.githubToken);
  if (token === undefined) {
    throw new ConfigurationError(
      `Input "${Inputs.githubToken}" is empty; it defaults to the workflow's GITHUB_TOKEN (\${{ github.token }}), so it was set to an empty value.`,
    );
  }
  // Before anything else can print it.
  core.setSecret(token);
  const patterns = getMultilineInput(Inputs.files);
  const files = pathFilter(patterns.length > 0 ? patterns : [DEFAULT_FILES], Inputs.files);
  const file = getOptionalInput(Inputs.file);
  const to = getOptionalInput(Inputs.to);
  const weights = getOptionalInput(Inputs.weights);
  const owner = getOptionalInput(Inputs.owner);
  const force = getBooleanInput(Inputs.force, false);
  const autoAdvance = getBooleanInput(Inputs.autoAdvance, false);
  const settleSeconds = getIntegerInput(Inputs.settleSeconds, { min: 0, max: 3600 });
  const cloudWatchPeriodMs = getDurationInput(Inputs.cloudwatchPeriod);
  const cloudWatchDelayMs = getDurationInput(Inputs.cloudwatchDelay);
  const parallel = getIntegerInput(Inputs.parallel, { min: 1, max: 20 });
  const lock = getBooleanInput(Inputs.lock, true);
  const lockTimeoutMs = getDurationInput(Inputs.lockTimeout);

  const onlyFor = (name: string, given: boolean, commands: Command[]): void => {
    if (given && !commands.includes(command)) {
      throw new ConfigurationError(
        `Input "${name}" is for ${commands.slice(0, -1).join(', ')}${commands.length > 1 ? ' and ' : ''}${commands.at(-1)}, not ${command}; remove it.`,
      );
    }
  };
  onlyFor(Inputs.file, file !== undefined, ['rollback', 'advance']);
  onlyFor(Inputs.to, to !== undefined, ['rollback']);
  onlyFor(Inputs.weights, weights !== undefined, ['rollback']);
  onlyFor(Inputs.owner, owner !== undefined, ['rollback']);
  onlyFor(Inputs.force, force, ['rollback']);
  onlyFor(Inputs.autoAdvance, autoAdvance, ['apply']);
  // Only apply and rollback shift weights; only apply measures after the shift.
  onlyFor(Inputs.settleSeconds, settleSeconds !== undefined, ['apply', 'rollback']);
  // plan and advance judge the analysis as apply will run it, so they take the same settings.
  onlyFor(Inputs.cloudwatchPeriod, cloudWatchPeriodMs !== undefined, ['plan', 'apply', 'advance']);
  onlyFor(Inputs.cloudwatchDelay, cloudWatchDelayMs !== undefined, ['plan', 'apply', 'advance']);
  onlyFor(Inputs.parallel, parallel !== undefined, ['apply']);
  onlyFor(Inputs.lockTimeout, lockTimeoutMs !== undefined, ['apply']);
  if (!lock && lockTimeoutMs !== undefined) {
    throw new ConfigurationError(
      `Input "${Inputs.lockTimeout}" has no use with "${Inputs.lock}: false"; remove one.`,
    );
  }
  if ((command === 'rollback' || command === 'advance') && file === undefined) {
    throw new ConfigurationError(
      `Input "${Inputs.file}" is required for ${command}: the rollout file, e.g. rollouts/web.yaml.`,
    );
  }

  const out: RolloutInputs = {
    command,
    files,
    token,
    force,
    autoAdvance,
    settleMs: (settleSeconds ?? DEFAULT_SETTLE_SECONDS[command]) * 1000,
    cloudWatchPeriodMs: cloudWatchPeriodMs ?? DEFAULT_CLOUDWATCH_PERIOD_MS,
    cloudWatchDelayMs: cloudWatchDelayMs ?? DEFAULT_CLOUDWATCH_DELAY_MS,
    parallel: parallel ?? DEFAULT_PARALLEL,
  };
  if (lock) out.lockWaitMs = lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (file !== undefined) out.file = file.replace(/^\.\//, '');
  if (to !== undefined) out.to = to;
  if (weights !== undefined) out.weights = weights;
  if (owner !== undefined) out.owner = owner;
  return out;
}
