/** Where the CLI writes, where it runs, and what stops it: the process, or a test. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  cwd: string;
  /** Aborts on Ctrl-C (SIGINT) or SIGTERM. */
  signal: AbortSignal;
}
