/**
 * An EKS error as the REST-JSON API returns it: the code in the `x-amzn-errortype` header, a
 * JSON body with `message` and whichever resource names the error shape carries
 * (`clusterName`, `nodegroupName`, `addonName`).
 */
export class EksError extends Error {
  override name = 'EksError';
  readonly code: string;
  readonly status: number;
  readonly fields: Record<string, string>;
  constructor(code: string, message: string, fields: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.status = STATUS_OF_CODE[code] ?? 400;
    this.fields = fields;
  }
}

/** HTTP status of each error, from the EKS Smithy model's httpError traits. */
export const STATUS_OF_CODE: Record<string, number> = {
  AccessDeniedException: 403,
  BadRequestException: 400,
  ClientException: 400,
  InvalidParameterException: 400,
  InvalidRequestException: 400,
  InvalidStateException: 400,
  NotFoundException: 404,
  ResourceInUseException: 409,
  ResourceLimitExceededException: 400,
  ResourceNotFoundException: 404,
  ResourcePropagationDelayException: 428,
  ServerException: 500,
  ServiceUnavailableException: 503,
  ThrottlingException: 429,
  UnsupportedAvailabilityZoneException: 400,
};
