/**
 * An EKS token kept fresh in a file, for a kubeconfig whose user is `tokenFile: <path>`:
 * kubectl, helm and helm-diff (client-go) read the file when they start and read it again at
 * least once a minute while they run, so a long helm --wait picks up each new token. No process
 * is started per tool run (the exec plugin started node, our minter, in every kubectl and helm).
 *
 * The file holds a bearer token for one cluster that EKS accepts for 15 minutes from its
 * signing: it is created with mode 0600 (written beside itself and renamed over, so it is never
 * readable half-written nor with a wider mode), refreshed every `refreshMs` (5 minutes by
 * default, so what a client holds is never older than 6 minutes, 9 minutes before EKS stops
 * accepting it), and removed by stop(). The AWS credentials that mint it stay in this process.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import type { EksToken } from './token.js';

/** How often the token is minted again: a client's copy is at most this + client-go's 1 min old. */
export const TOKEN_FILE_REFRESH_MS = 5 * 60_000;

export interface TokenFileOptions {
  path: string;
  mint: () => Promise<EksToken>;
  refreshMs?: number;
  /** A refresh that failed (the previous token stays in the file, still valid for a while). */
  onRefreshError?: (error: unknown) => void;
}

export interface TokenFile {
  path: string;
  /** Stops refreshing and removes the file. */
  stop(): Promise<void>;
}

async function writeToken(path: string, token: string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(tmp, token, { mode: 0o600, flag: 'wx' });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Mints the first token (a failure is thrown: nothing is written), then keeps it fresh. */
export async function startTokenFile(options: TokenFileOptions): Promise<TokenFile> {
  await writeToken(options.path, (await options.mint()).token);
  let stopped = false;
  let refreshing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    refreshing = (async () => {
      try {
        const { token } = await options.mint();
        if (!stopped) await writeToken(options.path, token);
      } catch (e) {
        options.onRefreshError?.(e);
      }
    })();
  }, options.refreshMs ?? TOKEN_FILE_REFRESH_MS);
  // The refresh never keeps the process alive on its own.
  timer.unref();
  return {
    path: options.path,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await refreshing;
      await rm(options.path, { force: true });
    },
  };
}
