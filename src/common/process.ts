/**
 * Child processes under the cancellation budget (sync-apps' kubectl/helm/helmfile runs, and any
 * tool an action starts). A tool spawns children of its own (helmfile runs helm, helm runs
 * plugins): killing only the direct child leaves them running, so a child is started in its own
 * process group (`detached: true`) and the whole group is signalled.
 */
import type { ChildProcess } from 'node:child_process';
import type { CancelBudget } from './cancel.js';

/** How long a tool gets to end after SIGTERM before its group is killed. */
export const CHILD_GRACE_MS = 2_000;

/**
 * On cancellation, sends SIGTERM to the child's process group, then SIGKILL after `graceMs` or
 * at the budget's deadline, whichever is first. The child must have been spawned with
 * `detached: true`. Returns a function that stops watching (call it when the child has exited).
 */
export function stopGroupOnCancel(
  child: ChildProcess,
  budget: CancelBudget,
  graceMs = CHILD_GRACE_MS,
): () => void {
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const onCancel = (): void => {
    if (exited()) return;
    signalGroup(child, 'SIGTERM');
    // Even when the child itself has ended by then, its group may hold grandchildren.
    killTimer = setTimeout(
      () => signalGroup(child, 'SIGKILL'),
      Math.min(graceMs, budget.timeLeft()),
    );
    killTimer.unref?.();
  };
  const stop = (): void => {
    // After a cancel the SIGKILL stays armed: the group may outlive the child.
    budget.signal.removeEventListener('abort', onCancel);
  };
  if (budget.signal.aborted) onCancel();
  else budget.signal.addEventListener('abort', onCancel, { once: true });
  child.once('exit', stop);
  return stop;
}

/** Signals the child's whole process group; an already gone group is not an error. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}
