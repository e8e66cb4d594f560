/**
 * What the rollout action needs from GitHub, as one interface. `OctokitGitHub` (octokit.ts)
 * implements it over the REST API with @actions/github's Octokit (pagination by Octokit's
 * paginate); tests use the same implementation against sandbox/github (a local stand-in of the
 * REST API that records every call). Everything goes through the API: no git CLI is needed.
 */
export interface RepoRef {
  owner: string;
  repo: string;
}

export interface PullRequestRef {
  number: number;
  /** html_url, for outputs and messages. */
  url: string;
  /** Label names, where the API answer carries them (the PRs of a commit do). */
  labels?: string[];
}

export interface FileChange {
  path: string;
  /** The new content of the file (UTF-8). */
  content: string;
}

export interface GitHubApi {
  readonly repo: RepoRef;

  /** Paths changed between two commits (compare API), every page. */
  changedFiles(base: string, head: string): Promise<string[]>;

  /** Every file path at a ref (the recursive git tree), to find the rollout files there. */
  listFiles(ref: string): Promise<string[]>;

  /** A file's content at a ref, or undefined when the file does not exist there. */
  fileAt(path: string, ref: string): Promise<string | undefined>;

  /**
   * The one comment on the issue/PR that contains `marker` (a hidden HTML comment) is
   * updated in place to `body` (which must contain the marker); created if none exists.
   */
  upsertStickyComment(
    issueNumber: number,
    marker: string,
    body: string,
  ): Promise<{ id: number; url: string; created: boolean }>;

  /** A plain new comment. */
  comment(issueNumber: number, body: string): Promise<{ id: number; url: string }>;

  /**
   * Commits `files` onto `branch` (created from the tip of `base` when missing; its tip moved to
   * the new commit when present), then opens a PR from `branch` into `base`, or updates the
   * title and body of the open one that already exists for `branch`.
   */
  openOrUpdatePullRequest(request: {
    branch: string;
    base: string;
    title: string;
    body: string;
    commitMessage: string;
    files: FileChange[];
    labels?: string[];
  }): Promise<PullRequestRef & { created: boolean }>;

  /** The PRs whose merge produced this commit (to comment on the merged PR after a push). */
  pullRequestsForCommit(sha: string): Promise<PullRequestRef[]>;

  /** Records a deployment of `ref` to `environment` with a final state. */
  recordDeployment(request: {
    ref: string;
    environment: string;
    description: string;
    state: 'success' | 'failure' | 'error';
    logUrl?: string;
  }): Promise<{ id: number }>;
}
