/** Runs the CLI bundle (dist/cli/index.js, the package's bin) as a user would, for the CLI e2e tests. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const CLI_BUNDLE = resolve('dist/cli/index.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  /** The whole environment of the process (PATH and HOME are added). */
  env: Record<string, string | undefined>;
  /** Called once started: send a signal, read stderr so far. */
  onStart?: (kill: (s: NodeJS.Signals) => void, err: () => string) => void;
  /** Called for each non-empty stdout line. */
  onLine?: (line: string) => void;
}

export function runCli(args: string[], options: CliOptions): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI_BUNDLE, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) options.onLine?.(line);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  options.onStart?.(
    (s) => child.kill(s),
    () => stderr,
  );
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}
