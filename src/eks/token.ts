/**
 * EKS authentication tokens, minted in-process the way `aws eks get-token` and
 * aws-iam-authenticator make them: a presigned STS GetCallerIdentity URL whose signature covers
 * the `x-k8s-aws-id` header (the cluster name), base64url-encoded without padding behind the
 * `k8s-aws-v1.` prefix. EKS's authenticator replays the URL against STS with that header set to
 * its own cluster name, so a token works on one cluster only, for 15 minutes from X-Amz-Date
 * whatever X-Amz-Expires says (the CLI writes 60; the authenticator accepts 0-900).
 */
import { createHash, createHmac, type BinaryLike } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Checksum, SourceData } from '@smithy/types';

export const TOKEN_PREFIX = 'k8s-aws-v1.';
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** How long EKS accepts a token, counted from its X-Amz-Date. */
export const TOKEN_LIFETIME_MS = 15 * 60_000;
/** What the CLI and aws-iam-authenticator put in X-Amz-Expires. */
export const PRESIGN_EXPIRES_SECONDS = 60;

export interface MintEksTokenOptions {
  clusterName: string;
  /** The STS region the URL is signed for (the cluster's region). */
  region: string;
  /** Session credentials (sessionToken) are honoured: the token carries X-Amz-Security-Token. */
  credentials: AwsCredentialIdentity;
  /** Injected clock, for tests. */
  now?: Date;
}

export interface EksToken {
  token: string;
  /** When a client should mint a new one: a minute before EKS stops accepting it. */
  expiresAt: Date;
}

export async function mintEksToken(options: MintEksTokenOptions): Promise<EksToken> {
  if (!/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/.test(options.clusterName)) {
    throw new Error(`not an EKS cluster name: ${JSON.stringify(options.clusterName)}`);
  }
  const now = options.now ?? new Date();
  const url = await presignGetCallerIdentity({
    region: options.region,
    credentials: options.credentials,
    clusterName: options.clusterName,
    signingDate: now,
    expiresIn: PRESIGN_EXPIRES_SECONDS,
  });
  return {
    token: TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url'),
    expiresAt: new Date(now.getTime() + TOKEN_LIFETIME_MS - 60_000),
  };
}

export interface PresignInput {
  region: string;
  credentials: AwsCredentialIdentity;
  clusterName: string;
  signingDate: Date;
  expiresIn: number;
  /** The STS host; default the regional endpoint sts.<region>.amazonaws.com. */
  host?: string;
  /** Query parameters besides the X-Amz-* ones; default Action and Version of GetCallerIdentity. */
  query?: Record<string, string>;
}

/**
 * The presigned GET https://sts.<region>.amazonaws.com/?Action=GetCallerIdentity&... URL. The
 * sandbox's verifier calls this too, to recompute a signature it was handed.
 */
export async function presignGetCallerIdentity(input: PresignInput): Promise<string> {
  const host = input.host ?? `sts.${input.region}.amazonaws.com`;
  const signer = new SignatureV4({
    service: 'sts',
    region: input.region,
    credentials: input.credentials,
    sha256: NodeSha256,
    uriEscapePath: true,
    applyChecksum: false,
  });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname: host,
      path: '/',
      query: input.query ?? { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host, [CLUSTER_ID_HEADER]: input.clusterName },
    },
    { expiresIn: input.expiresIn, signingDate: input.signingDate },
  );
  const params = Object.entries(signed.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : v == null ? [] : [[k, v]]))
    .map(([k, v]) => `${uriEscape(k as string)}=${uriEscape(v as string)}`)
    .join('&');
  return `https://${host}/?${params}`;
}

/** RFC 3986 escaping, as SigV4 canonicalises query strings. */
function uriEscape(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** SHA-256 (or HMAC-SHA-256 with a secret) on node:crypto, the Checksum SignatureV4 wants. */
class NodeSha256 implements Checksum {
  private hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    this.hash = this.fresh();
  }
  private fresh(): ReturnType<typeof createHash> | ReturnType<typeof createHmac> {
    if (this.secret === undefined) return createHash('sha256');
    const key = typeof this.secret === 'string' ? this.secret : toBinary(this.secret);
    return createHmac('sha256', key);
  }
}

function toBinary(data: Exclude<SourceData, string>): BinaryLike {
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}
