/**
 * Actions and conditions: read from the query request, checked the way ELBv2 checks them,
 * and rendered back in the shape DescribeRules / DescribeListeners return.
 *
 * Checks that need other resources (does the target group exist, same VPC, same load
 * balancer) live in the store; this module checks what one request says on its own.
 */
import {
  type QueryObject,
  type XmlValue,
  has,
  obj,
  objectList,
  str,
  stringList,
} from '../query-protocol.js';
import {
  type Action,
  type Condition,
  type ConditionField,
  type ForwardConfig,
  checkArn,
  validation,
  ElbError,
} from './model.js';

const ACTION_TYPES = [
  'forward',
  'authenticate-oidc',
  'authenticate-cognito',
  'redirect',
  'fixed-response',
] as const;
const TERMINAL_TYPES = ['forward', 'redirect', 'fixed-response'];
const MAX_TARGET_GROUPS_PER_ACTION = 5;
const MAX_WEIGHT = 999;
const MAX_STICKINESS_SECONDS = 604_800;
const CONTENT_TYPES = [
  'text/plain',
  'text/css',
  'text/html',
  'application/javascript',
  'application/json',
];

/** AWS's generic constraint message, e.g. for `actions.1.member.order`. */
function constraint(value: string, at: string, rule: string): ElbError {
  return validation(
    `1 validation error detected: Value '${value}' at '${at}' failed to satisfy constraint: ${rule}`,
  );
}

function intIn(raw: string, at: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw)) throw constraint(raw, at, 'Member must be an integer');
  if (n < min) throw constraint(raw, at, `Member must have value greater than or equal to ${min}`);
  if (n > max) throw constraint(raw, at, `Member must have value less than or equal to ${max}`);
  return n;
}

/**
 * Reads `DefaultActions` / `Actions` and checks them as a set.
 * @param param the request parameter, which names the field in AWS's messages.
 */
export function parseActions(
  input: QueryObject,
  param: 'Actions' | 'DefaultActions',
  /** The actions being replaced (Modify*), whose OIDC client secret may be kept. */
  existing?: readonly Action[],
): Action[] {
  const fieldName = param === 'Actions' ? 'actions' : 'defaultActions';
  const raw = objectList(input, param);
  if (raw.length === 0) {
    throw constraint('[]', fieldName, 'Member must have length greater than or equal to 1');
  }
  const actions = raw.map((a, i) => parseAction(a, `${fieldName}.${i + 1}.member`));
  for (const a of actions) if (a.type === 'authenticate-oidc') resolveClientSecret(a, existing);

  const missingOrder = raw.some((a) => str(a, 'Order') === undefined);
  if (actions.length > 1 && missingOrder) {
    throw validation(
      'An action order must be specified for each action when a rule has more than one action',
    );
  }
  const seen = new Set<number>();
  for (const a of actions) {
    if (seen.has(a.order)) throw validation(`Action order '${a.order}' is used more than once`);
    seen.add(a.order);
  }
  actions.sort((a, b) => a.order - b.order);

  const terminal = actions.filter((a) => TERMINAL_TYPES.includes(a.type));
  if (terminal.length === 0) {
    throw validation(
      "A rule must include one action of type 'forward', 'redirect' or 'fixed-response'",
    );
  }
  if (terminal.length > 1) {
    throw validation(
      "A rule can have only one action of type 'forward', 'redirect' or 'fixed-response'",
    );
  }
  if (actions[actions.length - 1] !== terminal[0]) {
    throw validation(
      `The '${terminal[0]?.type}' action must be the last action to be performed; authenticate actions must come before it`,
    );
  }
  return actions;
}

function parseAction(a: QueryObject, at: string): Action {
  const type = str(a, 'Type') ?? '';
  if (!(ACTION_TYPES as readonly string[]).includes(type)) {
    throw constraint(
      type,
      `${at}.type`,
      `Member must satisfy enum value set: [${ACTION_TYPES.join(', ')}]`,
    );
  }
  const orderRaw = str(a, 'Order');
  const order = orderRaw === undefined ? 1 : intIn(orderRaw, `${at}.order`, 1, 50_000);
  const action: Action = { type: type as Action['type'], order };

  if (type === 'forward') {
    action.forward = parseForward(a);
  } else if (type === 'redirect') {
    const rc = obj(a, 'RedirectConfig');
    if (!rc) throw validation("A redirect configuration must be specified for a 'redirect' action");
    const statusCode = str(rc, 'StatusCode') ?? '';
    if (statusCode !== 'HTTP_301' && statusCode !== 'HTTP_302') {
      throw constraint(
        statusCode,
        `${at}.redirectConfig.statusCode`,
        'Member must satisfy enum value set: [HTTP_301, HTTP_302]',
      );
    }
    action.redirect = {
      protocol: str(rc, 'Protocol') ?? '#{protocol}',
      port: str(rc, 'Port') ?? '#{port}',
      host: str(rc, 'Host') ?? '#{host}',
      path: str(rc, 'Path') ?? '/#{path}',
      query: str(rc, 'Query') ?? '#{query}',
      statusCode,
    };
  } else if (type === 'fixed-response') {
    const fc = obj(a, 'FixedResponseConfig');
    if (!fc) {
      throw validation(
        "A fixed-response configuration must be specified for a 'fixed-response' action",
      );
    }
    const statusCode = str(fc, 'StatusCode') ?? '';
    if (!/^(2|4|5)\d\d$/.test(statusCode)) {
      throw constraint(
        statusCode,
        `${at}.fixedResponseConfig.statusCode`,
        'Member must satisfy regular expression pattern: ^(2|4|5)\\d\\d$',
      );
    }
    const contentType = str(fc, 'ContentType');
    if (contentType !== undefined && !CONTENT_TYPES.includes(contentType)) {
      throw validation(
        `Content type '${contentType}' must be one of '${CONTENT_TYPES.join(', ')}'`,
      );
    }
    const messageBody = str(fc, 'MessageBody');
    if (messageBody !== undefined && messageBody.length > 1024) {
      throw constraint(
        `${messageBody.slice(0, 20)}…`,
        `${at}.fixedResponseConfig.messageBody`,
        'Member must have length less than or equal to 1024',
      );
    }
    action.fixedResponse = { statusCode, contentType, messageBody };
  } else {
    const key =
      type === 'authenticate-oidc' ? 'AuthenticateOidcConfig' : 'AuthenticateCognitoConfig';
    const config = obj(a, key);
    if (!config) throw validation(`An ${key} must be specified for an '${type}' action`);
    action.authenticateConfig = config;
  }
  return action;
}

const OIDC_REQUIRED = [
  'Issuer',
  'AuthorizationEndpoint',
  'TokenEndpoint',
  'UserInfoEndpoint',
  'ClientId',
];

/**
 * The OIDC client secret is write-only: Describe never returns it, so a Modify that resends an
 * authenticate-oidc action either gives the secret again or sets UseExistingClientSecret to
 * keep the stored one (API reference, AuthenticateOidcActionConfig). The flag is not stored.
 */
function resolveClientSecret(action: Action, existing: readonly Action[] | undefined): void {
  const config = action.authenticateConfig as Record<string, unknown>;
  for (const key of OIDC_REQUIRED) {
    if (config[key] === undefined) {
      throw validation(`A value for '${key}' must be specified for an 'authenticate-oidc' action`);
    }
  }
  const useExisting = config.UseExistingClientSecret === 'true';
  delete config.UseExistingClientSecret;
  if (useExisting && config.ClientSecret !== undefined) {
    throw new ElbError(
      'InvalidLoadBalancerAction',
      'You cannot both specify a client secret and set UseExistingClientSecret to true',
    );
  }
  if (useExisting) {
    const kept = existing?.find((a) => a.type === 'authenticate-oidc')?.authenticateConfig
      ?.ClientSecret;
    if (kept === undefined) {
      throw new ElbError(
        'InvalidLoadBalancerAction',
        'UseExistingClientSecret is true, but there is no existing authenticate-oidc client secret to use',
      );
    }
    config.ClientSecret = kept;
  } else if (config.ClientSecret === undefined) {
    throw validation(
      "A client secret must be specified for an 'authenticate-oidc' action, or UseExistingClientSecret set to true when modifying one",
    );
  }
}

function parseForward(a: QueryObject): ForwardConfig {
  const single = str(a, 'TargetGroupArn');
  const fc = obj(a, 'ForwardConfig');
  if (single !== undefined) checkArn(single, 'targetgroup');
  const tuples = objectList(fc, 'TargetGroups');
  if (single === undefined && tuples.length === 0) {
    throw validation("A target group ARN must be specified for a 'forward' action");
  }
  if (tuples.length > MAX_TARGET_GROUPS_PER_ACTION) {
    throw validation(
      `You cannot specify more than '${MAX_TARGET_GROUPS_PER_ACTION}' target groups in a forward action`,
    );
  }
  const targetGroups = tuples.map((t) => {
    const arn = str(t, 'TargetGroupArn') ?? '';
    checkArn(arn, 'targetgroup');
    const rawWeight = str(t, 'Weight');
    const weight = rawWeight === undefined ? 1 : Number(rawWeight);
    if (!Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT) {
      throw validation('The weight for each target group must be between 0 and 999, inclusive');
    }
    return { targetGroupArn: arn, weight };
  });
  const seen = new Set<string>();
  for (const t of targetGroups) {
    if (seen.has(t.targetGroupArn)) {
      throw validation(
        `Target group '${t.targetGroupArn}' cannot be specified more than once in a forward action`,
      );
    }
    seen.add(t.targetGroupArn);
  }
  if (single !== undefined && targetGroups.length > 0) {
    if (targetGroups.length > 1 || targetGroups[0]?.targetGroupArn !== single) {
      throw validation(
        "If you specify both 'TargetGroupArn' and 'ForwardConfig', 'ForwardConfig' can contain only the target group given in 'TargetGroupArn'",
      );
    }
  }
  if (targetGroups.length === 0 && single !== undefined) {
    targetGroups.push({ targetGroupArn: single, weight: 1 });
  }

  const sc = obj(fc, 'TargetGroupStickinessConfig');
  const enabled = str(sc, 'Enabled') === 'true';
  const rawDuration = str(sc, 'DurationSeconds');
  const durationSeconds = rawDuration === undefined ? undefined : Number(rawDuration);
  if (
    (durationSeconds !== undefined || enabled) &&
    (durationSeconds === undefined ||
      !Number.isInteger(durationSeconds) ||
      durationSeconds < 1 ||
      durationSeconds > MAX_STICKINESS_SECONDS)
  ) {
    throw validation('Target group stickiness duration must be between 1 and 604800 seconds');
  }
  return { targetGroups, stickiness: { enabled, durationSeconds } };
}

const CONDITION_FIELDS: ConditionField[] = [
  'http-header',
  'http-request-method',
  'host-header',
  'path-pattern',
  'query-string',
  'source-ip',
];
const CONFIG_KEY: Record<ConditionField, string> = {
  'path-pattern': 'PathPatternConfig',
  'host-header': 'HostHeaderConfig',
  'http-header': 'HttpHeaderConfig',
  'http-request-method': 'HttpRequestMethodConfig',
  'query-string': 'QueryStringConfig',
  'source-ip': 'SourceIpConfig',
};
const MAX_CONDITION_VALUES = 5;

export function parseConditions(input: QueryObject): Condition[] {
  const conditions = objectList(input, 'Conditions').map(parseCondition);
  const total = conditions.reduce((n, c) => n + (c.queryString?.length ?? c.values.length), 0);
  if (total > MAX_CONDITION_VALUES) {
    throw validation(`A rule can only have '${MAX_CONDITION_VALUES}' condition values`);
  }
  for (const field of ['path-pattern', 'host-header', 'http-request-method', 'source-ip']) {
    if (conditions.filter((c) => c.field === field).length > 1) {
      throw validation(`A rule can only have one '${field}' condition`);
    }
  }
  return conditions;
}

function parseCondition(c: QueryObject): Condition {
  const field = str(c, 'Field') ?? '';
  if (!(CONDITION_FIELDS as string[]).includes(field)) {
    throw validation(
      `Condition field '${field}' must be one of '[${CONDITION_FIELDS.join(', ')}]'`,
    );
  }
  const f = field as ConditionField;
  const legacy = has(c, 'Values');
  const config = obj(c, CONFIG_KEY[f]);
  if (legacy && config) {
    throw validation(
      `You cannot specify both 'Values' and '${CONFIG_KEY[f]}' for the '${f}' condition`,
    );
  }
  if (legacy && f !== 'path-pattern' && f !== 'host-header') {
    throw validation(`You must specify a '${CONFIG_KEY[f]}' for the '${f}' condition`);
  }
  const condition: Condition = { field: f, values: [] };
  if (f === 'query-string') {
    condition.queryString = objectList(config, 'Values').map((kv) => ({
      key: str(kv, 'Key'),
      value: str(kv, 'Value') ?? '',
    }));
    if (condition.queryString.length === 0) {
      throw validation("A 'query-string' condition must have at least one value");
    }
    return condition;
  }
  condition.values = legacy ? stringList(c, 'Values') : stringList(config, 'Values');
  if (f === 'http-header') {
    const name = str(config, 'HttpHeaderName');
    if (!name)
      throw validation("An HTTP header name must be specified for the 'http-header' condition");
    condition.httpHeaderName = name;
  }
  if (condition.values.length === 0) {
    throw validation(`A '${f}' condition must have at least one value`);
  }
  return condition;
}

/** An action as DescribeRules / DescribeListeners return it. */
export function actionXml(a: Action): XmlValue {
  const out: Record<string, XmlValue> = { Type: a.type };
  if (a.forward) {
    const tgs = a.forward.targetGroups;
    // ALB reports the single target group both ways, as it does for `TargetGroupArn` input.
    if (tgs.length === 1) out.TargetGroupArn = tgs[0]?.targetGroupArn;
    out.ForwardConfig = {
      TargetGroups: tgs.map((t) => ({ TargetGroupArn: t.targetGroupArn, Weight: t.weight })),
      TargetGroupStickinessConfig: {
        Enabled: a.forward.stickiness.enabled,
        DurationSeconds: a.forward.stickiness.durationSeconds,
      },
    };
  }
  out.Order = a.order;
  if (a.redirect) {
    out.RedirectConfig = {
      Protocol: a.redirect.protocol,
      Port: a.redirect.port,
      Host: a.redirect.host,
      Path: a.redirect.path,
      Query: a.redirect.query,
      StatusCode: a.redirect.statusCode,
    };
  }
  if (a.fixedResponse) {
    out.FixedResponseConfig = {
      MessageBody: a.fixedResponse.messageBody,
      StatusCode: a.fixedResponse.statusCode,
      ContentType: a.fixedResponse.contentType,
    };
  }
  if (a.authenticateConfig) {
    const key =
      a.type === 'authenticate-oidc' ? 'AuthenticateOidcConfig' : 'AuthenticateCognitoConfig';
    // The client secret is write-only in the real API.
    const { ClientSecret: _secret, ...shown } = a.authenticateConfig;
    out[key] = shown as XmlValue;
  }
  return out;
}

export function conditionXml(c: Condition): XmlValue {
  const out: Record<string, XmlValue> = { Field: c.field };
  if (c.field === 'path-pattern' || c.field === 'host-header') out.Values = c.values;
  switch (c.field) {
    case 'path-pattern':
      out.PathPatternConfig = { Values: c.values };
      break;
    case 'host-header':
      out.HostHeaderConfig = { Values: c.values };
      break;
    case 'http-header':
      out.HttpHeaderConfig = { HttpHeaderName: c.httpHeaderName, Values: c.values };
      break;
    case 'http-request-method':
      out.HttpRequestMethodConfig = { Values: c.values };
      break;
    case 'query-string':
      out.QueryStringConfig = {
        Values: (c.queryString ?? []).map((kv) => ({ Key: kv.key, Value: kv.value })),
      };
      break;
    case 'source-ip':
      out.SourceIpConfig = { Values: c.values };
      break;
  }
  return out;
}
