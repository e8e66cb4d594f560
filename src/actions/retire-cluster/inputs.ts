/**
 * Reads and validates every retire-cluster input, and the rollout file itself, before anything
 * touches AWS: an invalid file fails here with every problem as an annotation on its line.
 */
import { ConfigurationError } from '../../common/errors.js';
import { readRolloutFile, type RolloutFile } from '../../rollout-file/index.js';
import {
  getBooleanInput,
  getDurationInput,
  getOptionalInput,
  getRequiredInput,
} from '../common/inputs.js';
import { Inputs } from './io.js';

export interface RetireClusterInputs {
  file: RolloutFile;
  as: string;
  region: string;
  dryRun: boolean;
  timeoutMs: number;
  pollMs: number;
}

export async function readRetireClusterInputs(): Promise<RetireClusterInputs> {
  const path = getRequiredInput(Inputs.rolloutFile);
  const as = getRequiredInput(Inputs.as);
  const dryRun = getBooleanInput(Inputs.dryRun, false);
  const timeoutMs = getDurationInput(Inputs.timeout) ?? 30 * 60_000;
  const pollMs = getDurationInput(Inputs.pollInterval) ?? 15_000;
  if (timeoutMs <= 0)
    throw new ConfigurationError(`Input "${Inputs.timeout}" must be longer than 0.`);
  if (pollMs < 100 || pollMs > 300_000) {
    throw new ConfigurationError(`Input "${Inputs.pollInterval}" must be from 100ms to 5m.`);
  }
  if (pollMs >= timeoutMs) {
    throw new ConfigurationError(
      `Input "${Inputs.pollInterval}" must be shorter than "${Inputs.timeout}".`,
    );
  }
  const file = await readRolloutFile(path);
  if (!file.clusters.some((c) => c.name === as)) {
    throw new ConfigurationError(
      `Input "${Inputs.as}" is "${as}", which is not a cluster of ${path}; its clusters are ${file.clusters.map((c) => c.name).join(', ')}. Retire a cluster while the file still names it, and remove it from the file afterwards.`,
    );
  }
  const region = getOptionalInput(Inputs.region) ?? file.region;
  return { file, as, region, dryRun, timeoutMs, pollMs };
}
