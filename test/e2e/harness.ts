/**
 * Runs a bundled action exactly as the GitHub runner does: `node dist/<name>/index.js` with
 * inputs as INPUT_<NAME> variables, and GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files to write to.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface ActionRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

export interface StartedAction {
  child: ChildProcess;
  /** Resolves when the process ends. */
  done: Promise<ActionRun>;
  /** Everything written to stdout so far. */
  stdout(): string;
}

export function startAction(
  name: string,
  inputs: Record<string, string>,
  env: Record<string, string | undefined> = {},
): StartedAction {
  const dir = mkdtempSync(join(tmpdir(), `ecc-${name}-`));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const inputEnv = Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [`INPUT_${k.replace(/ /g, '_').toUpperCase()}`, v]),
  );
  const child = spawn(process.execPath, [resolve('dist', name, 'index.js')], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_ACTIONS: 'true',
      ...inputEnv,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<ActionRun>((resolveRun, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode, signal) =>
      resolveRun({
        exitCode,
        signal,
        stdout,
        stderr,
        outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
        summary: readFileSync(summaryFile, 'utf8'),
      }),
    );
  });
  return { child, done, stdout: () => stdout };
}

export function runAction(
  name: string,
  inputs: Record<string, string>,
  env: Record<string, string | undefined> = {},
): Promise<ActionRun> {
  return startAction(name, inputs, env).done;
}

/** The `name<<DELIMITER\nvalue\nDELIMITER` format @actions/core writes to GITHUB_OUTPUT. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i] as string);
    if (!m) continue;
    const [, key, delimiter] = m as unknown as [string, string, string];
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] as string);
    outputs[key] = value.join('\n');
  }
  return outputs;
}

/** The GitHub runner's cancellation: SIGINT, then SIGTERM 7.5 s later, then SIGKILL 2.5 s after. */
export const RUNNER_SIGTERM_AFTER_MS = 7_500;
export const RUNNER_SIGKILL_AFTER_MS = 2_500;

export interface CancelledRun extends ActionRun {
  /** From the SIGINT to the process' exit. */
  cancelToExitMs: number;
  /** The signals it took, in order: ['SIGINT'] when the step ended within the first 7.5 s. */
  signalsSent: NodeJS.Signals[];
}

/** Cancels a started action as the runner does, each signal only while it still runs. */
export async function cancelLikeRunner(started: StartedAction): Promise<CancelledRun> {
  const signalsSent: NodeJS.Signals[] = [];
  let ended = false;
  const send = (signal: NodeJS.Signals): void => {
    if (ended || started.child.exitCode !== null || started.child.signalCode !== null) return;
    signalsSent.push(signal);
    started.child.kill(signal);
  };
  const at = Date.now();
  send('SIGINT');
  const term = setTimeout(() => send('SIGTERM'), RUNNER_SIGTERM_AFTER_MS);
  const kill = setTimeout(() => send('SIGKILL'), RUNNER_SIGTERM_AFTER_MS + RUNNER_SIGKILL_AFTER_MS);
  try {
    const run = await started.done;
    return { ...run, cancelToExitMs: Date.now() - at, signalsSent };
  } finally {
    ended = true;
    clearTimeout(term);
    clearTimeout(kill);
  }
}

/** Resolves once `test` holds for the output so far (polling), or fails after `timeoutMs`. */
export async function waitForOutput(
  started: StartedAction,
  test: (stdout: string) => boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test(started.stdout())) {
    if (Date.now() > deadline) throw new Error(`output never matched:\n${started.stdout()}`);
    if (started.child.exitCode !== null) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
