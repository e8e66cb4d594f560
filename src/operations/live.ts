/**
 * What the ALB has now for a rollout file, in the file's vocabulary (cluster names): the live
 * weights of every route and the target health of clusters. Reads only.
 */
import { untilAborted } from '../common/cancel.js';
import { readRoutes } from '../alb/shift.js';
import type { LiveRoute as AlbRoute, RouteRef } from '../alb/forward.js';
import { ConfigurationError, errorMessage } from '../common/errors.js';
import { describeTargetStates } from '../health/target-health.js';
import { parseRolloutFile } from '../rollout-file/parse.js';
import { clusterWeights, type ClusterWeights } from '../rollout-file/step.js';
import type { RolloutFile } from '../rollout-file/types.js';
import type { RolloutDeps } from './context.js';

export interface LiveRoute {
  ref: RouteRef;
  weights: ClusterWeights;
  /** The route exactly as read (its actions), so a shift can write from it without reading again. */
  read: AlbRoute;
}

export interface HealthPrecheck {
  cluster: string;
  targetGroup: string;
  healthy: number;
  required: number;
  /** The counts as people read them: `2 healthy, 0 unhealthy (1 initial)`. */
  shown: string;
  ok: boolean;
}

/** Parses a file's text, or the ConfigurationError that says why it is not a valid rollout file. */
export function tryParse(
  text: string,
  path: string,
): { file: RolloutFile } | { error: ConfigurationError } {
  try {
    return { file: parseRolloutFile(text, path) };
  } catch (e) {
    if (e instanceof ConfigurationError) return { error: e };
    throw e;
  }
}

/** Reads the live weights of the file's routes; an AWS or route problem becomes a sentence. */
export async function readLive(
  deps: Pick<RolloutDeps, 'aws' | 'signal'>,
  file: RolloutFile,
): Promise<{ routes: LiveRoute[] } | { problem: string }> {
  const tgs = file.clusters.map((c) => c.targetGroup);
  try {
    const routes = await readRoutes(deps.aws(file.region).elbv2, file.routes, tgs, deps.signal);
    return {
      routes: routes.map((r) => ({
        ref: r.ref,
        weights: clusterWeights(file, r.weights),
        read: r,
      })),
    };
  } catch (e) {
    if (e instanceof ConfigurationError || (e instanceof Error && '$metadata' in e)) {
      return { problem: `Could not read the live routes: ${errorMessage(e)}` };
    }
    throw e;
  }
}

/** The fewest healthy targets a cluster must have before it gains weight: the file's targetHealth checks, else 1. */
export function requiredHealthy(file: RolloutFile): number {
  const mins = file.analysis.checks.flatMap((c) =>
    c.kind === 'targetHealth' ? [c.minHealthy] : [],
  );
  return mins.length > 0 ? Math.max(...mins) : 1;
}

/** Target health of the given clusters, each judged against `required` healthy targets. */
export async function precheckTargetHealth(
  deps: Pick<RolloutDeps, 'aws' | 'signal'>,
  file: RolloutFile,
  clusters: readonly string[],
  required: number,
): Promise<HealthPrecheck[]> {
  const { elbv2 } = deps.aws(file.region);
  return Promise.all(
    clusters.map(async (name) => {
      const targetGroup = file.clusters.find((c) => c.name === name)?.targetGroup as string;
      // A read: stop waiting for it at the first signal.
      const c = await untilAborted(describeTargetStates(elbv2, targetGroup), deps.signal);
      const aside = [
        c.initial ? `${c.initial} initial` : '',
        c.draining ? `${c.draining} draining` : '',
        c.other ? `${c.other} other` : '',
      ].filter(Boolean);
      return {
        cluster: name,
        targetGroup,
        healthy: c.healthy,
        required,
        shown: `${c.healthy} healthy, ${c.unhealthy} unhealthy${aside.length ? ` (${aside.join(', ')})` : ''}`,
        ok: c.healthy >= required,
      };
    }),
  );
}

/** The sentence for a cluster that may not gain weight yet. */
export function healthProblem(h: HealthPrecheck): string {
  return (
    `${h.cluster} would gain weight but has ${h.healthy} healthy target${h.healthy === 1 ? '' : 's'} (${h.shown}); ` +
    `at least ${h.required} must be healthy before the shift. Check the pods and the TargetGroupBinding of ${h.cluster}.`
  );
}
