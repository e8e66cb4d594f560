/**
 * Reads and validates every create-cluster input, and the ClusterConfig itself, before anything
 * touches AWS: an invalid config fails here with every problem as an annotation on its line.
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ConfigurationError } from '../../common/errors.js';
import { readClusterConfig, type ClusterConfig } from '../../eks/cluster-config.js';
import {
  getBooleanInput,
  getDurationInput,
  getOptionalInput,
  getRequiredInput,
} from '../common/inputs.js';
import { Inputs } from './io.js';

export interface CreateClusterInputs {
  config: ClusterConfig;
  dryRun: boolean;
  timeoutMs: number;
  pollMs: number;
  kubeconfigPath: string;
}

export async function readCreateClusterInputs(
  env: NodeJS.ProcessEnv = process.env,
): Promise<CreateClusterInputs> {
  const path = getRequiredInput(Inputs.config);
  const dryRun = getBooleanInput(Inputs.dryRun, false);
  const timeoutMs = getDurationInput(Inputs.timeout) ?? 45 * 60_000;
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
  const config = await readClusterConfig(path);
  const kubeconfigPath =
    getOptionalInput(Inputs.kubeconfig) ??
    join(env.RUNNER_TEMP ?? tmpdir(), `kubeconfig-${config.name}`);
  return { config, dryRun, timeoutMs, pollMs, kubeconfigPath };
}
