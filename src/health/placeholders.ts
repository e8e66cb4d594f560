/**
 * `{{name}}` placeholders in custom CloudWatch queries and PromQL, filled from the targets:
 * targetGroup / loadBalancer / baselineTargetGroup are CloudWatch dimension values
 * (`targetgroup/<name>/<id>`, `app/<name>/<id>`), cluster is the canary's EKS cluster name,
 * interval is the window length in Prometheus duration syntax (`60s`).
 */
import { ConfigurationError } from '../common/errors.js';

export type PlaceholderValues = Record<string, string | undefined>;

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

/** Why a known placeholder can be empty, for the error message. */
const UNAVAILABLE: Record<string, string> = {
  baselineTargetGroup:
    'there is no baseline target group (no cluster but the canary has weight, and no baseline target group was given)',
  cluster:
    'the canary has no EKS cluster name (it comes from the rollout file’s clusters.<name>.eks)',
  loadBalancer: 'the canary target group is not attached to any load balancer',
};

export function substitutePlaceholders(
  text: string,
  values: PlaceholderValues,
  where: string,
): string {
  return text.replace(PLACEHOLDER, (_whole, name: string) => {
    if (!(name in values)) {
      throw new ConfigurationError(
        `Unknown placeholder {{${name}}} in ${where}; known placeholders are ${Object.keys(values)
          .map((k) => `{{${k}}}`)
          .join(', ')}.`,
      );
    }
    const value = values[name];
    if (value === undefined) {
      throw new ConfigurationError(
        `Placeholder {{${name}}} in ${where} has no value: ${UNAVAILABLE[name] ?? 'it is not set'}.`,
      );
    }
    return value;
  });
}
