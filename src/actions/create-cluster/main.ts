/**
 * create-cluster: an EKS cluster from an eksctl ClusterConfig. Reads the inputs and the config,
 * runs the operation, writes the kubeconfig, sets the outputs and the job summary (the plan as
 * a table, what was done with times, or what exists after a stop).
 */
import * as core from '@actions/core';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { clientOptions } from '../../aws/clients.js';
import { systemClock } from '../../common/clock.js';
import { buildKubeconfig } from '../../eks/kubeconfig.js';
import {
  CreateClusterStoppedError,
  DriftError,
  createCluster,
  type CreateClusterResult,
} from '../../operations/create-cluster.js';
import { coreLogger, runAction } from '../common/run.js';
import { readCreateClusterInputs } from './inputs.js';
import { Outputs } from './io.js';
import { summarizeCreate, summarizeStopped, summarizeDrift } from './summary.js';

/** The token minter bundled beside this action (dist/create-cluster/eks-token.js). */
const TOKEN_SCRIPT = fileURLToPath(new URL('./eks-token.js', import.meta.url));

export async function run(): Promise<void> {
  await runAction(async (signal) => {
    const inputs = await readCreateClusterInputs();
    const { config } = inputs;
    const eks = new EKSClient(clientOptions(config.region));
    const iam = new IAMClient(clientOptions(config.region));
    try {
      let result: CreateClusterResult;
      try {
        result = await createCluster(
          {
            config,
            dryRun: inputs.dryRun,
            timeoutMs: inputs.timeoutMs,
            pollMs: inputs.pollMs,
          },
          { clients: { eks, iam }, logger: coreLogger, clock: systemClock, signal },
        );
      } catch (e) {
        if (e instanceof CreateClusterStoppedError) {
          core.setOutput(Outputs.plan, JSON.stringify(e.plan));
          core.setOutput(Outputs.changed, String(e.steps.length > 0));
          await writeSummary(() => summarizeStopped(config, e));
        }
        if (e instanceof DriftError) {
          core.setOutput(Outputs.plan, JSON.stringify(e.plan));
          core.setOutput(Outputs.changed, 'false');
          await writeSummary(() => summarizeDrift(config, e));
        }
        throw e;
      }
      core.setOutput(Outputs.plan, JSON.stringify(result.plan));
      core.setOutput(Outputs.changed, String(result.changed));
      core.setOutput(Outputs.clusterName, config.name);
      const c = result.cluster;
      if (c) {
        core.setOutput(Outputs.clusterArn, c.arn);
        core.setOutput(Outputs.endpoint, c.endpoint);
        core.setOutput(Outputs.certificateAuthorityData, c.certificateAuthorityData);
        core.setOutput(Outputs.oidcIssuer, c.oidcIssuer);
        if (c.status === 'ACTIVE' && c.endpoint !== '') {
          await mkdir(dirname(inputs.kubeconfigPath), { recursive: true });
          await writeFile(
            inputs.kubeconfigPath,
            buildKubeconfig({
              clusterName: config.name,
              region: config.region,
              endpoint: c.endpoint,
              certificateAuthorityData: c.certificateAuthorityData,
              exec: { command: process.execPath, args: [TOKEN_SCRIPT] },
            }),
            { mode: 0o600 },
          );
          core.setOutput(Outputs.kubeconfig, inputs.kubeconfigPath);
          core.info(`Kubeconfig written to ${inputs.kubeconfigPath}`);
        }
      }
      await writeSummary(() => summarizeCreate(config, result));
    } finally {
      eks.destroy();
      iam.destroy();
    }
  }, 'stopping the waits and reporting what exists.');
}

/** The runner always sets GITHUB_STEP_SUMMARY; the CLI and local runs may not. */
async function writeSummary(build: () => typeof core.summary): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await build().write();
}
