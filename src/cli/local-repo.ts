/**
 * The rollout commands' GitHub port, over the local clone instead of the GitHub API: a file's
 * committed versions come from `git show <ref>:<path>`, the version being applied from the
 * working tree (the ref WORKTREE). What the commands would post to GitHub (a reconcile or
 * advance PR, a comment, a deployment) is kept, so the CLI can print the file change to commit
 * or write it with --write. Nothing here talks to GitHub.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { FileChange, GitHubApi, PullRequestRef, RepoRef } from '../github/types.js';

const run = promisify(execFile);

/** The ref that means "the file as it is on disk now". */
export const WORKTREE = 'WORKTREE';

export interface ProposedChange {
  title: string;
  body: string;
  files: FileChange[];
}

export class LocalRepo implements GitHubApi {
  readonly repo: RepoRef;
  /** The PRs the commands would have opened, in order. */
  readonly proposed: ProposedChange[] = [];
  /** The comments and deployments they would have posted (for --json). */
  readonly posted: { kind: 'comment' | 'deployment'; text: string }[] = [];

  constructor(
    readonly root: string,
    /** The files the command was given: what "changed" between the last commit and the worktree. */
    private readonly files: readonly string[],
    /**
     * Versions that exist only in memory, by ref and path: the file as a command would have
     * it (`handoff` applies the file on disk with a new owner). changedFiles compares a commit
     * with one of these refs as with the worktree.
     */
    private readonly virtual: Readonly<Record<string, Readonly<Record<string, string>>>> = {},
  ) {
    this.repo = { owner: 'local', repo: basename(resolve(root)) };
  }

  async changedFiles(_base: string, head: string): Promise<string[]> {
    if (head !== WORKTREE && !(head in this.virtual))
      throw new Error(`LocalRepo compares a commit with the worktree only`);
    return [...this.files];
  }

  async listFiles(ref: string): Promise<string[]> {
    if (ref === WORKTREE) {
      const { stdout } = await run(
        'git',
        ['ls-files', '--cached', '--others', '--exclude-standard'],
        {
          cwd: this.root,
          maxBuffer: 64 * 1024 * 1024,
        },
      ).catch(() => ({ stdout: this.files.join('\n') }));
      return stdout.split('\n').filter(Boolean);
    }
    const { stdout } = await run('git', ['ls-tree', '-r', '--name-only', ref], {
      cwd: this.root,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout.split('\n').filter(Boolean);
  }

  async fileAt(path: string, ref: string): Promise<string | undefined> {
    const virtual = this.virtual[ref];
    if (virtual) return virtual[path];
    if (ref === WORKTREE) {
      try {
        return await readFile(resolve(this.root, path), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    }
    try {
      const { stdout } = await run('git', ['show', `${ref}:${path}`], {
        cwd: this.root,
        maxBuffer: 16 * 1024 * 1024,
      });
      return stdout;
    } catch (e) {
      const stderr = String((e as { stderr?: string }).stderr ?? '');
      // The path is not in that commit (a new file), or there is no commit / no repository:
      // no earlier version to compare with, which the commands report as a new file.
      if (
        /does not exist|exists on disk, but not in|not a git repository|invalid object name|unknown revision/i.test(
          stderr,
        )
      ) {
        return undefined;
      }
      throw new Error(`git show ${ref}:${path} failed: ${stderr.trim() || String(e)}`, {
        cause: e,
      });
    }
  }

  async upsertStickyComment(
    _issueNumber: number,
    _marker: string,
    body: string,
  ): Promise<{ id: number; url: string; created: boolean }> {
    this.posted.push({ kind: 'comment', text: body });
    return { id: 0, url: 'local', created: true };
  }

  async comment(_issueNumber: number, body: string): Promise<{ id: number; url: string }> {
    this.posted.push({ kind: 'comment', text: body });
    return { id: 0, url: 'local' };
  }

  async openOrUpdatePullRequest(request: {
    branch: string;
    title: string;
    body: string;
    files: FileChange[];
  }): Promise<PullRequestRef & { created: boolean }> {
    this.proposed.push({ title: request.title, body: request.body, files: request.files });
    return {
      number: 0,
      url: `local change: ${request.files.map((f) => f.path).join(', ')}`,
      created: true,
    };
  }

  async pullRequestsForCommit(): Promise<PullRequestRef[]> {
    return [];
  }

  async recordDeployment(request: { description: string; state: string }): Promise<{ id: number }> {
    this.posted.push({ kind: 'deployment', text: `${request.state}: ${request.description}` });
    return { id: 0 };
  }
}
