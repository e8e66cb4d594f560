/**
 * The glue every action's main.ts shares: a Logger over @actions/core, and one place that
 * turns any thrown value into a failed step. A ConfigurationError is the user's to fix: its
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
import type { Logger } from '../../common/logger.js';

export const coreLogger: Logger = {
  info: (m) => core.info(m),
  debug: (m) => core.debug(m),
  warning: (m) => core.warning(m),
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    core.startGroup(name);
    try {
      return await fn();
    } finally {
      core.endGroup();
    }
  },
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

/** Runs an action's body; every failure, including a non-Error throw, fails the step. */
export async function runAction(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    reportFailure(e);
  }
}

export { formatDiagnostic };
