import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mintEksToken, TOKEN_PREFIX } from '../../src/eks/token.js';
import { execCredential } from '../../src/eks/exec-credential.js';
import { buildKubeconfig } from '../../src/eks/kubeconfig.js';
import { parse } from 'yaml';

const credentials = {
  accessKeyId: 'AKIAEXAMPLE000000001',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG',
};
const now = new Date('2026-11-30T18:00:00Z');

function decode(token: string): URL {
  expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
  const body = token.slice(TOKEN_PREFIX.length);
  expect(body).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, no padding
  return new URL(Buffer.from(body, 'base64url').toString('utf8'));
}

/** SigV4 for a presigned GET, written out from the AWS documentation, independent of smithy. */
function expectedSignature(url: URL, secret: string, clusterName: string): string {
  const params = [...url.searchParams].filter(([k]) => k !== 'X-Amz-Signature');
  const enc = (s: string): string =>
    encodeURIComponent(s).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    );
  const query = params
    .map(([k, v]) => [enc(k), enc(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonical = [
    'GET',
    '/',
    query,
    `host:${url.host}\nx-k8s-aws-id:${clusterName}\n`,
    'host;x-k8s-aws-id',
    createHash('sha256').update('').digest('hex'),
  ].join('\n');
  const date = url.searchParams.get('X-Amz-Date') as string;
  const scope = (url.searchParams.get('X-Amz-Credential') as string).split('/').slice(1).join('/');
  const toSign = [
    'AWS4-HMAC-SHA256',
    date,
    scope,
    createHash('sha256').update(canonical).digest('hex'),
  ].join('\n');
  let key: Buffer = Buffer.from(`AWS4${secret}`);
  for (const part of scope.split('/')) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(toSign).digest('hex');
}

describe('mintEksToken', () => {
  it('makes a k8s-aws-v1 token: a presigned STS GetCallerIdentity URL signed for the cluster name', async () => {
    const { token, expiresAt } = await mintEksToken({
      clusterName: 'blue',
      region: 'ap-northeast-1',
      credentials,
      now,
    });
    const url = decode(token);
    expect(url.origin).toBe('https://sts.ap-northeast-1.amazonaws.com');
    expect(url.pathname).toBe('/');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      Action: 'GetCallerIdentity',
      Version: '2011-06-15',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIAEXAMPLE000000001/20261130/ap-northeast-1/sts/aws4_request',
      'X-Amz-Date': '20261130T180000Z',
      'X-Amz-Expires': '60',
      'X-Amz-SignedHeaders': 'host;x-k8s-aws-id',
    });
    expect([...url.searchParams.keys()].sort()).toEqual(
      [
        'Action',
        'Version',
        'X-Amz-Algorithm',
        'X-Amz-Credential',
        'X-Amz-Date',
        'X-Amz-Expires',
        'X-Amz-Signature',
        'X-Amz-SignedHeaders',
      ].sort(),
    );
    expect(url.searchParams.get('X-Amz-Signature')).toBe(
      expectedSignature(url, credentials.secretAccessKey, 'blue'),
    );
    // A minute before the 15 minutes EKS allows.
    expect(expiresAt.toISOString()).toBe('2026-11-30T18:14:00.000Z');
  });

  it('carries the session token of session credentials, signed', async () => {
    const session = {
      ...credentials,
      accessKeyId: 'ASIAEXAMPLE000000001',
      sessionToken: 'IQoJb3JpZ2luX2Vj/+=token',
    };
    const { token } = await mintEksToken({
      clusterName: 'green',
      region: 'us-east-1',
      credentials: session,
      now,
    });
    const url = decode(token);
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe(session.sessionToken);
    expect(url.searchParams.get('X-Amz-Signature')).toBe(
      expectedSignature(url, session.secretAccessKey, 'green'),
    );
    expect(url.searchParams.get('X-Amz-Signature')).not.toBe(
      expectedSignature(url, session.secretAccessKey, 'blue'),
    );
  });

  it('refuses a name that is not an EKS cluster name', async () => {
    await expect(
      mintEksToken({ clusterName: 'no/slash', region: 'us-east-1', credentials, now }),
    ).rejects.toThrow('not an EKS cluster name');
  });
});

describe('execCredential (the kubeconfig exec plugin)', () => {
  it('prints an ExecCredential with the token and its expiry, from environment credentials', async () => {
    const out = JSON.parse(
      await execCredential(['--cluster', 'blue', '--region', 'ap-northeast-1'], {
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      }),
    ) as {
      kind: string;
      apiVersion: string;
      status: { token: string; expirationTimestamp: string };
    };
    expect(out.kind).toBe('ExecCredential');
    expect(out.apiVersion).toBe('client.authentication.k8s.io/v1beta1');
    expect(out.status.expirationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(decode(out.status.token).searchParams.get('X-Amz-Credential')).toMatch(
      /^AKIAEXAMPLE000000001\//,
    );
  });

  it('says which argument is missing', async () => {
    await expect(execCredential(['--region', 'us-east-1'], {})).rejects.toThrow(
      '--cluster is required',
    );
  });
});

describe('buildKubeconfig', () => {
  it('names the cluster endpoint and CA and an exec user that runs the minter', () => {
    const doc = parse(
      buildKubeconfig({
        clusterName: 'blue',
        region: 'ap-northeast-1',
        endpoint: 'https://127.0.0.1:6443',
        certificateAuthorityData: 'Q0E=',
        exec: { command: '/usr/bin/node', args: ['/x/eks-token.mjs'] },
      }),
    ) as {
      'current-context': string;
      clusters: Array<{ cluster: unknown }>;
      users: Array<{ user: { exec: unknown } }>;
    };
    expect(doc['current-context']).toBe('blue');
    expect(doc.clusters[0]?.cluster).toEqual({
      server: 'https://127.0.0.1:6443',
      'certificate-authority-data': 'Q0E=',
    });
    expect(doc.users[0]?.user.exec).toMatchObject({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      command: '/usr/bin/node',
      args: ['/x/eks-token.mjs', '--cluster', 'blue', '--region', 'ap-northeast-1'],
    });
  });
});
