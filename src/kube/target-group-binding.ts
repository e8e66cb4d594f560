/**
 * Binding a cluster's target group: the TargetGroupBinding (AWS Load Balancer Controller,
 * elbv2.k8s.aws/v1beta1) that registers the ready endpoints of one Service port into the
 * target group. `targetType: ip` (pods are targets; no NodePort hop), never
 * `multiClusterTargetGroup`: that lets several clusters share one target group with traffic
 * spread evenly across them, which cannot be weighted, so a canary needs one group per cluster.
 */
import {
  DescribeTargetHealthCommand,
  type ElasticLoadBalancingV2Client,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ConfigurationError, ExplainedError } from '../common/errors.js';
import { KubeApiError, type KubeApi } from './api.js';
import { FIELD_MANAGER } from './argv.js';
import { listObjects, resourcePath, RESOURCES, type KubeClient } from './proxy.js';

export const TGB_API_VERSION = 'elbv2.k8s.aws/v1beta1';
export const TGB_RESOURCE = 'targetgroupbindings.elbv2.k8s.aws';

export interface BindingSpec {
  /** metadata.name: `<rollout name>-<cluster name>`. */
  name: string;
  namespace: string;
  serviceName: string;
  servicePort: number | string;
  targetGroupArn: string;
}

export function targetGroupBindingManifest(b: BindingSpec): Record<string, unknown> {
  return {
    apiVersion: TGB_API_VERSION,
    kind: 'TargetGroupBinding',
    metadata: {
      name: b.name,
      namespace: b.namespace,
      labels: { 'app.kubernetes.io/managed-by': FIELD_MANAGER },
    },
    spec: {
      serviceRef: { name: b.serviceName, port: b.servicePort },
      targetGroupARN: b.targetGroupArn,
      targetType: 'ip',
    },
  };
}

interface Tgb {
  kind?: string;
  metadata: { name: string; namespace: string };
  spec?: { targetGroupARN?: string; serviceRef?: { name?: string; port?: number | string } };
}

/**
 * Refuses a cluster that already binds a target group the rollout file gives to another
 * cluster (traffic for one cluster would reach another's pods), and a binding of ours whose
 * name is taken by one for another target group.
 */
export async function checkBindings(
  kube: KubeApi,
  binding: BindingSpec,
  foreign: { cluster: string; targetGroupArn: string }[],
): Promise<void> {
  let items: Tgb[];
  try {
    items = await listObjects<Tgb>(kube, RESOURCES.TargetGroupBinding);
  } catch (e) {
    // An API group the apiserver does not serve answers 404 for the list itself.
    if (e instanceof KubeApiError && e.status === 404) {
      throw new ConfigurationError(
        'This cluster has no TargetGroupBinding CRD (targetgroupbindings.elbv2.k8s.aws): install the AWS Load Balancer Controller (Helm chart eks/aws-load-balancer-controller) before sync-apps binds the target group.',
      );
    }
    throw new ExplainedError(
      `Listing ${TGB_RESOURCE} failed: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  for (const item of items) {
    const arn = item.spec?.targetGroupARN;
    const other = foreign.find((f) => f.targetGroupArn === arn);
    if (other) {
      throw new ConfigurationError(
        `TargetGroupBinding ${item.metadata.namespace}/${item.metadata.name} in this cluster binds the target group of cluster "${other.cluster}" (${arn}); the rollout file gives that group to "${other.cluster}". Delete that binding, or sync the cluster the file names.`,
      );
    }
    if (
      item.metadata.namespace === binding.namespace &&
      item.metadata.name === binding.name &&
      arn &&
      arn !== binding.targetGroupArn
    ) {
      throw new ConfigurationError(
        `TargetGroupBinding ${binding.namespace}/${binding.name} already binds ${arn}, not ${binding.targetGroupArn} as the rollout file says. A binding's target group cannot change; delete it first (its targets are deregistered).`,
      );
    }
  }
}

/** The Service the binding names has the port it names; a ConfigurationError otherwise. */
export async function checkService(kube: KubeApi, binding: BindingSpec): Promise<void> {
  let svc: { spec?: { ports?: { name?: string; port?: number }[] } } | undefined;
  try {
    svc = await kube.find(resourcePath(RESOURCES.Service, binding.namespace, binding.serviceName));
  } catch (e) {
    throw new ExplainedError(
      `Reading Service ${binding.namespace}/${binding.serviceName} failed: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (!svc) {
    throw new ConfigurationError(
      `Service ${binding.namespace}/${binding.serviceName}, which the rollout file names for this cluster's target group, is not in the cluster after the sync: fix service in the rollout file, or deploy the Service.`,
    );
  }
  const ports = svc.spec?.ports ?? [];
  if (!ports.some((p) => p.port === binding.servicePort || p.name === binding.servicePort)) {
    throw new ConfigurationError(
      `Service ${binding.namespace}/${binding.serviceName} has no port ${binding.servicePort} (it has ${ports.map((p) => (p.name ? `${p.name}:${p.port}` : String(p.port))).join(', ') || 'none'}); fix service.port in the rollout file.`,
    );
  }
}

/**
 * Creates or updates the binding (server-side apply, our field manager, as `kubectl apply
 * --server-side`); answers what was done. `serviceChecked` is checkService's run when the caller
 * started it already.
 */
export async function applyBinding(
  kube: KubeClient,
  binding: BindingSpec,
  serviceChecked?: Promise<void>,
): Promise<string> {
  await (serviceChecked ?? checkService(kube, binding));
  const path = resourcePath(RESOURCES.TargetGroupBinding, binding.namespace, binding.name);
  try {
    await kube.apply(path, targetGroupBindingManifest(binding), FIELD_MANAGER);
    return `TargetGroupBinding ${binding.namespace}/${binding.name} applied (server-side apply, field manager ${FIELD_MANAGER}).`;
  } catch (e) {
    throw new ExplainedError(
      `Applying TargetGroupBinding ${binding.namespace}/${binding.name} failed: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

export interface BoundTargets {
  /** Pod IPs of the Service's ready endpoints. */
  endpoints: string[];
  /** Target id:port -> state, for every target in the group. */
  targets: Record<string, string>;
  /** Healthy targets that are this cluster's endpoints. */
  healthyHere: number;
}

/** The Service's ready endpoint addresses (EndpointSlices). */
export async function serviceEndpoints(kube: KubeApi, binding: BindingSpec): Promise<string[]> {
  const items = await listObjects<{
    kind?: string;
    endpoints?: { addresses?: string[]; conditions?: { ready?: boolean } }[];
  }>(
    kube,
    RESOURCES.EndpointSlice,
    binding.namespace,
    `kubernetes.io/service-name=${binding.serviceName}`,
  );
  return items.flatMap((s) =>
    (s.endpoints ?? [])
      .filter((e) => e.conditions?.ready !== false)
      .flatMap((e) => e.addresses ?? []),
  );
}

export async function boundTargets(
  elbv2: ElasticLoadBalancingV2Client,
  kube: KubeApi,
  binding: BindingSpec,
): Promise<BoundTargets> {
  const endpoints = await serviceEndpoints(kube, binding);
  const out = await elbv2.send(
    new DescribeTargetHealthCommand({ TargetGroupArn: binding.targetGroupArn }),
  );
  return boundOf(endpoints, out.TargetHealthDescriptions ?? []);
}

function boundOf(endpoints: string[], descriptions: TargetHealthDescription[]): BoundTargets {
  const targets: Record<string, string> = {};
  let healthyHere = 0;
  for (const d of descriptions) {
    const id = d.Target?.Id ?? '?';
    const state = d.TargetHealth?.State ?? 'unknown';
    targets[`${id}:${d.Target?.Port ?? ''}`] = d.TargetHealth?.Reason
      ? `${state} (${d.TargetHealth.Reason})`
      : state;
    if (state === 'healthy' && endpoints.includes(id)) healthyHere++;
  }
  return { endpoints, targets, healthyHere };
}

/** Polls until the target group has `minHealthy` healthy targets that are this cluster's pods. */
export async function waitForHealthyTargets(
  elbv2: ElasticLoadBalancingV2Client,
  kube: KubeApi,
  binding: BindingSpec,
  minHealthy: number,
  options: {
    timeoutMs: number;
    signal?: AbortSignal;
    sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
    now: () => number;
  },
): Promise<BoundTargets> {
  const deadline = options.now() + options.timeoutMs;
  let registered = 0;
  // The Service's endpoints last read, and when that read started.
  let known: { endpoints: string[]; at: number } | undefined;
  for (;;) {
    // Polls start every HEALTH_POLL_MS (REGISTERED_POLL_MS once enough targets are registered),
    // whatever the reads took.
    const polled = options.now();
    const every = registered >= minHealthy ? REGISTERED_POLL_MS : HEALTH_POLL_MS;
    const pause = () =>
      options.sleep(Math.max(0, every - (options.now() - polled)), options.signal);
    // The target group's health alone (one cheap call) until enough targets are registered;
    // from then on the Service's endpoints (a read through sync-apps' kubectl proxy) are read
    // beside it when the last read is older than ENDPOINTS_FRESH_MS, so the poll that sees
    // enough healthy targets can also tell they are this cluster's pods without a read of its own.
    const readEndpoints =
      registered >= minHealthy && (!known || polled - known.at >= ENDPOINTS_FRESH_MS);
    const [health, endpoints] = await Promise.all([
      elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: binding.targetGroupArn })),
      readEndpoints
        ? serviceEndpoints(kube, binding)
        : registered >= minHealthy
          ? known?.endpoints
          : undefined,
    ]);
    if (readEndpoints && endpoints) known = { endpoints, at: polled };
    const descriptions = health.TargetHealthDescriptions ?? [];
    registered = descriptions.filter((d) => d.TargetHealth?.State !== 'draining').length;
    const healthy = descriptions.filter((d) => d.TargetHealth?.State === 'healthy').length;
    const timedOut = options.now() >= deadline;
    if (healthy >= minHealthy || timedOut) {
      // A verdict of failure reads the endpoints afresh; a healthy one may use the last read.
      const bound =
        endpoints && (readEndpoints || !timedOut)
          ? boundOf(endpoints, descriptions)
          : await boundTargets(elbv2, kube, binding);
      if (bound.healthyHere >= minHealthy) return bound;
      if (!timedOut) {
        await pause();
        continue;
      }
      const listed =
        Object.entries(bound.targets)
          .map(([t, s]) => `${t} ${s}`)
          .join(', ') || 'no targets';
      throw new ExplainedError(
        `Target group ${binding.targetGroupArn} has ${bound.healthyHere} healthy target(s) from this cluster after ${Math.round(options.timeoutMs / 1000)} s; the analysis needs at least ${minHealthy}. ` +
          `Ready endpoints of Service ${binding.namespace}/${binding.serviceName}: ${bound.endpoints.join(', ') || 'none'}. Targets: ${listed}. ` +
          `Check the TargetGroupBinding's events (kubectl describe targetgroupbinding ${binding.name} -n ${binding.namespace}) and the target group's health check.`,
      );
    }
    await pause();
  }
}

/**
 * How often the target group's health is read while waiting. Health checks run every 5 s or
 * more, so this bounds the time between the targets turning healthy and sync-apps seeing it;
 * 2 calls a second are far inside ELB's DescribeTargetHealth bucket (40, then 10 a second).
 */
const HEALTH_POLL_MS = 500;
/**
 * How often once enough targets are registered: the wait is then for the health checks to pass,
 * and this bounds how late sync-apps sees them pass. 5 calls a second stay inside the bucket's
 * 10 a second (src/aws/pacing.ts paces every read to it anyway).
 */
const REGISTERED_POLL_MS = 200;
/**
 * How old the Service's endpoints may be for a poll to count healthy targets as this cluster's
 * pods without reading them again.
 */
const ENDPOINTS_FRESH_MS = 1_000;
