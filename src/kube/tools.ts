/**
 * Running the user's tools (kubectl, helm, helmfile) through @actions/exec with argument arrays,
 * never a shell. Each run starts in a process group of its own (`setsid`), so a cancelled job
 * can stop the tool and everything it started (helmfile runs helm, helm runs the post-renderer
 * and helm-diff) without signalling the action itself. A tool that is not installed is a
 * ConfigurationError that says how to install it.
 */
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Writable } from 'node:stream';
import { getExecOutput } from '@actions/exec';
import { ConfigurationError } from '../common/errors.js';

export type ToolName = 'kubectl' | 'helm' | 'helmfile';

export const INSTALL_HINTS: Record<ToolName | 'helm-diff', string> = {
  kubectl: 'install kubectl before this step (e.g. azure/setup-kubectl)',
  helm: 'install helm before this step (e.g. azure/setup-helm)',
  helmfile:
    'install helmfile before this step (e.g. helmfile/helmfile-action, or a release binary from https://github.com/helmfile/helmfile/releases)',
  'helm-diff':
    'install the helm-diff plugin before this step: helm plugin install https://github.com/databus23/helm-diff',
};

export interface RunOptions {
  /** Written to the tool's stdin. */
  input?: string;
  /** Keep the tool's output out of the log (reads whose JSON we parse). */
  silent?: boolean;
  cwd?: string;
}

export interface ToolResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** The port the domain runs tools through; tests and the CLI may pass their own. */
export interface ToolRunner {
  run(tool: ToolName, args: string[], options?: RunOptions): Promise<ToolResult>;
  /** The tool's absolute path, or a ConfigurationError saying how to install it. */
  resolve(tool: ToolName): string;
}

export interface ExecToolRunnerOptions {
  /** The tools' environment (KUBECONFIG is set by the caller). */
  env: Record<string, string>;
  /** Absolute paths that override the PATH search. */
  paths?: Partial<Record<ToolName, string>>;
  /** Aborting stops the running tool's process group: SIGTERM, SIGKILL after `killGraceMs`. */
  signal?: AbortSignal;
  killGraceMs?: number;
  /**
   * Where the tool's echoed command line and output go: the runner's log (stdout) by default;
   * the CLI passes stderr, so its stdout holds only the result.
   */
  logStream?: Writable;
}

export function execToolRunner(options: ExecToolRunnerOptions): ToolRunner {
  const resolved = new Map<ToolName, string>();
  const resolve = (tool: ToolName): string => {
    const known = resolved.get(tool);
    if (known) return known;
    const path = options.paths?.[tool] ?? which(tool, options.env.PATH ?? '');
    if (!path) {
      throw new ConfigurationError(`${tool} was not found on PATH: ${INSTALL_HINTS[tool]}.`);
    }
    resolved.set(tool, path);
    return path;
  };
  const setsid = which('setsid', options.env.PATH ?? '');
  return {
    resolve,
    async run(tool, args, runOptions = {}) {
      const path = resolve(tool);
      options.signal?.throwIfAborted();
      const started = Date.now();
      const stop = () => stopChildren(path, options.killGraceMs ?? 5_000);
      options.signal?.addEventListener('abort', stop, { once: true });
      try {
        const [command, argv] = setsid ? [setsid, [path, ...args]] : [path, args];
        const out = await getExecOutput(command, argv, {
          env: options.env,
          ignoreReturnCode: true,
          silent: runOptions.silent ?? false,
          ...(options.logStream
            ? { outStream: options.logStream, errStream: options.logStream }
            : {}),
          ...(runOptions.cwd ? { cwd: runOptions.cwd } : {}),
          ...(runOptions.input !== undefined ? { input: Buffer.from(runOptions.input) } : {}),
        });
        options.signal?.throwIfAborted();
        return {
          exitCode: out.exitCode ?? 1,
          stdout: out.stdout,
          stderr: out.stderr,
          durationMs: Date.now() - started,
        };
      } finally {
        options.signal?.removeEventListener('abort', stop);
      }
    },
  };
}

export function which(tool: string, path: string): string | undefined {
  if (isAbsolute(tool)) return isExecutable(tool) ? tool : undefined;
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, tool);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Our children running `executable` lead process groups of their own (setsid execs the tool),
 * so signalling the negative pid reaches everything they started.
 */
function stopChildren(executable: string, graceMs: number): void {
  const groups = childGroupsRunning(executable);
  for (const pid of groups) signalGroup(pid, 'SIGTERM');
  if (groups.length > 0) {
    setTimeout(() => {
      for (const pid of groups) signalGroup(pid, 'SIGKILL');
    }, graceMs).unref();
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function childGroupsRunning(executable: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the last ')'.
      const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== process.pid || Number(pgrp) !== Number(entry)) continue;
      const argv0 = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0];
      if (argv0 === executable) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}
