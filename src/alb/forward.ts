/**
 * Pure functions over a route's actions: find its forward action, read its weights, and build
 * the action list that changes only the weights. Everything else on the route (other actions
 * such as authenticate-oidc, their order, stickiness, conditions) is kept as it is.
 */
import type { Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import { shortName } from '../aws/arn.js';

/** Target group ARN -> weight (ALB weights are integers 0-999). */
export type Weights = Record<string, number>;

/** Route ARN -> target group ARN -> weight: the shape of the `previous`/`applied` outputs. */
export type RouteWeights = Record<string, Weights>;

export interface RouteRef {
  kind: 'listener' | 'rule';
  arn: string;
}

/** A route as read from the ALB. `actions` is kept verbatim so a restore puts back exactly this. */
export interface LiveRoute {
  ref: RouteRef;
  actions: Action[];
  /** The weights of the route's single forward action, in the order the ALB lists them. */
  weights: Weights;
  /** Rules only: the rule's priority and conditions, for logs. */
  priority?: string;
}

/**
 * The weights of a route's forward action. Returns a sentence describing the problem when the
 * route does not have exactly one forward action over exactly `expectedTargetGroups`.
 */
export function readForwardWeights(
  ref: RouteRef,
  actions: readonly Action[],
  expectedTargetGroups: readonly string[],
): { weights: Weights } | { problem: string } {
  const where = `${ref.kind} ${ref.arn}`;
  const forwards = actions.filter((a) => a.Type === 'forward');
  if (forwards.length !== 1) {
    const found = actions.map(describeAction).join(', ') || 'no actions';
    return {
      problem:
        forwards.length === 0
          ? `The ${where} does not forward to target groups (it has: ${found}). ` +
            `Point it at a weighted forward action over the rollout's target groups first.`
          : `The ${where} has ${forwards.length} forward actions (${found}); ` +
            `an ALB route must have exactly one for its weights to be shifted.`,
    };
  }
  const forward = forwards[0] as Action;
  const weights = forwardWeights(forward);
  const live = Object.keys(weights);
  const unknown = live.filter((tg) => !expectedTargetGroups.includes(tg));
  const missing = expectedTargetGroups.filter((tg) => !live.includes(tg));
  if (unknown.length > 0 || missing.length > 0) {
    const parts: string[] = [];
    if (unknown.length > 0) {
      parts.push(
        `forwards to ${unknown.map(shortName).join(', ')} which the rollout does not know`,
      );
    }
    if (missing.length > 0) {
      parts.push(`does not forward to ${missing.map(shortName).join(', ')}`);
    }
    return {
      problem:
        `The ${where} ${parts.join(' and ')}. Its forward action must list exactly the rollout's ` +
        `target groups (${expectedTargetGroups.map(shortName).join(', ')}); add a missing one ` +
        `with weight 0, or remove the unknown one, outside the rollout, then run again. ` +
        `Live: ${formatWeights(weights)}.`,
    };
  }
  return { weights };
}

/** Weights of a forward action, in either of its two API forms. */
export function forwardWeights(forward: Action): Weights {
  const groups = forward.ForwardConfig?.TargetGroups;
  if (groups && groups.length > 0) {
    const weights: Weights = {};
    for (const g of groups) {
      if (g.TargetGroupArn) weights[g.TargetGroupArn] = g.Weight ?? 1;
    }
    return weights;
  }
  // The simple form (TargetGroupArn alone) sends everything to one target group.
  return forward.TargetGroupArn ? { [forward.TargetGroupArn]: 1 } : {};
}

/**
 * The route's action list with the forward action's weights set to `desired` and nothing else
 * changed, in the form ModifyListener / ModifyRule accept.
 */
export function withWeights(actions: readonly Action[], desired: Weights): Action[] {
  return actions.map((action) => {
    const copy = toWritableAction(action);
    if (action.Type !== 'forward') return copy;
    const current = action.ForwardConfig?.TargetGroups ?? [];
    const order = current.length > 0 ? current.map((g) => g.TargetGroupArn as string) : [];
    for (const tg of Object.keys(desired)) if (!order.includes(tg)) order.push(tg);
    // With more than one target group only ForwardConfig may be given: AWS rejects a top-level
    // TargetGroupArn next to a multi-group ForwardConfig.
    delete copy.TargetGroupArn;
    copy.ForwardConfig = {
      ...action.ForwardConfig,
      TargetGroups: order.map((tg) => ({ TargetGroupArn: tg, Weight: desired[tg] ?? 0 })),
    };
    return copy;
  });
}

/**
 * An action as read by Describe*, made fit to send back in Modify*. Describe never returns an
 * OIDC client secret, so the write says to keep the existing one.
 */
export function toWritableAction(action: Action): Action {
  const copy: Action = structuredClone(action);
  if (copy.AuthenticateOidcConfig) {
    delete copy.AuthenticateOidcConfig.ClientSecret;
    copy.AuthenticateOidcConfig.UseExistingClientSecret = true;
  }
  if (
    copy.Type === 'forward' &&
    copy.ForwardConfig?.TargetGroups?.length === 1 &&
    copy.TargetGroupArn
  ) {
    // Describe returns both forms for a single group; sending one is enough and always valid.
    delete copy.TargetGroupArn;
  }
  return copy;
}

export function sameWeights(a: Weights, b: Weights): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}

/** `web-blue=90, web-green=10`, in the order given. */
/** Names a target group for people: the rollout file's cluster name, else the ARN's short name. */
export type TargetGroupLabel = (targetGroupArn: string) => string;

export function formatWeights(weights: Weights, label: TargetGroupLabel = shortName): string {
  return Object.entries(weights)
    .map(([tg, w]) => `${label(tg)}=${w}`)
    .join(', ');
}

function describeAction(a: Action): string {
  if (a.Type === 'forward') return `forward to ${formatWeights(forwardWeights(a))}`;
  if (a.Type === 'redirect') return 'redirect';
  if (a.Type === 'fixed-response')
    return `fixed-response ${a.FixedResponseConfig?.StatusCode ?? ''}`.trim();
  return a.Type ?? 'unknown action';
}
