/**
 * What a runner hands an action on GitHub, for running our bundles against the fake GitHub
 * server (e2e tests, the demo): the event payloads GitHub writes to GITHUB_EVENT_PATH for
 * pull_request, push and workflow_dispatch (the fields GitHub sends, not only the ones we
 * read), and the GITHUB_* environment of a step.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeGitHub } from './server.js';

export const OWNER = 'acme';
export const REPO = 'infra';
export const TOKEN = 'ghs_e2eTokenThatMustNotLeak';

const repository = {
  id: 1,
  name: REPO,
  full_name: `${OWNER}/${REPO}`,
  private: true,
  owner: { login: OWNER, id: 2, type: 'Organization' },
  html_url: `https://github.com/${OWNER}/${REPO}`,
  default_branch: 'main',
};
const sender = { login: 'octocat', id: 3, type: 'User' };

export function pullRequestPayload(
  github: FakeGitHub,
  number: number,
  action = 'synchronize',
): Record<string, unknown> {
  const pr = github.state.pulls.find((p) => p.number === number);
  if (!pr) throw new Error(`no PR #${number}`);
  const baseSha = github.state.refs[pr.base] as string;
  return {
    action,
    number,
    pull_request: {
      url: `https://api.github.com/repos/${OWNER}/${REPO}/pulls/${number}`,
      id: 1000 + number,
      html_url: `https://github.com/${OWNER}/${REPO}/pull/${number}`,
      number,
      state: 'open',
      locked: false,
      title: pr.title,
      user: sender,
      body: pr.body,
      labels: pr.labels.map((name, i) => ({ id: i + 1, name, color: 'ededed', default: false })),
      draft: false,
      merged: false,
      head: {
        label: `${OWNER}:${pr.head}`,
        ref: pr.head,
        sha: pr.headSha,
        user: sender,
        repo: repository,
      },
      base: {
        label: `${OWNER}:${pr.base}`,
        ref: pr.base,
        sha: baseSha,
        user: sender,
        repo: repository,
      },
    },
    repository,
    sender,
  };
}

export function pushPayload(before: string, after: string): Record<string, unknown> {
  return {
    ref: 'refs/heads/main',
    before,
    after,
    base_ref: null,
    created: false,
    deleted: false,
    forced: false,
    compare: `https://github.com/${OWNER}/${REPO}/compare/${before.slice(0, 12)}...${after.slice(0, 12)}`,
    commits: [{ id: after, message: 'step', distinct: true }],
    head_commit: { id: after, message: 'step', distinct: true },
    repository,
    pusher: { name: 'octocat', email: 'octocat@example.com' },
    sender,
  };
}

export function dispatchPayload(inputs: Record<string, string>): Record<string, unknown> {
  return {
    inputs,
    ref: 'refs/heads/main',
    repository,
    sender,
    workflow: '.github/workflows/rollout-rollback.yml',
  };
}

/** The environment the runner gives a step: event, repository, API URL, workspace, temp dir. */
export function runnerEnv(
  github: FakeGitHub,
  event: { name: string; payload: Record<string, unknown>; sha: string; ref: string },
): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'rollout-e2e-'));
  const eventPath = join(dir, 'event.json');
  writeFileSync(eventPath, JSON.stringify(event.payload, null, 2));
  return {
    GITHUB_EVENT_NAME: event.name,
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_REPOSITORY: `${OWNER}/${REPO}`,
    GITHUB_SHA: event.sha,
    GITHUB_REF: event.ref,
    GITHUB_API_URL: github.url,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '4242',
    GITHUB_WORKSPACE: dir,
    RUNNER_TEMP: dir,
  };
}
