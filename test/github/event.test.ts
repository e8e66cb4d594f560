import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/common/errors.js';
import { NULL_SHA, readEvent } from '../../src/github/event.js';

const dir = mkdtempSync(join(tmpdir(), 'gh-event-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE_SHA = '6dcb09b5b57875f334f61aebed695e2e4193db5e';
const HEAD_SHA = 'e6c6bbd1a6e4a2a4f2f7f3f0b2c1d0e9f8a7b6c5';
const MERGE_SHA = '8f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d';

/** Trimmed webhook payloads, with the real nesting and field names. */
const repository = {
  id: 1296269,
  node_id: 'MDEwOlJlcG9zaXRvcnkxMjk2MjY5',
  name: 'web-infra',
  full_name: 'acme/web-infra',
  private: true,
  owner: { login: 'acme', id: 9919, type: 'Organization' },
  html_url: 'https://github.com/acme/web-infra',
  default_branch: 'main',
};
const sender = { login: 'octocat', id: 1, type: 'User' };

const pullRequestPayload = {
  action: 'synchronize',
  number: 12,
  before: BASE_SHA,
  after: HEAD_SHA,
  pull_request: {
    url: 'https://api.github.com/repos/acme/web-infra/pulls/12',
    id: 1,
    html_url: 'https://github.com/acme/web-infra/pull/12',
    number: 12,
    state: 'open',
    locked: false,
    title: 'web: 25% to green',
    user: sender,
    body: 'Next step.',
    labels: [
      { id: 208045946, name: 'rollout', color: 'f29513', default: false },
      { id: 208045947, name: 'web', color: 'ededed', default: false },
    ],
    draft: false,
    merged: false,
    merge_commit_sha: MERGE_SHA,
    head: {
      label: 'acme:canary-25',
      ref: 'canary-25',
      sha: HEAD_SHA,
      user: { login: 'acme' },
      repo: repository,
    },
    base: {
      label: 'acme:main',
      ref: 'main',
      sha: BASE_SHA,
      user: { login: 'acme' },
      repo: repository,
    },
  },
  repository,
  sender,
};

const pushPayload = {
  ref: 'refs/heads/main',
  before: BASE_SHA,
  after: MERGE_SHA,
  repository: { ...repository, master_branch: 'main' },
  pusher: { name: 'octocat', email: 'octocat@example.com' },
  sender,
  created: false,
  deleted: false,
  forced: false,
  base_ref: null,
  compare: `https://github.com/acme/web-infra/compare/${BASE_SHA.slice(0, 12)}...${MERGE_SHA.slice(0, 12)}`,
  commits: [{ id: MERGE_SHA, message: 'web: 25% to green (#12)', distinct: true }],
  head_commit: { id: MERGE_SHA, message: 'web: 25% to green (#12)' },
};

const dispatchPayload = {
  inputs: { cluster: 'blue', 'dry-run': false, reason: 'error rate on green' },
  ref: 'refs/heads/main',
  repository,
  sender,
  workflow: '.github/workflows/rollback.yml',
};

let n = 0;
function envFor(name: string, payload: unknown, extra: Record<string, string> = {}) {
  const path = join(dir, `event-${++n}.json`);
  writeFileSync(path, typeof payload === 'string' ? payload : JSON.stringify(payload));
  return {
    GITHUB_EVENT_NAME: name,
    GITHUB_EVENT_PATH: path,
    GITHUB_REPOSITORY: 'acme/web-infra',
    GITHUB_SHA: MERGE_SHA,
    GITHUB_REF: 'refs/heads/main',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '9876543210',
    ...extra,
  };
}

describe('readEvent', () => {
  it('reads a pull_request event', () => {
    const event = readEvent(
      envFor('pull_request', pullRequestPayload, { GITHUB_REF: 'refs/pull/12/merge' }),
    );
    expect(event).toEqual({
      kind: 'pull_request',
      name: 'pull_request',
      repo: { owner: 'acme', repo: 'web-infra' },
      sha: MERGE_SHA,
      ref: 'refs/pull/12/merge',
      serverUrl: 'https://github.com',
      runUrl: 'https://github.com/acme/web-infra/actions/runs/9876543210',
      action: 'synchronize',
      number: 12,
      title: 'web: 25% to green',
      htmlUrl: 'https://github.com/acme/web-infra/pull/12',
      baseSha: BASE_SHA,
      headSha: HEAD_SHA,
      baseRef: 'main',
      headRef: 'canary-25',
      labels: ['rollout', 'web'],
      draft: false,
      merged: false,
      fromFork: false,
    });
  });

  it('marks a pull request from a fork, and one whose fork was deleted', () => {
    const fork = structuredClone(pullRequestPayload);
    fork.pull_request.head.repo = { ...repository, full_name: 'mallory/web-infra' };
    expect(readEvent(envFor('pull_request_target', fork))).toMatchObject({
      kind: 'pull_request',
      name: 'pull_request_target',
      fromFork: true,
    });
    const deleted = structuredClone(pullRequestPayload) as {
      pull_request: { head: { repo: unknown } };
    };
    deleted.pull_request.head.repo = null;
    expect(readEvent(envFor('pull_request', deleted))).toMatchObject({ fromFork: true });
  });

  it('reads a push event', () => {
    const event = readEvent(envFor('push', pushPayload));
    expect(event).toMatchObject({
      kind: 'push',
      ref: 'refs/heads/main',
      branch: 'main',
      before: BASE_SHA,
      after: MERGE_SHA,
      defaultBranch: 'main',
      created: false,
      deleted: false,
      forced: false,
    });
  });

  it('says when a push created the branch: before is all zeros, there is nothing to compare', () => {
    const event = readEvent(
      envFor('push', {
        ...pushPayload,
        ref: 'refs/heads/rollout/web',
        before: NULL_SHA,
        created: true,
      }),
    );
    expect(event).toMatchObject({
      kind: 'push',
      branch: 'rollout/web',
      before: NULL_SHA,
      created: true,
    });
  });

  it('reads a tag push without a branch', () => {
    expect(readEvent(envFor('push', { ...pushPayload, ref: 'refs/tags/v1.2.0' }))).toMatchObject({
      kind: 'push',
      branch: undefined,
    });
  });

  it('reads workflow_dispatch inputs as strings, and a workflow without inputs', () => {
    expect(readEvent(envFor('workflow_dispatch', dispatchPayload))).toMatchObject({
      kind: 'workflow_dispatch',
      ref: 'refs/heads/main',
      inputs: { cluster: 'blue', 'dry-run': 'false', reason: 'error rate on green' },
    });
    expect(
      readEvent(envFor('workflow_dispatch', { ...dispatchPayload, inputs: null })),
    ).toMatchObject({
      kind: 'workflow_dispatch',
      inputs: {},
    });
  });

  it('passes any other event through by name, without needing its payload', () => {
    const env = { ...envFor('schedule', {}), GITHUB_EVENT_PATH: '' };
    expect(readEvent(env)).toMatchObject({
      kind: 'other',
      name: 'schedule',
      repo: { owner: 'acme', repo: 'web-infra' },
    });
  });

  it('has no run URL without GITHUB_RUN_ID, and honours a GitHub Enterprise server URL', () => {
    const env = envFor('push', pushPayload, {
      GITHUB_SERVER_URL: 'https://ghe.example.com/',
      GITHUB_RUN_ID: '',
    });
    expect(readEvent(env)).toMatchObject({
      runUrl: undefined,
      serverUrl: 'https://ghe.example.com',
    });
    const withRun = envFor('push', pushPayload, { GITHUB_SERVER_URL: 'https://ghe.example.com' });
    expect(readEvent(withRun).runUrl).toBe(
      'https://ghe.example.com/acme/web-infra/actions/runs/9876543210',
    );
  });

  describe('explains what is missing or malformed', () => {
    const cases: [string, () => Record<string, string | undefined>, string][] = [
      [
        'no event name',
        () => ({ ...envFor('push', pushPayload), GITHUB_EVENT_NAME: undefined }),
        'GITHUB_EVENT_NAME is not set: this runs inside a GitHub Actions workflow',
      ],
      [
        'a malformed repository',
        () => envFor('push', pushPayload, { GITHUB_REPOSITORY: 'web-infra' }),
        'GITHUB_REPOSITORY must be "owner/repo", got "web-infra".',
      ],
      [
        'no payload path',
        () => ({ ...envFor('push', pushPayload), GITHUB_EVENT_PATH: undefined }),
        "GITHUB_EVENT_PATH is not set, so the push event's payload cannot be read.",
      ],
      [
        'a payload file that does not exist',
        () => ({ ...envFor('push', pushPayload), GITHUB_EVENT_PATH: join(dir, 'nope.json') }),
        `Cannot read the push event payload at ${join(dir, 'nope.json')}: ENOENT`,
      ],
      ['a payload that is not JSON', () => envFor('push', '{"ref": '), 'is not valid JSON: '],
      ['a payload that is a list', () => envFor('push', '[]'), 'is not a JSON object.'],
      [
        'a push without after',
        () => envFor('push', { ...pushPayload, after: undefined }),
        'after must be a 40-digit commit SHA, it is missing.',
      ],
      [
        'a pull request with a short SHA',
        () => {
          const p = structuredClone(pullRequestPayload);
          p.pull_request.base.sha = 'abc123';
          return envFor('pull_request', p);
        },
        'pull_request.base.sha must be a 40-digit commit SHA, got "abc123".',
      ],
      [
        'a pull request without its number',
        () =>
          envFor('pull_request', {
            ...pullRequestPayload,
            pull_request: { ...pullRequestPayload.pull_request, number: '12' },
          }),
        'pull_request.number must be a positive integer, got "12".',
      ],
      [
        'a push without the repository default branch',
        () => envFor('push', { ...pushPayload, repository: { full_name: 'acme/web-infra' } }),
        'repository.default_branch must be a non-empty string, it is missing.',
      ],
    ];
    for (const [what, env, message] of cases) {
      it(what, () => {
        const e = (() => {
          try {
            readEvent(env());
          } catch (error) {
            return error;
          }
          return undefined;
        })();
        expect(e).toBeInstanceOf(ConfigurationError);
        expect((e as Error).message).toContain(message);
      });
    }
  });
});
