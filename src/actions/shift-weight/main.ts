/**
 * shift-weight: sets forward weights on one or more ALB listeners/rules, in lockstep, with a
 * drift check, read-back, and restoration of every touched route on failure or cancellation.
 */
import * as core from '@actions/core';
import { coreLogger, runAction } from '../common/run.js';
import { makeElbv2Client } from '../../aws/clients.js';
import { NothingChangedError, ShiftFailedError, shiftWeights } from '../../alb/shift.js';
import { systemClock } from '../../common/clock.js';
import { ConfigurationError, nothingWasChanged } from '../../common/errors.js';
import { readShiftWeightInputs } from './inputs.js';
import { Outputs } from './io.js';
import { summarizeFailure, summarizeShift, weightsJson } from './summary.js';

export async function run(): Promise<void> {
  await runAction(async (_signal, budget) => {
    const inputs = await readShiftWeightInputs().catch((e: unknown) => {
      throw e instanceof ConfigurationError ? nothingWasChanged(e) : e;
    });
    const client = makeElbv2Client(inputs.region);
    try {
      const result = await shiftWeights(inputs.shift, {
        client,
        logger: coreLogger,
        clock: systemClock,
        budget,
      });
      core.setOutput(Outputs.previous, weightsJson(result.previous));
      core.setOutput(Outputs.desired, weightsJson(result.desired));
      core.setOutput(Outputs.applied, weightsJson(result.applied));
      core.setOutput(Outputs.changed, String(result.changed));
      if (result.appliedAt) core.setOutput(Outputs.appliedAt, result.appliedAt.toISOString());
      await writeSummary(() => summarizeShift(result, inputs.region));
    } catch (e) {
      if (e instanceof ShiftFailedError) {
        core.setOutput(Outputs.previous, weightsJson(e.previous));
        core.setOutput(Outputs.changed, String(e.notRestored.length > 0));
        await writeSummary(() => summarizeFailure(e, inputs.region));
      } else if (e instanceof NothingChangedError) {
        core.setOutput(Outputs.changed, 'false');
        await writeSummary(() => summarizeFailure(e, inputs.region));
      }
      throw e;
    } finally {
      client.destroy();
    }
  }, 'stopping and restoring the previous weights.');
}

/** The runner always sets GITHUB_STEP_SUMMARY; the CLI and local runs may not. */
async function writeSummary(build: () => typeof core.summary): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await build().write();
}
