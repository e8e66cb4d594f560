/**
 * The glue every action's main.ts shares: a Logger over @actions/core, one cancellation path,
 * and one place that turns any thrown value into a failed step. A ConfigurationError is the user's to fix: its
 * message is shown plainly and each diagnostic becomes an annotation on its file and line.
 * Anything else is our bug and is logged with its stack.
 */
import * as core from '@actions/core';
import { isAbsolute, relative } from 'node:path';
import {
  ConfigurationError,
  ExplainedError,
  errorMessage,
  formatDiagnostic,
} from '../../common/errors.js';
import { flatGroups, type Logger } from '../../common/logger.js';
import { takeEarlySignals } from './early-signals.js';
import { createCancelBudget, formatSeconds, type CancelBudget } from '../../common/cancel.js';

export const coreLogger: Logger = {
  info: (m) => core.info(m),
  debug: (m) => core.debug(m),
  warning: (m) => core.warning(m),
  // The runner's log cannot nest groups: an inner phase is a heading line in the outer group.
  group: flatGroups({
    startGroup: (name) => core.startGroup(name),
    endGroup: () => core.endGroup(),
    heading: (name) => core.info(`── ${name} ──`),
  }),
};

export function reportFailure(e: unknown): void {
  if (e instanceof ConfigurationError) {
    for (const d of e.diagnostics) {
      core.error(d.message, {
        file: annotationPath(d.file),
        startLine: d.line,
        startColumn: d.col,
      });
    }
  }
  if (e instanceof ExplainedError) {
    core.setFailed(e.message);
    return;
  }
  if (e instanceof Error && /ProviderError$/.test(e.name)) {
    // The SDK found no credentials (or could not use them): the usual cause is a workflow
    // without a credentials step, not our bug.
    core.debug(e.stack ?? '');
    core.setFailed(
      `No usable AWS credentials: ${e.message}. Add aws-actions/configure-aws-credentials ` +
        `(with an OIDC role) before this step, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`,
    );
    return;
  }
  if (isAwsError(e)) {
    // An AWS API error (access denied, a limit, an outage): its code and message say what
    // happened; the stack only helps us, so it goes to the debug log.
    core.debug(e.stack ?? '');
    core.setFailed(`${e.name}: ${e.message}`);
    return;
  }
  if (e instanceof Error && e.stack) core.error(e.stack);
  core.setFailed(errorMessage(e));
}

/** GitHub attaches an annotation to a file by its path relative to the repository root. */
function annotationPath(file: string): string {
  const workspace = process.env.GITHUB_WORKSPACE;
  if (!workspace || !isAbsolute(file)) return file;
  const rel = relative(workspace, file);
  return rel.startsWith('..') ? file : rel;
}

function isAwsError(e: unknown): e is Error {
  return e instanceof Error && '$metadata' in e;
}

/**
 * Runs an action's body; every failure, including a non-Error throw, fails the step. A
 * cancelled job gets SIGINT, then SIGTERM 7.5 s later, then SIGKILL 2.5 s after that: the
 * first signal aborts the budget's signal, with `onCancel` logged as a warning (what the action
 * does about it: restore, stop waiting), and every signal moves the budget's deadlines, so the
 * body's restore ends, and is reported, before the kill.
 */
export async function runAction(
  body: (signal: AbortSignal, budget: CancelBudget) => Promise<void>,
  onCancel = 'stopping.',
  /** The state a bare cancellation leaves, said after "Cancelled (received SIGINT)." */
  cancelledState = '',
): Promise<void> {
  const { budget, cancel } = createCancelBudget();
  const onSignal = (signal: NodeJS.Signals, at?: number): void => {
    const again = budget.signal.aborted;
    const name = signal === 'SIGINT' ? 'SIGINT' : 'SIGTERM';
    cancel(
      name,
      () => {
        const left = `The runner kills this step in ${formatSeconds(budget.timeLeft(0))}.`;
        coreLogger.warning(
          again
            ? `Received ${signal} again: still ${onCancel} ${left}`
            : `Received ${signal}: ${onCancel} ${left}`,
        );
      },
      at,
    );
  };
  // Node hands a listener the signal's name and number: only the name is ours to pass on.
  const onSigint = (): void => onSignal('SIGINT');
  const onSigterm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  for (const early of takeEarlySignals()) onSignal(early.name, early.at);
  try {
    await body(budget.signal, budget);
  } catch (e) {
    const abortedHere =
      budget.signal.aborted &&
      (e === budget.signal.reason ||
        (e instanceof Error && (e.name === 'AbortError' || e.name === 'DeadlineError')));
    // The cancellation itself, surfacing from a wait or a request: no stack, it is no bug.
    if (abortedHere) {
      core.setFailed(
        `Cancelled (${errorMessage(budget.signal.reason)}).${cancelledState ? ` ${cancelledState}` : ''}`,
      );
    } else reportFailure(e);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
}

export { formatDiagnostic };
