import { describe, expect, it } from 'vitest';
import { mintEksToken, presignGetCallerIdentity, TOKEN_PREFIX } from '../../src/eks/token.js';
import {
  mapIdentity,
  parseAwsAuth,
  verifyEksToken,
  type ClusterAccessView,
} from '../../sandbox/kube/authenticator.js';
import { StsService } from '../../sandbox/sts/service.js';

const sts = new StsService({ accountId: '111122223333' });
const user = sts.createCredentials('arn:aws:iam::111122223333:user/deployer');
const role = sts.createCredentials('arn:aws:iam::111122223333:role/ci/GitHubActions', 'run-42');
const now = new Date('2026-11-30T18:00:00Z');
const verify = (token: string, clusterName = 'blue', at = now) =>
  verifyEksToken(token, { clusterName, credential: (id) => sts.credential(id), now: at });
const mint = (
  creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = user,
  clusterName = 'blue',
) =>
  mintEksToken({ clusterName, region: 'ap-northeast-1', credentials: creds, now }).then(
    (t) => t.token,
  );
const wrap = (url: string): string => TOKEN_PREFIX + Buffer.from(url).toString('base64url');

describe('verifyEksToken', () => {
  it('accepts a token our minter made for this cluster, and names the principal', async () => {
    const result = await verify(await mint());
    expect(result).toEqual({
      ok: true,
      identity: expect.objectContaining({
        arn: 'arn:aws:iam::111122223333:user/deployer',
        canonicalArn: 'arn:aws:iam::111122223333:user/deployer',
        account: '111122223333',
        accessKeyId: user.accessKeyId,
      }),
    });
  });

  it('accepts session credentials and maps the assumed role to its role ARN', async () => {
    const result = await verify(await mint(role));
    expect(result.ok && result.identity).toMatchObject({
      arn: 'arn:aws:sts::111122223333:assumed-role/GitHubActions/run-42',
      canonicalArn: 'arn:aws:iam::111122223333:role/GitHubActions',
      sessionName: 'run-42',
    });
  });

  it('rejects a token for another cluster (the signature covers x-k8s-aws-id)', async () => {
    const result = await verify(await mint(user, 'green'), 'blue');
    expect(result).toEqual({ ok: false, reason: expect.stringContaining('SignatureDoesNotMatch') });
  });

  it('rejects a token signed with a wrong secret', async () => {
    const forged = await mint({ ...user, secretAccessKey: 'not-the-secret' });
    expect(await verify(forged)).toEqual({
      ok: false,
      reason: expect.stringContaining('SignatureDoesNotMatch'),
    });
  });

  it('rejects a token 15 minutes after its X-Amz-Date, not before', async () => {
    const token = await mint();
    expect((await verify(token, 'blue', new Date(now.getTime() + 14 * 60_000))).ok).toBe(true);
    expect(await verify(token, 'blue', new Date(now.getTime() + 15 * 60_000 + 1000))).toEqual({
      ok: false,
      reason: expect.stringContaining('X-Amz-Date parameter is expired'),
    });
  });

  it('rejects an access key the sandbox does not know, and a changed session token', async () => {
    const unknown = await mint({ accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' });
    expect(await verify(unknown)).toEqual({
      ok: false,
      reason: expect.stringContaining('unknown access key'),
    });
    const swapped = await mint({ ...role, sessionToken: 'another-session' });
    expect(await verify(swapped)).toEqual({
      ok: false,
      reason: expect.stringContaining('session token mismatch'),
    });
  });

  it('rejects parameters the authenticator does not allow, even when signed', async () => {
    const url = await presignGetCallerIdentity({
      region: 'ap-northeast-1',
      credentials: user,
      clusterName: 'blue',
      signingDate: now,
      expiresIn: 60,
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15', RoleArn: 'x' },
    });
    expect(await verify(wrap(url))).toEqual({
      ok: false,
      reason: 'non-whitelisted query parameter "RoleArn"',
    });
  });

  it('accepts a URL presigned for the sandbox endpoint only when told that origin is STS', async () => {
    // What `aws eks get-token` makes when AWS_ENDPOINT_URL points at the sandbox.
    const url = await presignGetCallerIdentity({
      region: 'ap-northeast-1',
      credentials: user,
      clusterName: 'blue',
      signingDate: now,
      expiresIn: 60,
      host: '127.0.0.1:4566',
    });
    const token = wrap(url.replace(/^https:/, 'http:'));
    expect(await verify(token)).toEqual({
      ok: false,
      reason: 'unexpected scheme "http:" in pre-signed URL',
    });
    const asSandbox = await verifyEksToken(token, {
      clusterName: 'blue',
      credential: (id) => sts.credential(id),
      now,
      sandboxStsOrigins: ['http://127.0.0.1:4566'],
    });
    expect(asSandbox.ok).toBe(true);
  });

  it('rejects a URL that does not sign x-k8s-aws-id, another action, host or scheme', async () => {
    const good = new URL(
      Buffer.from((await mint()).slice(TOKEN_PREFIX.length), 'base64url').toString(),
    );
    const variant = (f: (u: URL) => void): string => {
      const u = new URL(good);
      f(u);
      return wrap(u.toString());
    };
    expect(
      await verify(variant((u) => u.searchParams.set('X-Amz-SignedHeaders', 'host'))),
    ).toMatchObject({
      ok: false,
      reason: 'client did not sign the x-k8s-aws-id header in the pre-signed URL',
    });
    expect(await verify(variant((u) => u.searchParams.set('Action', 'AssumeRole')))).toMatchObject({
      reason: 'unexpected action parameter in pre-signed URL',
    });
    expect(await verify(variant((u) => (u.host = 'sts.evil.example.com')))).toMatchObject({
      reason: 'unexpected hostname "sts.evil.example.com" in pre-signed URL',
    });
    expect(await verify(variant((u) => u.searchParams.set('X-Amz-Expires', '901')))).toMatchObject({
      reason: 'invalid X-Amz-Expires parameter in pre-signed URL: 901',
    });
    expect(await verify('Bearer-ish')).toMatchObject({
      reason: 'token is missing expected "k8s-aws-v1." prefix',
    });
  });
});

describe('mapIdentity', () => {
  const identity = {
    arn: 'arn:aws:sts::111122223333:assumed-role/GitHubActions/run-42',
    canonicalArn: 'arn:aws:iam::111122223333:role/GitHubActions',
    account: '111122223333',
    userId: 'AROAEXAMPLE',
    sessionName: 'run-42',
    accessKeyId: 'ASIA1',
  };
  const api: ClusterAccessView = {
    authenticationMode: 'API',
    accessEntries: [
      {
        principalArn: 'arn:aws:iam::111122223333:role/GitHubActions',
        username: 'arn:aws:sts::111122223333:assumed-role/GitHubActions/{{SessionName}}',
        kubernetesGroups: ['deployers'],
        policies: [
          { policyName: 'AmazonEKSClusterAdminPolicy', scopeType: 'cluster', namespaces: [] },
        ],
      },
    ],
  };

  it('maps an access entry: its username template, groups and cluster-scoped policies', () => {
    expect(mapIdentity(identity, api, [])).toMatchObject({
      username: 'arn:aws:sts::111122223333:assumed-role/GitHubActions/run-42',
      uid: 'aws-iam-authenticator:111122223333:AROAEXAMPLE',
      groups: [
        'deployers',
        'eks-access-policy:AmazonEKSClusterAdminPolicy',
        'system:authenticated',
      ],
    });
  });

  it('finds nobody without an entry, and reads aws-auth only in the CONFIG_MAP modes', () => {
    const awsAuth = parseAwsAuth({
      mapRoles:
        '- rolearn: arn:aws:iam::111122223333:role/GitHubActions\n  username: ci:{{SessionName}}\n  groups: [system:masters]\n',
    });
    expect(mapIdentity(identity, { ...api, accessEntries: [] }, awsAuth)).toBeUndefined();
    expect(
      mapIdentity(identity, { authenticationMode: 'CONFIG_MAP', accessEntries: [] }, awsAuth),
    ).toMatchObject({
      username: 'ci:run-42',
      groups: ['system:masters', 'system:authenticated'],
    });
    expect(
      mapIdentity(identity, { authenticationMode: 'CONFIG_MAP', accessEntries: [] }, []),
    ).toBeUndefined();
  });
});
