import { createServer } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  GitHubApiError,
  acceptedPermissions,
  explainGitHubError,
} from '../../src/github/errors.js';
import { makeGitHub } from '../../src/github/octokit.js';

/** Shaped like Octokit's RequestError: status, message, and the response GitHub sent. */
function requestError(status: number, data: unknown, headers: Record<string, string> = {}) {
  const message = (data as { message?: string }).message ?? 'error';
  return Object.assign(new Error(`${message} - https://docs.github.com/rest`), {
    name: 'HttpError',
    status,
    response: { url: 'https://api.github.com/repos/acme/web-infra/pulls', status, headers, data },
  });
}

function explain(e: unknown, needs = ['pull-requests: write'] as const): GitHubApiError {
  const out = explainGitHubError(e, 'open a pull request from rollout/web into main', needs);
  expect(out).toBeInstanceOf(GitHubApiError);
  return out as GitHubApiError;
}

describe('explainGitHubError', () => {
  it('names the permissions GitHub says it accepts, in workflow syntax', () => {
    const e = requestError(
      403,
      { message: 'Resource not accessible by integration', status: '403' },
      { 'x-accepted-github-permissions': 'issues=write; pull_requests=write' },
    );
    expect(explain(e).message).toBe(
      'Could not open a pull request from rollout/web into main: GitHub answered 403 "Resource not accessible by integration". ' +
        "The token lacks a permission: add `issues: write` or `pull-requests: write` to the workflow's `permissions:` block " +
        '(a job-level block replaces the workflow-level one, and every permission it does not list is none).',
    );
  });

  it('falls back to the permissions the call needs when GitHub sends no header', () => {
    const e = requestError(403, { message: 'Resource not accessible by integration' });
    const error = explainGitHubError(e, 'move the branch x', ['contents: write']) as GitHubApiError;
    expect(error.message).toContain('add `contents: write` to the workflow');
    expect(error.status).toBe(403);
    expect(error.githubMessage).toBe('Resource not accessible by integration');
    expect(error.cause).toBe(e);
  });

  it('points at the repository setting when Actions may not open pull requests', () => {
    const e = requestError(403, {
      message: 'GitHub Actions is not permitted to create or approve pull requests.',
    });
    expect(explain(e).message).toContain(
      'Allow it under Settings → Actions → General → "Allow GitHub Actions to create and approve pull requests"',
    );
  });

  it('says when the rate limit resets', () => {
    const e = requestError(
      403,
      { message: 'API rate limit exceeded for installation ID 1.' },
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1790000000' },
    );
    expect(explain(e).message).toContain(
      'The API rate limit is exhausted until 2026-09-21T14:13:20.000Z',
    );
  });

  it('lists the validation errors of a 422', () => {
    const e = requestError(422, {
      message: 'Validation Failed',
      errors: [
        {
          resource: 'PullRequest',
          code: 'custom',
          message: 'No commits between main and rollout/web',
        },
        { resource: 'PullRequest', field: 'head', code: 'invalid' },
      ],
    });
    expect(explain(e).message).toBe(
      'Could not open a pull request from rollout/web into main: GitHub answered 422 "Validation Failed". ' +
        'GitHub rejected the request: No commits between main and rollout/web; PullRequest head invalid.',
    );
  });

  it('leaves errors that are not GitHub answers alone, so our bugs keep their stack', () => {
    const bug = new TypeError('x is undefined');
    expect(explainGitHubError(bug, 'anything', [])).toBe(bug);
  });

  it('says GitHub could not be reached when nothing answers', async () => {
    // A port that stays ours but never answers: every connection is dropped at once. (A freed
    // port could be taken by another test's server before the request is made.)
    const dropping = createServer();
    dropping.on('connection', (socket) => socket.destroy());
    const port = await new Promise<number>((resolve) => {
      dropping.listen(0, '127.0.0.1', () => resolve((dropping.address() as { port: number }).port));
    });
    onTestFinished(() => new Promise<void>((resolve) => dropping.close(() => resolve())));
    const gh = makeGitHub(
      'token',
      { owner: 'acme', repo: 'web-infra' },
      { baseUrl: `http://127.0.0.1:${port}` },
    );
    const error = await gh.fileAt('a.yaml', 'main').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubApiError);
    expect((error as GitHubApiError).status).toBe(0);
    expect((error as GitHubApiError).message).toMatch(
      /^Could not read a\.yaml at main: GitHub's API could not be reached \(.+\)\. Check GITHUB_API_URL/,
    );
  });
});

describe('acceptedPermissions', () => {
  it('renders alternatives and combined sets', () => {
    expect(acceptedPermissions('contents=read,pull_requests=read; issues=write')).toBe(
      '`contents: read` and `pull-requests: read` or `issues: write`',
    );
    expect(acceptedPermissions('')).toBeUndefined();
    expect(acceptedPermissions(undefined)).toBeUndefined();
  });
});
