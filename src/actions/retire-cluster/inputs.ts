/**
 * Reads and validates every retire-cluster input, and the rollout files themselves, before
 * anything touches AWS: an invalid file fails here with every problem as an annotation on its line.
 */
import { ConfigurationError } from '../../common/errors.js';
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
  for (const file of files) {
    if (!file.clusters.some((c) => c.name === as)) {
      throw new ConfigurationError(
        `Input "${Inputs.as}" is "${as}", which is not a cluster of ${file.path}; its clusters are ${file.clusters.map((c) => c.name).join(', ')}. Retire a cluster while the files still name it, and remove it from them afterwards.`,
      );
    }
  }
  const first = files[0] as RolloutFile;
  const eksOf = (f: RolloutFile): string => f.clusters.find((c) => c.name === as)?.eks ?? '';
  const otherEks = files.find((f) => eksOf(f) !== eksOf(first));
  if (otherEks) {
    throw new ConfigurationError(
      `${first.path} says ${as} is EKS cluster ${eksOf(first)}, ${otherEks.path} says ${eksOf(otherEks)}: give the files of one EKS cluster per run.`,
    );
  }
  const otherRegion = files.find((f) => f.region !== first.region);
  if (otherRegion) {
    throw new ConfigurationError(
      `${first.path} is in ${first.region}, ${otherRegion.path} in ${otherRegion.region}: the target groups of one cluster are in its region; give the files of that region.`,
    );
  }
  const region = getOptionalInput(Inputs.region) ?? first.region;
  return { files, as, region, dryRun, timeoutMs, pollMs };
}
