/**
 * What domain code needs to explain itself. In an action this is @actions/core (groups fold
 * in the log, debug shows only with ACTIONS_STEP_DEBUG); the CLI and tests pass their own.
 */
export interface Logger {
  info(message: string): void;
  debug(message: string): void;
  warning(message: string): void;
  /** Runs `fn` inside a folded log group; the group is closed even when `fn` throws. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** A logger that keeps every line, for tests and for callers that print later. */
export class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  info(message: string): void {
    this.lines.push(message);
  }
  debug(message: string): void {
    this.lines.push(`::debug::${message}`);
  }
  warning(message: string): void {
    this.lines.push(`warning: ${message}`);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.lines.push(`>> ${name}`);
    try {
      return await fn();
    } finally {
      this.lines.push(`<< ${name}`);
    }
  }
  text(): string {
    return this.lines.join('\n');
  }
}

export const silentLogger: Logger = {
  info: () => undefined,
  debug: () => undefined,
  warning: () => undefined,
  group: (_name, fn) => fn(),
};
