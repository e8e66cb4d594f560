/**
 * The `<target-group-arn>=<weight>` line format used by the `weights` and `expect` inputs.
 */
import { ConfigurationError } from '../common/errors.js';
import { isArnError, parseElbArn } from '../aws/arn.js';
import type { RouteRef, Weights } from './forward.js';

/** ALB's own limits for a target group weight in a forward action. */
export const MAX_ALB_WEIGHT = 999;

export function parseWeightLines(lines: readonly string[], input: string, region: string): Weights {
  const weights: Weights = {};
  const problems: string[] = [];
  lines.forEach((line, i) => {
    const where = `Input "${input}" line ${i + 1}`;
    const eq = line.lastIndexOf('=');
    if (eq < 0) {
      problems.push(`${where}: expected <target-group-arn>=<weight>, got "${line}".`);
      return;
    }
    const arn = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const parsed = parseElbArn(arn, 'targetgroup');
    if (isArnError(parsed)) {
      problems.push(`${where}: ${parsed.error}.`);
    } else if (parsed.region !== region) {
      problems.push(
        `${where}: target group ${arn} is in ${parsed.region}, but the region is ${region}.`,
      );
    }
    if (!/^\d+$/.test(value) || Number(value) > MAX_ALB_WEIGHT) {
      problems.push(
        `${where}: the weight must be an integer from 0 to ${MAX_ALB_WEIGHT}, got "${value}".`,
      );
    }
    if (arn in weights) problems.push(`${where}: target group ${arn} is listed twice.`);
    weights[arn] = Number(value);
  });
  if (lines.length === 0)
    problems.push(`Input "${input}" has no lines; give one <target-group-arn>=<weight> per line.`);
  if (problems.length === 0 && lines.length > 5) {
    problems.push(
      `Input "${input}" lists ${lines.length} target groups; an ALB forward action holds at most 5.`,
    );
  }
  if (problems.length === 0 && Object.values(weights).every((w) => w === 0)) {
    problems.push(
      `Input "${input}": every weight is 0, which would send traffic nowhere; give at least one target group a weight.`,
    );
  }
  if (problems.length > 0) throw new ConfigurationError(problems.join('\n'));
  return weights;
}

/** Listener and rule ARNs, one per line; the kind is told by the ARN. */
export function parseRouteLines(
  lines: readonly string[],
  input: string,
  region: string,
): RouteRef[] {
  const problems: string[] = [];
  const routes: RouteRef[] = [];
  lines.forEach((arn, i) => {
    const where = `Input "${input}" line ${i + 1}`;
    const kind = arn.includes(':listener-rule/') ? 'listener-rule' : 'listener';
    const parsed = parseElbArn(arn, kind);
    if (isArnError(parsed)) {
      problems.push(
        `${where}: ${parsed.error.replace('expected', 'expected a listener or rule ARN such as')}.`,
      );
      return;
    }
    if (parsed.region !== region) {
      problems.push(`${where}: ${arn} is in ${parsed.region}, but the region is ${region}.`);
      return;
    }
    if (routes.some((r) => r.arn === arn)) {
      problems.push(`${where}: ${arn} is listed twice.`);
      return;
    }
    routes.push({ kind: kind === 'listener' ? 'listener' : 'rule', arn });
  });
  if (lines.length === 0)
    problems.push(`Input "${input}" has no lines; give one listener or rule ARN per line.`);
  if (problems.length > 0) throw new ConfigurationError(problems.join('\n'));
  return routes;
}
