/**
 * EKS authentication for the sandbox's clusters: kube-apiserver's token webhook
 * (--authentication-token-webhook-config-file) posts a TokenReview here, and the answer is what
 * EKS's authenticator would give. A `k8s-aws-v1.` token is a presigned STS GetCallerIdentity URL
 * (see src/eks/token.ts). aws-iam-authenticator checks its shape and then replays it against STS
 * with `x-k8s-aws-id: <its cluster>`; the sandbox is STS, so it checks the signature itself, with
 * the same inputs STS would use: the secret of the access key (from the sandbox's STS), the
 * session token the credential was issued with, and this cluster's name as x-k8s-aws-id. A token
 * for another cluster therefore fails exactly as on AWS: its signature does not match.
 *
 * The identity is then mapped as EKS maps it: access entries (API, API_AND_CONFIG_MAP) by the
 * canonical principal ARN (an assumed role becomes its role), and the aws-auth ConfigMap
 * (CONFIG_MAP, API_AND_CONFIG_MAP). Access policies become groups that a ClusterRoleBinding
 * created at cluster start binds to the matching built-in ClusterRole (see ACCESS_POLICY_ROLES).
 */
import { timingSafeEqual } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import {
  CLUSTER_ID_HEADER,
  TOKEN_LIFETIME_MS,
  TOKEN_PREFIX,
  presignGetCallerIdentity,
} from '../../src/eks/token.js';
import type { KnownCredential } from '../sts/service.js';

const MAX_TOKEN_BYTES = 4096;
/** The query parameters aws-iam-authenticator accepts (compared lower-case), and no others. */
const ALLOWED_PARAMS = new Set([
  'action',
  'version',
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-security-token',
  'x-amz-signature',
  'x-amz-signedheaders',
]);
const STS_HOST = /^sts(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$/;

export interface VerifiedIdentity {
  /** What STS's GetCallerIdentity would answer. */
  arn: string;
  /** The IAM ARN access entries are keyed by: an assumed role is its role. */
  canonicalArn: string;
  account: string;
  userId: string;
  sessionName?: string;
  accessKeyId: string;
}

export type VerifyResult = { ok: true; identity: VerifiedIdentity } | { ok: false; reason: string };

export interface VerifyOptions {
  clusterName: string;
  /** The credentials the sandbox knows (its STS). */
  credential(accessKeyId: string): KnownCredential | undefined;
  now?: Date;
  /**
   * Origins that are STS besides AWS's hosts: the sandbox's own endpoint, which is where
   * `aws eks get-token` presigns when AWS_ENDPOINT_URL points at the sandbox.
   */
  sandboxStsOrigins?: string[];
}

/** Checks a bearer token as EKS does; the reason says what was wrong, as the authenticator logs it. */
export async function verifyEksToken(token: string, options: VerifyOptions): Promise<VerifyResult> {
  const fail = (reason: string): VerifyResult => ({ ok: false, reason });
  if (token.length > MAX_TOKEN_BYTES) return fail('token is too large');
  if (!token.startsWith(TOKEN_PREFIX))
    return fail(`token is missing expected "${TOKEN_PREFIX}" prefix`);
  const encoded = token.slice(TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(encoded)) return fail('token is not base64url (unpadded)');
  let url: URL;
  try {
    url = new URL(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    return fail('token is not a URL');
  }
  const sandboxSts = (options.sandboxStsOrigins ?? []).includes(url.origin);
  if (url.protocol !== 'https:' && !sandboxSts) {
    return fail(`unexpected scheme "${url.protocol}" in pre-signed URL`);
  }
  if (!STS_HOST.test(url.host) && !sandboxSts) {
    return fail(`unexpected hostname "${url.host}" in pre-signed URL`);
  }
  if (url.pathname !== '/') return fail('unexpected path in pre-signed URL');

  const params = new Map<string, string>();
  const original: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    const lower = key.toLowerCase();
    if (!ALLOWED_PARAMS.has(lower)) return fail(`non-whitelisted query parameter "${key}"`);
    if (params.has(lower)) return fail(`duplicate query parameter found: "${key}"`);
    params.set(lower, value);
    original[key] = value;
  }
  if (params.get('action') !== 'GetCallerIdentity') {
    return fail('unexpected action parameter in pre-signed URL');
  }
  const signedHeaders = (params.get('x-amz-signedheaders') ?? '').split(';');
  if (!signedHeaders.some((h) => h.toLowerCase() === CLUSTER_ID_HEADER)) {
    return fail(`client did not sign the ${CLUSTER_ID_HEADER} header in the pre-signed URL`);
  }
  const expiresRaw = params.get('x-amz-expires') ?? '';
  const expires = /^\d+$/.test(expiresRaw) ? Number(expiresRaw) : NaN;
  if (!(expires >= 0 && expires <= 900)) {
    return fail(`invalid X-Amz-Expires parameter in pre-signed URL: ${expiresRaw}`);
  }
  const dateRaw = params.get('x-amz-date');
  if (!dateRaw) return fail('X-Amz-Date parameter must be present in pre-signed URL');
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(dateRaw);
  if (!m) return fail(`error parsing X-Amz-Date parameter ${dateRaw}`);
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const signedAt = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
  const now = options.now ?? new Date();
  if (now.getTime() > signedAt.getTime() + TOKEN_LIFETIME_MS) {
    return fail(`X-Amz-Date parameter is expired (15 minute expiration) ${signedAt.toISOString()}`);
  }

  // What STS checks when the authenticator replays the URL.
  const scope = /^([^/]+)\/(\d{8})\/([^/]+)\/sts\/aws4_request$/.exec(
    params.get('x-amz-credential') ?? '',
  );
  if (!scope) return fail('X-Amz-Credential is not a credential scope for sts');
  const [, accessKeyId, , region] = scope as unknown as [string, string, string, string];
  if (params.get('x-amz-algorithm') !== 'AWS4-HMAC-SHA256') {
    return fail('X-Amz-Algorithm must be AWS4-HMAC-SHA256');
  }
  const known = options.credential(accessKeyId);
  if (!known)
    return fail(
      `The security token included in the request is invalid (unknown access key ${accessKeyId})`,
    );
  const sessionToken = params.get('x-amz-security-token');
  if ((known.sessionToken ?? undefined) !== (sessionToken ?? undefined)) {
    return fail('The security token included in the request is invalid (session token mismatch)');
  }
  if (signedHeaders.some((h) => h !== 'host' && h !== CLUSTER_ID_HEADER)) {
    // The authenticator's request carries only host and x-k8s-aws-id: any other signed header
    // is missing when STS checks the signature.
    return fail('SignatureDoesNotMatch: the URL signs headers the authenticator does not send');
  }
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(original)) {
    if (!/^x-amz-/i.test(k)) query[k] = v;
  }
  const expected = await presignGetCallerIdentity({
    region,
    host: url.host,
    credentials: {
      accessKeyId: known.accessKeyId,
      secretAccessKey: known.secretAccessKey,
      ...(known.sessionToken !== undefined ? { sessionToken: known.sessionToken } : {}),
    },
    clusterName: options.clusterName,
    signingDate: signedAt,
    expiresIn: expires,
    query,
  });
  const want = Buffer.from(new URL(expected).searchParams.get('X-Amz-Signature') ?? '');
  const got = Buffer.from(params.get('x-amz-signature') ?? '');
  if (want.length !== got.length || !timingSafeEqual(want, got)) {
    return fail(
      'SignatureDoesNotMatch: the request signature we calculated does not match the signature you provided (a wrong secret, or a token for another cluster)',
    );
  }
  const role = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(known.arn);
  return {
    ok: true,
    identity: {
      arn: known.arn,
      canonicalArn: role ? `arn:${role[1]}:iam::${role[2]}:role/${role[3]}` : known.arn,
      account: known.account,
      userId: role ? (known.userId.split(':')[0] as string) : known.userId,
      ...(role ? { sessionName: role[4] as string } : {}),
      accessKeyId,
    },
  };
}

// ---- mapping an identity to a Kubernetes user ------------------------------------------------

export interface AccessEntryView {
  principalArn: string;
  username: string;
  kubernetesGroups: string[];
  /** Policy names (AmazonEKSClusterAdminPolicy, …) with their scope. */
  policies: Array<{ policyName: string; scopeType: string; namespaces: string[] }>;
}

export interface ClusterAccessView {
  authenticationMode: string;
  /** The IAM principal that created the cluster when it got admin (bootstrap). */
  creatorArn?: string;
  accessEntries: AccessEntryView[];
}

export interface KubernetesUser {
  username: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/**
 * The group an access policy association puts its principal in. Cluster scope only; the
 * ClusterRoleBinding that gives it meaning is created when the cluster starts.
 */
export function accessPolicyGroup(policyName: string): string {
  return `eks-access-policy:${policyName}`;
}
/** Access policies and the built-in ClusterRole each stands for (EKS documents these pairs). */
export const ACCESS_POLICY_ROLES: Record<string, string> = {
  AmazonEKSClusterAdminPolicy: 'cluster-admin',
  AmazonEKSAdminPolicy: 'admin',
  AmazonEKSEditPolicy: 'edit',
  AmazonEKSViewPolicy: 'view',
};

export interface AwsAuthMapping {
  arn: string;
  username?: string;
  groups: string[];
}

/** mapRoles and mapUsers of the aws-auth ConfigMap's data (YAML strings), parsed. */
export function parseAwsAuth(data: Record<string, string> | undefined): AwsAuthMapping[] {
  const out: AwsAuthMapping[] = [];
  const read = (text: string | undefined, key: 'rolearn' | 'userarn'): void => {
    if (!text) return;
    const list = parseYaml(text) as unknown;
    if (!Array.isArray(list)) return;
    for (const item of list as Array<Record<string, unknown>>) {
      const arn = item?.[key];
      if (typeof arn !== 'string') continue;
      out.push({
        arn,
        ...(typeof item.username === 'string' ? { username: item.username } : {}),
        groups: Array.isArray(item.groups)
          ? item.groups.filter((g): g is string => typeof g === 'string')
          : [],
      });
    }
  };
  read(data?.mapRoles, 'rolearn');
  read(data?.mapUsers, 'userarn');
  return out;
}

/** The Kubernetes user for an identity, or undefined when nothing maps it (401 on EKS too). */
export function mapIdentity(
  identity: VerifiedIdentity,
  access: ClusterAccessView,
  awsAuth: AwsAuthMapping[],
): KubernetesUser | undefined {
  const extra = {
    arn: [identity.arn],
    canonicalArn: [identity.canonicalArn],
    ...(identity.sessionName ? { sessionName: [identity.sessionName] } : {}),
    accessKeyId: [identity.accessKeyId],
  };
  const uid = `aws-iam-authenticator:${identity.account}:${identity.userId}`;
  const render = (template: string): string =>
    template
      .replaceAll('{{SessionName}}', identity.sessionName ?? '')
      .replaceAll('{{AccountID}}', identity.account)
      .replaceAll('{{SessionNameRaw}}', identity.sessionName ?? '');
  const mode = access.authenticationMode;
  if (mode === 'API' || mode === 'API_AND_CONFIG_MAP') {
    const entry = access.accessEntries.find((e) => e.principalArn === identity.canonicalArn);
    if (entry) {
      const groups = [
        ...entry.kubernetesGroups,
        ...entry.policies
          .filter((p) => p.scopeType === 'cluster' && p.policyName in ACCESS_POLICY_ROLES)
          .map((p) => accessPolicyGroup(p.policyName)),
        'system:authenticated',
      ];
      return { username: render(entry.username), uid, groups: [...new Set(groups)], extra };
    }
  }
  if (mode === 'CONFIG_MAP' || mode === 'API_AND_CONFIG_MAP') {
    if (mode === 'CONFIG_MAP' && access.creatorArn === identity.canonicalArn) {
      // EKS maps the creator to cluster admin without an aws-auth entry.
      return {
        username: 'kubernetes-admin',
        uid,
        groups: ['system:masters', 'system:authenticated'],
        extra,
      };
    }
    const mapping = awsAuth.find((m) => m.arn === identity.canonicalArn);
    if (mapping) {
      return {
        username: render(mapping.username ?? identity.canonicalArn),
        uid,
        groups: [...new Set([...mapping.groups, 'system:authenticated'])],
        extra,
      };
    }
  }
  return undefined;
}
