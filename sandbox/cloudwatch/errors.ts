/**
 * A CloudWatch error as the service returns it. `code` is the awsQuery error code
 * (`ValidationError`, `InvalidParameterValue`, ...), which the JSON protocol carries in the
 * `x-amzn-query-error` header; `type` is the modeled shape name that goes in `__type`.
 */
export class CloudWatchError extends Error {
  override name = 'CloudWatchError';
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status = 400) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** awsQuery code → the JSON protocol's shape name (from the CloudWatch Smithy model). */
export const SHAPE_OF_CODE: Record<string, string> = {
  ValidationError: 'ValidationException',
  InvalidParameterValue: 'InvalidParameterValueException',
  InvalidParameterCombination: 'InvalidParameterCombinationException',
  MissingParameter: 'MissingRequiredParameterException',
  InvalidNextToken: 'InvalidNextToken',
  InternalServiceError: 'InternalServiceFault',
  LimitExceeded: 'LimitExceededFault',
};
