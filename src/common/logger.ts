/**
 * What domain code needs to explain itself. In an action this is @actions/core (groups fold
 * in the log, debug shows only with ACTIONS_STEP_DEBUG); the CLI and tests pass their own.
 */
export interface Logger {
  info(message: string): void;
  debug(message: string): void;
  warning(message: string): void;
  /**
   * Runs `fn` inside a folded log group; the group is closed even when `fn` throws. Groups do
   * not nest (a runner's log cannot show that): a group opened inside another is a sub-heading
   * line within the outer one.
   */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** Where a logger's groups go: a real fold, or a heading line when one is already open. */
export interface GroupSink {
  startGroup(name: string): void;
  endGroup(): void;
  heading(name: string): void;
}

/** `group` over a sink, with at most one fold open at a time. */
export function flatGroups(sink: GroupSink): Logger['group'] {
  let open = false;
  return async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    if (open) {
      sink.heading(name);
      return fn();
    }
    open = true;
    sink.startGroup(name);
    try {
      return await fn();
    } finally {
      open = false;
      sink.endGroup();
    }
  };
}

/**
 * Lines of one of several things running at once (files applied in parallel): each line says
 * whose it is, and a group is a heading line, since folds of concurrent work would interleave.
 */
export function prefixedLogger(logger: Logger, prefix: string): Logger {
  const p = (m: string): string => `[${prefix}] ${m}`;
  return {
    info: (m) => logger.info(p(m)),
    debug: (m) => logger.debug(p(m)),
    warning: (m) => logger.warning(p(m)),
    group: async (name, fn) => {
      logger.info(p(`── ${name}`));
      return fn();
    },
  };
}

/** A logger that keeps every line, for tests and for callers that print later. */
export class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  private openGroup: string | undefined;
  info(message: string): void {
    this.lines.push(message);
  }
  debug(message: string): void {
    this.lines.push(`::debug::${message}`);
  }
  warning(message: string): void {
    this.lines.push(`warning: ${message}`);
  }
  readonly group = flatGroups({
    startGroup: (name) => {
      this.openGroup = name;
      this.lines.push(`>> ${name}`);
    },
    endGroup: () => this.lines.push(`<< ${this.openGroup ?? ''}`),
    heading: (name) => this.lines.push(`-- ${name}`),
  });
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
