/**
 * AWS IAM in the sandbox (query protocol, XML), only what create-cluster needs: IAM OIDC
 * identity providers (CreateOpenIDConnectProvider, GetOpenIDConnectProvider,
 * ListOpenIDConnectProviders, DeleteOpenIDConnectProvider). IAM is global: providers are kept
 * per account, whatever region a request is signed for. Codes and messages are IAM's
 * (EntityAlreadyExists 409, NoSuchEntity 404, InvalidInput 400).
 */
import type { SandboxService, ServiceRequest, ServiceResponse } from '../core.js';
import {
  parseQueryBody,
  queryError,
  queryResponse,
  str,
  stringList,
  objectList,
  type XmlValue,
} from '../query-protocol.js';

const NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';
const VERSION = '2010-05-08';
const OPERATIONS = [
  'CreateOpenIDConnectProvider',
  'GetOpenIDConnectProvider',
  'ListOpenIDConnectProviders',
  'DeleteOpenIDConnectProvider',
];

export interface OidcProvider {
  arn: string;
  url: string;
  clientIds: string[];
  thumbprints: string[];
  tags: { Key: string; Value: string }[];
  createdAt: Date;
}

class IamError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class IamService implements SandboxService {
  readonly signingName = 'iam';
  private readonly accountId: string;
  /** By ARN. */
  readonly oidcProviders = new Map<string, OidcProvider>();

  constructor(options: { accountId?: string } = {}) {
    this.accountId = options.accountId ?? '123456789012';
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
    if (str(params, 'Version') !== VERSION) {
      return this.errorResponse(
        req,
        400,
        'InvalidParameterValue',
        `IAM speaks version ${VERSION}.`,
      );
    }
    if (!OPERATIONS.includes(operation)) {
      return this.errorResponse(
        req,
        400,
        'InvalidAction',
        `Could not find operation ${operation} for version ${VERSION} (the sandbox's IAM implements ${OPERATIONS.join(', ')}).`,
      );
    }
    try {
      return queryResponse(NAMESPACE, operation, this.run(operation, params), req.requestId);
    } catch (e) {
      if (e instanceof IamError) return this.errorResponse(req, e.status, e.code, e.message);
      throw e;
    }
  }

  private run(
    operation: string,
    params: ReturnType<typeof parseQueryBody>,
  ): Record<string, XmlValue> {
    switch (operation) {
      case 'CreateOpenIDConnectProvider': {
        const url = str(params, 'Url') ?? '';
        if (!/^https:\/\/[^\s/]+(\/[^\s]*)?$/.test(url) || url.length > 255) {
          throw new IamError(
            400,
            'InvalidInput',
            `Invalid URL: ${url}. The URL must begin with https://.`,
          );
        }
        const host = url.slice('https://'.length).replace(/\/$/, '');
        const arn = `arn:aws:iam::${this.accountId}:oidc-provider/${host}`;
        if (this.oidcProviders.has(arn)) {
          throw new IamError(
            409,
            'EntityAlreadyExists',
            `Provider with url ${url} already exists.`,
          );
        }
        const thumbprints = stringList(params, 'ThumbprintList');
        const bad = thumbprints.find((t) => !/^[0-9a-fA-F]{40}$/.test(t));
        if (bad !== undefined) {
          throw new IamError(
            400,
            'InvalidInput',
            `Thumbprint ${bad} is not a 40-character hex SHA-1.`,
          );
        }
        const clientIds = stringList(params, 'ClientIDList');
        const tags = objectList(params, 'Tags').map((t) => ({
          Key: str(t, 'Key') ?? '',
          Value: str(t, 'Value') ?? '',
        }));
        this.oidcProviders.set(arn, {
          arn,
          url: host,
          clientIds,
          thumbprints,
          tags,
          createdAt: new Date(),
        });
        return { OpenIDConnectProviderArn: arn, Tags: tags };
      }
      case 'GetOpenIDConnectProvider': {
        const p = this.provider(str(params, 'OpenIDConnectProviderArn'));
        return {
          Url: p.url,
          ClientIDList: p.clientIds,
          ThumbprintList: p.thumbprints,
          CreateDate: p.createdAt,
          Tags: p.tags,
        };
      }
      case 'ListOpenIDConnectProviders':
        return {
          OpenIDConnectProviderList: [...this.oidcProviders.keys()].map((Arn) => ({ Arn })),
        };
      case 'DeleteOpenIDConnectProvider': {
        const p = this.provider(str(params, 'OpenIDConnectProviderArn'));
        this.oidcProviders.delete(p.arn);
        return {};
      }
    }
    throw new Error(`no handler for ${operation}`);
  }

  private provider(arn: string | undefined): OidcProvider {
    const p = arn === undefined ? undefined : this.oidcProviders.get(arn);
    if (!p) {
      throw new IamError(
        404,
        'NoSuchEntity',
        `OpenIDConnect Provider not found for arn ${arn ?? ''}`,
      );
    }
    return p;
  }

  private params(req: ServiceRequest): ReturnType<typeof parseQueryBody> {
    return parseQueryBody(req.method === 'GET' ? req.query.toString() : req.body.toString('utf8'));
  }
}
