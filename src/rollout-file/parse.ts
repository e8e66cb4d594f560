/**
 * Parsing and validating the rollout file (version 1; reference in docs/rollout-file.md).
 * One pass collects every problem with its file:line:col, so a PR shows them all at once.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar } from 'yaml';
import { isArnError, parseElbArn, type ElbArn } from '../aws/arn.js';
import { ConfigurationError, errorMessage } from '../common/errors.js';
import { DEFAULT_CLOUDWATCH_PERIOD_MS, isCloudWatchPeriod } from '../health/checks/cloudwatch.js';
import { defaultChecks, readChecks, type Check } from '../health/checks/index.js';
import { formatDuration } from '../common/duration.js';
import { closestMatch } from '../yaml/suggest.js';
import type {
  Analysis,
  ClusterSpec,
  RolloutFile,
  RouteRef,
  ServiceRef,
  Singletons,
} from './types.js';
import { YamlSource, optional, type At } from '../yaml/source.js';

/** The rollout file versions this release reads. */
export const SUPPORTED_VERSIONS: readonly number[] = [1];

export const MIN_CLUSTERS = 2;
/** An ALB forward action holds at most 5 target groups. */
export const MAX_CLUSTERS = 5;

export const ANALYSIS_DEFAULTS = {
  // No warmup by default, as Flagger, Argo Rollouts and Kayenta: targets are healthy before the
  // shift, the first CloudWatch window starts on the next whole minute anyway, and a clearly bad
  // canary can then fail early from its first requests (issue 14). A user whose app needs a
  // warm-up sets one; its errors are then not judged.
  warmupMs: 0,
  // ALB metrics in CloudWatch have 1-minute resolution; a shorter interval would judge windows
  // that hold a whole minute of data or none.
  intervalMs: DEFAULT_CLOUDWATCH_PERIOD_MS,
  durationMs: 300_000,
  failureLimit: 0,
} as const;

const TOP_LEVEL_KEYS = [
  'version',
  'name',
  'region',
  'clusters',
  'routes',
  'weights',
  'canary',
  'steps',
  'owner',
  'analysis',
  'singletons',
];
const CLUSTER_KEYS = ['eks', 'targetGroup', 'service'];
const SERVICE_KEYS = ['namespace', 'name', 'port'];
const SINGLETON_KEYS = ['namespaces', 'selector', 'drainTimeout', 'activeJobs'];
/** A Kubernetes namespace or Service name (RFC 1123 label). */
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A Service port name (IANA_SVC_NAME). */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,14}$/;
/** A label key: optional DNS prefix, then a name of up to 63 characters. */
const LABEL_KEY =
  /^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const ROUTE_KEYS = ['listener', 'rule'] as const;
const ANALYSIS_KEYS = ['warmup', 'interval', 'duration', 'failureLimit', 'failEarly', 'checks'];

/** Lowercase letters, digits and hyphens, starting with a letter: safe in branch names and labels. */
const NAME = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NAME_RULE =
  'up to 63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen';
/** EKS CreateCluster's rule for a cluster name. */
const EKS_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;

/** Parses and validates a rollout file; throws a ConfigurationError listing every problem. */
export function parseRolloutFile(text: string, path: string): RolloutFile {
  const src = new YamlSource(text, path, 'rollout file');
  const file = src.hasSyntaxErrors ? undefined : readRollout(src, path);
  if (!file || src.diagnostics.length > 0) throw src.toError();
  return file;
}

/** Reads and parses the rollout file at `path` (as given, it names the file in diagnostics). */
export async function readRolloutFile(path: string): Promise<RolloutFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigurationError(
        `Rollout file "${path}" does not exist; check the path (it is relative to the working directory, normally the repository root).`,
      );
    }
    if (code === 'EISDIR') {
      throw new ConfigurationError(
        `Rollout file "${path}" is a directory; give the path of one file, e.g. rollouts/web.yaml.`,
      );
    }
    if (code === 'EACCES') {
      throw new ConfigurationError(`Rollout file "${path}" cannot be read: ${errorMessage(e)}`);
    }
    throw e;
  }
  return parseRolloutFile(text, path);
}

/** Parses the YAML of verify-health's `checks` input: a list shaped like `analysis.checks`. */
export function parseChecks(text: string, sourceName: string): Check[] {
  const src = new YamlSource(text, sourceName, 'checks');
  let checks: Check[] | undefined;
  if (!src.hasSyntaxErrors) {
    const root = src.root('checks');
    if (root.node === null) {
      src.report(
        null,
        'No checks given; write a YAML list such as "- targetHealth: { minHealthy: 1 }".',
      );
    } else {
      checks = readChecks(src, root);
    }
  }
  if (!checks || src.diagnostics.length > 0) throw src.toError();
  return checks;
}

interface ClusterDraft {
  name: string;
  at: At;
  eks?: string;
  targetGroup?: ElbArn;
  targetGroupAt?: At;
  service?: ServiceRef;
}

interface RouteDraft {
  kind: RouteRef['kind'];
  arn: ElbArn;
  at: At;
}

function readRollout(src: YamlSource, path: string): RolloutFile | undefined {
  const root = src.root('');
  if (root.node === null) {
    src.report(
      null,
      'The rollout file is empty; it needs version, name, region, clusters, routes, weights, canary, steps and owner.',
    );
    return undefined;
  }
  const top = src.map(
    root,
    TOP_LEVEL_KEYS,
    'a map of settings (version, name, region, clusters, ...)',
  );
  if (!top) return undefined;

  const need = (key: string, what: string) => src.required(top, key, root, what);
  const versionAt = need(
    'version',
    `the file format; write "version: ${SUPPORTED_VERSIONS.join(' or ')}"`,
  );
  const nameAt = need('name', 'the service this file rolls out, e.g. "name: web"');
  const regionAt = need('region', 'the AWS region of the load balancer, e.g. "region: us-east-1"');
  const clustersAt = need('clusters', 'the EKS clusters and their target groups');
  const routesAt = need(
    'routes',
    'the listeners or listener rules that forward to the target groups',
  );
  const weightsAt = need('weights', 'the percent of traffic each cluster gets');
  const canaryAt = need('canary', 'the cluster being promoted');
  const stepsAt = need(
    'steps',
    'the canary weights to move through, e.g. "steps: [10, 25, 50, 100]"',
  );
  const ownerAt = need('owner', 'the cluster that runs CronJobs and singletons');

  const version = versionAt && readVersion(src, versionAt);
  const name = nameAt && readName(src, nameAt);
  const region = regionAt && readRegion(src, regionAt);
  const clusters = clustersAt && readClusters(src, clustersAt, region);
  const routes = routesAt && readRoutes(src, routesAt, region);
  checkAccounts(src, clusters ?? [], routes ?? []);
  const clusterNames = clusters?.map((c) => c.name);
  const weights = weightsAt && readWeights(src, weightsAt, clusterNames);
  const canary = canaryAt && readClusterName(src, canaryAt, clusterNames);
  const owner = ownerAt && readClusterName(src, ownerAt, clusterNames);
  const steps = stepsAt && readSteps(src, stepsAt);
  const singletonsAt = top.get('singletons');
  const singletons = singletonsAt && readSingletons(src, singletonsAt);
  const analysisAt = top.get('analysis');
  const analysis = analysisAt
    ? readAnalysis(src, analysisAt)
    : { ...ANALYSIS_DEFAULTS, checks: defaultChecks() };

  if (
    src.diagnostics.length > 0 ||
    version === undefined ||
    name === undefined ||
    region === undefined ||
    clusters === undefined ||
    routes === undefined ||
    weights === undefined ||
    canary === undefined ||
    owner === undefined ||
    steps === undefined ||
    analysis === undefined ||
    (singletonsAt !== undefined && singletons === undefined)
  ) {
    return undefined;
  }
  return {
    path,
    version,
    name,
    region,
    clusters: clusters.map((c): ClusterSpec => ({
      name: c.name,
      eks: c.eks as string,
      targetGroup: (c.targetGroup as ElbArn).arn,
      ...(c.service ? { service: c.service } : {}),
    })),
    routes: routes.map((r): RouteRef => ({ kind: r.kind, arn: r.arn.arn })),
    weights,
    canary,
    steps,
    owner,
    analysis,
    ...(singletons ? { singletons } : {}),
    locate: (p) => src.locate(p),
  };
}

function readVersion(src: YamlSource, at: At): 1 | undefined {
  const v = isScalar(at.node) ? at.node.value : undefined;
  if (v === 1) return 1;
  const supported = SUPPORTED_VERSIONS.join(', ');
  if (typeof v === 'number') {
    src.reportValue(at, `version ${v} is not supported; this release reads version ${supported}.`);
  } else {
    src.number(at, `the number ${supported}`);
  }
  return undefined;
}

function readName(src: YamlSource, at: At): string | undefined {
  const name = src.string(at);
  if (name !== undefined && !NAME.test(name)) {
    src.reportValue(at, `name "${name}" must be ${NAME_RULE}.`);
    return undefined;
  }
  return name;
}

function readRegion(src: YamlSource, at: At): string | undefined {
  const region = src.string(at, 'an AWS region name such as us-east-1');
  if (region !== undefined && !REGION.test(region)) {
    src.reportValue(
      at,
      `region "${region}" is not an AWS region name; write it like us-east-1 or ap-northeast-1.`,
    );
    return undefined;
  }
  return region;
}

function readClusters(
  src: YamlSource,
  at: At,
  region: string | undefined,
): ClusterDraft[] | undefined {
  const entries = src.map(at, undefined, 'a map of cluster names to { eks, targetGroup }');
  if (!entries) return undefined;
  if (entries.size < MIN_CLUSTERS) {
    src.reportEntry(
      at,
      `clusters declares ${entries.size}; a rollout needs at least ${MIN_CLUSTERS}: the one serving now and the one being promoted.`,
    );
  }
  const drafts: ClusterDraft[] = [];
  for (const [name, clusterAt] of entries) {
    const draft: ClusterDraft = { name, at: clusterAt };
    drafts.push(draft);
    if (drafts.length === MAX_CLUSTERS + 1) {
      src.reportEntry(
        clusterAt,
        `clusters declares ${entries.size}; an ALB forward action holds at most ${MAX_CLUSTERS} target groups, so at most ${MAX_CLUSTERS} clusters.`,
      );
    }
    if (!NAME.test(name)) {
      src.reportEntry(clusterAt, `Cluster name "${name}" must be ${NAME_RULE}.`);
    }
    const fields = src.map(clusterAt, CLUSTER_KEYS, 'a map with eks, targetGroup and service');
    if (!fields) continue;
    const serviceAt = fields.get('service');
    if (serviceAt) draft.service = readService(src, serviceAt);
    const eksAt = src.required(
      fields,
      'eks',
      clusterAt,
      'the EKS cluster name, used to deploy apps and hand off singletons',
    );
    const targetGroupAt = src.required(
      fields,
      'targetGroup',
      clusterAt,
      "the ARN of the target group this cluster's pods are registered in",
    );
    if (eksAt) {
      const eks = src.string(eksAt, 'an EKS cluster name');
      if (eks !== undefined && !EKS_NAME.test(eks)) {
        src.reportValue(
          eksAt,
          `${eksAt.label} "${eks}" is not a valid EKS cluster name: 1 to 100 letters, digits, hyphens and underscores, starting with a letter or digit.`,
        );
      } else if (eks !== undefined) {
        const twin = drafts.find((d) => d !== draft && d.eks === eks);
        if (twin) {
          src.reportValue(
            eksAt,
            `${eksAt.label} "${eks}" is also the EKS cluster of "${twin.name}"; each entry must be a different EKS cluster, or singletons would be stopped in the cluster that owns them.`,
          );
        } else draft.eks = eks;
      }
    }
    if (targetGroupAt) {
      draft.targetGroupAt = targetGroupAt;
      const arn = readArn(src, targetGroupAt, 'targetgroup', region);
      if (arn) {
        const twin = drafts.find((d) => d !== draft && d.targetGroup?.arn === arn.arn);
        if (twin) {
          const line = src.locate(['clusters', twin.name, 'targetGroup']).line;
          src.reportValue(
            targetGroupAt,
            `${targetGroupAt.label} is the target group of cluster "${twin.name}" too (line ${line}); each cluster needs its own target group.`,
          );
        } else draft.targetGroup = arn;
      }
    }
  }
  return drafts;
}

function readService(src: YamlSource, at: At): ServiceRef | undefined {
  const f = src.map(at, SERVICE_KEYS, 'a map { namespace, name, port } naming a Service');
  if (!f) return undefined;
  const namespaceAt = src.required(f, 'namespace', at, "the Service's namespace");
  const nameAt = src.required(f, 'name', at, "the Service's name");
  const portAt = src.required(f, 'port', at, 'the Service port: its number or its name');
  const namespace = namespaceAt && dnsLabel(src, namespaceAt, 'a namespace');
  const name = nameAt && dnsLabel(src, nameAt, 'a Service name');
  let port: number | string | undefined;
  if (portAt) {
    const v = isScalar(portAt.node) ? portAt.node.value : undefined;
    if (typeof v === 'number') port = src.integer(portAt, 1, 65535);
    else if (typeof v === 'string' && PORT_NAME.test(v)) port = v;
    else {
      src.reportValue(
        portAt,
        `${portAt.label} must be a port number (1 to 65535) or the name of a port of the Service (up to 15 lowercase letters, digits and hyphens), got ${JSON.stringify(v ?? null)}.`,
      );
    }
  }
  if (namespace === undefined || name === undefined || port === undefined) return undefined;
  return { namespace, name, port };
}

function dnsLabel(src: YamlSource, at: At, what: string): string | undefined {
  const v = src.string(at, what);
  if (v !== undefined && !DNS_LABEL.test(v)) {
    src.reportValue(
      at,
      `${at.label} "${v}" is not ${what} Kubernetes accepts: up to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit.`,
    );
    return undefined;
  }
  return v;
}

function readSingletons(src: YamlSource, at: At): Singletons | undefined {
  const f = src.map(
    at,
    SINGLETON_KEYS,
    'a map with namespaces (a list), selector (labels of singleton Deployments), drainTimeout and activeJobs',
  );
  if (!f) return undefined;
  const before = src.diagnostics.length;
  const result: Singletons = {};
  const namespacesAt = f.get('namespaces');
  if (namespacesAt) {
    const items = src.list(namespacesAt, 'a list of namespaces, e.g. [web, jobs]');
    if (items && items.length === 0) {
      src.reportValue(
        namespacesAt,
        `${namespacesAt.label} is empty; list the namespaces, or leave the key out for every namespace.`,
      );
    }
    const namespaces = (items ?? []).map((item) => dnsLabel(src, item, 'a namespace'));
    if (namespaces.every((n) => n !== undefined)) result.namespaces = namespaces;
  }
  const selectorAt = f.get('selector');
  if (selectorAt) {
    const entries = src.map(
      selectorAt,
      undefined,
      'a map of label keys to values, e.g. { app.kubernetes.io/singleton: "true" }',
    );
    if (entries && entries.size === 0) {
      src.reportValue(
        selectorAt,
        `${selectorAt.label} is empty, which would select every Deployment; give at least one label, or leave the key out.`,
      );
    }
    const selector: Record<string, string> = {};
    for (const [key, valueAt] of entries ?? []) {
      if (!LABEL_KEY.test(key)) {
        src.reportEntry(valueAt, `${valueAt.label}: "${key}" is not a Kubernetes label key.`);
        continue;
      }
      const v = isScalar(valueAt.node) ? valueAt.node.value : undefined;
      const text =
        typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
          ? String(v)
          : undefined;
      if (text === undefined || !LABEL_VALUE.test(text)) {
        src.reportValue(
          valueAt,
          `${valueAt.label} must be a label value (up to 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit), got ${describeValue(v)}.`,
        );
        continue;
      }
      selector[key] = text;
    }
    result.selector = selector;
  }
  const drainAt = f.get('drainTimeout');
  if (drainAt) {
    const ms = src.duration(drainAt, { positive: true });
    if (ms !== undefined) result.drainTimeoutMs = ms;
  }
  const activeJobsAt = f.get('activeJobs');
  if (activeJobsAt) {
    const v = isScalar(activeJobsAt.node) ? activeJobsAt.node.value : undefined;
    if (v === 'wait' || v === 'delete') result.activeJobs = v;
    else {
      src.reportValue(
        activeJobsAt,
        `${activeJobsAt.label} must be "wait" (a handoff waits for the old owner's running Jobs, up to drainTimeout) or "delete" (it deletes them), got ${describeValue(v)}.`,
      );
    }
  }
  return src.diagnostics.length > before ? undefined : result;
}

function describeValue(v: unknown): string {
  return v === undefined ? 'a list or map' : JSON.stringify(v);
}

function readRoutes(src: YamlSource, at: At, region: string | undefined): RouteDraft[] | undefined {
  const items = src.list(
    at,
    'a list of "- listener: <listener ARN>" or "- rule: <listener rule ARN>" items',
  );
  if (!items) return undefined;
  if (items.length === 0) {
    src.reportValue(
      at,
      'routes is empty; list at least one "- listener: <ARN>" or "- rule: <ARN>".',
    );
    return undefined;
  }
  const routes: RouteDraft[] = [];
  for (const item of items) {
    const v = isScalar(item.node) ? item.node.value : undefined;
    if (typeof v === 'string' && v.startsWith('arn:')) {
      const kind = v.includes(':listener-rule/') ? 'rule' : 'listener';
      src.reportValue(item, `${item.label} must say what the ARN is; write "- ${kind}: ${v}".`);
      continue;
    }
    const entries = src.map(item, ROUTE_KEYS, 'a map with one key, listener or rule');
    if (!entries) continue;
    const present = ROUTE_KEYS.filter((k) => entries.has(k));
    if (present.length === 0) {
      if (isMap(item.node) && item.node.items.length === 0)
        src.reportValue(item, `${item.label} is empty; write "listener: <ARN>" or "rule: <ARN>".`);
      continue;
    }
    if (present.length > 1) {
      src.reportEntry(
        entries.get('rule') as At,
        `${item.label} has both listener and rule; each route is one of them, so give each its own "-" item.`,
      );
      continue;
    }
    const kind = present[0] as RouteRef['kind'];
    const arnAt = entries.get(kind) as At;
    const arn = readArn(src, arnAt, kind === 'listener' ? 'listener' : 'listener-rule', region);
    if (!arn) continue;
    const twin = routes.find((r) => r.arn.arn === arn.arn);
    if (twin) {
      const line = src.position(twin.at.node).line;
      src.reportValue(
        arnAt,
        `${item.label} repeats ${twin.at.label} (line ${line}); list each route once.`,
      );
      continue;
    }
    routes.push({ kind, arn, at: arnAt });
  }
  return routes;
}

function readArn(
  src: YamlSource,
  at: At,
  kind: 'targetgroup' | 'listener' | 'listener-rule',
  region: string | undefined,
): ElbArn | undefined {
  const text = src.string(at, `a ${kind} ARN`);
  if (text === undefined) return undefined;
  const parsed = parseElbArn(text.trim(), kind);
  if (isArnError(parsed)) {
    let hint = '';
    if (kind === 'listener' && !isArnError(parseElbArn(text.trim(), 'listener-rule')))
      hint = '; for a listener rule write "rule:"';
    if (kind === 'listener-rule' && !isArnError(parseElbArn(text.trim(), 'listener')))
      hint = '; for a listener\'s default action write "listener:"';
    src.reportValue(at, `${at.label}: ${parsed.error}${hint}.`);
    return undefined;
  }
  if (region !== undefined && parsed.region !== region) {
    src.reportValue(
      at,
      `${at.label} is in region ${parsed.region}, but the file's region is ${region}; every target group and route must be in ${region}.`,
    );
    return undefined;
  }
  return parsed;
}

/** An ALB forwards only to target groups in its own account, so all ARNs share one account. */
function checkAccounts(src: YamlSource, clusters: ClusterDraft[], routes: RouteDraft[]): void {
  const first = clusters.find((c) => c.targetGroup);
  if (!first?.targetGroup) return;
  const account = first.targetGroup.account;
  for (const c of clusters) {
    if (c.targetGroup && c.targetGroup.account !== account && c.targetGroupAt) {
      src.reportValue(
        c.targetGroupAt,
        `${c.targetGroupAt.label} is in account ${c.targetGroup.account}, but cluster "${first.name}"'s target group is in account ${account}; an ALB can only forward to target groups in its own account.`,
      );
    }
  }
  for (const r of routes) {
    if (r.arn.account !== account) {
      src.reportValue(
        r.at,
        `${r.at.label} is in account ${r.arn.account}, but the target groups are in account ${account}; an ALB can only forward to target groups in its own account.`,
      );
    }
  }
}

function readWeights(
  src: YamlSource,
  at: At,
  clusterNames: string[] | undefined,
): Record<string, number> | undefined {
  const entries = src.map(
    at,
    undefined,
    'a map of cluster names to integer percents, e.g. { blue: 90, green: 10 }',
  );
  if (!entries) return undefined;
  const before = src.diagnostics.length;
  const weights: Record<string, number> = {};
  for (const [cluster, weightAt] of entries) {
    if (clusterNames && !clusterNames.includes(cluster)) {
      const suggestion = closestMatch(cluster, clusterNames);
      const hint = suggestion
        ? `did you mean "${suggestion}"?`
        : `the clusters are ${clusterNames.join(', ')}.`;
      src.reportEntry(
        weightAt,
        `weights has "${cluster}", which is not a declared cluster; ${hint}`,
      );
      continue;
    }
    const weight = src.integer(weightAt, 0, 100);
    if (weight !== undefined) weights[cluster] = weight;
  }
  for (const cluster of clusterNames ?? []) {
    if (!entries.has(cluster)) {
      src.reportEntry(
        at,
        `weights has no entry for cluster "${cluster}"; give every cluster a weight (0 sends it no traffic).`,
      );
    }
  }
  if (src.diagnostics.length > before) return undefined;
  const sum = Object.values(weights).reduce((a, b) => a + b, 0);
  if (sum !== 100) {
    src.reportEntry(
      at,
      `weights sum to ${sum}; they are percents of the traffic and must sum to 100.`,
    );
    return undefined;
  }
  return weights;
}

function readClusterName(
  src: YamlSource,
  at: At,
  clusterNames: string[] | undefined,
): string | undefined {
  const name = src.string(at, 'the name of a cluster under clusters');
  if (name === undefined || !clusterNames || clusterNames.includes(name)) return name;
  const suggestion = closestMatch(name, clusterNames);
  const hint = suggestion
    ? `did you mean "${suggestion}"?`
    : `the clusters are ${clusterNames.join(', ')}.`;
  src.reportValue(at, `${at.label} "${name}" is not a declared cluster; ${hint}`);
  return undefined;
}

function readSteps(src: YamlSource, at: At): number[] | undefined {
  const items = src.list(at, 'a list of canary weights, e.g. [10, 25, 50, 100]');
  if (!items) return undefined;
  if (items.length === 0) {
    src.reportValue(
      at,
      'steps is empty; list the canary weights to move through, e.g. [10, 25, 50, 100].',
    );
    return undefined;
  }
  const before = src.diagnostics.length;
  const steps: number[] = [];
  let previous: { value: number; label: string } | undefined;
  for (const item of items) {
    const step = src.integer(item, 0, 100);
    if (step === undefined) {
      previous = undefined;
      continue;
    }
    if (previous && step <= previous.value) {
      src.reportValue(
        item,
        `${item.label} is ${step}, not above ${previous.label} (${previous.value}); steps are canary weights in increasing order.`,
      );
    }
    previous = { value: step, label: item.label };
    steps.push(step);
  }
  return src.diagnostics.length > before ? undefined : steps;
}

function readAnalysis(src: YamlSource, at: At): Analysis | undefined {
  const isNull = at.node === null || (isScalar(at.node) && at.node.value === null);
  const f = isNull
    ? new Map<string, At>()
    : src.map(at, ANALYSIS_KEYS, `a map of ${ANALYSIS_KEYS.join(', ')}`);
  if (!f) return undefined;
  const before = src.diagnostics.length;
  const warmupMs =
    optional(f.get('warmup'), (v) => src.duration(v, { positive: false })) ??
    ANALYSIS_DEFAULTS.warmupMs;
  const intervalMs =
    optional(f.get('interval'), (v) => src.duration(v, { positive: true })) ??
    ANALYSIS_DEFAULTS.intervalMs;
  const durationMs =
    optional(f.get('duration'), (v) => src.duration(v, { positive: true })) ??
    ANALYSIS_DEFAULTS.durationMs;
  const failureLimit =
    optional(f.get('failureLimit'), (v) => src.integer(v, 0)) ?? ANALYSIS_DEFAULTS.failureLimit;
  const failEarly = optional(f.get('failEarly'), (v) => src.boolean(v));
  const checksAt = f.get('checks');
  const checks = checksAt ? readChecks(src, checksAt) : defaultChecks();
  if (src.diagnostics.length > before) return undefined;
  // The bake time counts from the shift, so it holds the warmup and then whole intervals.
  if (durationMs < warmupMs + intervalMs) {
    const blame = f.get('duration') ?? f.get('interval') ?? (f.get('warmup') as At);
    src.reportValue(
      blame,
      `analysis.duration (${formatDuration(durationMs)}) is shorter than warmup (${formatDuration(warmupMs)}) + one interval (${formatDuration(intervalMs)}); the bake time counts from the shift and must hold the warmup and at least one measurement.`,
    );
    return undefined;
  }
  if (!checks) return undefined;
  // verify-health queries each interval as one CloudWatch period, so with CloudWatch checks the
  // interval must be a period GetMetricData accepts. Checked here so a file valid today stays
  // valid when it runs.
  const intervalSeconds = intervalMs / 1000;
  const isPeriod = Number.isInteger(intervalSeconds) && isCloudWatchPeriod(intervalSeconds);
  if (!isPeriod && checks.some((c) => c.kind === 'cloudwatch')) {
    src.reportValue(
      f.get('interval') ?? at,
      `analysis.interval (${formatDuration(intervalMs)}) must be 1s, 5s, 10s, 20s, 30s or a whole number of minutes with cloudwatch checks: each interval is one CloudWatch period. ALB metrics have 1-minute resolution, so 1m or more is the usual choice.`,
    );
    return undefined;
  }
  return {
    warmupMs,
    intervalMs,
    durationMs,
    failureLimit,
    ...(failEarly === false ? { failEarly } : {}),
    checks,
  };
}
