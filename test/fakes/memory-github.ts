/**
 * An in-memory GitHubApi for unit tests: commits are snapshots of files, branches point at
 * commits, and every comment, PR and deployment is kept so tests assert what a user would see.
 */
import type { FileChange, GitHubApi, PullRequestRef, RepoRef } from '../../src/github/types.js';

export interface MemoryPullRequest {
  number: number;
  url: string;
  branch: string;
  base: string;
  title: string;
  body: string;
  labels: string[];
  commitMessage: string;
  files: FileChange[];
  updates: number;
}

export class MemoryGitHub implements GitHubApi {
  readonly repo: RepoRef = { owner: 'acme', repo: 'infra' };
  readonly commits = new Map<string, Record<string, string>>();
  readonly branches = new Map<string, string>();
  readonly comments: { id: number; issue: number; body: string }[] = [];
  readonly pulls: MemoryPullRequest[] = [];
  readonly deployments: {
    id: number;
    ref: string;
    environment: string;
    description: string;
    state: string;
    logUrl?: string;
  }[] = [];
  readonly merged = new Map<string, PullRequestRef[]>();
  /** Makes the named method throw, to test what happens when GitHub fails. */
  failing = new Set<keyof GitHubApi>();
  private seq = 0;

  /** A commit on `branch` with `files` changed (null deletes); returns its SHA. */
  commit(branch: string, files: Record<string, string | null>): string {
    const parent = this.branches.get(branch);
    const snapshot = { ...(parent ? this.commits.get(parent) : {}) };
    for (const [path, content] of Object.entries(files)) {
      if (content === null) delete snapshot[path];
      else snapshot[path] = content;
    }
    const sha = (++this.seq).toString(16).padStart(40, 'a');
    this.commits.set(sha, snapshot);
    this.branches.set(branch, sha);
    return sha;
  }

  private check(name: keyof GitHubApi): void {
    if (this.failing.has(name)) throw new Error(`Resource not accessible by integration (${name})`);
  }

  private snapshot(ref: string): Record<string, string> {
    const sha = this.branches.get(ref) ?? ref;
    const files = this.commits.get(sha);
    if (!files) throw new Error(`No commit found for SHA: ${ref}`);
    return files;
  }

  async changedFiles(base: string, head: string): Promise<string[]> {
    this.check('changedFiles');
    const a = this.snapshot(base);
    const b = this.snapshot(head);
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((p) => a[p] !== b[p]);
  }

  async listFiles(ref: string): Promise<string[]> {
    this.check('listFiles');
    return Object.keys(this.snapshot(ref)).sort();
  }

  async fileAt(path: string, ref: string): Promise<string | undefined> {
    this.check('fileAt');
    return this.snapshot(ref)[path];
  }

  async upsertStickyComment(issueNumber: number, marker: string, body: string) {
    this.check('upsertStickyComment');
    if (!body.includes(marker)) throw new Error('the body must contain the marker');
    const existing = this.comments.find((c) => c.issue === issueNumber && c.body.includes(marker));
    if (existing) {
      existing.body = body;
      return {
        id: existing.id,
        url: `https://github.com/acme/infra/pull/${issueNumber}#issuecomment-${existing.id}`,
        created: false,
      };
    }
    const id = this.comments.length + 1;
    this.comments.push({ id, issue: issueNumber, body });
    return {
      id,
      url: `https://github.com/acme/infra/pull/${issueNumber}#issuecomment-${id}`,
      created: true,
    };
  }

  async comment(issueNumber: number, body: string) {
    this.check('comment');
    const id = this.comments.length + 1;
    this.comments.push({ id, issue: issueNumber, body });
    return { id, url: `https://github.com/acme/infra/pull/${issueNumber}#issuecomment-${id}` };
  }

  async openOrUpdatePullRequest(request: Parameters<GitHubApi['openOrUpdatePullRequest']>[0]) {
    this.check('openOrUpdatePullRequest');
    const files = Object.fromEntries(request.files.map((f) => [f.path, f.content]));
    if (!this.branches.has(request.branch))
      this.branches.set(request.branch, this.branches.get(request.base) as string);
    this.commit(request.branch, files);
    const open = this.pulls.find((p) => p.branch === request.branch);
    if (open) {
      Object.assign(open, {
        title: request.title,
        body: request.body,
        files: request.files,
        commitMessage: request.commitMessage,
      });
      open.updates++;
      return { number: open.number, url: open.url, created: false };
    }
    const number = 100 + this.pulls.length;
    const pr: MemoryPullRequest = {
      number,
      url: `https://github.com/acme/infra/pull/${number}`,
      branch: request.branch,
      base: request.base,
      title: request.title,
      body: request.body,
      labels: request.labels ?? [],
      commitMessage: request.commitMessage,
      files: request.files,
      updates: 0,
    };
    this.pulls.push(pr);
    return { number, url: pr.url, created: true };
  }

  async pullRequestsForCommit(sha: string): Promise<PullRequestRef[]> {
    this.check('pullRequestsForCommit');
    return this.merged.get(sha) ?? [];
  }

  async recordDeployment(request: Parameters<GitHubApi['recordDeployment']>[0]) {
    this.check('recordDeployment');
    const id = this.deployments.length + 1;
    this.deployments.push({ id, ...request });
    return { id };
  }
}
