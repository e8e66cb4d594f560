/**
 * AWS STS in the sandbox (query protocol, XML): GetCallerIdentity, answering as the sandbox's
 * IAM user. Enough for code that checks which account it is about to touch.
 *
 * It also keeps the credentials the sandbox knows, with their secrets: the sandbox's own
 * (SANDBOX_ACCESS_KEY_ID) and any made by `createCredentials` for another IAM user or an assumed
 * role (session credentials). The EKS token webhook checks a token's SigV4 signature against
 * these, and GetCallerIdentity signed with one of them answers as its principal.
 */
import { randomBytes } from 'node:crypto';
import type { SandboxService, ServiceRequest, ServiceResponse } from '../core.js';
import { parseQueryBody, queryError, queryResponse, str } from '../query-protocol.js';

const NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
const VERSION = '2011-06-15';

export interface StsServiceOptions {
  accountId?: string;
  /** The caller's IAM ARN; default arn:aws:iam::<account>:user/sandbox. */
  callerArn?: string;
}

/** A credential the sandbox knows, and the principal it belongs to. */
export interface KnownCredential {
  accessKeyId: string;
  secretAccessKey: string;
  /** Present for session (assumed-role) credentials: tokens must carry the same one. */
  sessionToken?: string;
  /** What GetCallerIdentity answers: an IAM user ARN or an sts assumed-role ARN. */
  arn: string;
  /** AIDA… for a user; AROA…:<session> for an assumed role, as STS shows them. */
  userId: string;
  account: string;
}

const ASSUMED_ROLE = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]+)$/;
const IAM_USER = /^arn:aws[a-z-]*:iam::(\d{12}):user\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]+)$/;

export class StsService implements SandboxService {
  readonly signingName = 'sts';
  readonly accountId: string;
  readonly callerArn: string;
  /** An IAM user's unique id, as AWS shows it (AIDA + 17 characters). */
  readonly userId = 'AIDASANDBOXUSER0000001';
  private readonly credentials = new Map<string, KnownCredential>();

  constructor(options: StsServiceOptions = {}) {
    this.accountId = options.accountId ?? '123456789012';
    this.callerArn = options.callerArn ?? `arn:aws:iam::${this.accountId}:user/sandbox`;
  }

  /** Makes the sandbox know a credential (the sandbox's own is added by startSandbox). */
  addCredential(credential: KnownCredential): KnownCredential {
    this.credentials.set(credential.accessKeyId, credential);
    return credential;
  }

  /**
   * New credentials for an IAM user ARN (long-term, AKIA…) or an IAM role ARN (as if assumed:
   * ASIA… with a session token, answering as arn:aws:sts::<account>:assumed-role/<role>/<session>).
   */
  createCredentials(principalArn: string, sessionName = 'sandbox-session'): KnownCredential {
    const key = (prefix: string): string =>
      prefix + randomBytes(10).toString('hex').toUpperCase().slice(0, 16);
    const secretAccessKey = randomBytes(30).toString('base64').slice(0, 40);
    const role = ASSUMED_ROLE.exec(principalArn);
    if (role) {
      const [, account, name] = role as unknown as [string, string, string];
      return this.addCredential({
        accessKeyId: key('ASIA'),
        secretAccessKey,
        sessionToken: randomBytes(96).toString('base64'),
        arn: `arn:aws:sts::${account}:assumed-role/${name}/${sessionName}`,
        userId: `${key('AROA').slice(0, 21)}:${sessionName}`,
        account,
      });
    }
    const user = IAM_USER.exec(principalArn);
    if (user) {
      return this.addCredential({
        accessKeyId: key('AKIA'),
        secretAccessKey,
        arn: principalArn,
        userId: key('AIDA').slice(0, 21),
        account: user[1] as string,
      });
    }
    throw new Error(`createCredentials needs an IAM user or role ARN; got ${principalArn}`);
  }

  /** The credential with this access key id, if the sandbox knows it. */
  credential(accessKeyId: string): KnownCredential | undefined {
    return this.credentials.get(accessKeyId);
  }

  operationOf(req: ServiceRequest): string | undefined {
    return str(this.params(req), 'Action');
  }

  errorResponse(
    req: ServiceRequest,
    status: number,
    code: string,
    message: string,
  ): ServiceResponse {
    return queryError(NAMESPACE, status, code, message, req.requestId);
  }

  async handle(req: ServiceRequest, operation: string): Promise<ServiceResponse> {
    const params = this.params(req);
    const version = str(params, 'Version');
    if (version !== VERSION) {
      return this.errorResponse(
        req,
        400,
        'InvalidParameterValue',
        `The Version ${JSON.stringify(version ?? '')} is not supported; STS speaks ${VERSION}.`,
      );
    }
    if (operation !== 'GetCallerIdentity') {
      return this.errorResponse(
        req,
        400,
        'InvalidAction',
        `Could not find operation ${operation} for version ${VERSION} (the sandbox implements GetCallerIdentity).`,
      );
    }
    // Signed with a credential made by createCredentials: answer as its principal. Any other
    // key (tests sign with made-up ones) answers as the sandbox's user, as before.
    const key = /Credential=([^/,\s]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
    const known = key === undefined ? undefined : this.credentials.get(key);
    return queryResponse(
      NAMESPACE,
      'GetCallerIdentity',
      known
        ? { UserId: known.userId, Account: known.account, Arn: known.arn }
        : { UserId: this.userId, Account: this.accountId, Arn: this.callerArn },
      req.requestId,
    );
  }

  private params(req: ServiceRequest): ReturnType<typeof parseQueryBody> {
    const body = req.body.toString('utf8');
    return parseQueryBody(req.method === 'GET' ? req.query.toString() : body);
  }
}
