/**
 * The CLI's exit codes (docs/cli.md): 0 done (a dry run, a diff, nothing to change included);
 * 1 failed (a step rolled back or not, create-cluster or retire stopped by a failure or the
 * timeout, sync failed); 2 bad usage or an invalid file; 3 refused by a gate, nothing changed
 * (plan, apply, handoff, retire); 130 interrupted by Ctrl-C or SIGTERM, after restoring or saying
 * what was left.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, interrupted: 130 } as const;
