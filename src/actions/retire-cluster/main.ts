/**
 * retire-cluster: the last stage of a migration (src/operations/retire-cluster.ts). Reads the
 * inputs and the rollout file, runs the operation, sets the outputs and the job summary, and
 * fails the step on a refusal, a stop or a failed deletion with what is left.
 */
import * as core from '@actions/core';
import { IAMClient } from '@aws-sdk/client-iam';
import { clientOptions, makeElbv2Client } from '../../aws/clients.js';
import { systemClock } from '../../common/clock.js';
import { makeEksClient } from '../../eks/describe.js';
import { connectCluster } from '../../operations/kube-access.js';
import { retireMarkdown } from '../../operations/markdown.js';
import { retireCluster } from '../../operations/retire-cluster.js';
import { coreLogger, runAction } from '../common/run.js';
import { readRetireClusterInputs } from './inputs.js';
import { Outputs } from './io.js';

export async function run(): Promise<void> {
  await runAction(async (signal) => {
    const inputs = await readRetireClusterInputs();
    const spec = inputs.files[0]?.clusters.find((c) => c.name === inputs.as);
    const eksName = spec?.eks ?? '';
    const eks = makeEksClient(inputs.region);
    const iam = new IAMClient(clientOptions(inputs.region));
    // The target groups and routes are the rollout files', in their region.
    const elbv2 = makeElbv2Client(inputs.files[0]?.region ?? inputs.region);
    try {
      core.setOutput(Outputs.clusterName, eksName);
      const outcome = await retireCluster(
        {
          files: inputs.files,
          as: inputs.as,
          region: inputs.region,
          dryRun: inputs.dryRun,
          timeoutMs: inputs.timeoutMs,
          pollMs: inputs.pollMs,
        },
        {
          clients: {
            eks,
            iam,
            elbv2,
            kube: () =>
              connectCluster({
                eks,
                region: inputs.region,
                eksName,
                cluster: inputs.as,
                credentials: () => eks.config.credentials(),
              }),
          },
          logger: coreLogger,
          clock: systemClock,
          signal,
        },
      );
      core.setOutput(Outputs.deleted, String(outcome.status === 'retired'));
      core.setOutput(
        Outputs.plan,
        JSON.stringify(
          outcome.plan.map((p) => ({
            resource: p.resource,
            name: p.name,
            action: p.action,
            state: p.state,
          })),
        ),
      );
      if (process.env.GITHUB_STEP_SUMMARY) {
        await core.summary.addRaw(retireMarkdown(outcome), true).write();
      }
      if (outcome.failure) core.setFailed(outcome.failure);
    } finally {
      eks.destroy();
      iam.destroy();
      elbv2.destroy();
    }
  }, 'stopping the waits and reporting what is left.');
}
