/**
 * `GitHubApi` over GitHub's REST API with @actions/github's Octokit. Every list is read with
 * Octokit's paginate iterator; every failure is turned into a message that says which
 * permission or setting to fix (errors.ts). No git CLI: commits are made with the git data API.
 *
 * Retries: @actions/github's getOctokit bundles only the REST methods and paginate plugins, so
 * @octokit/plugin-retry is added for reads: server errors (5xx) are retried with its backoff;
 * 4xx answers that retrying cannot fix are not, and writes are never repeated.
 *
 * Rate limits: @octokit/plugin-throttling paces requests (writes that create content, such as
 * comments and PRs, one at a time with GitHub's recommended spacing) and, when GitHub answers
 * with a primary or secondary rate limit, waits as GitHub says and sends again, a few times: a
 * request refused for a rate limit was not carried out, so sending it again is safe even for a
 * write. A hundred services applying in the same hour stay inside GitHub's limits this way.
 */
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { ConfigurationError, ExplainedError } from '../common/errors.js';
import {
  explainGitHubError,
  githubMessageOf,
  isRequestError,
  type WorkflowPermission,
} from './errors.js';
import type { FileChange, GitHubApi, PullRequestRef, RepoRef } from './types.js';

export type Octokit = ReturnType<typeof getOctokit>;

/** Times a request refused for a rate limit is sent again, and the longest wait for it. */
const RATE_LIMIT_RETRIES = 3;
const MAX_RATE_LIMIT_WAIT_S = 120;

/** GitHub's largest page for the endpoints we list. */
const PAGE_SIZE = 100;
/** GitHub's compare lists at most this many files, paginated or not. */
const COMPARE_FILE_LIMIT = 300;

const READ: WorkflowPermission[] = ['contents: read'];
const COMMENT: WorkflowPermission[] = ['pull-requests: write'];

/**
 * An API client for `repo`. The caller must mask the token first (`core.setSecret(token)`),
 * so that it never appears in the log, even in a debug dump of a request.
 */
export function makeGitHub(
  token: string,
  repo: RepoRef,
  options: {
    baseUrl?: string;
    /** false: no pacing or rate-limit waits (tests that create many comments on purpose). */
    pacing?: boolean;
  } = {},
): GitHubApi {
  if (token.trim() === '') {
    throw new ConfigurationError(
      'A GitHub token is required: pass `github-token: ${{ github.token }}` or another token to the action.',
    );
  }
  const baseUrl = options.baseUrl ?? process.env.GITHUB_API_URL ?? 'https://api.github.com';
  const octokit = getOctokit(
    token,
    {
      baseUrl,
      throttle: {
        enabled: options.pacing ?? true,
        onRateLimit: (
          retryAfter: number,
          _options: unknown,
          _octokit: unknown,
          retryCount: number,
        ) => retryCount < RATE_LIMIT_RETRIES && retryAfter <= MAX_RATE_LIMIT_WAIT_S,
        onSecondaryRateLimit: (
          retryAfter: number,
          _options: unknown,
          _octokit: unknown,
          retryCount: number,
        ) => retryCount < RATE_LIMIT_RETRIES && retryAfter <= MAX_RATE_LIMIT_WAIT_S,
      },
    },
    retry,
    throttling,
  );
  // Only reads are retried: a write that failed with a 5xx may still have happened, and
  // repeating it would post a second comment or deployment, or fail on "already exists".
  octokit.hook.before('request', (options) => {
    if (options.method !== 'GET' && options.method !== 'HEAD') {
      options.request = { ...options.request, retries: 0 } as typeof options.request;
    }
  });
  return new OctokitGitHub(octokit, repo);
}

interface CompareFile {
  filename: string;
  previous_filename?: string;
}

export class OctokitGitHub implements GitHubApi {
  constructor(
    private readonly octokit: Octokit,
    readonly repo: RepoRef,
  ) {}

  /**
   * GitHub paginates a compare by commits and documents that the files come on page 1 only,
   * at most 300 of them; some users see files on later pages too. So every page is read and
   * its files merged. When a page holds the full 300 the list may be cut short, and the
   * changed paths are taken instead from the trees of the merge base and `head` (what the
   * three-dot compare diffs).
   */
  async changedFiles(base: string, head: string): Promise<string[]> {
    const basehead = `${base}...${head}`;
    return this.call(`compare ${basehead}`, READ, async () => {
      const paths = new Set<string>();
      let mergeBase: string | undefined;
      let capped = false;
      const pages = this.octokit.paginate.iterator(
        this.octokit.rest.repos.compareCommitsWithBasehead,
        {
          ...this.repo,
          basehead,
          per_page: PAGE_SIZE,
        },
      );
      for await (const page of pages) {
        // The compare response is an object, not a list, so paginate passes it through as is.
        const data = page.data as unknown as {
          merge_base_commit?: { sha: string };
          files?: CompareFile[];
        };
        mergeBase ??= data.merge_base_commit?.sha;
        const files = data.files ?? [];
        if (files.length >= COMPARE_FILE_LIMIT) capped = true;
        for (const f of files) {
          paths.add(f.filename);
          // A rename changes two paths: the file is gone from the old one.
          if (f.previous_filename) paths.add(f.previous_filename);
        }
      }
      if (capped) return this.changedFilesByTree(mergeBase ?? base, head);
      return [...paths];
    });
  }

  async listFiles(ref: string): Promise<string[]> {
    const { data } = await this.call(`list the files at ${ref}`, READ, () =>
      this.octokit.rest.git.getTree({ ...this.repo, tree_sha: ref, recursive: 'true' }),
    );
    if (data.truncated) {
      throw new ExplainedError(
        `Could not list the files at ${ref}: the repository tree is too large for GitHub to list in one response.`,
      );
    }
    return data.tree.filter((e) => e.type === 'blob' && e.path).map((e) => e.path as string);
  }

  async fileAt(path: string, ref: string): Promise<string | undefined> {
    const repoPath = path.replace(/^\.?\/+/, '');
    let data: Awaited<ReturnType<Octokit['rest']['repos']['getContent']>>['data'];
    try {
      ({ data } = await this.octokit.rest.repos.getContent({ ...this.repo, path: repoPath, ref }));
    } catch (e) {
      // A missing file is an answer; a missing ref ("No commit found for the ref x") is not.
      if (isRequestError(e) && e.status === 404 && !/no commit found/i.test(githubMessageOf(e))) {
        return undefined;
      }
      throw explainGitHubError(e, `read ${repoPath} at ${ref}`, READ);
    }
    if (Array.isArray(data)) {
      throw new ConfigurationError(`${repoPath} at ${ref} is a directory, not a file.`);
    }
    if (data.type !== 'file') {
      throw new ConfigurationError(`${repoPath} at ${ref} is a ${data.type}, not a file.`);
    }
    if ('encoding' in data && data.encoding === 'base64') {
      return Buffer.from(data.content, 'base64').toString('utf8');
    }
    // Above 1 MB the contents API leaves the content out (encoding "none"); the blob has it.
    const blobSha = data.sha;
    const blob = await this.call(`read ${repoPath} at ${ref}`, READ, () =>
      this.octokit.rest.git.getBlob({ ...this.repo, file_sha: blobSha }),
    );
    return Buffer.from(blob.data.content, 'base64').toString('utf8');
  }

  async upsertStickyComment(
    issueNumber: number,
    marker: string,
    body: string,
  ): Promise<{ id: number; url: string; created: boolean }> {
    if (!body.includes(marker)) {
      throw new Error(`The body of a sticky comment must contain its marker ${marker}.`);
    }
    const existing = await this.call(`list the comments of #${issueNumber}`, COMMENT, async () => {
      const pages = this.octokit.paginate.iterator(this.octokit.rest.issues.listComments, {
        ...this.repo,
        issue_number: issueNumber,
        per_page: PAGE_SIZE,
      });
      for await (const page of pages) {
        const found = page.data.find((c) => c.body?.includes(marker));
        if (found) return found;
      }
      return undefined;
    });
    if (existing) {
      if (existing.body !== body) {
        await this.call(`update comment ${existing.id} on #${issueNumber}`, COMMENT, () =>
          this.octokit.rest.issues.updateComment({ ...this.repo, comment_id: existing.id, body }),
        );
      }
      return { id: existing.id, url: existing.html_url, created: false };
    }
    const created = await this.comment(issueNumber, body);
    return { ...created, created: true };
  }

  async comment(issueNumber: number, body: string): Promise<{ id: number; url: string }> {
    const { data } = await this.call(`comment on #${issueNumber}`, COMMENT, () =>
      this.octokit.rest.issues.createComment({ ...this.repo, issue_number: issueNumber, body }),
    );
    return { id: data.id, url: data.html_url };
  }

  /**
   * One commit holding every file, made with the git data API on top of the tip of `base`:
   * a tree (`base_tree` + the new contents), a commit, then the branch created or force-moved
   * to it. The contents API (PUT /contents/{path}) would make one commit per file, need each
   * file's current blob SHA, and could not reset a stale branch to the current base.
   * The branch is the action's own: whatever it held before is replaced.
   */
  async openOrUpdatePullRequest(request: {
    branch: string;
    base: string;
    title: string;
    body: string;
    commitMessage: string;
    files: FileChange[];
    labels?: string[];
  }): Promise<PullRequestRef & { created: boolean }> {
    const { branch, base, files } = request;
    if (files.length === 0) throw new Error(`No files to commit to ${branch}.`);
    const WRITE: WorkflowPermission[] = ['contents: write'];

    const baseRef = await this.call(`read the branch ${base}`, READ, () =>
      this.octokit.rest.git.getRef({ ...this.repo, ref: `heads/${base}` }),
    );
    const baseSha = baseRef.data.object.sha;
    const baseCommit = await this.call(`read commit ${baseSha}`, READ, () =>
      this.octokit.rest.git.getCommit({ ...this.repo, commit_sha: baseSha }),
    );
    const tree = await this.call(`write the files for ${branch}`, WRITE, () =>
      this.octokit.rest.git.createTree({
        ...this.repo,
        base_tree: baseCommit.data.tree.sha,
        // Regular files: the action only writes text files such as rollout YAML.
        tree: files.map((f) => ({
          path: f.path.replace(/^\.?\/+/, ''),
          mode: '100644' as const,
          type: 'blob' as const,
          content: f.content,
        })),
      }),
    );
    const commit = await this.call(`commit the files for ${branch}`, WRITE, () =>
      this.octokit.rest.git.createCommit({
        ...this.repo,
        message: request.commitMessage,
        tree: tree.data.sha,
        parents: [baseSha],
      }),
    );
    const commitSha = commit.data.sha;
    try {
      await this.octokit.rest.git.createRef({
        ...this.repo,
        ref: `refs/heads/${branch}`,
        sha: commitSha,
      });
    } catch (e) {
      if (!(isRequestError(e) && e.status === 422 && /already exists/i.test(githubMessageOf(e)))) {
        throw explainGitHubError(e, `create the branch ${branch}`, WRITE);
      }
      await this.call(`move the branch ${branch} to ${commitSha}`, WRITE, () =>
        this.octokit.rest.git.updateRef({
          ...this.repo,
          ref: `heads/${branch}`,
          sha: commitSha,
          force: true,
        }),
      );
    }

    const PULLS: WorkflowPermission[] = ['pull-requests: write'];
    const open = await this.call(`find the open pull request for ${branch}`, PULLS, () =>
      this.octokit.rest.pulls.list({
        ...this.repo,
        head: `${this.repo.owner}:${branch}`,
        state: 'open',
        per_page: PAGE_SIZE,
      }),
    );
    const existing = open.data[0];
    let pr: { number: number; html_url: string };
    let created: boolean;
    if (existing) {
      const updated = await this.call(`update pull request #${existing.number}`, PULLS, () =>
        this.octokit.rest.pulls.update({
          ...this.repo,
          pull_number: existing.number,
          title: request.title,
          body: request.body,
          base,
        }),
      );
      pr = updated.data;
      created = false;
    } else {
      const opened = await this.call(`open a pull request from ${branch} into ${base}`, PULLS, () =>
        this.octokit.rest.pulls.create({
          ...this.repo,
          head: branch,
          base,
          title: request.title,
          body: request.body,
        }),
      );
      pr = opened.data;
      created = true;
    }
    const labels = request.labels ?? [];
    if (labels.length > 0) {
      await this.call(`label pull request #${pr.number}`, PULLS, () =>
        this.octokit.rest.issues.addLabels({ ...this.repo, issue_number: pr.number, labels }),
      );
    }
    return { number: pr.number, url: pr.html_url, created };
  }

  async pullRequestsForCommit(sha: string): Promise<PullRequestRef[]> {
    const prs = await this.call(
      `list the pull requests of commit ${sha}`,
      ['contents: read', 'pull-requests: read'],
      () =>
        this.octokit.paginate(this.octokit.rest.repos.listPullRequestsAssociatedWithCommit, {
          ...this.repo,
          commit_sha: sha,
          per_page: PAGE_SIZE,
        }),
    );
    return prs.map((p) => ({
      number: p.number,
      url: p.html_url,
      labels: p.labels.map((l) => l.name),
    }));
  }

  async recordDeployment(request: {
    ref: string;
    environment: string;
    description: string;
    state: 'success' | 'failure' | 'error';
    logUrl?: string;
  }): Promise<{ id: number }> {
    const NEEDS: WorkflowPermission[] = ['deployments: write'];
    const { data } = await this.call(
      `record a deployment of ${request.ref} to ${request.environment}`,
      NEEDS,
      () =>
        this.octokit.rest.repos.createDeployment({
          ...this.repo,
          ref: request.ref,
          environment: request.environment,
          description: request.description,
          // The traffic has already moved: this records it, so GitHub must neither merge the
          // default branch into `ref` nor wait for commit statuses.
          auto_merge: false,
          required_contexts: [],
          transient_environment: false,
          production_environment: true,
        }),
    );
    if (!('id' in data)) {
      // 202: GitHub merged or is merging the default branch instead of creating a deployment.
      throw new ExplainedError(
        `Could not record a deployment of ${request.ref}: GitHub answered "${data.message ?? 'accepted'}" instead of creating one.`,
      );
    }
    const id = data.id;
    await this.call(`record the ${request.state} status of deployment ${id}`, NEEDS, () =>
      this.octokit.rest.repos.createDeploymentStatus({
        ...this.repo,
        deployment_id: id,
        state: request.state,
        // GitHub refuses a status description over 140 characters.
        description: truncate(request.description, 140),
        ...(request.logUrl ? { log_url: request.logUrl } : {}),
      }),
    );
    return { id };
  }

  /** Paths whose blob differs between two commits' trees, for compares past GitHub's file limit. */
  private async changedFilesByTree(base: string, head: string): Promise<string[]> {
    const blobs = async (sha: string): Promise<Map<string, string>> => {
      const { data } = await this.call(`read the file tree of ${sha}`, READ, () =>
        this.octokit.rest.git.getTree({ ...this.repo, tree_sha: sha, recursive: 'true' }),
      );
      if (data.truncated) {
        throw new ExplainedError(
          `Could not list the files changed between ${base} and ${head}: more than ${COMPARE_FILE_LIMIT} ` +
            'files changed, and the repository tree is too large for GitHub to list in one response.',
        );
      }
      return new Map(
        data.tree.filter((e) => e.type === 'blob' && e.path && e.sha).map((e) => [e.path, e.sha]),
      );
    };
    const [before, after] = await Promise.all([blobs(base), blobs(head)]);
    const paths = new Set([...before.keys(), ...after.keys()]);
    return [...paths].filter((p) => before.get(p) !== after.get(p)).sort();
  }

  private async call<T>(
    operation: string,
    needs: readonly WorkflowPermission[],
    fn: () => Promise<T>,
  ): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw explainGitHubError(e, operation, needs);
    }
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
