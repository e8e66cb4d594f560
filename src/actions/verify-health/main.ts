/**
 * verify-health: judges a canary after a weight shift from target health, CloudWatch and
 * Prometheus metrics and HTTP probes, and says why in one sentence. Reads and validates every
 * input first, so a mistake fails before any waiting.
 */
import { targetsFromRolloutFile } from '../../rollout-file/targets.js';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { consoleLink } from '../../aws/arn.js';
import { abortableClock, systemClock } from '../../common/clock.js';
import { untilAborted } from '../../common/cancel.js';
import { clientOptions, makeElbv2Client } from '../../aws/clients.js';
import { coreLogger, runAction } from '../common/run.js';
import { ConfigurationError } from '../../common/errors.js';
import {
  getBooleanInput,
  getDurationInput,
  getIntegerInput,
  getOptionalInput,
} from '../common/inputs.js';
import {
  DEFAULT_CLOUDWATCH_DELAY_MS,
  DEFAULT_CLOUDWATCH_PERIOD_MS,
  buildReport,
  resolveTargets,
  runAnalysis,
  summaryMarkdown,
  targetsFromArns,
  type TargetSpec,
} from '../../health/index.js';
import { maskCheckSecrets } from '../../health/secrets.js';
import {
  ANALYSIS_DEFAULTS,
  formatDuration,
  parseChecks,
  readRolloutFile,
  type Analysis,
} from '../../rollout-file/index.js';

/** Input and output names of actions/verify-health/action.yml, in one place. */
export const Inputs = {
  file: 'file',
  canaryTargetGroup: 'canary-target-group',
  baselineTargetGroup: 'baseline-target-group',
  checks: 'checks',
  warmup: 'warmup',
  interval: 'interval',
  duration: 'duration',
  failureLimit: 'failure-limit',
  cloudwatchPeriod: 'cloudwatch-period',
  cloudwatchDelay: 'cloudwatch-delay',
  since: 'since',
  failOnUnhealthy: 'fail-on-unhealthy',
  failEarly: 'fail-early',
  region: 'region',
} as const;

export const Outputs = {
  healthy: 'healthy',
  failedChecks: 'failed-checks',
  report: 'report',
  verdictAt: 'verdict-at',
} as const;

/** Without a rollout file: the resolution of ALB metrics in CloudWatch. */
const DEFAULT_INTERVAL_MS = DEFAULT_CLOUDWATCH_PERIOD_MS;
/** A `since` this far ahead of our clock is a mistake, not clock skew. */
const MAX_SINCE_AHEAD_MS = 60_000;

interface VerifyHealthInputs {
  region: string;
  targets: TargetSpec;
  analysis: Analysis;
  since?: number;
  cloudWatchPeriodMs: number;
  cloudWatchDelayMs: number;
  failOnUnhealthy: boolean;
}

async function readInputs(): Promise<VerifyHealthInputs> {
  const filePath = getOptionalInput(Inputs.file);
  const canaryArn = getOptionalInput(Inputs.canaryTargetGroup);
  const baselineArn = getOptionalInput(Inputs.baselineTargetGroup);
  const checksText = getOptionalInput(Inputs.checks);
  const warmupMs = getDurationInput(Inputs.warmup);
  const intervalMs = getDurationInput(Inputs.interval);
  const durationMs = getDurationInput(Inputs.duration);
  const failureLimit = getIntegerInput(Inputs.failureLimit, { min: 0, max: 1000 });
  const cloudWatchPeriodMs =
    getDurationInput(Inputs.cloudwatchPeriod) ?? DEFAULT_CLOUDWATCH_PERIOD_MS;
  const cloudWatchDelayMs = getDurationInput(Inputs.cloudwatchDelay) ?? DEFAULT_CLOUDWATCH_DELAY_MS;
  const failOnUnhealthy = getBooleanInput(Inputs.failOnUnhealthy, true);
  // Absent: the file's analysis.failEarly, or on.
  const failEarly =
    getOptionalInput(Inputs.failEarly) === undefined
      ? undefined
      : getBooleanInput(Inputs.failEarly, true);

  const sinceText = getOptionalInput(Inputs.since);
  let since: number | undefined;
  if (sinceText !== undefined) {
    since = Date.parse(sinceText);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(sinceText) || Number.isNaN(since)) {
      throw new ConfigurationError(
        `Input "since" must be an ISO 8601 time such as 2026-05-01T12:00:00Z (shift-weight's applied-at), got "${sinceText}".`,
      );
    }
    if (since > Date.now() + MAX_SINCE_AHEAD_MS) {
      throw new ConfigurationError(
        `Input "since" (${sinceText}) is in the future; give the time the shift was confirmed.`,
      );
    }
  }

  let targets: TargetSpec;
  let analysis: Analysis;
  let region = getOptionalInput(Inputs.region);
  if (filePath !== undefined) {
    for (const [name, value] of [
      [Inputs.canaryTargetGroup, canaryArn],
      [Inputs.baselineTargetGroup, baselineArn],
      [Inputs.checks, checksText],
    ] as const) {
      if (value !== undefined) {
        throw new ConfigurationError(
          `Input "${name}" cannot be used with "file": the rollout file's canary, clusters and analysis.checks say what to check.`,
        );
      }
    }
    const file = await readRolloutFile(filePath);
    targets = targetsFromRolloutFile(file);
    analysis = {
      ...file.analysis,
      warmupMs: warmupMs ?? file.analysis.warmupMs,
      intervalMs: intervalMs ?? file.analysis.intervalMs,
      durationMs: durationMs ?? file.analysis.durationMs,
      failureLimit: failureLimit ?? file.analysis.failureLimit,
    };
    if (failEarly !== undefined) analysis.failEarly = failEarly;
    region ??= file.region;
  } else {
    if (canaryArn === undefined) {
      throw new ConfigurationError(
        `Give either "file" (a rollout file) or "canary-target-group" (the canary's target group ARN) with "checks".`,
      );
    }
    if (checksText === undefined) {
      throw new ConfigurationError(
        `Input "checks" is required without "file": a YAML list such as "- targetHealth: { minHealthy: 1 }".`,
      );
    }
    targets = targetsFromArns(canaryArn, baselineArn, {
      canary: `Input "${Inputs.canaryTargetGroup}"`,
      baseline: `input "${Inputs.baselineTargetGroup}"`,
    });
    analysis = {
      warmupMs: warmupMs ?? ANALYSIS_DEFAULTS.warmupMs,
      intervalMs: intervalMs ?? DEFAULT_INTERVAL_MS,
      durationMs: durationMs ?? ANALYSIS_DEFAULTS.durationMs,
      failureLimit: failureLimit ?? ANALYSIS_DEFAULTS.failureLimit,
      ...(failEarly === false ? { failEarly } : {}),
      checks: parseChecks(checksText, `input "${Inputs.checks}"`),
    };
  }
  region ??= process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new ConfigurationError(
      'No region: set the "region" input, the rollout file\'s region, or AWS_REGION (aws-actions/configure-aws-credentials sets it).',
    );
  }

  // Before anything can print them. Only credentials: a masked "1" would blank every 1 in the log.
  maskCheckSecrets(analysis.checks, (secret) => core.setSecret(secret));

  const out: VerifyHealthInputs = {
    region,
    targets,
    analysis,
    cloudWatchPeriodMs,
    cloudWatchDelayMs,
    failOnUnhealthy,
  };
  if (since !== undefined) out.since = since;
  return out;
}

export async function run(): Promise<void> {
  await runAction(
    async (signal) => {
      const inputs = await readInputs();
      const elbv2 = makeElbv2Client(inputs.region);
      const cloudwatch = new CloudWatchClient(clientOptions(inputs.region));
      try {
        const targets = await coreLogger.group('Resolving target groups', async () => {
          const resolved = await untilAborted(resolveTargets(elbv2, inputs.targets), signal);
          for (const tg of resolved.weighted) {
            const role =
              tg === resolved.canary
                ? 'canary'
                : tg === resolved.baseline
                  ? 'baseline'
                  : 'weighted';
            coreLogger.info(
              `${role} ${tg.label}: ${tg.dimension} behind ${tg.loadBalancers.join(', ') || 'no load balancer'} — ${consoleLink(tg.arn, inputs.region)}`,
            );
          }
          if (resolved.baseline && !resolved.weighted.includes(resolved.baseline)) {
            coreLogger.info(`baseline ${resolved.baseline.label}: ${resolved.baseline.dimension}`);
          }
          return resolved;
        });
        coreLogger.info(
          `Analysis: warmup ${formatDuration(inputs.analysis.warmupMs)}, interval ${formatDuration(inputs.analysis.intervalMs)}, ` +
            `duration ${formatDuration(inputs.analysis.durationMs)}, failure limit ${inputs.analysis.failureLimit}, ` +
            `${inputs.analysis.checks.length} checks.`,
        );
        const request = {
          analysis: inputs.analysis,
          targets,
          cloudWatchPeriodMs: inputs.cloudWatchPeriodMs,
          cloudWatchDelayMs: inputs.cloudWatchDelayMs,
          ...(inputs.since !== undefined ? { since: inputs.since } : {}),
        };
        const result = await runAnalysis(request, {
          cloudwatch,
          elbv2,
          fetch: globalThis.fetch,
          clock: abortableClock(systemClock, signal),
          logger: coreLogger,
          signal,
        });

        const reportPath = join(
          process.env.RUNNER_TEMP ?? tmpdir(),
          `verify-health-${new Date(result.verdictAt).toISOString().replace(/[:.]/g, '-')}.json`,
        );
        await writeFile(
          reportPath,
          `${JSON.stringify(buildReport(result, inputs.analysis, targets), null, 2)}\n`,
        );
        core.setOutput(Outputs.healthy, String(result.healthy));
        core.setOutput(Outputs.failedChecks, JSON.stringify(result.failedChecks));
        core.setOutput(Outputs.report, reportPath);
        core.setOutput(Outputs.verdictAt, new Date(result.verdictAt).toISOString());
        if (process.env.GITHUB_STEP_SUMMARY) {
          await core.summary.addRaw(summaryMarkdown(result, inputs.analysis)).write();
        }
        coreLogger.info(`Verdict: ${result.verdict}`);
        coreLogger.info(`Report: ${reportPath}`);
        if (!result.healthy && inputs.failOnUnhealthy) {
          core.setFailed(`Canary unhealthy: ${result.verdict}`);
        }
      } finally {
        elbv2.destroy();
        cloudwatch.destroy();
      }
    },
    'stopping the analysis without a verdict (verify-health changes nothing).',
    'No verdict; verify-health changes nothing on the ALB.',
  );
}
