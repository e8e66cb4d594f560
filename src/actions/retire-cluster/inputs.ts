/**
 * Reads and validates every retire-cluster input, and the rollout files themselves, before
 * anything touches AWS: an invalid file fails here with every problem as an annotation on its line.
 */
import { ConfigurationError } from '../../common/errors.js';
import { retireTarget } from '../../operations/retire-cluster.js';
import { readRolloutFile, type RolloutFile } from '../../rollout-file/index.js';
import {
  getBooleanInput,
  getDurationInput,
  getMultilineInput,
  getOptionalInput,
  getRequiredInput,
} from '../common/inputs.js';
import { Inputs } from './io.js';

export interface RetireClusterInputs {
  /** Every rollout file that names the cluster (one per service it serves). */
  files: RolloutFile[];
  as: string;
  /** The cluster's EKS name, and the region of the files' target groups and routes. */
  eksName: string;
  fileRegion: string;
  region: string;
  dryRun: boolean;
  timeoutMs: number;
  pollMs: number;
}

export async function readRetireClusterInputs(): Promise<RetireClusterInputs> {
  const paths = getMultilineInput(Inputs.rolloutFile);
  if (paths.length === 0) {
    throw new ConfigurationError(`Input "${Inputs.rolloutFile}" is required.`);
  }
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
  const files: RolloutFile[] = [];
  for (const path of new Set(paths)) files.push(await readRolloutFile(path));
  const { eksName, fileRegion } = retireTarget(files, as, `Input "${Inputs.as}"`);
  const region = getOptionalInput(Inputs.region) ?? fileRegion;
  return { files, as, eksName, fileRegion, region, dryRun, timeoutMs, pollMs };
}
