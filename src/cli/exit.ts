/** The CLI's exit codes (docs/cli.md). */
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, interrupted: 130 } as const;
