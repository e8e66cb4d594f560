/** The GitHub stand-in answers like GitHub: statuses, messages, shapes, Link headers, auth. */
import { afterEach, describe, expect, it } from 'vitest';
import {
  startFakeGitHub,
  type FakeGitHub,
  type FakeGitHubOptions,
} from '../../sandbox/github/server.js';

const TOKEN = 'ghs_fake';
/** A response body: an object or a list of objects, read loosely in assertions. */
type Json = Record<string, unknown> & Record<string, unknown>[];
const fakes: FakeGitHub[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

async function start(options: Partial<FakeGitHubOptions> = {}) {
  const fake = await startFakeGitHub({
    owner: 'acme',
    repo: 'web-infra',
    token: TOKEN,
    files: { 'rollouts/web.yaml': 'name: web\n' },
    ...options,
  });
  fakes.push(fake);
  const api = async (method: string, path: string, body?: unknown, auth = `Bearer ${TOKEN}`) => {
    const res = await fetch(`${fake.url}/repos/acme/web-infra/${path}`, {
      method,
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: res.status,
      headers: res.headers,
      json: (await res.json()) as Json,
    };
  };
  return { fake, api };
}

describe('fake GitHub', () => {
  it('answers 401 without the token or with a wrong one, and accepts both token schemes', async () => {
    const { api } = await start();
    expect(await api('GET', 'git/ref/heads/main', undefined, '')).toMatchObject({
      status: 401,
      json: { message: 'Requires authentication' },
    });
    expect(await api('GET', 'git/ref/heads/main', undefined, 'token nope')).toMatchObject({
      status: 401,
      json: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' },
    });
    expect((await api('GET', 'git/ref/heads/main', undefined, `token ${TOKEN}`)).status).toBe(200);
  });

  it('models refs like GitHub: 404 for unknown, 422 for an existing one, force for non-fast-forward', async () => {
    const { fake, api } = await start();
    const main = fake.state.refs.main as string;
    expect(await api('GET', 'git/ref/heads/nope')).toMatchObject({
      status: 404,
      json: { message: 'Not Found' },
    });
    expect(await api('POST', 'git/refs', { ref: 'refs/heads/main', sha: main })).toMatchObject({
      status: 422,
      json: { message: 'Reference already exists' },
    });
    expect(
      await api('POST', 'git/refs', { ref: 'refs/heads/x', sha: 'f'.repeat(40) }),
    ).toMatchObject({
      status: 422,
      json: { message: 'Object does not exist' },
    });
    const side = fake.commit('side', { 'a.txt': 'a\n' });
    expect(await api('PATCH', 'git/refs/heads/main', { sha: side })).toMatchObject({ status: 200 });
    expect(await api('PATCH', 'git/refs/heads/side', { sha: main })).toMatchObject({
      status: 422,
      json: { message: 'Update is not a fast forward' },
    });
    expect(await api('PATCH', 'git/refs/heads/side', { sha: main, force: true })).toMatchObject({
      status: 200,
      json: { ref: 'refs/heads/side', object: { sha: main, type: 'commit' } },
    });
  });

  it("refuses a PR with no commits and a second PR for the same branch, with GitHub's errors", async () => {
    const { fake, api } = await start();
    fake.commit('empty', {}, 'nothing');
    await api('PATCH', 'git/refs/heads/empty', { sha: fake.state.refs.main, force: true });
    expect(await api('POST', 'pulls', { title: 't', head: 'empty', base: 'main' })).toMatchObject({
      status: 422,
      json: {
        message: 'Validation Failed',
        errors: [
          { resource: 'PullRequest', code: 'custom', message: 'No commits between main and empty' },
        ],
      },
    });
    fake.commit('feature', { 'a.txt': 'a\n' });
    expect(
      await api('POST', 'pulls', { title: 't', head: 'acme:feature', base: 'main' }),
    ).toMatchObject({
      status: 201,
      json: { number: 1, head: { ref: 'feature', label: 'acme:feature' }, base: { ref: 'main' } },
    });
    expect(await api('POST', 'pulls', { title: 't', head: 'feature', base: 'main' })).toMatchObject(
      {
        status: 422,
        json: { errors: [{ message: 'A pull request already exists for acme:feature.' }] },
      },
    );
    expect(await api('POST', 'pulls', { title: 't', head: 'nope', base: 'main' })).toMatchObject({
      status: 422,
      json: { errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }] },
    });
  });

  it('paginates lists with per_page, page and a Link header', async () => {
    const { fake, api } = await start();
    fake.commit('feature', { 'a.txt': 'a\n' });
    const pr = fake.openPullRequest({ head: 'feature', title: 't' });
    for (let i = 0; i < 5; i++) await api('POST', `issues/${pr}/comments`, { body: `c${i}` });

    const first = await api('GET', `issues/${pr}/comments?per_page=2`);
    expect(first.json.map((c) => c.body)).toEqual(['c0', 'c1']);
    const base = `${fake.url}/repos/acme/web-infra/issues/${pr}/comments`;
    expect(first.headers.get('link')).toBe(
      `<${base}?per_page=2&page=2>; rel="next", <${base}?per_page=2&page=3>; rel="last"`,
    );
    const last = await api('GET', `issues/${pr}/comments?per_page=2&page=3`);
    expect(last.json.map((c) => c.body)).toEqual(['c4']);
    expect(last.headers.get('link')).toContain('rel="prev"');
    expect(last.headers.get('link')).not.toContain('rel="next"');
    const all = await api('GET', `issues/${pr}/comments`);
    expect(all.json).toHaveLength(5);
    expect(all.headers.get('link')).toBeNull();
  });

  it('compares like GitHub: status, counts, files on page 1 only when paginated', async () => {
    const { fake, api } = await start();
    const base = fake.state.refs.main as string;
    fake.commit('feature', { 'a.txt': 'a\n' });
    fake.commit('feature', { 'rollouts/web.yaml': 'name: web\nweights: {}\n' });
    fake.commit('main', { 'b.txt': 'b\n' });

    const diverged = await api('GET', 'compare/main...feature?per_page=1');
    expect(diverged.json).toMatchObject({
      status: 'diverged',
      ahead_by: 2,
      behind_by: 1,
      total_commits: 2,
      merge_base_commit: { sha: base },
      files: [
        { filename: 'a.txt', status: 'added', additions: 1, deletions: 0 },
        { filename: 'rollouts/web.yaml', status: 'modified', additions: 2, deletions: 1 },
      ],
    });
    expect(diverged.json.commits).toHaveLength(1);
    expect(diverged.headers.get('link')).toContain('page=2>; rel="next"');
    const page2 = await api('GET', 'compare/main...feature?per_page=1&page=2');
    expect(page2.json).toMatchObject({
      files: [],
      commits: [{ commit: { message: 'Update files' } }],
    });

    expect((await api('GET', `compare/${base}...main`)).json).toMatchObject({
      status: 'ahead',
      ahead_by: 1,
    });
    expect((await api('GET', `compare/main...${base}`)).json).toMatchObject({
      status: 'behind',
      behind_by: 1,
    });
    expect((await api('GET', 'compare/main...main')).json).toMatchObject({
      status: 'identical',
      files: [],
    });
  });

  it('serves contents as GitHub does: base64 wrapped at 60, directories as lists, 404s', async () => {
    const { api } = await start({
      files: { 'rollouts/web.yaml': 'x'.repeat(100), 'rollouts/api.yaml': 'a\n' },
    });
    const file = await api('GET', 'contents/rollouts%2Fweb.yaml?ref=main');
    expect(file.json).toMatchObject({
      type: 'file',
      encoding: 'base64',
      name: 'web.yaml',
      path: 'rollouts/web.yaml',
      size: 100,
    });
    const lines = (file.json as unknown as { content: string }).content.split('\n');
    expect(lines[0]).toHaveLength(60);
    expect(Buffer.from(lines.join(''), 'base64').toString()).toBe('x'.repeat(100));
    const listing = await api('GET', 'contents/rollouts');
    expect(listing.json.map((e) => [e.name, e.type])).toEqual([
      ['api.yaml', 'file'],
      ['web.yaml', 'file'],
    ]);
    expect(await api('GET', 'contents/nope.yaml')).toMatchObject({
      status: 404,
      json: { message: 'Not Found' },
    });
    expect(await api('GET', 'contents/rollouts/web.yaml?ref=gone')).toMatchObject({
      status: 404,
      json: { message: 'No commit found for the ref gone' },
    });
  });

  it('scopes the token like a permissions: block, with the header GitHub sends', async () => {
    const { api } = await start({ permissions: { 'pull-requests': 'read', issues: 'none' } });
    expect((await api('GET', 'pulls')).status).toBe(200);
    const denied = await api('POST', 'issues/1/comments', { body: 'hi' });
    expect(denied).toMatchObject({
      status: 403,
      json: { message: 'Resource not accessible by integration' },
    });
    expect(denied.headers.get('x-accepted-github-permissions')).toBe(
      'issues=write; pull_requests=write',
    );
  });

  it('records every call, and marks earlier deployments inactive after a success', async () => {
    const { fake, api } = await start();
    const first = await api('POST', 'deployments', {
      ref: 'main',
      environment: 'production',
      auto_merge: false,
    });
    await api('POST', `deployments/${first.json.id}/statuses`, { state: 'success' });
    const second = await api('POST', 'deployments', {
      ref: 'main',
      environment: 'production',
      auto_merge: false,
    });
    await api('POST', `deployments/${second.json.id}/statuses`, { state: 'success' });
    expect(
      await api('POST', `deployments/${second.json.id}/statuses`, { state: 'done' }),
    ).toMatchObject({
      status: 422,
    });
    expect(await api('POST', 'deployments', { ref: 'nope' })).toMatchObject({
      status: 422,
      json: { message: 'No ref found for: nope' },
    });

    expect(fake.state.deployments.map((d) => d.statuses.map((s) => s.state))).toEqual([
      ['success', 'inactive'],
      ['success'],
    ]);
    expect(fake.calls[0]).toEqual({
      method: 'POST',
      path: '/repos/acme/web-infra/deployments',
      query: {},
      body: { ref: 'main', environment: 'production', auto_merge: false },
      status: 201,
    });
  });
});
