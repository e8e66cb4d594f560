/**
 * A local stand-in for the slice of GitHub's REST API the rollout action uses: compare,
 * contents, the git data API (refs, trees, commits, blobs), pull requests, issue comments and
 * labels, commit → PR association, and deployments with statuses. Responses carry the fields
 * GitHub's own do (the ones Octokit and our code read, and their neighbours), with GitHub's
 * status codes and messages, `Link` headers with per_page/page pagination, token checks, and
 * `permissions:` scoping answered with 403 "Resource not accessible by integration" and the
 * `x-accepted-github-permissions` header, as GitHub does for a GITHUB_TOKEN.
 *
 * Behind the API is a tiny git (model.ts). Tests drive it with `commit`, `openPullRequest`,
 * `mergePullRequest`, `associatePullRequest`, and read `state` and `calls`.
 * See sandbox/github/README.md for where it knowingly differs from GitHub.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, readBody } from '../core.js';
import { GitModel, type CommitObject, type FileDiff } from './model.js';

export type Permission = 'contents' | 'pull-requests' | 'issues' | 'deployments';
export type PermissionLevel = 'none' | 'read' | 'write';

export interface FakeGitHubOptions {
  owner: string;
  repo: string;
  /** Default `main`. */
  defaultBranch?: string;
  /** The files of the first commit on the default branch. */
  files?: Record<string, string>;
  /** When set, every request must carry `authorization: token <t>` or `Bearer <t>`. */
  token?: string;
  /** What the token may do, like a workflow's `permissions:` block. Unlisted: write. */
  permissions?: Partial<Record<Permission, PermissionLevel>>;
  /** GitHub caps per_page at 100; a lower cap makes small fixtures span several pages. */
  maxPerPage?: number;
  /**
   * Where a paginated compare lists files. `first-page` is what GitHub documents: every
   * changed file (at most 300) on page 1, none on later pages. `paged` splits files by
   * per_page/page like commits, as some users report seeing; clients should handle both.
   */
  compareFiles?: 'first-page' | 'paged';
  /** The account that the token acts as (author of PRs, comments, deployments). */
  login?: string;
}

export interface PullRequestState {
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  merged: boolean;
  /** Head branch name (same repository). */
  head: string;
  /** Head SHA when the PR was closed; open PRs follow their branch. */
  headSha: string;
  base: string;
  labels: string[];
  user: string;
  mergeCommitSha: string | null;
}

export interface CommentState {
  id: number;
  issueNumber: number;
  body: string;
  user: string;
  createdAt: string;
  updatedAt: string;
}

export interface DeploymentStatusState {
  id: number;
  state: string;
  description: string;
  logUrl: string;
  environmentUrl: string;
}

export interface DeploymentState {
  id: number;
  ref: string;
  sha: string;
  task: string;
  environment: string;
  description: string | null;
  autoMerge: boolean;
  requiredContexts: string[] | undefined;
  transientEnvironment: boolean;
  productionEnvironment: boolean;
  statuses: DeploymentStatusState[];
}

export interface RecordedCall {
  method: string;
  /** URL path without the query string, decoded (`/repos/o/r/git/ref/heads/main`). */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON body, or undefined when the request had none. */
  body: unknown;
  status: number;
}

export interface FakeGitHub {
  /** For Octokit's `baseUrl` / `GITHUB_API_URL`. */
  readonly url: string;
  readonly calls: RecordedCall[];
  readonly state: {
    pulls: PullRequestState[];
    comments: CommentState[];
    deployments: DeploymentState[];
    /** Branch name -> tip SHA. */
    refs: Record<string, string>;
  };
  /** Mutable: tests narrow it to see a 403. */
  readonly permissions: Record<Permission, PermissionLevel>;
  readonly git: GitModel;
  /** A commit on `branch` (created from the default branch when missing); null deletes. */
  commit(branch: string, files: Record<string, string | null>, message?: string): string;
  openPullRequest(request: {
    head: string;
    base?: string;
    title: string;
    body?: string;
    labels?: string[];
  }): number;
  /** Squash-merges an open PR onto its base; returns the merge commit, associated with the PR. */
  mergePullRequest(number: number): string;
  /** Makes GET /commits/{sha}/pulls list the PR for this commit. */
  associatePullRequest(sha: string, number: number): void;
  /** A file's content at a ref (branch or SHA), for assertions. */
  fileAt(ref: string, path: string): string | undefined;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';
const WEB = 'https://github.com';
/** GitHub answers contents with encoding "none" and no content above 1 MB. */
const CONTENTS_INLINE_LIMIT = 1024 * 1024;
/** A compare lists at most this many files, paginated or not. */
const COMPARE_FILE_LIMIT = 300;
/** A compare without paging parameters lists at most this many commits. */
const COMPARE_UNPAGED_COMMITS = 250;
const DEPLOYMENT_STATES = [
  'error',
  'failure',
  'inactive',
  'in_progress',
  'queued',
  'pending',
  'success',
];

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function notFound(): HttpError {
  return new HttpError(404, 'Not Found');
}

function validationFailed(errors: Record<string, unknown>[]): HttpError {
  return new HttpError(422, 'Validation Failed', { errors });
}

interface Request {
  method: string;
  params: string[];
  query: URLSearchParams;
  body: Record<string, unknown>;
  /** Path and query as received, for Link headers. */
  url: URL;
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Alternatives: any one set of (permission, level) pairs grants the call. */
type Need = [Permission, PermissionLevel][][];

interface Route {
  method: string;
  pattern: RegExp;
  need: Need | ((req: Request) => Need);
  handle(req: Request): Reply;
}

export async function startFakeGitHub(options: FakeGitHubOptions): Promise<FakeGitHub> {
  const fake = new FakeGitHubServer(options);
  await fake.listen();
  return fake;
}

class FakeGitHubServer implements FakeGitHub {
  readonly calls: RecordedCall[] = [];
  readonly git = new GitModel();
  readonly permissions: Record<Permission, PermissionLevel>;
  url = '';
  private readonly owner: string;
  private readonly repo: string;
  private readonly defaultBranch: string;
  private readonly login: string;
  private readonly maxPerPage: number;
  private readonly compareFiles: 'first-page' | 'paged';
  private readonly pulls: PullRequestState[] = [];
  private readonly comments: CommentState[] = [];
  private readonly deployments: DeploymentState[] = [];
  private readonly associations = new Map<string, Set<number>>();
  private nextIssueNumber = 1;
  private nextId = 1001;
  private server: Server | undefined;
  private readonly routes: Route[];

  constructor(private readonly options: FakeGitHubOptions) {
    this.owner = options.owner;
    this.repo = options.repo;
    this.defaultBranch = options.defaultBranch ?? 'main';
    this.login = options.login ?? 'github-actions[bot]';
    this.maxPerPage = options.maxPerPage ?? 100;
    this.compareFiles = options.compareFiles ?? 'first-page';
    this.permissions = {
      contents: 'write',
      'pull-requests': 'write',
      issues: 'write',
      deployments: 'write',
      ...options.permissions,
    };
    const entries = new Map<string, string>();
    for (const [path, content] of Object.entries(options.files ?? {})) {
      entries.set(path, this.git.putBlob(content));
    }
    const root = this.git.createCommit(this.git.putTree(entries), [], 'Initial commit');
    this.git.branches.set(this.defaultBranch, root.sha);
    this.routes = this.buildRoutes();
  }

  get state(): FakeGitHub['state'] {
    return {
      pulls: this.pulls.map((p) => ({ ...p, labels: [...p.labels], headSha: this.headSha(p) })),
      comments: this.comments.map((c) => ({ ...c })),
      deployments: this.deployments.map((d) => ({
        ...d,
        statuses: d.statuses.map((s) => ({ ...s })),
      })),
      refs: Object.fromEntries(this.git.branches),
    };
  }

  commit(branch: string, files: Record<string, string | null>, message = 'Update files'): string {
    return this.git.commitOnBranch(branch, files, message, this.defaultBranch);
  }

  openPullRequest(request: {
    head: string;
    base?: string;
    title: string;
    body?: string;
    labels?: string[];
  }): number {
    const reply = this.createPull({
      head: request.head,
      base: request.base ?? this.defaultBranch,
      title: request.title,
      body: request.body ?? null,
    });
    const pr = this.pull((reply.body as { number: number }).number);
    pr.labels.push(...(request.labels ?? []));
    return pr.number;
  }

  mergePullRequest(number: number): string {
    const pr = this.pull(number);
    if (pr.state !== 'open') throw new Error(`PR #${number} is not open.`);
    const baseTip = this.tip(pr.base);
    const headTip = this.tip(pr.head);
    const mergeBase = this.git.mergeBase(baseTip, headTip) ?? baseTip;
    const changes: Record<string, string | null> = {};
    const headFiles = this.git.files(headTip);
    for (const d of this.git.diff(mergeBase, headTip)) {
      changes[d.filename] = d.status === 'removed' ? null : (headFiles.get(d.filename) ?? '');
    }
    const sha = this.git.commitOnBranch(pr.base, changes, `${pr.title} (#${number})`, pr.base);
    pr.headSha = headTip;
    pr.state = 'closed';
    pr.merged = true;
    pr.mergeCommitSha = sha;
    this.associatePullRequest(sha, number);
    return sha;
  }

  associatePullRequest(sha: string, number: number): void {
    this.pull(number);
    const set = this.associations.get(sha) ?? new Set<number>();
    set.add(number);
    this.associations.set(sha, set);
  }

  fileAt(ref: string, path: string): string | undefined {
    const sha = this.git.resolve(ref);
    return sha === undefined ? undefined : this.git.files(sha).get(path);
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.dispatch(req, res).catch((e: unknown) => {
        console.error('fake GitHub: internal error', e);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('fake GitHub internal error');
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await closeServer(server);
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    let parsed: unknown;
    let reply: Reply;
    try {
      if (raw.length > 0) {
        try {
          parsed = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new HttpError(400, 'Problems parsing JSON');
        }
      }
      this.authenticate(req.headers.authorization);
      reply = this.route(method, url, parsed);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      reply = {
        status: e.status,
        body: { message: e.message, ...e.extra, documentation_url: DOCS, status: String(e.status) },
        headers: e.headers,
      };
    }
    this.calls.push({
      method,
      path: decodeURIComponent(url.pathname),
      query: Object.fromEntries(url.searchParams),
      body: parsed,
      status: reply.status,
    });
    res.writeHead(reply.status, {
      'content-type': 'application/json; charset=utf-8',
      'x-github-request-id': `FAKE:${this.calls.length}`,
      ...reply.headers,
    });
    res.end(reply.status === 204 ? undefined : JSON.stringify(reply.body));
  }

  private authenticate(header: string | undefined): void {
    const token = this.options.token;
    if (token === undefined) return;
    if (!header?.trim()) throw new HttpError(401, 'Requires authentication');
    const m = /^(token|bearer)\s+(.+)$/i.exec(header.trim());
    if (!m || m[2] !== token) throw new HttpError(401, 'Bad credentials');
  }

  private route(method: string, url: URL, body: unknown): Reply {
    const prefix = `/repos/${this.owner}/${this.repo}/`;
    if (!url.pathname.startsWith(prefix)) throw notFound();
    const rest = url.pathname.slice(prefix.length);
    for (const route of this.routes) {
      const m = route.pattern.exec(rest);
      if (!m || route.method !== method) continue;
      const req: Request = {
        method,
        params: m.slice(1).map((p) => decodeURIComponent(p ?? '')),
        query: url.searchParams,
        body: isObject(body) ? body : Array.isArray(body) ? { _array: body } : {},
        url,
      };
      this.authorize(typeof route.need === 'function' ? route.need(req) : route.need);
      return route.handle(req);
    }
    // GitHub answers 404 both for unknown paths and for known paths with another method.
    throw notFound();
  }

  private authorize(need: Need): void {
    const rank: Record<PermissionLevel, number> = { none: 0, read: 1, write: 2 };
    const granted = need.some((set) =>
      set.every(([perm, level]) => rank[this.permissions[perm]] >= rank[level]),
    );
    if (granted) return;
    const header = need
      .map((set) => set.map(([perm, level]) => `${perm.replace('-', '_')}=${level}`).join(','))
      .join('; ');
    throw new HttpError(
      403,
      'Resource not accessible by integration',
      {},
      { 'x-accepted-github-permissions': header },
    );
  }

  private buildRoutes(): Route[] {
    const read = (p: Permission): Need => [[[p, 'read']]];
    const write = (p: Permission): Need => [[[p, 'write']]];
    // Comments and labels on a pull request accept either permission, as GitHub's do.
    const onIssue = (level: PermissionLevel): Need => [
      [['issues', level]],
      [['pull-requests', level]],
    ];
    return [
      {
        method: 'GET',
        pattern: /^compare\/(.+)$/,
        need: read('contents'),
        handle: (r) => this.compare(r),
      },
      {
        method: 'GET',
        pattern: /^contents\/?(.*)$/,
        need: read('contents'),
        handle: (r) => this.contents(r),
      },
      {
        method: 'GET',
        pattern: /^git\/blobs\/([^/]+)$/,
        need: read('contents'),
        handle: (r) => this.getBlob(r),
      },
      {
        method: 'GET',
        pattern: /^git\/trees\/([^/]+)$/,
        need: read('contents'),
        handle: (r) => this.getTree(r),
      },
      {
        method: 'POST',
        pattern: /^git\/trees$/,
        need: write('contents'),
        handle: (r) => this.createTree(r),
      },
      {
        method: 'GET',
        pattern: /^git\/commits\/([^/]+)$/,
        need: read('contents'),
        handle: (r) => this.getGitCommit(r),
      },
      {
        method: 'POST',
        pattern: /^git\/commits$/,
        need: write('contents'),
        handle: (r) => this.createGitCommit(r),
      },
      {
        method: 'GET',
        pattern: /^git\/ref\/(.+)$/,
        need: read('contents'),
        handle: (r) => this.getRef(r),
      },
      {
        method: 'POST',
        pattern: /^git\/refs$/,
        need: write('contents'),
        handle: (r) => this.createRef(r),
      },
      {
        method: 'PATCH',
        pattern: /^git\/refs\/(.+)$/,
        need: write('contents'),
        handle: (r) => this.updateRef(r),
      },
      {
        method: 'GET',
        pattern: /^pulls$/,
        need: read('pull-requests'),
        handle: (r) => this.listPulls(r),
      },
      {
        method: 'POST',
        pattern: /^pulls$/,
        need: write('pull-requests'),
        handle: (r) =>
          this.createPull({
            head: str(r.body.head),
            base: str(r.body.base),
            title: str(r.body.title),
            body: typeof r.body.body === 'string' ? r.body.body : null,
          }),
      },
      {
        method: 'GET',
        pattern: /^pulls\/(\d+)$/,
        need: read('pull-requests'),
        handle: (r) => this.getPull(r),
      },
      {
        method: 'PATCH',
        pattern: /^pulls\/(\d+)$/,
        need: write('pull-requests'),
        handle: (r) => this.updatePull(r),
      },
      {
        method: 'POST',
        pattern: /^issues\/(\d+)\/labels$/,
        need: onIssue('write'),
        handle: (r) => this.addLabels(r),
      },
      {
        method: 'GET',
        pattern: /^issues\/(\d+)\/comments$/,
        need: onIssue('read'),
        handle: (r) => this.listComments(r),
      },
      {
        method: 'POST',
        pattern: /^issues\/(\d+)\/comments$/,
        need: onIssue('write'),
        handle: (r) => this.createComment(r),
      },
      {
        method: 'PATCH',
        pattern: /^issues\/comments\/(\d+)$/,
        need: onIssue('write'),
        handle: (r) => this.updateComment(r),
      },
      {
        method: 'GET',
        pattern: /^commits\/([^/]+)\/pulls$/,
        need: [
          [
            ['contents', 'read'],
            ['pull-requests', 'read'],
          ],
        ],
        handle: (r) => this.pullsForCommit(r),
      },
      {
        method: 'POST',
        pattern: /^deployments$/,
        need: write('deployments'),
        handle: (r) => this.createDeployment(r),
      },
      {
        method: 'POST',
        pattern: /^deployments\/(\d+)\/statuses$/,
        need: write('deployments'),
        handle: (r) => this.createDeploymentStatus(r),
      },
    ];
  }

  // ---- pagination ----

  /** One page of `items` and GitHub's Link header for the others. */
  private page<T>(
    req: Request,
    items: T[],
    total = items.length,
  ): { items: T[]; headers: Record<string, string> } {
    const { perPage, page } = this.paging(req);
    const pages = Math.max(1, Math.ceil(total / perPage));
    return {
      items: items.slice((page - 1) * perPage, page * perPage),
      headers: this.linkHeader(req, page, pages, perPage),
    };
  }

  private paging(req: Request): { perPage: number; page: number } {
    const perPageRaw = Number(req.query.get('per_page') ?? 30);
    const pageRaw = Number(req.query.get('page') ?? 1);
    const perPage = Math.min(
      Math.max(1, Number.isFinite(perPageRaw) ? Math.floor(perPageRaw) : 30),
      this.maxPerPage,
    );
    const page = Math.max(1, Number.isFinite(pageRaw) ? Math.floor(pageRaw) : 1);
    return { perPage, page };
  }

  private linkHeader(
    req: Request,
    page: number,
    pages: number,
    perPage: number,
  ): Record<string, string> {
    if (pages <= 1) return {};
    const at = (n: number): string => {
      const u = new URL(req.url.toString());
      u.searchParams.set('per_page', String(perPage));
      u.searchParams.set('page', String(n));
      return `<${u.toString()}>`;
    };
    const links: string[] = [];
    if (page > 1) links.push(`${at(page - 1)}; rel="prev"`);
    if (page < pages) links.push(`${at(page + 1)}; rel="next"`);
    links.push(`${at(pages)}; rel="last"`);
    if (page > 1) links.push(`${at(1)}; rel="first"`);
    return { link: links.join(', ') };
  }

  // ---- commits and contents ----

  private compare(req: Request): Reply {
    const parts = (req.params[0] ?? '').split('...');
    if (parts.length !== 2) throw notFound();
    const base = this.git.resolve(parts[0] as string);
    const head = this.git.resolve(parts[1] as string);
    if (base === undefined || head === undefined) throw notFound();
    const mergeBase = this.git.mergeBase(base, head);
    if (mergeBase === undefined) {
      throw new HttpError(404, `No common ancestor between ${parts[0]} and ${parts[1]}.`);
    }
    const commits = this.git.commitsBetween(base, head);
    const behindBy = this.git.commitsBetween(head, base).length;
    const files = this.git.diff(mergeBase, head);
    const paged = req.query.has('per_page') || req.query.has('page');
    let pageCommits: CommitObject[];
    let pageFiles: FileDiff[];
    let headers: Record<string, string> = {};
    if (!paged) {
      pageCommits = commits.slice(-COMPARE_UNPAGED_COMMITS);
      pageFiles = files.slice(0, COMPARE_FILE_LIMIT);
    } else if (this.compareFiles === 'paged') {
      const total = Math.max(commits.length, files.length);
      const c = this.page(req, commits, total);
      pageCommits = c.items;
      pageFiles = this.page(req, files, total).items;
      headers = c.headers;
    } else {
      const c = this.page(req, commits);
      pageCommits = c.items;
      pageFiles = this.paging(req).page === 1 ? files.slice(0, COMPARE_FILE_LIMIT) : [];
      headers = c.headers;
    }
    const aheadBy = commits.length;
    const status =
      aheadBy > 0 && behindBy > 0
        ? 'diverged'
        : aheadBy > 0
          ? 'ahead'
          : behindBy > 0
            ? 'behind'
            : 'identical';
    const basehead = `${parts[0]}...${parts[1]}`;
    return {
      status: 200,
      headers,
      body: {
        url: `${this.apiRepo()}/compare/${basehead}`,
        html_url: `${this.webRepo()}/compare/${basehead}`,
        permalink_url: `${this.webRepo()}/compare/${this.owner}:${base}...${this.owner}:${head}`,
        diff_url: `${this.webRepo()}/compare/${basehead}.diff`,
        patch_url: `${this.webRepo()}/compare/${basehead}.patch`,
        base_commit: this.restCommit(this.git.commit(base)),
        merge_base_commit: this.restCommit(this.git.commit(mergeBase)),
        status,
        ahead_by: aheadBy,
        behind_by: behindBy,
        total_commits: aheadBy,
        commits: pageCommits.map((c) => this.restCommit(c)),
        files: pageFiles.map((f) => ({
          sha: f.sha,
          filename: f.filename,
          status: f.status,
          additions: f.additions,
          deletions: f.deletions,
          changes: f.additions + f.deletions,
          blob_url: `${this.webRepo()}/blob/${head}/${f.filename}`,
          raw_url: `${this.webRepo()}/raw/${head}/${f.filename}`,
          contents_url: `${this.apiRepo()}/contents/${f.filename}?ref=${head}`,
        })),
      },
    };
  }

  private contents(req: Request): Reply {
    const path = (req.params[0] ?? '').replace(/\/+$/, '');
    const refName = req.query.get('ref') ?? this.defaultBranch;
    const sha = this.git.resolve(refName);
    if (sha === undefined) throw new HttpError(404, `No commit found for the ref ${refName}`);
    const tree = this.git.treeOf(sha);
    const blob = tree.get(path);
    if (path !== '' && blob !== undefined) {
      const bytes = this.git.blobs.get(blob) ?? Buffer.alloc(0);
      const inline = bytes.length <= CONTENTS_INLINE_LIMIT;
      return {
        status: 200,
        body: {
          ...this.contentEntry(path, blob, 'file', refName),
          encoding: inline ? 'base64' : 'none',
          content: inline ? wrapBase64(bytes) : '',
        },
      };
    }
    const prefix = path === '' ? '' : `${path}/`;
    const children = new Map<string, 'file' | 'dir'>();
    for (const p of tree.keys()) {
      if (!p.startsWith(prefix)) continue;
      const rest = p.slice(prefix.length);
      const slash = rest.indexOf('/');
      children.set(slash === -1 ? rest : rest.slice(0, slash), slash === -1 ? 'file' : 'dir');
    }
    if (children.size === 0 && path !== '') throw notFound();
    return {
      status: 200,
      body: [...children]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, type]) =>
          this.contentEntry(
            `${prefix}${name}`,
            type === 'file' ? (tree.get(`${prefix}${name}`) ?? '') : '',
            type,
            refName,
          ),
        ),
    };
  }

  private contentEntry(
    path: string,
    sha: string,
    type: 'file' | 'dir',
    ref: string,
  ): Record<string, unknown> {
    const name = path.split('/').pop() ?? path;
    const size = type === 'file' ? (this.git.blobs.get(sha)?.length ?? 0) : 0;
    return {
      type,
      name,
      path,
      sha,
      size,
      url: `${this.apiRepo()}/contents/${path}?ref=${ref}`,
      html_url: `${this.webRepo()}/${type === 'file' ? 'blob' : 'tree'}/${ref}/${path}`,
      git_url: type === 'file' ? `${this.apiRepo()}/git/blobs/${sha}` : null,
      download_url:
        type === 'file'
          ? `https://raw.githubusercontent.com/${this.owner}/${this.repo}/${ref}/${path}`
          : null,
    };
  }

  private getBlob(req: Request): Reply {
    const sha = req.params[0] ?? '';
    const bytes = this.git.blobs.get(sha);
    if (!bytes) throw notFound();
    return {
      status: 200,
      body: {
        sha,
        node_id: nodeId('Blob', sha),
        size: bytes.length,
        url: `${this.apiRepo()}/git/blobs/${sha}`,
        content: wrapBase64(bytes),
        encoding: 'base64',
      },
    };
  }

  private getTree(req: Request): Reply {
    const ref = req.params[0] ?? '';
    let treeSha: string | undefined = this.git.trees.has(ref) ? ref : undefined;
    if (treeSha === undefined) {
      const commit = this.git.resolve(ref);
      if (commit !== undefined) treeSha = this.git.commit(commit).tree;
    }
    if (treeSha === undefined) throw notFound();
    // GitHub treats any value of `recursive` as on, even "0" and "false".
    const recursive = req.query.has('recursive');
    return {
      status: 200,
      body: {
        sha: treeSha,
        url: `${this.apiRepo()}/git/trees/${treeSha}`,
        tree: this.git.listTree(treeSha, recursive).map((e) => ({
          ...e,
          url: `${this.apiRepo()}/git/${e.type === 'tree' ? 'trees' : 'blobs'}/${e.sha}`,
        })),
        truncated: false,
      },
    };
  }

  private createTree(req: Request): Reply {
    const baseTree = req.body.base_tree;
    let entries = new Map<string, string>();
    if (baseTree !== undefined && baseTree !== null) {
      const base = this.git.trees.get(str(baseTree));
      if (!base) throw new HttpError(422, 'base_tree is not a valid tree oid');
      entries = new Map(base);
    }
    const tree = req.body.tree;
    if (!Array.isArray(tree))
      throw new HttpError(422, 'Invalid request.\n\n"tree" wasn\'t supplied.');
    for (const item of tree as unknown[]) {
      if (!isObject(item) || typeof item.path !== 'string' || item.path === '') {
        throw new HttpError(422, 'Invalid tree info');
      }
      if (item.type !== 'blob' || !['100644', '100755'].includes(str(item.mode))) {
        // Subtrees, submodules and symlinks exist on GitHub; this stand-in only models files.
        throw new HttpError(
          422,
          `The sandbox only models blob entries with mode 100644 or 100755 (${item.path}).`,
        );
      }
      if ('content' in item && 'sha' in item) {
        throw new HttpError(422, 'Invalid tree info: give either "sha" or "content", not both');
      }
      if (item.sha === null) {
        entries.delete(item.path);
      } else if (typeof item.content === 'string') {
        entries.set(item.path, this.git.putBlob(item.content));
      } else if (typeof item.sha === 'string' && this.git.blobs.has(item.sha)) {
        entries.set(item.path, item.sha);
      } else {
        throw new HttpError(422, 'Invalid tree info');
      }
    }
    const sha = this.git.putTree(entries);
    return {
      status: 201,
      body: {
        sha,
        url: `${this.apiRepo()}/git/trees/${sha}`,
        tree: this.git.listTree(sha, false).map((e) => ({
          ...e,
          url: `${this.apiRepo()}/git/${e.type === 'tree' ? 'trees' : 'blobs'}/${e.sha}`,
        })),
        truncated: false,
      },
    };
  }

  private getGitCommit(req: Request): Reply {
    const commit = this.git.commits.get(req.params[0] ?? '');
    if (!commit) throw notFound();
    return { status: 200, body: this.gitCommit(commit) };
  }

  private createGitCommit(req: Request): Reply {
    const tree = str(req.body.tree);
    if (typeof req.body.message !== 'string')
      throw new HttpError(422, 'Invalid request.\n\n"message" wasn\'t supplied.');
    if (!this.git.trees.has(tree)) throw new HttpError(422, 'Tree SHA does not exist');
    const parents = Array.isArray(req.body.parents) ? req.body.parents.map(str) : [];
    for (const p of parents) {
      if (!this.git.commits.has(p))
        throw new HttpError(422, 'Parent SHA does not exist or is not a commit object');
    }
    return {
      status: 201,
      body: this.gitCommit(this.git.createCommit(tree, parents, req.body.message)),
    };
  }

  private getRef(req: Request): Reply {
    const branch = branchOf(req.params[0] ?? '');
    const sha = branch === undefined ? undefined : this.git.branches.get(branch);
    if (branch === undefined || sha === undefined) throw notFound();
    return { status: 200, body: this.refObject(branch, sha) };
  }

  private createRef(req: Request): Reply {
    const ref = str(req.body.ref);
    const sha = str(req.body.sha);
    if (!/^refs\/[^/]+\/.+/.test(ref)) throw new HttpError(422, `${ref} is not a valid ref name.`);
    const branch = branchOf(ref);
    if (branch === undefined)
      throw new HttpError(422, 'The sandbox only models branches (refs/heads/*).');
    if (this.git.branches.has(branch)) throw new HttpError(422, 'Reference already exists');
    if (!this.git.commits.has(sha)) throw new HttpError(422, 'Object does not exist');
    this.git.branches.set(branch, sha);
    return { status: 201, body: this.refObject(branch, sha) };
  }

  private updateRef(req: Request): Reply {
    const branch = branchOf(req.params[0] ?? '');
    const sha = str(req.body.sha);
    const current = branch === undefined ? undefined : this.git.branches.get(branch);
    if (branch === undefined || current === undefined)
      throw new HttpError(422, 'Reference does not exist');
    if (!this.git.commits.has(sha)) throw new HttpError(422, 'Object does not exist');
    if (req.body.force !== true && !this.git.ancestors(sha).has(current)) {
      throw new HttpError(422, 'Update is not a fast forward');
    }
    this.git.branches.set(branch, sha);
    return { status: 200, body: this.refObject(branch, sha) };
  }

  // ---- pull requests ----

  private listPulls(req: Request): Reply {
    const state = req.query.get('state') ?? 'open';
    const head = req.query.get('head');
    const base = req.query.get('base');
    const matching = this.pulls
      .filter((p) => state === 'all' || p.state === state)
      // GitHub filters by `owner:branch` only.
      .filter((p) => head === null || `${this.owner}:${p.head}` === head)
      .filter((p) => base === null || p.base === base)
      .sort((a, b) => b.number - a.number);
    const { items, headers } = this.page(req, matching);
    return { status: 200, headers, body: items.map((p) => this.restPull(p)) };
  }

  private createPull(request: {
    head: string;
    base: string;
    title: string;
    body: string | null;
  }): Reply {
    if (request.title === '') {
      throw validationFailed([{ resource: 'PullRequest', code: 'missing_field', field: 'title' }]);
    }
    const [headOwner, headBranch] = request.head.includes(':')
      ? (request.head.split(':', 2) as [string, string])
      : [this.owner, request.head];
    if (!this.git.branches.has(request.base)) {
      throw validationFailed([{ resource: 'PullRequest', field: 'base', code: 'invalid' }]);
    }
    if (headOwner !== this.owner || !this.git.branches.has(headBranch)) {
      throw validationFailed([{ resource: 'PullRequest', field: 'head', code: 'invalid' }]);
    }
    if (
      this.pulls.some((p) => p.state === 'open' && p.head === headBranch && p.base === request.base)
    ) {
      throw validationFailed([
        {
          resource: 'PullRequest',
          code: 'custom',
          message: `A pull request already exists for ${this.owner}:${headBranch}.`,
        },
      ]);
    }
    if (this.git.commitsBetween(this.tip(request.base), this.tip(headBranch)).length === 0) {
      throw validationFailed([
        {
          resource: 'PullRequest',
          code: 'custom',
          message: `No commits between ${request.base} and ${headBranch}`,
        },
      ]);
    }
    const pr: PullRequestState = {
      number: this.nextIssueNumber++,
      title: request.title,
      body: request.body,
      state: 'open',
      merged: false,
      head: headBranch,
      headSha: this.tip(headBranch),
      base: request.base,
      labels: [],
      user: this.login,
      mergeCommitSha: null,
    };
    this.pulls.push(pr);
    return { status: 201, body: this.restPull(pr) };
  }

  private getPull(req: Request): Reply {
    return { status: 200, body: this.restPull(this.pullOr404(req.params[0])) };
  }

  private updatePull(req: Request): Reply {
    const pr = this.pullOr404(req.params[0]);
    const { title, body, base, state } = req.body;
    if (base !== undefined) {
      if (!this.git.branches.has(str(base))) {
        throw validationFailed([{ resource: 'PullRequest', field: 'base', code: 'invalid' }]);
      }
      pr.base = str(base);
    }
    if (typeof title === 'string') pr.title = title;
    if (typeof body === 'string' || body === null) pr.body = body;
    if (state === 'open' || state === 'closed') {
      if (state === 'closed') pr.headSha = this.headSha(pr);
      pr.state = state;
    }
    return { status: 200, body: this.restPull(pr) };
  }

  private addLabels(req: Request): Reply {
    const pr = this.pullOr404(req.params[0]);
    const given = Array.isArray(req.body.labels) ? req.body.labels : req.body._array;
    if (!Array.isArray(given) || given.some((l) => typeof l !== 'string')) {
      throw new HttpError(422, 'Invalid request.\n\n"labels" must be an array of strings.');
    }
    for (const label of given as string[]) if (!pr.labels.includes(label)) pr.labels.push(label);
    return { status: 200, body: pr.labels.map((l) => this.restLabel(l)) };
  }

  private pullsForCommit(req: Request): Reply {
    const ref = req.params[0] ?? '';
    const sha = this.git.resolve(ref);
    if (sha === undefined) throw new HttpError(422, `No commit found for SHA: ${ref}`);
    const numbers = new Set(this.associations.get(sha));
    // GitHub also lists the open PRs whose head contains the commit.
    for (const p of this.pulls) {
      if (p.state !== 'open') continue;
      if (this.git.commitsBetween(this.tip(p.base), this.tip(p.head)).some((c) => c.sha === sha)) {
        numbers.add(p.number);
      }
    }
    const prs = [...numbers].sort((a, b) => b - a).map((n) => this.pull(n));
    const { items, headers } = this.page(req, prs);
    return { status: 200, headers, body: items.map((p) => this.restPull(p)) };
  }

  // ---- comments ----

  private listComments(req: Request): Reply {
    const pr = this.pullOr404(req.params[0]);
    const all = this.comments.filter((c) => c.issueNumber === pr.number);
    const { items, headers } = this.page(req, all);
    return { status: 200, headers, body: items.map((c) => this.restComment(c)) };
  }

  private createComment(req: Request): Reply {
    const pr = this.pullOr404(req.params[0]);
    if (typeof req.body.body !== 'string' || req.body.body === '') {
      throw validationFailed([{ resource: 'IssueComment', code: 'missing_field', field: 'body' }]);
    }
    const now = this.now();
    const comment: CommentState = {
      id: this.nextId++,
      issueNumber: pr.number,
      body: req.body.body,
      user: this.login,
      createdAt: now,
      updatedAt: now,
    };
    this.comments.push(comment);
    return { status: 201, body: this.restComment(comment) };
  }

  private updateComment(req: Request): Reply {
    const comment = this.comments.find((c) => c.id === Number(req.params[0]));
    if (!comment) throw notFound();
    if (typeof req.body.body !== 'string' || req.body.body === '') {
      throw validationFailed([{ resource: 'IssueComment', code: 'missing_field', field: 'body' }]);
    }
    comment.body = req.body.body;
    comment.updatedAt = this.now();
    return { status: 200, body: this.restComment(comment) };
  }

  // ---- deployments ----

  private createDeployment(req: Request): Reply {
    const ref = str(req.body.ref);
    const sha = this.git.resolve(ref);
    if (ref === '' || sha === undefined) throw new HttpError(422, `No ref found for: ${ref}`);
    const environment =
      typeof req.body.environment === 'string' ? req.body.environment : 'production';
    const deployment: DeploymentState = {
      id: this.nextId++,
      ref,
      sha,
      task: typeof req.body.task === 'string' ? req.body.task : 'deploy',
      environment,
      description: typeof req.body.description === 'string' ? req.body.description : null,
      autoMerge: req.body.auto_merge !== false,
      requiredContexts: Array.isArray(req.body.required_contexts)
        ? req.body.required_contexts.map(str)
        : undefined,
      transientEnvironment: req.body.transient_environment === true,
      productionEnvironment:
        typeof req.body.production_environment === 'boolean'
          ? req.body.production_environment
          : environment === 'production',
      statuses: [],
    };
    this.deployments.push(deployment);
    return { status: 201, body: this.restDeployment(deployment) };
  }

  private createDeploymentStatus(req: Request): Reply {
    const deployment = this.deployments.find((d) => d.id === Number(req.params[0]));
    if (!deployment) throw notFound();
    const state = str(req.body.state);
    if (!DEPLOYMENT_STATES.includes(state)) {
      throw validationFailed([{ resource: 'DeploymentStatus', code: 'invalid', field: 'state' }]);
    }
    if (typeof req.body.description === 'string' && req.body.description.length > 140) {
      throw validationFailed([
        {
          resource: 'DeploymentStatus',
          code: 'custom',
          field: 'description',
          message: 'description is too long (maximum is 140 characters)',
        },
      ]);
    }
    const status: DeploymentStatusState = {
      id: this.nextId++,
      state,
      description: typeof req.body.description === 'string' ? req.body.description : '',
      logUrl: typeof req.body.log_url === 'string' ? req.body.log_url : '',
      environmentUrl: typeof req.body.environment_url === 'string' ? req.body.environment_url : '',
    };
    deployment.statuses.push(status);
    // auto_inactive (default true): a success marks earlier non-transient deployments to the
    // same environment inactive.
    if (state === 'success' && req.body.auto_inactive !== false) {
      for (const d of this.deployments) {
        if (d === deployment || d.environment !== deployment.environment || d.transientEnvironment)
          continue;
        const last = d.statuses.at(-1);
        if (last && last.state !== 'inactive') {
          d.statuses.push({
            id: this.nextId++,
            state: 'inactive',
            description: '',
            logUrl: '',
            environmentUrl: '',
          });
        }
      }
    }
    return {
      status: 201,
      body: {
        url: `${this.apiRepo()}/deployments/${deployment.id}/statuses/${status.id}`,
        id: status.id,
        node_id: nodeId('DeploymentStatus', String(status.id)),
        state: status.state,
        creator: this.restUser(this.login),
        description: status.description,
        environment: deployment.environment,
        target_url: status.logUrl,
        log_url: status.logUrl,
        environment_url: status.environmentUrl,
        created_at: this.now(),
        updated_at: this.now(),
        deployment_url: `${this.apiRepo()}/deployments/${deployment.id}`,
        repository_url: this.apiRepo(),
      },
    };
  }

  // ---- helpers and response shapes ----

  private tip(branch: string): string {
    const sha = this.git.branches.get(branch);
    if (sha === undefined) throw new Error(`No branch "${branch}".`);
    return sha;
  }

  private headSha(pr: PullRequestState): string {
    return pr.state === 'open' ? (this.git.branches.get(pr.head) ?? pr.headSha) : pr.headSha;
  }

  private pull(number: number): PullRequestState {
    const pr = this.pulls.find((p) => p.number === number);
    if (!pr) throw new Error(`No PR #${number}.`);
    return pr;
  }

  private pullOr404(param: string | undefined): PullRequestState {
    const pr = this.pulls.find((p) => p.number === Number(param));
    if (!pr) throw notFound();
    return pr;
  }

  private now(): string {
    return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  private apiRepo(): string {
    return `${this.url}/repos/${this.owner}/${this.repo}`;
  }

  private webRepo(): string {
    return `${WEB}/${this.owner}/${this.repo}`;
  }

  private restUser(login: string): Record<string, unknown> {
    return {
      login,
      id: login.length * 1000 + 7,
      type: login.endsWith('[bot]') ? 'Bot' : 'User',
      html_url: `${WEB}/${login.replace('[bot]', '')}`,
    };
  }

  private restRepo(): Record<string, unknown> {
    return {
      id: 4242,
      name: this.repo,
      full_name: `${this.owner}/${this.repo}`,
      owner: { login: this.owner, type: 'Organization' },
      private: true,
      html_url: this.webRepo(),
      url: this.apiRepo(),
      default_branch: this.defaultBranch,
    };
  }

  private restLabel(name: string): Record<string, unknown> {
    return {
      id: name.length * 31 + 5,
      node_id: nodeId('Label', name),
      name,
      color: 'ededed',
      default: false,
      description: null,
    };
  }

  private restCommit(c: CommitObject): Record<string, unknown> {
    const signature = { name: 'Fake Author', email: 'author@example.com', date: c.date };
    return {
      sha: c.sha,
      node_id: nodeId('Commit', c.sha),
      url: `${this.apiRepo()}/commits/${c.sha}`,
      html_url: `${this.webRepo()}/commit/${c.sha}`,
      commit: {
        message: c.message,
        tree: { sha: c.tree, url: `${this.apiRepo()}/git/trees/${c.tree}` },
        author: signature,
        committer: signature,
      },
      parents: c.parents.map((p) => ({ sha: p, url: `${this.apiRepo()}/commits/${p}` })),
    };
  }

  private gitCommit(c: CommitObject): Record<string, unknown> {
    const signature = { name: 'Fake Author', email: 'author@example.com', date: c.date };
    return {
      sha: c.sha,
      node_id: nodeId('Commit', c.sha),
      url: `${this.apiRepo()}/git/commits/${c.sha}`,
      html_url: `${this.webRepo()}/commit/${c.sha}`,
      author: signature,
      committer: signature,
      tree: { sha: c.tree, url: `${this.apiRepo()}/git/trees/${c.tree}` },
      message: c.message,
      parents: c.parents.map((p) => ({
        sha: p,
        url: `${this.apiRepo()}/git/commits/${p}`,
        html_url: `${this.webRepo()}/commit/${p}`,
      })),
      verification: {
        verified: false,
        reason: 'unsigned',
        signature: null,
        payload: null,
        verified_at: null,
      },
    };
  }

  private refObject(branch: string, sha: string): Record<string, unknown> {
    return {
      ref: `refs/heads/${branch}`,
      node_id: nodeId('Ref', branch),
      url: `${this.apiRepo()}/git/refs/heads/${branch}`,
      object: { sha, type: 'commit', url: `${this.apiRepo()}/git/commits/${sha}` },
    };
  }

  private restPull(p: PullRequestState): Record<string, unknown> {
    const headSha = this.headSha(p);
    const baseSha = this.git.branches.get(p.base) ?? '';
    return {
      url: `${this.apiRepo()}/pulls/${p.number}`,
      id: 90000 + p.number,
      node_id: nodeId('PullRequest', String(p.number)),
      html_url: `${this.webRepo()}/pull/${p.number}`,
      diff_url: `${this.webRepo()}/pull/${p.number}.diff`,
      issue_url: `${this.apiRepo()}/issues/${p.number}`,
      number: p.number,
      state: p.state,
      locked: false,
      title: p.title,
      body: p.body,
      user: this.restUser(p.user),
      labels: p.labels.map((l) => this.restLabel(l)),
      draft: false,
      merged: p.merged,
      merged_at: p.merged ? this.now() : null,
      merge_commit_sha: p.mergeCommitSha,
      head: {
        label: `${this.owner}:${p.head}`,
        ref: p.head,
        sha: headSha,
        user: { login: this.owner },
        repo: this.restRepo(),
      },
      base: {
        label: `${this.owner}:${p.base}`,
        ref: p.base,
        sha: baseSha,
        user: { login: this.owner },
        repo: this.restRepo(),
      },
    };
  }

  private restComment(c: CommentState): Record<string, unknown> {
    return {
      id: c.id,
      node_id: nodeId('IssueComment', String(c.id)),
      url: `${this.apiRepo()}/issues/comments/${c.id}`,
      html_url: `${this.webRepo()}/pull/${c.issueNumber}#issuecomment-${c.id}`,
      issue_url: `${this.apiRepo()}/issues/${c.issueNumber}`,
      body: c.body,
      user: this.restUser(c.user),
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      author_association: 'NONE',
    };
  }

  private restDeployment(d: DeploymentState): Record<string, unknown> {
    return {
      url: `${this.apiRepo()}/deployments/${d.id}`,
      id: d.id,
      node_id: nodeId('Deployment', String(d.id)),
      sha: d.sha,
      ref: d.ref,
      task: d.task,
      payload: {},
      original_environment: d.environment,
      environment: d.environment,
      description: d.description,
      creator: this.restUser(this.login),
      created_at: this.now(),
      updated_at: this.now(),
      statuses_url: `${this.apiRepo()}/deployments/${d.id}/statuses`,
      repository_url: this.apiRepo(),
      transient_environment: d.transientEnvironment,
      production_environment: d.productionEnvironment,
    };
  }
}

/** `heads/x` or `refs/heads/x` → `x`; any other ref kind → undefined. */
function branchOf(ref: string): string | undefined {
  const m = /^(?:refs\/)?heads\/(.+)$/.exec(ref);
  return m?.[1];
}

/** GitHub wraps base64 content at 60 characters per line. */
function wrapBase64(bytes: Buffer): string {
  const b64 = bytes.toString('base64');
  return (b64.match(/.{1,60}/g) ?? []).map((line) => `${line}\n`).join('');
}

function nodeId(kind: string, key: string): string {
  return Buffer.from(`${kind}:${key}`).toString('base64').replace(/=+$/, '');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}
