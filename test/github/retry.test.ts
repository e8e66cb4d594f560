/**
 * Reads are retried on a server error; writes are not repeated (a write that failed with a 5xx
 * may still have happened). A bare HTTP server plays GitHub failing once, then answering.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { makeGitHub } from '../../src/github/octokit.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** Answers 502 to the first request of each method, then 200 with `body`. */
async function flakyGitHub(body: unknown): Promise<{ url: string; calls: string[] }> {
  const calls: string[] = [];
  const failed = new Set<string>();
  server = createServer((req, res) => {
    calls.push(`${req.method} ${req.url}`);
    req.resume();
    if (!failed.has(req.method as string)) {
      failed.add(req.method as string);
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Server Error' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server?.address() as AddressInfo).port}`, calls };
}

describe('GitHub API retries', () => {
  it('retries a read that failed with a server error', async () => {
    const { url, calls } = await flakyGitHub({
      type: 'file',
      encoding: 'base64',
      content: Buffer.from('weights: {}\n').toString('base64'),
    });
    const gh = makeGitHub('t0ken', { owner: 'acme', repo: 'infra' }, { baseUrl: url });
    expect(await gh.fileAt('rollouts/web.yaml', 'main')).toBe('weights: {}\n');
    expect(calls).toHaveLength(2);
  });

  it('does not repeat a write that failed with a server error', async () => {
    const { url, calls } = await flakyGitHub({ id: 1, html_url: 'https://github.com/x' });
    const gh = makeGitHub('t0ken', { owner: 'acme', repo: 'infra' }, { baseUrl: url });
    await expect(gh.comment(7, 'rolled back')).rejects.toThrow();
    expect(calls).toEqual(['POST /repos/acme/infra/issues/7/comments']);
  });
});

describe('GitHub rate limits', () => {
  it('waits out a secondary rate limit on a write and sends it once more (it was not carried out)', async () => {
    const calls: number[] = [];
    let refused = false;
    server = createServer((req, res) => {
      calls.push(Date.now());
      req.resume();
      if (!refused) {
        refused = true;
        // GitHub's secondary rate limit: 403 with retry-after, and this message.
        res.writeHead(403, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(
          JSON.stringify({
            message:
              'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
          }),
        );
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 9, html_url: 'https://github.com/acme/infra/pull/7#c9' }));
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server?.address() as AddressInfo).port}`;
    const gh = makeGitHub('ghs_x', { owner: 'acme', repo: 'infra' }, { baseUrl: url });
    const posted = await gh.comment(7, 'hello');
    expect(posted.id).toBe(9);
    expect(calls).toHaveLength(2);
    // It waited as GitHub asked before sending again.
    expect((calls[1] as number) - (calls[0] as number)).toBeGreaterThanOrEqual(900);
  });
});
