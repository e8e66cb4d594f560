/**
 * The workflow event that started the run, read from the runner's environment when asked (never
 * at import): GITHUB_EVENT_NAME says which event, GITHUB_EVENT_PATH holds its webhook payload
 * as JSON. Only the fields the rollout action uses are taken, each checked, so a missing or
 * malformed payload is a clear ConfigurationError rather than an `undefined` deep inside a step.
 */
import { readFileSync } from 'node:fs';
import { ConfigurationError, errorMessage } from '../common/errors.js';
import type { RepoRef } from './types.js';

/** A SHA of forty zeros: `before` of a push that created the branch, `after` of one that deleted it. */
export const NULL_SHA = '0000000000000000000000000000000000000000';

interface EventBase {
  /** GITHUB_EVENT_NAME as given, e.g. `pull_request_target`. */
  name: string;
  repo: RepoRef;
  /** GITHUB_SHA: for a pull_request, the test merge commit, not the PR head. */
  sha: string;
  /** GITHUB_REF, e.g. `refs/heads/main` or `refs/pull/12/merge`. */
  ref: string;
  /** The page of this workflow run, for log links; undefined without GITHUB_RUN_ID. */
  runUrl: string | undefined;
  /** GITHUB_SERVER_URL, `https://github.com` by default. */
  serverUrl: string;
}

export interface PullRequestEvent extends EventBase {
  kind: 'pull_request';
  /** `opened`, `synchronize`, `reopened`, `labeled`, `closed`, ... */
  action: string;
  number: number;
  title: string;
  htmlUrl: string;
  baseSha: string;
  headSha: string;
  /** Branch names, without `refs/heads/`. */
  baseRef: string;
  headRef: string;
  labels: string[];
  draft: boolean;
  merged: boolean;
  /** The head is in another repository (a fork), or in one since deleted. */
  fromFork: boolean;
}

export interface PushEvent extends EventBase {
  kind: 'push';
  /** NULL_SHA when the push created the branch (or tag): there is no previous tip to diff against. */
  before: string;
  /** NULL_SHA when the push deleted the branch. */
  after: string;
  /** The branch name when `ref` is a branch, else undefined (a tag push). */
  branch: string | undefined;
  defaultBranch: string;
  /** `before` is NULL_SHA: the branch is new, so before...after cannot be compared. */
  created: boolean;
  deleted: boolean;
  forced: boolean;
}

export interface WorkflowDispatchEvent extends EventBase {
  kind: 'workflow_dispatch';
  /** As the payload gives them: strings, booleans rendered as "true"/"false". */
  inputs: Record<string, string>;
}

export interface OtherEvent extends EventBase {
  kind: 'other';
}

export type GitHubEvent = PullRequestEvent | PushEvent | WorkflowDispatchEvent | OtherEvent;

type Env = Record<string, string | undefined>;

export function readEvent(env: Env = process.env): GitHubEvent {
  const name = env.GITHUB_EVENT_NAME?.trim();
  if (!name) {
    throw new ConfigurationError(
      'GITHUB_EVENT_NAME is not set: this runs inside a GitHub Actions workflow, which sets it ' +
        '(outside one, set GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REPOSITORY and GITHUB_SHA).',
    );
  }
  const base: EventBase = {
    name,
    repo: parseRepository(env.GITHUB_REPOSITORY),
    sha: env.GITHUB_SHA ?? '',
    ref: env.GITHUB_REF ?? '',
    serverUrl: (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, ''),
    runUrl: undefined,
  };
  if (env.GITHUB_RUN_ID) {
    base.runUrl = `${base.serverUrl}/${base.repo.owner}/${base.repo.repo}/actions/runs/${env.GITHUB_RUN_ID}`;
  }

  switch (name) {
    case 'pull_request':
    case 'pull_request_target':
      return pullRequestEvent(base, readPayload(env, name));
    case 'push':
      return pushEvent(base, readPayload(env, name));
    case 'workflow_dispatch':
      return dispatchEvent(base, readPayload(env, name));
    default:
      return { ...base, kind: 'other' };
  }
}

export function parseRepository(value: string | undefined): RepoRef {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(value?.trim() ?? '');
  if (!m) {
    throw new ConfigurationError(
      `GITHUB_REPOSITORY must be "owner/repo", got ${value === undefined ? 'nothing' : `"${value}"`}.`,
    );
  }
  return { owner: m[1] as string, repo: m[2] as string };
}

/** A payload field reader that names the field and the file when it is wrong. */
class Payload {
  constructor(
    readonly data: Record<string, unknown>,
    readonly where: string,
  ) {}

  private at(path: string): unknown {
    let value: unknown = this.data;
    for (const key of path.split('.')) {
      value = isObject(value) ? value[key] : undefined;
    }
    return value;
  }

  private fail(path: string, expected: string, value: unknown): never {
    const got = value === undefined ? 'it is missing' : `got ${JSON.stringify(value)}`;
    throw new ConfigurationError(`${this.where}: ${path} must be ${expected}, ${got}.`);
  }

  string(path: string): string {
    const value = this.at(path);
    if (typeof value !== 'string' || value === '') this.fail(path, 'a non-empty string', value);
    return value;
  }

  sha(path: string): string {
    const value = this.at(path);
    if (typeof value !== 'string' || !/^[0-9a-f]{40}$/.test(value))
      this.fail(path, 'a 40-digit commit SHA', value);
    return value;
  }

  integer(path: string): number {
    const value = this.at(path);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
      this.fail(path, 'a positive integer', value);
    return value;
  }

  boolean(path: string, fallback: boolean): boolean {
    const value = this.at(path);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') this.fail(path, 'true or false', value);
    return value;
  }

  optional(path: string): unknown {
    return this.at(path);
  }
}

function readPayload(env: Env, name: string): Payload {
  const path = env.GITHUB_EVENT_PATH;
  if (!path) {
    throw new ConfigurationError(
      `GITHUB_EVENT_PATH is not set, so the ${name} event's payload cannot be read.`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigurationError(
      `Cannot read the ${name} event payload at ${path}: ${errorMessage(e)}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ConfigurationError(
      `The ${name} event payload at ${path} is not valid JSON: ${errorMessage(e)}`,
    );
  }
  if (!isObject(data)) {
    throw new ConfigurationError(`The ${name} event payload at ${path} is not a JSON object.`);
  }
  return new Payload(data, `The ${name} event payload at ${path}`);
}

function pullRequestEvent(base: EventBase, p: Payload): PullRequestEvent {
  const labels = p.optional('pull_request.labels') ?? [];
  if (!Array.isArray(labels)) {
    throw new ConfigurationError(`${p.where}: pull_request.labels must be a list.`);
  }
  const baseRepo = p.optional('pull_request.base.repo.full_name');
  const headRepo = p.optional('pull_request.head.repo.full_name');
  return {
    ...base,
    kind: 'pull_request',
    action: p.string('action'),
    number: p.integer('pull_request.number'),
    title:
      typeof p.optional('pull_request.title') === 'string'
        ? (p.optional('pull_request.title') as string)
        : '',
    htmlUrl: p.string('pull_request.html_url'),
    baseSha: p.sha('pull_request.base.sha'),
    headSha: p.sha('pull_request.head.sha'),
    baseRef: p.string('pull_request.base.ref'),
    headRef: p.string('pull_request.head.ref'),
    labels: labels
      .map((l: unknown) => (isObject(l) && typeof l.name === 'string' ? l.name : undefined))
      .filter((l): l is string => l !== undefined),
    draft: p.boolean('pull_request.draft', false),
    merged: p.boolean('pull_request.merged', false),
    // head.repo is null when the fork has been deleted.
    fromFork: typeof headRepo !== 'string' || headRepo !== baseRepo,
  };
}

function pushEvent(base: EventBase, p: Payload): PushEvent {
  const ref = p.string('ref');
  const before = p.sha('before');
  const after = p.sha('after');
  return {
    ...base,
    kind: 'push',
    ref,
    before,
    after,
    branch: ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined,
    defaultBranch: p.string('repository.default_branch'),
    created: before === NULL_SHA,
    deleted: after === NULL_SHA,
    forced: p.boolean('forced', false),
  };
}

function dispatchEvent(base: EventBase, p: Payload): WorkflowDispatchEvent {
  // A workflow without inputs gets `"inputs": null`.
  const raw = p.optional('inputs') ?? {};
  if (!isObject(raw)) {
    throw new ConfigurationError(
      `${p.where}: inputs must be an object, got ${JSON.stringify(raw)}.`,
    );
  }
  const inputs: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value === null || value === undefined) continue;
    inputs[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return { ...base, kind: 'workflow_dispatch', ref: p.string('ref'), inputs };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
