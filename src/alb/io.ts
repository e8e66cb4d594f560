/**
 * One route's reads and writes against the ELBv2 API, each bounded by an AbortSignal: the call
 * is handed the signal (the SDK then cuts the request off) and is also raced against it, so a
 * caller stops waiting the moment the signal aborts even between the SDK's retry attempts.
 */
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type Action,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { shortName } from '../aws/arn.js';
import { REQUEST_TIMEOUT_MS } from '../aws/clients.js';
import { untilAborted } from '../common/cancel.js';
import { ConfigurationError, errorMessage } from '../common/errors.js';
import type { RouteRef } from './forward.js';

export async function describeRoute(
  client: ElasticLoadBalancingV2Client,
  ref: RouteRef,
  signal?: AbortSignal,
): Promise<{ actions: Action[]; priority?: string }> {
  try {
    if (ref.kind === 'listener') {
      const out = await untilAborted(
        client.send(new DescribeListenersCommand({ ListenerArns: [ref.arn] }), {
          abortSignal: signal,
        }),
        signal,
      );
      const listener = out.Listeners?.[0];
      if (!listener) throw new ConfigurationError(`Listener ${ref.arn} was not found.`);
      return { actions: listener.DefaultActions ?? [] };
    }
    const out = await untilAborted(
      client.send(new DescribeRulesCommand({ RuleArns: [ref.arn] }), { abortSignal: signal }),
      signal,
    );
    const rule = out.Rules?.[0];
    if (!rule) throw new ConfigurationError(`Rule ${ref.arn} was not found.`);
    if (rule.IsDefault) {
      throw new ConfigurationError(
        `Rule ${ref.arn} is a listener's default rule, which ALB changes only through its listener: ` +
          `list the listener ARN under "listener:" instead.`,
      );
    }
    return { actions: rule.Actions ?? [], ...(rule.Priority ? { priority: rule.Priority } : {}) };
  } catch (e) {
    throw notFoundAsConfigurationError(e, ref);
  }
}

/**
 * Writes a route's actions. `signal` bounds how long we wait: a write cut off on our side may
 * still land in AWS later, which is why every restore reads its routes back (src/alb/restore.ts).
 */
export async function writeRoute(
  client: ElasticLoadBalancingV2Client,
  ref: RouteRef,
  actions: Action[],
  signal?: AbortSignal,
): Promise<void> {
  try {
    if (ref.kind === 'listener') {
      await untilAborted(
        client.send(new ModifyListenerCommand({ ListenerArn: ref.arn, DefaultActions: actions }), {
          abortSignal: signal,
        }),
        signal,
      );
    } else {
      await untilAborted(
        client.send(new ModifyRuleCommand({ RuleArn: ref.arn, Actions: actions }), {
          abortSignal: signal,
        }),
        signal,
      );
    }
  } catch (e) {
    if (signal?.aborted) throw e; // we stopped waiting: the caller says so in its own words
    const op = ref.kind === 'listener' ? 'ModifyListener' : 'ModifyRule';
    throw new Error(`${op} on ${describeRef(ref)} failed: ${awsErrorText(e)}`, { cause: e });
  }
}

export function notFoundAsConfigurationError(e: unknown, ref: RouteRef): unknown {
  const name = (e as { name?: string }).name;
  if (name === 'ListenerNotFoundException' || name === 'RuleNotFoundException') {
    return new ConfigurationError(
      `${describeRef(ref)} does not exist (${name}): check the ARN, the region and the account the credentials are for.`,
    );
  }
  return e;
}

/** An AWS error as "Code: message", with the SDK's attempt count when it retried. */
export function awsErrorText(e: unknown): string {
  const name = (e as { name?: string }).name;
  // The SDK's own wording names its HTTP handler and an option; say what happened instead.
  const message =
    name === 'TimeoutError'
      ? `AWS did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`
      : errorMessage(e);
  const attempts = (e as { $metadata?: { attempts?: number } }).$metadata?.attempts;
  const text =
    name && name !== 'Error' && !message.startsWith(name) ? `${name}: ${message}` : message;
  return attempts && attempts > 1 ? `${text} (after ${attempts} attempts)` : text;
}

/** An error from talking to AWS (an API error, a timeout, a dropped connection), not our bug. */
export function isAwsCallError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return (
    '$metadata' in e ||
    e.name === 'TimeoutError' ||
    typeof (e as NodeJS.ErrnoException).code === 'string'
  );
}

export function describeRef(ref: RouteRef): string {
  return `${ref.kind} ${shortName(ref.arn)}`;
}

export function describeArn(arn: string): string {
  return describeRef(refOf(arn));
}

export function refOf(arn: string): RouteRef {
  return { kind: arn.includes(':listener-rule/') ? 'rule' : 'listener', arn };
}
