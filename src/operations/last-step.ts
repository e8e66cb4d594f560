/**
 * The last-step record (src/alb/last-step.ts) as the operations write it: who ran the step,
 * the verdict from a step's outcome, and a write that a cancellation cannot stretch past the
 * runner's kill. A record that cannot be written is a warning, never the step's failure.
 */
import type { NotRestored } from '../alb/restore.js';
import { writeLastStep, type LastStep, type StepVerdict } from '../alb/last-step.js';
import type { HandoffResult } from '../kube/handoff.js';
import type { RolloutFile } from '../rollout-file/types.js';
import type { RolloutDeps, RolloutSettings } from './context.js';

/** Who ran the step, for the record: the run's URL, or who the caller says (`cli:<user>@<host>`). */
export function recordedBy(settings: RolloutSettings): string {
  return settings.runUrl ?? settings.actor ?? 'unknown';
}

/** The verdict and what was left, from a restore's report. */
export function restoreVerdict(notRestored: readonly NotRestored[]): {
  verdict: StepVerdict;
  left?: string;
} {
  if (notRestored.length === 0) return { verdict: 'rolled-back' };
  const changed = notRestored.filter((n) => n.state === 'changed').length;
  const unknown = notRestored.length - changed;
  return {
    verdict: 'not-restored',
    left: [changed ? `changed:${changed}` : '', unknown ? `unknown:${unknown}` : '']
      .filter(Boolean)
      .join('+'),
  };
}

/** An owner step's record fields; undefined when the handoff changed nothing. */
export function handoffStep(
  result: HandoffResult,
  success: StepVerdict,
): Pick<LastStep, 'verdict' | 'owner' | 'from' | 'left' | 'why'> | undefined {
  if (result.status === 'unchanged') return undefined;
  return {
    owner: result.to,
    from: result.from,
    why: firstLine(result.message),
    ...(result.status === 'handed-off'
      ? { verdict: success }
      : result.status === 'restored'
        ? { verdict: 'rolled-back' as const }
        : { verdict: 'not-restored' as const, left: result.state }),
  };
}

/** Writes the record on every route of the file (no lock to fold it into). Never throws. */
export async function recordLastStep(
  deps: Pick<RolloutDeps, 'aws' | 'logger' | 'budget'>,
  file: RolloutFile,
  step: LastStep,
): Promise<void> {
  // After a cancel the write gets what is left of the budget, so the outcome is still printed.
  const deadline = deps.budget?.signal.aborted ? deps.budget.deadline() : undefined;
  try {
    await writeLastStep(
      deps.aws(file.region).elbv2,
      file.routes.map((r) => r.arn),
      step,
      deps.logger,
      deadline?.signal,
    );
  } finally {
    deadline?.dispose();
  }
}

export function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}
