import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/common/errors.js';
import { GitHubApiError } from '../../src/github/errors.js';
import { makeGitHub } from '../../src/github/octokit.js';
import type { GitHubApi } from '../../src/github/types.js';
import {
  startFakeGitHub,
  type FakeGitHub,
  type FakeGitHubOptions,
} from '../../sandbox/github/server.js';

const REPO = { owner: 'acme', repo: 'web-infra' };
const TOKEN = 'ghs_fake_token_for_tests';
const WEB_V1 = 'version: 1\nname: web\nweights: { blue: 100, green: 0 }\n';
const WEB_V2 = 'version: 1\nname: web\nweights: { blue: 90, green: 10 }\n';

const fakes: FakeGitHub[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

async function setup(
  options: Partial<FakeGitHubOptions> = {},
  token = TOKEN,
): Promise<{ fake: FakeGitHub; gh: GitHubApi }> {
  const fake = await startFakeGitHub({
    ...REPO,
    token: TOKEN,
    files: { 'rollouts/web.yaml': WEB_V1, 'README.md': '# infra\n' },
    ...options,
  });
  fakes.push(fake);
  // No pacing: these tests create dozens of comments to test pagination, which GitHub's own
  // pacing (one content-creating write every 3 s) would turn into minutes.
  return { fake, gh: makeGitHub(token, REPO, { baseUrl: fake.url, pacing: false }) };
}

function callsTo(fake: FakeGitHub, method: string, pathPart: string) {
  return fake.calls.filter((c) => c.method === method && c.path.includes(pathPart));
}

async function rejection(promise: Promise<unknown>): Promise<GitHubApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GitHubApiError);
  return error as GitHubApiError;
}

const paths = (n: number, dir = 'apps'): string[] =>
  Array.from({ length: n }, (_, i) => `${dir}/app-${String(i).padStart(3, '0')}.yaml`);

describe('changedFiles', () => {
  it('reads every page of a compare whose commits span several pages (files on page 1, as GitHub documents)', async () => {
    const { fake, gh } = await setup({ maxPerPage: 30 });
    const base = fake.state.refs.main as string;
    const expected = paths(75);
    for (const p of expected) fake.commit('feature', { [p]: `name: ${p}\n` });

    const changed = await gh.changedFiles(base, 'feature');

    expect(changed.sort()).toEqual(expected);
    const compares = callsTo(fake, 'GET', '/compare/');
    expect(compares.map((c) => c.query.page ?? '1')).toEqual(['1', '2', '3']);
  });

  it('merges files from every page when GitHub spreads them over the pages', async () => {
    const { fake, gh } = await setup({ maxPerPage: 30, compareFiles: 'paged' });
    const base = fake.state.refs.main as string;
    const expected = paths(75);
    fake.commit('feature', Object.fromEntries(expected.map((p) => [p, 'x: 1\n'])));

    const changed = await gh.changedFiles(base, 'feature');

    expect(changed.sort()).toEqual(expected);
    expect(callsTo(fake, 'GET', '/compare/')).toHaveLength(3);
  });

  it('lists deleted files and compares from the merge base, not from a base that moved on', async () => {
    const { fake, gh } = await setup();
    const branchPoint = fake.state.refs.main as string;
    fake.commit('feature', { 'rollouts/web.yaml': WEB_V2, 'README.md': null });
    fake.commit('main', { 'docs/unrelated.md': 'later on main\n' });

    expect((await gh.changedFiles('main', 'feature')).sort()).toEqual([
      'README.md',
      'rollouts/web.yaml',
    ]);
    expect(await gh.changedFiles(branchPoint, branchPoint)).toEqual([]);
  });

  it('past the 300 files a compare lists, takes the changed paths from the trees', async () => {
    const { fake, gh } = await setup();
    const base = fake.state.refs.main as string;
    const expected = paths(320);
    fake.commit('feature', Object.fromEntries(expected.map((p) => [p, 'x: 1\n'])));
    fake.commit('main', { 'docs/unrelated.md': 'later on main\n' });

    const changed = await gh.changedFiles('main', 'feature');

    expect(changed).toHaveLength(320);
    expect(changed).toEqual(expected);
    expect(changed).not.toContain('docs/unrelated.md');
    const trees = callsTo(fake, 'GET', '/git/trees/');
    expect(trees.map((c) => c.path.split('/').pop())).toEqual([base, 'feature']);
  });

  it('explains an unknown ref', async () => {
    const { gh } = await setup();
    const error = await rejection(gh.changedFiles('main', 'no-such-branch'));
    expect(error.status).toBe(404);
    expect(error.message).toContain(
      'Could not compare main...no-such-branch: GitHub answered 404 "Not Found"',
    );
    expect(error.message).toContain('`contents: read`');
  });
});

describe('fileAt', () => {
  it('reads a file at two refs, and undefined where it does not exist', async () => {
    const { fake, gh } = await setup();
    const before = fake.state.refs.main as string;
    const after = fake.commit('main', {
      'rollouts/web.yaml': WEB_V2,
      'rollouts/api.yaml': 'name: api ✓ 名前\n',
    });

    expect(await gh.fileAt('rollouts/web.yaml', before)).toBe(WEB_V1);
    expect(await gh.fileAt('rollouts/web.yaml', after)).toBe(WEB_V2);
    expect(await gh.fileAt('rollouts/web.yaml', 'main')).toBe(WEB_V2);
    expect(await gh.fileAt('rollouts/api.yaml', 'main')).toBe('name: api ✓ 名前\n');
    expect(await gh.fileAt('rollouts/api.yaml', before)).toBeUndefined();
    expect(await gh.fileAt('rollouts/missing.yaml', 'main')).toBeUndefined();
  });

  it('reads a file above the 1 MB the contents API inlines, through its blob', async () => {
    const { fake, gh } = await setup();
    const big = `# padding\n${'x'.repeat(1024 * 1024 + 10)}\n`;
    fake.commit('main', { 'big.yaml': big });
    expect(await gh.fileAt('big.yaml', 'main')).toBe(big);
    expect(callsTo(fake, 'GET', '/git/blobs/')).toHaveLength(1);
  });

  it('refuses a directory, and an unknown ref is an error rather than a missing file', async () => {
    const { gh } = await setup();
    await expect(gh.fileAt('rollouts', 'main')).rejects.toThrow(
      new ConfigurationError('rollouts at main is a directory, not a file.'),
    );
    const error = await rejection(gh.fileAt('rollouts/web.yaml', 'gone-branch'));
    expect(error.status).toBe(404);
    expect(error.githubMessage).toBe('No commit found for the ref gone-branch');
  });
});

describe('comments', () => {
  const MARKER = '<!-- eks-cluster-canary:plan:rollouts/web.yaml -->';

  it('creates the sticky comment once, then edits that same comment in place', async () => {
    const { fake, gh } = await setup();
    fake.commit('canary-10', { 'rollouts/web.yaml': WEB_V2 });
    const pr = fake.openPullRequest({ head: 'canary-10', title: 'web: 10% to green' });
    await gh.comment(pr, 'LGTM');

    const first = await gh.upsertStickyComment(pr, MARKER, `${MARKER}\nPlan: blue 100 → 90`);
    const second = await gh.upsertStickyComment(pr, MARKER, `${MARKER}\nPlan: blue 100 → 75`);

    expect(first.created).toBe(true);
    expect(second).toEqual({ id: first.id, url: first.url, created: false });
    expect(first.url).toBe(`https://github.com/acme/web-infra/pull/${pr}#issuecomment-${first.id}`);
    const comments = fake.state.comments.filter((c) => c.issueNumber === pr);
    expect(comments.map((c) => c.body)).toEqual(['LGTM', `${MARKER}\nPlan: blue 100 → 75`]);
    expect(callsTo(fake, 'PATCH', '/issues/comments/')).toHaveLength(1);
  });

  it('finds the sticky comment on a later page, and does not rewrite an unchanged body', async () => {
    const { fake, gh } = await setup({ maxPerPage: 30 });
    fake.commit('canary-10', { 'rollouts/web.yaml': WEB_V2 });
    const pr = fake.openPullRequest({ head: 'canary-10', title: 'web: 10% to green' });
    for (let i = 0; i < 35; i++) await gh.comment(pr, `chatter ${i}`);
    const sticky = await gh.comment(pr, `${MARKER}\nPlan v1`);

    const again = await gh.upsertStickyComment(pr, MARKER, `${MARKER}\nPlan v1`);

    expect(again).toEqual({ ...sticky, created: false });
    expect(callsTo(fake, 'GET', `/issues/${pr}/comments`).map((c) => c.query.page ?? '1')).toEqual([
      '1',
      '2',
    ]);
    expect(callsTo(fake, 'PATCH', '/issues/comments/')).toHaveLength(0);
    expect(fake.state.comments).toHaveLength(36);
  });

  it('a comment on a PR that does not exist is an explained 404', async () => {
    const { gh } = await setup();
    const error = await rejection(gh.comment(999, 'hello'));
    expect(error.message).toMatch(
      /^Could not comment on #999: GitHub answered 404 "Not Found"\. It does not exist/,
    );
  });
});

describe('openOrUpdatePullRequest', () => {
  const request = {
    branch: 'eks-cluster-canary/web',
    base: 'main',
    title: 'web: roll back to blue',
    body: 'The step to 25% failed; this puts the file back to the live weights.',
    commitMessage: 'web: weights back to blue 100',
    labels: ['rollout', 'rollback'],
  };

  it('creates the branch, one commit with every file, and the PR; then updates the same PR', async () => {
    const { fake, gh } = await setup();
    const mainTip = fake.state.refs.main as string;

    const first = await gh.openOrUpdatePullRequest({
      ...request,
      files: [
        { path: 'rollouts/web.yaml', content: WEB_V2 },
        { path: 'rollouts/notes/web.md', content: 'step 1\n' },
      ],
    });

    expect(first).toEqual({
      number: 1,
      url: 'https://github.com/acme/web-infra/pull/1',
      created: true,
    });
    const branchTip = fake.state.refs[request.branch] as string;
    expect(fake.git.commit(branchTip).parents).toEqual([mainTip]);
    expect(fake.git.commit(branchTip).message).toBe(request.commitMessage);
    expect(fake.fileAt(request.branch, 'rollouts/web.yaml')).toBe(WEB_V2);
    expect(fake.fileAt(request.branch, 'rollouts/notes/web.md')).toBe('step 1\n');
    expect(fake.fileAt(request.branch, 'README.md')).toBe('# infra\n');
    expect(fake.state.pulls).toMatchObject([
      {
        number: 1,
        state: 'open',
        head: request.branch,
        base: 'main',
        title: request.title,
        labels: ['rollout', 'rollback'],
      },
    ]);

    // main moves on; the second call rebuilds the branch on the new tip with the new content.
    const newMain = fake.commit('main', { 'docs/runbook.md': 'runbook\n' });
    const WEB_V3 = WEB_V2.replace('90', '75').replace('10', '25');
    const second = await gh.openOrUpdatePullRequest({
      ...request,
      title: 'web: roll back to blue (again)',
      files: [{ path: 'rollouts/web.yaml', content: WEB_V3 }],
    });

    expect(second).toEqual({ number: 1, url: first.url, created: false });
    const newTip = fake.state.refs[request.branch] as string;
    expect(fake.git.commit(newTip).parents).toEqual([newMain]);
    expect(fake.fileAt(request.branch, 'rollouts/web.yaml')).toBe(WEB_V3);
    expect(fake.fileAt(request.branch, 'docs/runbook.md')).toBe('runbook\n');
    expect(fake.state.pulls).toHaveLength(1);
    expect(fake.state.pulls[0]).toMatchObject({
      title: 'web: roll back to blue (again)',
      headSha: newTip,
      labels: ['rollout', 'rollback'],
    });
    expect(callsTo(fake, 'PATCH', `/git/refs/heads/${request.branch}`)).toHaveLength(1);
    expect(callsTo(fake, 'PATCH', '/git/refs/')[0]?.body).toMatchObject({
      sha: newTip,
      force: true,
    });
    expect(callsTo(fake, 'POST', '/pulls')).toHaveLength(1);
  });

  it('opens a new PR when the earlier one for the branch was closed', async () => {
    const { fake, gh } = await setup();
    await gh.openOrUpdatePullRequest({
      ...request,
      files: [{ path: 'rollouts/web.yaml', content: WEB_V2 }],
    });
    const closeCall = await fetch(`${fake.url}/repos/acme/web-infra/pulls/1`, {
      method: 'PATCH',
      headers: { authorization: `token ${TOKEN}` },
      body: JSON.stringify({ state: 'closed' }),
    });
    expect(closeCall.status).toBe(200);

    const again = await gh.openOrUpdatePullRequest({
      ...request,
      files: [{ path: 'rollouts/web.yaml', content: WEB_V2 }],
    });

    expect(again).toMatchObject({ number: 2, created: true });
    expect(fake.state.pulls.map((p) => [p.number, p.state])).toEqual([
      [1, 'closed'],
      [2, 'open'],
    ]);
  });

  it('explains a base branch that does not exist', async () => {
    const { gh } = await setup();
    const error = await rejection(
      gh.openOrUpdatePullRequest({
        ...request,
        base: 'master',
        files: [{ path: 'a.yaml', content: 'a\n' }],
      }),
    );
    expect(error.status).toBe(404);
    expect(error.message).toContain(
      'Could not read the branch master: GitHub answered 404 "Not Found"',
    );
  });

  it('turns a token without contents: write into the permission to add', async () => {
    const { fake, gh } = await setup({ permissions: { contents: 'read' } });
    const error = await rejection(
      gh.openOrUpdatePullRequest({
        ...request,
        files: [{ path: 'rollouts/web.yaml', content: WEB_V2 }],
      }),
    );
    expect(error.status).toBe(403);
    expect(error.githubMessage).toBe('Resource not accessible by integration');
    expect(error.message).toContain(
      `Could not write the files for ${request.branch}: GitHub answered 403 "Resource not accessible by integration". ` +
        "The token lacks a permission: add `contents: write` to the workflow's `permissions:` block",
    );
    expect(fake.state.pulls).toEqual([]);
  });
});

describe('pullRequestsForCommit', () => {
  it('lists the PR whose merge made the commit, and none for an unrelated commit', async () => {
    const { fake, gh } = await setup();
    fake.commit('canary-25', { 'rollouts/web.yaml': WEB_V2 });
    const pr = fake.openPullRequest({
      head: 'canary-25',
      title: 'web: 25% to green',
      labels: ['rollout/force'],
    });
    const merge = fake.mergePullRequest(pr);
    const unrelated = fake.commit('main', { 'docs/a.md': 'a\n' });

    expect(await gh.pullRequestsForCommit(merge)).toEqual([
      {
        number: pr,
        url: `https://github.com/acme/web-infra/pull/${pr}`,
        labels: ['rollout/force'],
      },
    ]);
    expect(await gh.pullRequestsForCommit(unrelated)).toEqual([]);
    expect(fake.fileAt('main', 'rollouts/web.yaml')).toBe(WEB_V2);
  });
});

describe('recordDeployment', () => {
  it('records the deployment and its final status', async () => {
    const { fake, gh } = await setup();
    const sha = fake.state.refs.main as string;

    const { id } = await gh.recordDeployment({
      ref: sha,
      environment: 'production/web',
      description: 'web: green 10%',
      state: 'success',
      logUrl: 'https://github.com/acme/web-infra/actions/runs/42',
    });

    expect(fake.state.deployments).toEqual([
      {
        id,
        ref: sha,
        sha,
        task: 'deploy',
        environment: 'production/web',
        description: 'web: green 10%',
        autoMerge: false,
        requiredContexts: [],
        transientEnvironment: false,
        productionEnvironment: true,
        statuses: [
          {
            id: expect.any(Number),
            state: 'success',
            description: 'web: green 10%',
            logUrl: 'https://github.com/acme/web-infra/actions/runs/42',
            environmentUrl: '',
          },
        ],
      },
    ]);
  });

  it('shortens a status description to the 140 characters GitHub accepts', async () => {
    const { fake, gh } = await setup();
    const description = `web: ${'green 10%, '.repeat(20)}`;
    await gh.recordDeployment({
      ref: 'main',
      environment: 'production',
      description,
      state: 'failure',
    });
    const [deployment] = fake.state.deployments;
    expect(deployment?.description).toBe(description);
    expect(deployment?.statuses[0]?.description).toBe(`${description.slice(0, 139)}…`);
    expect(deployment?.statuses[0]?.description).toHaveLength(140);
  });

  it('says which permission to add when the token may not write deployments', async () => {
    const { fake, gh } = await setup({ permissions: { deployments: 'read' } });
    const error = await rejection(
      gh.recordDeployment({
        ref: 'main',
        environment: 'production',
        description: 'd',
        state: 'failure',
      }),
    );
    expect(error.status).toBe(403);
    expect(error.message).toBe(
      'Could not record a deployment of main to production: GitHub answered 403 "Resource not accessible by integration". ' +
        "The token lacks a permission: add `deployments: write` to the workflow's `permissions:` block " +
        '(a job-level block replaces the workflow-level one, and every permission it does not list is none).',
    );
    expect(fake.state.deployments).toEqual([]);
  });
});

describe('authentication', () => {
  it('a wrong token is a 401 that says the token was rejected', async () => {
    const { gh } = await setup({}, 'ghs_not_the_right_one');
    const error = await rejection(gh.fileAt('rollouts/web.yaml', 'main'));
    expect(error.status).toBe(401);
    expect(error.message).toBe(
      'Could not read rollouts/web.yaml at main: GitHub answered 401 "Bad credentials". The token was rejected: ' +
        'check the token given to the action (the GITHUB_TOKEN or a personal or app token) is set and has not expired.',
    );
  });

  it('takes the API URL from GITHUB_API_URL when no baseUrl is given', async () => {
    const { fake } = await setup();
    const saved = process.env.GITHUB_API_URL;
    process.env.GITHUB_API_URL = fake.url;
    try {
      const gh = makeGitHub(TOKEN, REPO);
      expect(await gh.fileAt('README.md', 'main')).toBe('# infra\n');
    } finally {
      if (saved === undefined) delete process.env.GITHUB_API_URL;
      else process.env.GITHUB_API_URL = saved;
    }
  });
});
