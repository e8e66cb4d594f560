/**
 * Reads and validates every shift-weight input before anything touches AWS.
 */
import { ConfigurationError } from '../../common/errors.js';
import {
  getBooleanInput,
  getIntegerInput,
  getMultilineInput,
  getOptionalInput,
} from '../common/inputs.js';
import { parseRouteLines, parseWeightLines } from '../../alb/weights-text.js';
import type { ShiftRequest } from '../../alb/shift.js';
import type { RouteRef, Weights } from '../../alb/forward.js';
import { readRolloutFile } from '../../rollout-file/index.js';
import type { RolloutFile } from '../../rollout-file/types.js';
import { Inputs } from './io.js';

export interface ShiftWeightInputs {
  region: string;
  /** The rollout file, when given: the summary names its clusters. */
  rollout?: RolloutFile;
  shift: ShiftRequest;
}

export async function readShiftWeightInputs(
  env: NodeJS.ProcessEnv = process.env,
): Promise<ShiftWeightInputs> {
  const file = getOptionalInput(Inputs.file);
  const regionInput = getOptionalInput(Inputs.region);
  const routeLines = getMultilineInput(Inputs.routes);
  const weightLines = getMultilineInput(Inputs.weights);
  const expectLines = getMultilineInput(Inputs.expect);
  const maxStep = getIntegerInput(Inputs.maxStep, { min: 0, max: 999 });
  const dryRun = getBooleanInput(Inputs.dryRun, false);
  const settleSeconds = getIntegerInput(Inputs.settleSeconds, { min: 0, max: 3600 }) ?? 10;

  let rollout: RolloutFile | undefined;
  let region: string;
  let routes: RouteRef[];
  let desired: Weights;
  if (file !== undefined) {
    if (routeLines.length > 0 || weightLines.length > 0) {
      throw new ConfigurationError(
        `Give either "${Inputs.file}" or "${Inputs.routes}" with "${Inputs.weights}", not both: the rollout file already names the routes and weights.`,
      );
    }
    const parsed = await readRolloutFile(file);
    if (regionInput !== undefined && regionInput !== parsed.region) {
      throw new ConfigurationError(
        `Input "${Inputs.region}" is ${regionInput}, but ${file} says region: ${parsed.region}. Remove the input or make them agree.`,
      );
    }
    rollout = parsed;
    region = parsed.region;
    routes = parsed.routes.map((r) => ({ kind: r.kind, arn: r.arn }));
    desired = Object.fromEntries(
      parsed.clusters.map((c) => [c.targetGroup, parsed.weights[c.name] ?? 0]),
    );
  } else {
    if (routeLines.length === 0 || weightLines.length === 0) {
      throw new ConfigurationError(
        `Give "${Inputs.file}" (a rollout file), or both "${Inputs.routes}" (listener/rule ARNs, one per line) and "${Inputs.weights}" (<target-group-arn>=<weight>, one per line).`,
      );
    }
    region = regionInput ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? '';
    if (region === '') {
      throw new ConfigurationError(
        `No region: set input "${Inputs.region}" or AWS_REGION (aws-actions/configure-aws-credentials sets it).`,
      );
    }
    routes = parseRouteLines(routeLines, Inputs.routes, region);
    desired = parseWeightLines(weightLines, Inputs.weights, region);
  }

  let expect: Weights | undefined;
  if (expectLines.length > 0) {
    expect = parseWeightLines(expectLines, Inputs.expect, region);
    const differ =
      Object.keys(expect).some((tg) => !(tg in desired)) ||
      Object.keys(desired).some((tg) => !(tg in expect!));
    if (differ) {
      throw new ConfigurationError(
        `Input "${Inputs.expect}" must name the same target groups as the desired weights (${file !== undefined ? `the clusters of ${file}` : `input "${Inputs.weights}"`}).`,
      );
    }
  }

  return {
    region,
    ...(rollout ? { rollout } : {}),
    shift: {
      routes,
      desired,
      ...(expect ? { expect } : {}),
      ...(maxStep !== undefined ? { maxStep } : {}),
      dryRun,
      settleMs: settleSeconds * 1000,
    },
  };
}
