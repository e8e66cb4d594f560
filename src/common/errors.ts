/**
 * A failure that its message explains completely (what happened, what state was left, what to
 * do), so it is reported without a stack trace.
 */
export class ExplainedError extends Error {
  override name = 'ExplainedError';
}

/**
 * A mistake the user can fix (bad input, bad rollout file, drift, refused step). Reported as a
 * plain message, never with a stack trace. Anything else that is thrown is our bug and keeps
 * its stack.
 */
export class ConfigurationError extends ExplainedError {
  override name = 'ConfigurationError';
  constructor(
    message: string,
    /** Problems with a position, reported as annotations on those lines. */
    readonly diagnostics: readonly Diagnostic[] = [],
  ) {
    super(message);
  }
}

/** The same mistake, its message ending by saying that nothing was changed (if it does not yet). */
export function nothingWasChanged(e: ConfigurationError): ConfigurationError {
  if (/nothing was changed/i.test(e.message)) return e;
  return new ConfigurationError(`${e.message}\nNothing was changed.`, e.diagnostics);
}

/** One problem at one place in a file. Lines and columns are 1-based, as editors show them. */
export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.message}`;
}

/** The message of anything thrown, including non-Error values. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return typeof e === 'string' ? e : JSON.stringify(e);
}
