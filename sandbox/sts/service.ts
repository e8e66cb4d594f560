/**
 * AWS STS in the sandbox (query protocol, XML): GetCallerIdentity, answering as the sandbox's
 * IAM user. Enough for code that checks which account it is about to touch.
 */
import type { SandboxService, ServiceRequest, ServiceResponse } from '../core.js';
import { parseQueryBody, queryError, queryResponse, str } from '../query-protocol.js';

const NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
const VERSION = '2011-06-15';

export interface StsServiceOptions {
  accountId?: string;
  /** The caller's IAM ARN; default arn:aws:iam::<account>:user/sandbox. */
  callerArn?: string;
}

export class StsService implements SandboxService {
  readonly signingName = 'sts';
  readonly accountId: string;
  readonly callerArn: string;
  /** An IAM user's unique id, as AWS shows it (AIDA + 17 characters). */
  readonly userId = 'AIDASANDBOXUSER0000001';

  constructor(options: StsServiceOptions = {}) {
    this.accountId = options.accountId ?? '123456789012';
    this.callerArn = options.callerArn ?? `arn:aws:iam::${this.accountId}:user/sandbox`;
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
    return queryResponse(
      NAMESPACE,
      'GetCallerIdentity',
      { UserId: this.userId, Account: this.accountId, Arn: this.callerArn },
      req.requestId,
    );
  }

  private params(req: ServiceRequest): ReturnType<typeof parseQueryBody> {
    const body = req.body.toString('utf8');
    return parseQueryBody(req.method === 'GET' ? req.query.toString() : body);
  }
}
