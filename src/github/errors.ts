/**
 * GitHub's REST errors, turned into messages a user can act on. Octokit throws a RequestError
 * carrying the HTTP status and GitHub's JSON body; the usual causes in a workflow are a
 * `permissions:` block that does not grant what a call needs (403 "Resource not accessible by
 * integration"), a repository setting that forbids Actions to open PRs, a branch or file that
 * does not exist (404, which is also what GitHub answers when the token cannot see the
 * repository), and validation failures (422) whose details are in `errors[]`.
 */
import { ExplainedError, errorMessage } from '../common/errors.js';

/** A workflow `permissions:` entry, written as the user writes it: `contents: write`. */
export type WorkflowPermission = `${
  'contents' | 'pull-requests' | 'issues' | 'deployments'}: ${'read' | 'write'}`;

export class GitHubApiError extends ExplainedError {
  override name = 'GitHubApiError';
  constructor(
    message: string,
    /** HTTP status GitHub answered with; 0 when GitHub could not be reached. */
    readonly status: number,
    /** GitHub's own `message`, verbatim. */
    readonly githubMessage: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The parts of Octokit's RequestError we read (duck-typed: it is not a direct dependency). */
interface RequestErrorLike {
  status: number;
  message: string;
  response?: {
    headers?: Record<string, string | undefined>;
    data?: unknown;
  };
}

export function isRequestError(e: unknown): e is RequestErrorLike {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { status?: unknown }).status === 'number' &&
    typeof (e as { message?: unknown }).message === 'string'
  );
}

/** GitHub's `message` from an error response body, or the error's own message. */
export function githubMessageOf(e: RequestErrorLike): string {
  const data = e.response?.data;
  if (
    typeof data === 'object' &&
    data !== null &&
    typeof (data as { message?: unknown }).message === 'string'
  ) {
    return (data as { message: string }).message;
  }
  return e.message;
}

/**
 * Wraps a failed call to GitHub: `operation` says what we were doing ("create the branch
 * rollout/web"), `needs` the permissions the call requires. Anything that is not an HTTP
 * error from Octokit (our own bugs) is returned unchanged so it keeps its stack.
 */
export function explainGitHubError(
  e: unknown,
  operation: string,
  needs: readonly WorkflowPermission[],
): unknown {
  if (e instanceof GitHubApiError || !isRequestError(e)) return e;
  if (e.response === undefined) {
    // Octokit reports a failed fetch (DNS, refused connection, TLS) as a RequestError without
    // a response; GitHub never answered.
    return new GitHubApiError(
      `Could not ${operation}: GitHub's API could not be reached (${e.message}). ` +
        "Check GITHUB_API_URL and the runner's network or proxy settings.",
      0,
      e.message,
      { cause: e },
    );
  }
  const status = e.status;
  const message = githubMessageOf(e);
  const answered = `Could not ${operation}: GitHub answered ${status} "${message}"`;
  const headers = e.response.headers ?? {};
  let hint: string;
  if (status === 401) {
    hint =
      'The token was rejected: check the token given to the action (the GITHUB_TOKEN or a ' +
      'personal or app token) is set and has not expired.';
  } else if ((status === 403 || status === 429) && isRateLimit(message, headers)) {
    const reset = Number(headers['x-ratelimit-reset']);
    hint =
      Number.isFinite(reset) && reset > 0
        ? `The API rate limit is exhausted until ${new Date(reset * 1000).toISOString()}; run the job again after that.`
        : 'The API rate limit is exhausted; run the job again in a few minutes.';
  } else if (status === 403 && /not permitted to create or approve pull requests/i.test(message)) {
    hint =
      'Allow it under Settings → Actions → General → "Allow GitHub Actions to create and approve ' +
      'pull requests" (for the repository, and for the organization if it sets this), or give ' +
      'the action a GitHub App or personal token instead of the GITHUB_TOKEN.';
  } else if (status === 403) {
    const accepted = acceptedPermissions(headers['x-accepted-github-permissions']);
    const wanted = accepted ?? needs.map((n) => `\`${n}\``).join(' and ');
    hint =
      `The token lacks a permission: add ${wanted} to the workflow's \`permissions:\` block ` +
      '(a job-level block replaces the workflow-level one, and every permission it does not ' +
      'list is none).';
  } else if (status === 404) {
    hint =
      'It does not exist, or the token cannot see it: GitHub answers 404 rather than 403 when ' +
      `a token may not read the repository (the job needs ${needs.map((n) => `\`${n}\``).join(' and ')}).`;
  } else if (status === 422) {
    const details = validationDetails(e.response.data);
    hint = details
      ? `GitHub rejected the request: ${details}.`
      : 'GitHub rejected the request as invalid.';
  } else if (status >= 500) {
    hint =
      'GitHub had an internal error; run the job again, and check https://www.githubstatus.com if it persists.';
  } else {
    hint = '';
  }
  return new GitHubApiError(hint ? `${answered}. ${hint}` : `${answered}.`, status, message, {
    cause: e,
  });
}

function isRateLimit(message: string, headers: Record<string, string | undefined>): boolean {
  return headers['x-ratelimit-remaining'] === '0' || /rate limit/i.test(message);
}

/**
 * GitHub's `x-accepted-github-permissions` header lists the permission sets that would have
 * granted the call, `;` between alternatives and `,` within one: `issues=write; pull_requests=write`.
 * Rendered in workflow syntax: `issues: write` or `pull-requests: write`.
 */
export function acceptedPermissions(header: string | undefined): string | undefined {
  if (!header || header.trim() === '') return undefined;
  const sets = header
    .split(';')
    .map((set) =>
      set
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p.includes('='))
        .map((p) => {
          const [name, level] = p.split('=') as [string, string];
          return `\`${name.replace(/_/g, '-')}: ${level}\``;
        })
        .join(' and '),
    )
    .filter((s) => s !== '');
  return sets.length ? sets.join(' or ') : undefined;
}

function validationDetails(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const errors = (data as { errors?: unknown }).errors;
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  return errors
    .map((err: unknown) => {
      if (typeof err === 'string') return err;
      if (typeof err !== 'object' || err === null) return errorMessage(err);
      const { message, resource, field, code } = err as Record<string, unknown>;
      if (typeof message === 'string') return message;
      return [resource, field, code].filter((x) => typeof x === 'string').join(' ');
    })
    .join('; ');
}
