/**
 * The rollout action: one step of a rollout from a rollout file. `plan` on a pull request,
 * `apply` on a push to the default branch (automatic rollback on a failed check), `rollback`
 * and `advance` on demand. Reads and validates every input and the event first, then runs the
 * command with real clients and turns its outcome into outputs, annotations and the summary.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import { systemClock } from '../../common/clock.js';
import { coreLogger, runAction } from '../common/run.js';
import { ConfigurationError, nothingWasChanged } from '../../common/errors.js';
import { readEvent, type GitHubEvent } from '../../github/event.js';
import { makeGitHub } from '../../github/octokit.js';
import { regionalClients } from '../../operations/aws-clients.js';
import { runAdvance } from '../../operations/advance.js';
import { runApply } from '../../operations/apply.js';
import { runChanged } from '../../operations/changed.js';
import type {
  Command,
  OptionNames,
  RolloutDeps,
  RolloutEvent,
  RolloutSettings,
} from '../../operations/context.js';
import { commandSummary } from '../../operations/markdown.js';
import type { CommandOutcome } from '../../operations/results.js';
import { readRolloutInputs, type RolloutInputs } from './inputs.js';
import { Inputs, Outputs } from './io.js';
import { runPlan } from '../../operations/plan.js';
import { runRollback } from '../../operations/rollback.js';

/** How the operations' messages name what the user set: this action's inputs. */
const OPTION_NAMES: OptionNames = {
  file: `input "${Inputs.file}"`,
  to: `input "${Inputs.to}"`,
  weights: `input "${Inputs.weights}"`,
  owner: `input "${Inputs.owner}"`,
  force: `"${Inputs.force}: true"`,
};

const EVENT_FOR: Record<Command, string> = {
  plan: 'pull_request',
  apply: 'push (to the default branch)',
  rollback: 'workflow_dispatch (or push, schedule, repository_dispatch)',
  advance: 'workflow_dispatch (or push, schedule, repository_dispatch)',
  changed: 'push (to the default branch)',
};

/** The event in the fields the command needs, or why this event cannot run it. */
export function commandEvent(command: Command, event: GitHubEvent): RolloutEvent {
  const wrong = (): ConfigurationError =>
    new ConfigurationError(
      `command "${command}" runs on ${EVENT_FOR[command]}, but this job was started by "${event.name}". See examples/workflows/ for the workflow of each command.`,
    );
  if (command === 'plan') {
    if (event.kind !== 'pull_request') throw wrong();
    return {
      kind: 'pull_request',
      number: event.number,
      url: event.htmlUrl,
      baseSha: event.baseSha,
      headSha: event.headSha,
      baseRef: event.baseRef,
      labels: event.labels,
    };
  }
  if (command === 'apply' || command === 'changed') {
    if (event.kind !== 'push') throw wrong();
    if (event.branch === undefined) {
      throw new ConfigurationError(
        `apply runs on a push to a branch; this push is to ${event.ref}.`,
      );
    }
    return {
      kind: 'push',
      before: event.before,
      after: event.after,
      branch: event.branch,
      defaultBranch: event.defaultBranch,
    };
  }
  if (event.kind === 'pull_request') throw wrong();
  if (event.kind === 'push' && event.branch !== undefined && !event.deleted) {
    return {
      kind: 'workflow_dispatch',
      sha: event.after,
      branch: event.branch,
      defaultBranch: event.defaultBranch,
    };
  }
  const branch = event.ref.startsWith('refs/heads/')
    ? event.ref.slice('refs/heads/'.length)
    : undefined;
  if (!branch || !/^[0-9a-f]{40}$/.test(event.sha)) {
    throw new ConfigurationError(
      `command "${command}" must run on a branch (it reads the rollout file there and opens its PR against it); GITHUB_REF is "${event.ref}" and GITHUB_SHA "${event.sha}".`,
    );
  }
  // The PR goes to the branch the workflow was started on, normally the default branch.
  return { kind: 'workflow_dispatch', sha: event.sha, branch, defaultBranch: branch };
}

export async function run(): Promise<void> {
  await runAction(
    async (signal, budget) => {
      let inputs: RolloutInputs;
      try {
        inputs = readRolloutInputs();
      } catch (e) {
        core.setOutput(Outputs.result, 'failed');
        throw e instanceof ConfigurationError ? nothingWasChanged(e) : e;
      }
      const clients = regionalClients();
      try {
        const event = readEvent();
        const rolloutEvent = commandEvent(inputs.command, event);
        const deps: RolloutDeps = {
          github: makeGitHub(inputs.token, event.repo),
          mask: (secret) => core.setSecret(secret),
          aws: clients.aws,
          kube: clients.kube,
          logger: coreLogger,
          clock: systemClock,
          fetch: globalThis.fetch,
          signal,
          budget,
        };
        const settings: RolloutSettings = {
          optionNames: OPTION_NAMES,
          settleMs: inputs.settleMs,
          cloudWatchPeriodMs: inputs.cloudWatchPeriodMs,
          cloudWatchDelayMs: inputs.cloudWatchDelayMs,
          ...(event.runUrl ? { runUrl: event.runUrl } : {}),
        };
        const outcome = await runCommand(inputs, rolloutEvent, settings, deps);
        await finish(inputs.command, outcome);
      } catch (e) {
        core.setOutput(Outputs.result, 'failed');
        throw e;
      } finally {
        clients.destroy();
      }
    },
    'stopping; weights changed by this run are restored.',
    'Nothing was changed on the ALB.',
  );
}

function runCommand(
  inputs: RolloutInputs,
  event: RolloutEvent,
  settings: RolloutSettings,
  deps: RolloutDeps,
): Promise<CommandOutcome> {
  switch (inputs.command) {
    case 'plan':
      return runPlan(
        event as Extract<RolloutEvent, { kind: 'pull_request' }>,
        {
          filter: inputs.files,
          cloudWatchPeriodMs: settings.cloudWatchPeriodMs,
          cloudWatchDelayMs: settings.cloudWatchDelayMs,
        },
        deps,
      );
    case 'apply':
      return runApply(
        event as Extract<RolloutEvent, { kind: 'push' }>,
        {
          filter: inputs.files,
          settings,
          autoAdvance: inputs.autoAdvance,
          parallel: inputs.parallel,
          ...(inputs.lockWaitMs !== undefined
            ? { lock: { owner: lockOwner(), waitMs: inputs.lockWaitMs } }
            : {}),
        },
        deps,
      );
    case 'changed':
      return runChanged(event as Extract<RolloutEvent, { kind: 'push' }>, inputs.files, deps);
    case 'rollback':
      return runRollback(
        event as Extract<RolloutEvent, { kind: 'workflow_dispatch' }>,
        {
          file: inputs.file as string,
          force: inputs.force,
          ...(inputs.to !== undefined ? { to: inputs.to } : {}),
          ...(inputs.weights !== undefined ? { weights: inputs.weights } : {}),
          ...(inputs.owner !== undefined ? { owner: inputs.owner } : {}),
        },
        settings,
        deps,
      );
    case 'advance':
      return runAdvance(
        event as Extract<RolloutEvent, { kind: 'workflow_dispatch' }>,
        inputs.file as string,
        settings,
        deps,
      );
  }
}

/** Names this job in the lock tag: which run, which attempt, on which repository. */
function lockOwner(): string {
  const { GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run, GITHUB_RUN_ATTEMPT: attempt } = process.env;
  return `${repo ?? 'local'}:run-${run ?? process.pid}.${attempt ?? '1'}`;
}

async function finish(command: Command, outcome: CommandOutcome): Promise<void> {
  for (const a of outcome.annotations) {
    core.error(a.message, { file: a.file, startLine: a.line, startColumn: a.col });
  }
  const reportPath = join(
    process.env.RUNNER_TEMP ?? tmpdir(),
    `rollout-${command}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  );
  await writeFile(
    reportPath,
    `${JSON.stringify({ ...outcome.report, result: outcome.result }, null, 2)}\n`,
  );
  core.setOutput(Outputs.result, outcome.result);
  core.setOutput(Outputs.report, reportPath);
  if (outcome.pullRequest) core.setOutput(Outputs.pullRequest, outcome.pullRequest);
  if (outcome.command === 'changed') {
    core.setOutput(Outputs.changedFiles, JSON.stringify(outcome.files));
  }
  if (process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(commandSummary(outcome)).write();
  coreLogger.info(
    `Result: ${outcome.result}${outcome.pullRequest ? ` (PR: ${outcome.pullRequest})` : ''}`,
  );
  if (outcome.failure) core.setFailed(outcome.failure);
}
