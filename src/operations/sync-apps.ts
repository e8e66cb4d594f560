/**
 * sync-apps: run the user's own deploy tool (helmfile, helm, or kubectl) against one cluster,
 * safely, and leave the cluster ready for the canary:
 *   kubeconfig of our own → (off the owner) the singleton post-renderer → the tool, in apply or
 *   diff mode → every applied Deployment/StatefulSet/DaemonSet available → the cluster's
 *   TargetGroupBinding, with the analysis's minHealthy healthy targets from this cluster.
 * Typed results; no @actions/*, no input names.
 */
import { copyFile, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { EKSClient } from '@aws-sdk/client-eks';
import type { Clock } from '../common/clock.js';
import { ConfigurationError, ExplainedError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { describeClusterAccess } from '../eks/describe.js';
import { buildKubeconfig } from '../eks/kubeconfig.js';
import { startTokenFile } from '../eks/token-file.js';
import { mintEksToken } from '../eks/token.js';
import {
  helmDiffArgv,
  helmfileArgv,
  helmfileBuildArgv,
  helmfileListArgv,
  helmMajorVersion,
  helmUpgradeArgv,
  FIELD_MANAGER,
  kubectlArgv,
  outcomeOf,
  type Mode,
} from '../kube/argv.js';
import {
  formatRef,
  manifestObjects,
  parseManifests,
  stringifyManifests,
  workloadsIn,
  type ObjectRef,
} from '../kube/manifests.js';
import { writePostRenderer, type PostRendererFiles } from '../kube/post-render.js';
import {
  kubeOnDemand,
  listObjects,
  resourcePath,
  RESOURCES,
  startKubectlProxy,
  type KubeClient,
} from '../kube/proxy.js';
import {
  runningSingletons,
  stopSingletonsInDocs,
  type LiveObject,
  type SingletonPolicy,
  type StoppedObject,
} from '../kube/singletons.js';
import {
  applyBinding,
  checkBindings,
  checkService,
  waitForHealthyTargets,
  type BindingSpec,
  type BoundTargets,
} from '../kube/target-group-binding.js';
import { INSTALL_HINTS, type ToolResult, type ToolRunner } from '../kube/tools.js';
import {
  explainNotReady,
  releaseWorkloads,
  waitForWorkloads,
  type WorkloadStatus,
} from '../kube/workloads.js';
import type { RolloutFile } from '../rollout-file/index.js';

export type ClusterTarget =
  { kind: 'eks'; name: string; region: string } | { kind: 'kubeconfig'; path: string };

export type AppSource =
  | { tool: 'helmfile'; file: string; environment?: string; selectors: string[] }
  | { tool: 'helm'; chart: string; release: string; namespace: string; valuesFiles: string[] }
  | { tool: 'kubectl'; manifests: string };

export interface SyncAppsRequest {
  cluster: ClusterTarget;
  source: AppSource;
  mode: Mode;
  /** The rollout file and the name of this cluster in it. */
  rollout?: { file: RolloutFile; as: string };
  timeoutMs: number;
  /** Our own folder (in RUNNER_TEMP): kubeconfig, post-renderer, diff. */
  workDir: string;
  /** The node that runs our helpers, and the bundled helpers themselves. */
  helpers: { node: string; postRenderer: string };
}

export interface SyncAppsDeps {
  /** Makes the tool runner for the tools' environment (KUBECONFIG set to ours). */
  tools: (env: Record<string, string>) => ToolRunner;
  /** The environment the tools inherit (the job's, with the AWS credentials). */
  env: Record<string, string>;
  eks?: () => EKSClient;
  elbv2?: () => ElasticLoadBalancingV2Client;
  logger: Logger;
  clock: Clock;
  signal?: AbortSignal;
  /** Hides a value from the log from now on (core.setSecret in the action): each EKS token. */
  mask?: (secret: string) => void;
}

/** A release (helm, helmfile) or a manifest set (kubectl): what the summary has one row for. */
export interface SyncUnit {
  name: string;
  namespace?: string;
  /** undefined when the tool cannot tell (helm without the helm-diff plugin). */
  changed: boolean | undefined;
  revision?: { before?: number; after?: number };
  workloads: WorkloadStatus[];
  /** Tool run and wait for this unit; undefined when one tool run deployed several (helmfile). */
  durationMs?: number;
}

export interface ResourceStatus extends ObjectRef {
  status: string;
}

export interface SyncAppsResult {
  mode: Mode;
  tool: AppSource['tool'];
  /** Whether this cluster owns singletons; undefined without a rollout file. */
  owner: boolean | undefined;
  changed: boolean;
  /** The full diff (the tool's output in diff mode, or the diff taken before applying). */
  diffPath: string;
  units: SyncUnit[];
  resources: ResourceStatus[];
  /** Objects rendered stopped (off the owner). */
  stopped: StoppedObject[];
  binding?: BindingSpec & { applied: boolean; minHealthy: number; targets?: BoundTargets };
  toolMs: number;
  waitMs: number;
  bindMs: number;
}

export async function syncApps(req: SyncAppsRequest, deps: SyncAppsDeps): Promise<SyncAppsResult> {
  const { logger } = deps;
  const started = deps.clock.now().getTime();
  const clusterSpec = req.rollout ? rolloutCluster(req.rollout) : undefined;
  // helm's version and plugins, asked once. They read no cluster: for helmfile, which needs them
  // first, they are asked while the cluster is connected; helm asks them once its diff is running
  // (two process starts less before the diff, which is on the path to a healthy target).
  const probeTools = deps.tools({ ...deps.env, KUBECONFIG: join(req.workDir, 'kubeconfig') });
  const helmMajorOnce = once(() => helmMajor(probeTools));
  const helmInfo = once(async () => {
    const [major, hasDiff] = await Promise.all([helmMajorOnce(), requireHelmDiff(probeTools)]);
    return { major, hasDiff };
  });
  if (req.source.tool === 'helmfile') helmInfo().catch(() => undefined); // awaited by the stage
  const access = await logger.group('Connecting to the cluster', () =>
    writeKubeconfig(req, deps, clusterSpec?.eks),
  );
  // sync-apps' own reads and writes of the cluster go through one kubectl proxy (src/kube/proxy.ts).
  const env = { ...deps.env, KUBECONFIG: access.path };
  const proxyTools = deps.tools(env);
  let kubectl: string | undefined;
  try {
    kubectl = proxyTools.resolve('kubectl');
  } catch {
    // said when the cluster is first needed (a helm diff run may never need it)
  }
  const kube = kubeOnDemand(() =>
    startKubectlProxy({
      kubectl: kubectl ?? proxyTools.resolve('kubectl'),
      kubeconfig: access.path,
      env,
      cluster: req.cluster.kind === 'eks' ? req.cluster.name : 'the cluster',
    }),
  );
  // Started once the tool runs (it is needed only after), unless kubectl is missing: then the
  // error comes when the cluster is first needed.
  const warmKube = () => {
    if (kubectl !== undefined) kube.client().catch(() => undefined);
  };
  try {
    return await syncWith(req, deps, access.path, clusterSpec, started, {
      helmInfo,
      helmMajor: helmMajorOnce,
      kube: kube.client,
      warmKube,
    });
  } finally {
    await kube.stop();
    await access.stop();
  }
}

async function syncWith(
  req: SyncAppsRequest,
  deps: SyncAppsDeps,
  kubeconfig: string,
  clusterSpec: ReturnType<typeof rolloutCluster> | undefined,
  started: number,
  stage: Pick<StageContext, 'helmInfo' | 'helmMajor' | 'kube' | 'warmKube'>,
): Promise<SyncAppsResult> {
  const { kube } = stage;
  const { logger } = deps;
  const deadline = started + req.timeoutMs;
  const remaining = () => Math.max(1_000, deadline - deps.clock.now().getTime());
  const tools = deps.tools({ ...deps.env, KUBECONFIG: kubeconfig });

  const owner = req.rollout ? req.rollout.as === req.rollout.file.owner : undefined;
  const policy: SingletonPolicy | undefined =
    owner === false
      ? {
          ...(req.rollout?.file.singletons?.namespaces
            ? { namespaces: req.rollout.file.singletons.namespaces }
            : {}),
          ...(req.rollout?.file.singletons?.selector
            ? { selector: req.rollout.file.singletons.selector }
            : {}),
        }
      : undefined;
  if (owner === undefined) {
    logger.warning(
      'No rollout file: CronJobs and Deployments are applied as the manifests say (no cluster is known to own singletons).',
    );
  } else if (owner) {
    logger.info(
      `This cluster (${req.rollout?.as}) owns the singletons: CronJobs and singleton Deployments are applied as the manifests say.`,
    );
  } else {
    logger.info(
      `This cluster (${req.rollout?.as}) is not the owner (${req.rollout?.file.owner}): every CronJob${policy?.namespaces ? ` in ${policy.namespaces.join(', ')}` : ''} is created suspended${
        policy?.selector
          ? ` and every Deployment labelled ${Object.entries(policy.selector)
              .map(([k, v]) => `${k}=${v}`)
              .join(',')} gets 0 replicas`
          : ''
      }, before it reaches the apiserver.`,
    );
  }

  const diffPath = join(req.workDir, 'sync-apps.diff');
  const wait = {
    timeoutMs: 0,
    signal: deps.signal,
    sleep: (ms: number, s?: AbortSignal) => deps.clock.sleep(ms, s),
    now: () => deps.clock.now().getTime(),
  };
  // Reads taken once the tool's writes have landed, while the tool's own reads of its result run
  // (onWritten), or after the tool when it never wrote: the cluster's TargetGroupBindings and the
  // Service's port (a chart may bring the Service), and, off the owner, the live CronJobs and
  // Deployments of the namespaces the tool wrote to. Every verdict is still taken before the
  // binding is applied.
  const planned = req.rollout && clusterSpec ? bindingOf(req.rollout.file, clusterSpec) : undefined;
  let checks:
    { bindings: Promise<void> | undefined; service: Promise<void> | undefined } | undefined;
  const singletonReads = new Map<string, Promise<LiveObject[]>>();
  const readSingletons = (ns: string): Promise<LiveObject[]> => {
    let read = singletonReads.get(ns);
    if (!read) {
      read = kube().then(async (k) =>
        (
          await Promise.all([
            listObjects<LiveObject>(k, RESOURCES.CronJob, ns),
            listObjects<LiveObject>(k, RESOURCES.Deployment, ns),
          ])
        ).flat(),
      );
      read.catch(() => undefined); // awaited by the singleton check; no unhandled rejection
      singletonReads.set(ns, read);
    }
    return read;
  };
  const startChecks = (namespaces: string[] = []) => {
    if (req.mode === 'apply' && policy) for (const ns of namespaces) void readSingletons(ns);
    if (checks) return checks;
    const bindings = planned
      ? kube().then((k) => checkBindings(k, planned.spec, planned.foreign))
      : undefined;
    bindings?.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
    const service =
      planned && req.mode === 'apply'
        ? kube().then((k) => checkService(k, planned.spec))
        : undefined;
    service?.catch(() => undefined);
    checks = { bindings, service };
    return checks;
  };

  // The binding is applied as soon as helm's (or kubectl's) writes have landed, while the tool's
  // own reads of its result still run, once the same checks have passed that it would pass
  // after them: off the owner, the singletons of exactly what was applied (the post-renderer
  // lists each render) are stopped; no binding of another cluster's group; the Service has the
  // port. Their messages are logged in their own groups once the tool's group has ended.
  let early:
    | { singletons: Promise<string | undefined>; applied: Promise<{ at: number; message: string }> }
    | undefined;
  let earlyBound: BindingSpec | undefined;
  const bindEarly = (namespaces: string[], objects: ObjectRef[] | undefined) => {
    const c = startChecks(namespaces);
    if (early || req.mode !== 'apply' || !planned || !clusterSpec?.service || !c.bindings) return;
    if (policy && !objects) return;
    const singletons =
      policy && objects
        ? checkSingletonsStopped(kube, objects, policy, readSingletons)
        : Promise.resolve(undefined);
    const applied = singletons.then(async () => {
      await c.bindings;
      const at = deps.clock.now().getTime();
      const message = await applyBinding(await kube(), planned.spec, c.service);
      earlyBound = planned.spec;
      return { at, message };
    });
    singletons.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
    applied.catch(() => undefined);
    early = { singletons, applied };
  };

  let run: ToolStage;
  try {
    run = await logger.group(`Running ${req.source.tool} (${req.mode})`, () =>
      runTool(req, {
        tools,
        kubeconfig,
        policy,
        diffPath,
        logger,
        remaining,
        ...stage,
        onWritten: bindEarly,
      }),
    );
  } catch (e) {
    if (deps.signal?.aborted) logger.warning(stateLeftOnCancel(req.source));
    // A binding applied beside the tool's reads: wait for it, so the message says what is left.
    await early?.applied.catch(() => undefined);
    if (earlyBound) {
      throw new ExplainedError(
        `${e instanceof Error ? e.message : String(e)}\n${boundState(earlyBound, req.rollout, clusterSpec)}`,
      );
    }
    throw e;
  }
  const toolMs = run.durationMs;
  const { bindings: bindingsChecked, service: serviceChecked } = startChecks();

  // Before any binding: a cluster off the owner must have every singleton stopped.
  if (req.mode === 'apply' && policy) {
    await logger.group('Checking singletons are stopped', async () => {
      const checked = early
        ? await early.singletons
        : await checkSingletonsStopped(kube, run.objects, policy, readSingletons);
      if (checked) logger.info(checked);
    });
  }

  let binding: SyncAppsResult['binding'];
  let bound: { spec: BindingSpec; minHealthy: number; at: number } | undefined;
  if (req.rollout && clusterSpec) {
    const file = req.rollout.file;
    const minHealthy = Math.max(
      1,
      ...file.analysis.checks.map((c) => (c.kind === 'targetHealth' ? c.minHealthy : 1)),
    );
    if (!clusterSpec.service) {
      logger.warning(
        `The rollout file gives cluster "${clusterSpec.name}" no service: no TargetGroupBinding is made. Add clusters.${clusterSpec.name}.service { namespace, name, port } to bind ${clusterSpec.targetGroup}.`,
      );
    } else if (planned && bindingsChecked) {
      const { spec } = planned;
      // Applied as soon as the tool's writes have landed and the checks above passed (early, see
      // bindEarly), so the controller registers the pods and the health checks run while the
      // workloads are still being waited for. Safe early: a binding registers only ready
      // endpoints, and the target group gets traffic only by the rollout file's weights (see
      // docs/sync-apps.md).
      await logger.group(`Binding target group of ${clusterSpec.name}`, async () => {
        if (early) {
          const done = await early.applied;
          logger.info(`${done.message} Applied as soon as ${req.source.tool}'s writes had landed.`);
          bound = { spec, minHealthy, at: done.at };
          return;
        }
        await bindingsChecked;
        if (req.mode === 'diff') {
          logger.info(
            `Would bind Service ${spec.namespace}/${spec.serviceName} port ${spec.servicePort} to ${spec.targetGroupArn} (TargetGroupBinding ${spec.namespace}/${spec.name}, targetType ip).`,
          );
          binding = { ...spec, applied: false, minHealthy };
          return;
        }
        const at = deps.clock.now().getTime();
        logger.info(await applyBinding(await kube(), spec, serviceChecked));
        bound = { spec, minHealthy, at };
      });
    }
  }

  let waitMs = 0;
  let bindMs = 0;
  const waitWorkloads = req.mode === 'apply' && run.workloads.length > 0;
  if (waitWorkloads || bound) {
    const what = [waitWorkloads ? 'workloads' : '', bound ? 'healthy targets' : '']
      .filter((x) => x !== '')
      .join(' and ');
    // One controller for both waits: a workload that fails ends the target health wait.
    const waits = new AbortController();
    const onCancel = () => waits.abort(deps.signal?.reason);
    deps.signal?.addEventListener('abort', onCancel, { once: true });
    try {
      await logger.group(`Waiting for ${what}`, async () => {
        const t0 = deps.clock.now().getTime();
        const workloads = waitWorkloads
          ? waitForWorkloads(await kube(), run.workloads, {
              ...wait,
              signal: waits.signal,
              timeoutMs: remaining(),
            }).then(
              (s) => {
                waitMs = deps.clock.now().getTime() - t0;
                return s;
              },
              (e: unknown) => {
                waits.abort(e);
                throw e;
              },
            )
          : Promise.resolve([] as WorkloadStatus[]);
        const health = bound ? healthWait(bound, waits) : Promise.resolve(undefined);
        // The workloads' verdict comes first: a target group that never got healthy targets
        // is explained by a workload that is not available, when one is not.
        const [w, h] = await Promise.allSettled([workloads, health]);
        if (w.status === 'rejected') throw w.reason;
        for (const s of w.value) logger.info(`${formatRef(s)}: ${s.summary}`);
        for (const unit of run.units) {
          unit.workloads = w.value.filter((x) => run.unitOf(x) === unit);
        }
        if (h.status === 'rejected') throw h.reason;
        if (bound && h.value) {
          logger.info(
            `${h.value.healthyHere} healthy target(s) from this cluster in ${bound.spec.targetGroupArn} (need ${bound.minHealthy}).`,
          );
          binding = {
            ...bound.spec,
            applied: true,
            minHealthy: bound.minHealthy,
            targets: h.value,
          };
        }
      });
    } catch (e) {
      if (!bound) throw e;
      throw new ExplainedError(
        `${e instanceof Error ? e.message : String(e)}\n${boundState(bound.spec, req.rollout, clusterSpec)}`,
      );
    } finally {
      deps.signal?.removeEventListener('abort', onCancel);
    }
  }

  const only = run.units.length === 1 ? run.units[0] : undefined;
  if (only) only.durationMs = toolMs + waitMs;

  async function healthWait(
    b: NonNullable<typeof bound>,
    waits: AbortController,
  ): Promise<BoundTargets> {
    if (!deps.elbv2) throw new Error('syncApps needs an ELBv2 client to check target health');
    const targets = await waitForHealthyTargets(deps.elbv2(), await kube(), b.spec, b.minHealthy, {
      ...wait,
      signal: waits.signal,
      timeoutMs: remaining(),
    });
    bindMs = deps.clock.now().getTime() - b.at;
    return targets;
  }

  const stopped = await readStopped(run, policy);
  const resources = run.objects.map((o): ResourceStatus => {
    const w = run.units
      .flatMap((u) => u.workloads)
      .find((x) => x.kind === o.kind && x.namespace === o.namespace && x.name === o.name);
    const s = stopped.find(
      (x) => x.kind === o.kind && x.namespace === o.namespace && x.name === o.name,
    );
    const status = w
      ? w.ready
        ? `available (${w.summary})`
        : w.summary
      : s
        ? `stopped (${s.set})`
        : req.mode === 'diff'
          ? 'rendered'
          : 'applied';
    return { ...o, status };
  });
  return {
    mode: req.mode,
    tool: req.source.tool,
    owner,
    changed: run.units.some((u) => u.changed !== false),
    diffPath,
    units: run.units,
    resources,
    stopped,
    ...(binding ? { binding } : {}),
    toolMs,
    waitMs,
    bindMs,
  };
}

function rolloutCluster(rollout: { file: RolloutFile; as: string }) {
  const spec = rollout.file.clusters.find((c) => c.name === rollout.as);
  if (!spec) {
    throw new ConfigurationError(
      `The rollout file ${rollout.file.path} has no cluster "${rollout.as}"; its clusters are ${rollout.file.clusters.map((c) => c.name).join(', ')}.`,
    );
  }
  return spec;
}

/**
 * Our kubeconfig for the run. For an EKS cluster its user is a token file this process keeps
 * fresh (src/eks/token-file.ts: mode 0600, refreshed every 5 minutes, removed when the sync
 * ends), so no tool run starts a token minter; stop() ends the refresh and removes the token.
 */
async function writeKubeconfig(
  req: SyncAppsRequest,
  deps: SyncAppsDeps,
  fileEks: string | undefined,
): Promise<{ path: string; stop: () => Promise<void> }> {
  const path = join(req.workDir, 'kubeconfig');
  if (req.cluster.kind === 'kubeconfig') {
    await copyFile(req.cluster.path, path);
    deps.logger.info(`Using a copy of the kubeconfig ${req.cluster.path} (its current context).`);
    return { path, stop: () => Promise.resolve() };
  }
  if (fileEks && fileEks !== req.cluster.name) {
    throw new ConfigurationError(
      `The rollout file says cluster "${req.rollout?.as}" is EKS cluster "${fileEks}", but the cluster to sync is "${req.cluster.name}"; sync the cluster the file names, or fix "as".`,
    );
  }
  if (!deps.eks) throw new Error('syncApps needs an EKS client for an EKS cluster');
  const eks = deps.eks();
  const access = await describeClusterAccess(eks, req.cluster.name);
  const { name: clusterName, region } = req.cluster;
  const tokens = await startTokenFile({
    path: join(req.workDir, 'eks-token'),
    mint: async () => {
      const minted = await mintEksToken({
        clusterName,
        region,
        credentials: await eks.config.credentials(),
      });
      deps.mask?.(minted.token);
      return minted;
    },
    onRefreshError: (e) =>
      deps.logger.warning(
        `Minting a new EKS token failed (${e instanceof Error ? e.message : String(e)}); the tools keep the previous one, which EKS accepts for 15 minutes from its minting; it is tried again at the next refresh.`,
      ),
  });
  try {
    const text = buildKubeconfig({
      clusterName,
      region,
      endpoint: access.endpoint,
      certificateAuthorityData: access.certificateAuthorityData,
      tokenFile: tokens.path,
    });
    await writeFile(path, text, { mode: 0o600 });
  } catch (e) {
    await tokens.stop();
    throw e;
  }
  deps.logger.info(
    `EKS cluster ${clusterName}${access.version ? ` (Kubernetes ${access.version})` : ''} at ${access.endpoint}; its token is minted here, kept in a file only this user can read (mode 0600) that the tools re-read, refreshed every 5 minutes during the run and removed at its end.`,
  );
  return { path, stop: () => tokens.stop() };
}

interface ToolStage {
  units: SyncUnit[];
  workloads: ObjectRef[];
  objects: ObjectRef[];
  unitOf: (w: ObjectRef) => SyncUnit | undefined;
  durationMs: number;
  recordFile?: string;
  stoppedInProcess?: StoppedObject[];
}

interface StageContext {
  tools: ToolRunner;
  kubeconfig: string;
  policy: SingletonPolicy | undefined;
  diffPath: string;
  logger: Logger;
  remaining: () => number;
  /** helm's major version and whether it has helm-diff, asked once (helmfile). */
  helmInfo: () => Promise<HelmInfo>;
  /** helm's major version alone, asked once (helm: whether it has helm-diff is asked only when a diff fails). */
  helmMajor: () => Promise<number>;
  /** The cluster, through sync-apps' kubectl proxy (started on the first call). */
  kube: () => Promise<KubeClient>;
  /** Starts the proxy without waiting for it: called once the tool's first process runs. */
  warmKube: () => void;
  /**
   * Called once the tool's writes have landed, before its own reads of the result, with the
   * namespaces known to hold what it wrote and, when known, exactly what it applied: the checks
   * that only read start then, and the binding once they pass.
   */
  onWritten?: (namespaces: string[], objects?: ObjectRef[]) => void;
}

interface HelmInfo {
  major: number;
  hasDiff: boolean;
}

/** A function that runs `f` once, on its first call, and answers that call's promise after. */
function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

async function runTool(req: SyncAppsRequest, ctx: StageContext): Promise<ToolStage> {
  const post =
    ctx.policy && req.source.tool !== 'kubectl'
      ? await writePostRenderer({
          dir: req.workDir,
          node: req.helpers.node,
          script: req.helpers.postRenderer,
          policy: ctx.policy,
        })
      : undefined;
  switch (req.source.tool) {
    case 'helmfile':
      return runHelmfile(req, req.source, ctx, post?.executable, post?.recordFile);
    case 'helm':
      return runHelm(req, req.source, ctx, post);
    case 'kubectl':
      return runKubectl(req, req.source, ctx);
  }
}

interface HelmRelease {
  name: string;
  namespace: string;
  revision: string;
  status: string;
}

async function helmReleases(tools: ToolRunner, kubeconfig: string): Promise<HelmRelease[]> {
  const r = await tools.run(
    'helm',
    ['list', '--all-namespaces', '--all', '--output', 'json', '--kubeconfig', kubeconfig],
    { silent: true },
  );
  if (r.exitCode !== 0) throw new ExplainedError(`helm list failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout || '[]') as HelmRelease[];
}

async function requireHelmDiff(tools: ToolRunner): Promise<boolean> {
  const r = await tools.run('helm', ['plugin', 'list'], { silent: true });
  return r.exitCode === 0 && /^diff\s/m.test(r.stdout);
}

async function helmMajor(tools: ToolRunner): Promise<number> {
  const r = await tools.run('helm', ['version', '--short'], { silent: true });
  const major = helmMajorVersion(r.stdout);
  if (r.exitCode !== 0 || major === undefined)
    throw new ExplainedError(`helm version failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return major;
}

function refusePostRenderOnHelm4(major: number, post: string | undefined): void {
  if (major >= 4 && post) {
    throw new ConfigurationError(
      'Helm 4 takes post-renderers only as plugins, and sync-apps stops singletons off the owner with a post-renderer: use Helm 3 on this runner (e.g. azure/setup-helm with version v3.x) until sync-apps ships its post-renderer plugin.',
    );
  }
}

/** What a failure after the binding was applied leaves behind, for its message. */
function boundState(
  spec: BindingSpec,
  rollout: SyncAppsRequest['rollout'],
  cluster: ReturnType<typeof rolloutCluster> | undefined,
): string {
  const weight = cluster ? rollout?.file.weights[cluster.name] : undefined;
  return `TargetGroupBinding ${spec.namespace}/${spec.name} was applied before this failure and is left in place: it registers only ready pods of Service ${spec.namespace}/${spec.serviceName} in ${spec.targetGroupArn}, which gets traffic only by the rollout file's weights (${weight === undefined ? 'this cluster has none' : `this cluster's is ${weight}`}${weight ? ', so its ready pods serve that share' : ', so nothing reaches them'}). To remove it: kubectl delete targetgroupbinding ${spec.name} -n ${spec.namespace} (its targets are deregistered).`;
}

/** The TargetGroupBinding a cluster with a service gets, and the other clusters' groups. */
function bindingOf(
  file: RolloutFile,
  cluster: ReturnType<typeof rolloutCluster>,
): { spec: BindingSpec; foreign: { cluster: string; targetGroupArn: string }[] } | undefined {
  if (!cluster?.service) return undefined;
  return {
    spec: {
      name: `${file.name}-${cluster.name}`,
      namespace: cluster.service.namespace,
      serviceName: cluster.service.name,
      servicePort: cluster.service.port,
      targetGroupArn: cluster.targetGroup,
    },
    foreign: file.clusters
      .filter((c) => c.name !== cluster.name)
      .map((c) => ({ cluster: c.name, targetGroupArn: c.targetGroup })),
  };
}

/**
 * Runs `tool` while watching the releases' workloads; answers the tool's result and how to get the
 * workloads seen not available while it ran, which explain a failed --wait after helm's rollback
 * has made the old pods healthy again. The watch ends with the tool, however it ends.
 */
async function watchingReleases<T>(
  ctx: StageContext,
  releases: { name: string; namespace: string }[],
  tool: () => Promise<T>,
): Promise<{ result: T; watched: () => Promise<WorkloadStatus[]> }> {
  const lastBad = new Map<string, WorkloadStatus>();
  let stop = false;
  let wake = (): void => undefined;
  const pause = (ms: number) =>
    new Promise<void>((r) => {
      const timer = setTimeout(r, ms);
      wake = () => {
        clearTimeout(timer);
        r();
      };
    });
  const loop = (async () => {
    // The first look after a second: a wait that fails takes far longer, and a read at the
    // tool's start would only see the old pods while taking CPU from the tool's own start.
    await pause(WATCH_FIRST_MS);
    while (!stop) {
      try {
        for (const w of await releaseWorkloads(await ctx.kube(), releases)) {
          if (!w.ready) lastBad.set(formatRef(w), w);
        }
      } catch {
        // a read that fails while the tool runs changes nothing; the tool's own result decides
      }
      // The tool may have ended during that read: then no sleep, which would hold up the run.
      if (stop) break;
      await pause(WATCH_EVERY_MS);
    }
  })();
  try {
    const result = await tool();
    // Asked for only when the tool failed: then its last read is waited for. After a success a
    // read still in flight just ends; nothing waits for it.
    const watched = async () => {
      await loop;
      return [...lastBad.values()];
    };
    return { result, watched };
  } finally {
    stop = true;
    wake();
  }
}

const WATCH_FIRST_MS = 1_000;
const WATCH_EVERY_MS = 2_000;

async function failedRun(
  ctx: StageContext,
  what: string,
  result: ToolResult,
  watched: WorkloadStatus[],
  rolledBack: string,
): Promise<ExplainedError> {
  const detail =
    watched.length > 0
      ? `\n${await explainNotReady(await ctx.kube(), watched, 'seen while it ran')}`
      : '';
  return new ExplainedError(
    `${what} failed (exit code ${result.exitCode}). ${rolledBack}${detail}\n${lastLines(result.stderr)}`,
  );
}

function lastLines(text: string, n = 20): string {
  const lines = text.trim().split('\n');
  return lines.length <= n ? text.trim() : `…\n${lines.slice(-n).join('\n')}`;
}

async function runHelmfile(
  req: SyncAppsRequest,
  src: Extract<AppSource, { tool: 'helmfile' }>,
  ctx: StageContext,
  post: string | undefined,
  recordFile: string | undefined,
): Promise<ToolStage> {
  const { tools, kubeconfig } = ctx;
  tools.resolve('helmfile');
  ctx.warmKube();
  const { major, hasDiff } = await ctx.helmInfo();
  refusePostRenderOnHelm4(major, post);
  if (!hasDiff)
    throw new ConfigurationError(
      `helmfile needs the helm-diff plugin, which helm does not have: ${INSTALL_HINTS['helm-diff']}.`,
    );
  const base = {
    kubeconfig,
    file: src.file,
    selectors: src.selectors,
    ...(src.environment ? { environment: src.environment } : {}),
  };
  const listed = await tools.run('helmfile', helmfileListArgv(base), { silent: true });
  if (listed.exitCode !== 0)
    throw new ExplainedError(
      `helmfile list failed (exit code ${listed.exitCode}):\n${lastLines(listed.stderr)}`,
    );
  const releases = (
    JSON.parse(listed.stdout || '[]') as { name: string; namespace: string; enabled?: boolean }[]
  )
    .filter((r) => r.enabled !== false)
    .map((r) => ({ name: r.name, namespace: r.namespace || 'default' }));
  if (post) await refuseOwnPostRenderers(tools, base, releases);
  const before = await helmReleases(tools, kubeconfig);
  const runHelmfileNow = () =>
    tools.run(
      'helmfile',
      helmfileArgv({
        ...base,
        mode: req.mode,
        timeoutSeconds: Math.ceil(ctx.remaining() / 1000),
        ...(post ? { postRenderer: post } : {}),
      }),
    );
  const { result, watched } =
    req.mode === 'apply'
      ? await watchingReleases(ctx, releases, runHelmfileNow)
      : { result: await runHelmfileNow(), watched: () => Promise.resolve([]) };
  await writeFile(ctx.diffPath, result.stdout);
  const outcome = outcomeOf('helmfile', result.exitCode);
  if (!outcome.ok) {
    throw await failedRun(
      ctx,
      `helmfile ${req.mode}`,
      result,
      await watched(),
      req.mode === 'apply'
        ? 'Releases helmfile had already applied stay applied; a release whose wait failed is left as helm left it (see helm history).'
        : 'Nothing was changed.',
    );
  }
  ctx.logger.info(
    `helmfile ${req.mode}: exit code ${result.exitCode}, ${outcome.changed ? (req.mode === 'apply' ? 'changes applied' : 'changes to apply') : 'no changes'}.`,
  );
  if (req.mode === 'apply') ctx.onWritten?.([...new Set(releases.map((r) => r.namespace))]);
  const after = req.mode === 'apply' ? await helmReleases(tools, kubeconfig) : before;
  const units: SyncUnit[] = [];
  const workloads: ObjectRef[] = [];
  const objects: ObjectRef[] = [];
  const owners = new Map<string, SyncUnit>();
  for (const r of releases) {
    const find = (list: HelmRelease[]) =>
      list.find((x) => x.name === r.name && x.namespace === r.namespace);
    const b = find(before);
    const a = find(after);
    const revision = {
      ...(b ? { before: Number(b.revision) } : {}),
      ...(a ? { after: Number(a.revision) } : {}),
    };
    const unit: SyncUnit = {
      name: r.name,
      namespace: r.namespace,
      changed:
        req.mode === 'apply'
          ? revision.before !== revision.after
          : outcome.changed
            ? undefined
            : false,
      revision,
      workloads: [],
    };
    units.push(unit);
    if (a) {
      const refs = await releaseObjects(tools, kubeconfig, r);
      objects.push(...refs);
      for (const w of refs.filter((x) =>
        ['Deployment', 'StatefulSet', 'DaemonSet'].includes(x.kind),
      )) {
        workloads.push(w);
        owners.set(formatRef(w), unit);
      }
    }
  }
  return {
    units,
    workloads,
    objects,
    unitOf: (w) => owners.get(formatRef(w)),
    durationMs: result.durationMs,
    ...(recordFile ? { recordFile } : {}),
  };
}

/**
 * helmfile gives a release's own `postRenderer` precedence over --post-renderer (ours would not
 * run: CronJobs unsuspended off the owner), and lets --post-renderer replace helmDefaults'
 * (the user's transform would silently not run). Off the owner both are refused.
 */
async function refuseOwnPostRenderers(
  tools: ToolRunner,
  base: Parameters<typeof helmfileBuildArgv>[0],
  releases: { name: string; namespace: string }[],
): Promise<void> {
  const built = await tools.run('helmfile', helmfileBuildArgv(base), { silent: true });
  if (built.exitCode !== 0) {
    throw new ExplainedError(
      `helmfile build failed (exit code ${built.exitCode}):\n${lastLines(built.stderr)}`,
    );
  }
  const owners: string[] = [];
  for (const doc of parseManifests(built.stdout, 'helmfile build')) {
    const state = doc.toJS() as {
      helmDefaults?: { postRenderer?: string };
      releases?: { name?: string; namespace?: string; postRenderer?: string }[];
    } | null;
    if (state?.helmDefaults?.postRenderer)
      owners.push(`helmDefaults (${state.helmDefaults.postRenderer})`);
    for (const r of state?.releases ?? []) {
      const selected = releases.some(
        (x) => x.name === r.name && (!r.namespace || x.namespace === r.namespace),
      );
      if (r.postRenderer && selected) owners.push(`release ${r.name} (${r.postRenderer})`);
    }
  }
  if (owners.length > 0) {
    throw new ConfigurationError(
      `${owners.join(', ')} ${owners.length === 1 ? 'has its own postRenderer' : 'have their own postRenderers'}. helmfile would run it instead of sync-apps' singleton post-renderer (or ours instead of it), so on this cluster, which is not the owner, CronJobs could run or your transform be skipped. Remove the postRenderer from the helmfile for non-owner clusters (an environment value), or run your transform inside the chart.`,
    );
  }
}

/** The objects of a deployed release, namespaces filled in as helm applied them. */
async function releaseObjects(
  tools: ToolRunner,
  kubeconfig: string,
  r: { name: string; namespace: string },
): Promise<ObjectRef[]> {
  const m = await tools.run(
    'helm',
    ['get', 'manifest', r.name, '--namespace', r.namespace, '--kubeconfig', kubeconfig],
    { silent: true },
  );
  if (m.exitCode !== 0)
    throw new ExplainedError(`helm get manifest ${r.name} failed: ${m.stderr.trim()}`);
  return manifestObjects(parseManifests(m.stdout, `release ${r.name}`)).map((o) => ({
    ...o.ref,
    namespace: o.ref.namespace || r.namespace,
  }));
}

async function runHelm(
  req: SyncAppsRequest,
  src: Extract<AppSource, { tool: 'helm' }>,
  ctx: StageContext,
  renderer: PostRendererFiles | undefined,
): Promise<ToolStage> {
  const { tools, kubeconfig, logger } = ctx;
  const post = renderer?.executable;
  const recordFile = renderer?.recordFile;
  const args = {
    kubeconfig,
    release: src.release,
    chart: src.chart,
    namespace: src.namespace,
    valuesFiles: src.valuesFiles,
    ...(post ? { postRenderer: post } : {}),
  };
  // Reads only, started at once: helm's version, and the release as it is. In apply mode the
  // release is known first: one that is not installed has nothing to diff against (every object
  // is new, so it changes), and it is installed without running helm diff (~0.5 s of helm
  // processes, on the path to a healthy target on a new cluster); the diff file then lists
  // what was installed. Otherwise the diff runs, beside the release read in diff mode. Whether
  // helm has the helm-diff plugin is asked only if the diff fails: a diff that ran says so. The
  // diff's output goes to the log once it counts. The kubectl proxy, needed only after helm's
  // writes, is started once the upgrade runs: every process started before the upgrade takes
  // CPU from the diff.
  const majorRead = ctx.helmMajor();
  majorRead.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
  const releaseBefore = helmRelease(tools, kubeconfig, src);
  releaseBefore.catch(() => undefined);
  const fresh = req.mode === 'apply' && (await releaseBefore) === undefined;
  const diffArgv = helmDiffArgv(args);
  const diffRun = fresh ? undefined : tools.run('helm', diffArgv, { silent: true });
  diffRun?.catch(() => undefined);
  const major = await majorRead;
  refusePostRenderOnHelm4(major, post);
  let changed: boolean | undefined;
  let durationMs = 0;
  const diff = diffRun ? await diffRun : undefined;
  const diffOutcome = diff ? outcomeOf('helm-diff', diff.exitCode) : undefined;
  const hasDiff = diffOutcome && (diffOutcome.ok || (await requireHelmDiff(tools)));
  if (fresh) {
    changed = true;
    logger.info(
      `Release ${src.release} is not installed in ${src.namespace}: every object is new, so it is installed without a helm diff (there is nothing to diff against); the diff lists the objects installed.`,
    );
    await writeFile(ctx.diffPath, ''); // the objects are listed once installed
  } else if (diff && diffOutcome && hasDiff) {
    durationMs += diff.durationMs;
    logger.info(`[command]helm ${diffArgv.join(' ')}`);
    if (diff.stdout.trim() !== '') logger.info(diff.stdout.trimEnd());
    await writeFile(ctx.diffPath, diff.stdout);
    if (!diffOutcome.ok)
      throw new ExplainedError(
        `helm diff upgrade failed (exit code ${diff.exitCode}):\n${lastLines(diff.stderr)}`,
      );
    changed = diffOutcome.changed;
    logger.info(
      diffOutcome.changed
        ? `helm diff: release ${src.release} has changes (its exit code 2 and "Error: identified at least one change" mean changes, not a failure).`
        : `helm diff: release ${src.release} has no changes.`,
    );
  } else if (req.mode === 'diff') {
    throw new ConfigurationError(
      `Diff mode with helm needs the helm-diff plugin: ${INSTALL_HINTS['helm-diff']}.`,
    );
  } else {
    logger.warning(
      `helm has no helm-diff plugin, so sync-apps cannot tell whether anything changed and upgrades anyway (a new revision): ${INSTALL_HINTS['helm-diff']}.`,
    );
    await writeFile(ctx.diffPath, '');
  }
  const before = await releaseBefore;
  const unit: SyncUnit = {
    name: src.release,
    namespace: src.namespace,
    changed,
    revision: before ? { before: Number(before.revision) } : {},
    workloads: [],
  };
  if (req.mode === 'apply' && changed !== false) {
    const { result, watched } = await watchingReleases(
      ctx,
      [{ name: src.release, namespace: src.namespace }],
      () => {
        const upgrade = tools.run(
          'helm',
          helmUpgradeArgv({
            ...args,
            timeoutSeconds: Math.ceil(ctx.remaining() / 1000),
            helmMajor: major,
          }),
        );
        ctx.warmKube();
        return upgrade;
      },
    );
    durationMs += result.durationMs;
    if (!outcomeOf('helm-upgrade', result.exitCode).ok) {
      const after = await helmRelease(tools, kubeconfig, src).catch(() => undefined);
      const state = after
        ? `Release ${src.release} is now revision ${after.revision}, ${after.status}${after.status === 'deployed' && before ? ' (helm rolled back)' : ''}.`
        : `Release ${src.release} is not installed (helm removed the failed install).`;
      throw await failedRun(
        ctx,
        `helm upgrade --install ${src.release}`,
        result,
        await watched(),
        state,
      );
    }
  } else if (req.mode === 'apply') {
    logger.info(`Release ${src.release}: nothing to change; not upgraded.`);
  }
  ctx.warmKube();
  if (req.mode === 'apply') {
    ctx.onWritten?.(
      [src.namespace],
      renderer ? await lastRender(renderer.renderedFile, src.namespace) : undefined,
    );
  }
  // One read for the release's revision, status and objects (the manifest counts only if the
  // release is installed).
  const after = await releaseStatus(tools, kubeconfig, src);
  if (after) unit.revision = { ...unit.revision, after: after.revision };
  const objects = after?.objects ?? [];
  if (fresh) {
    const listed = objects.map((o) => `+ new ${formatRef(o)}\n`).join('');
    await writeFile(ctx.diffPath, listed);
    if (listed) logger.info(listed.trimEnd());
  }
  const workloads = objects.filter((x) =>
    ['Deployment', 'StatefulSet', 'DaemonSet'].includes(x.kind),
  );
  return {
    units: [unit],
    workloads,
    objects,
    unitOf: () => unit,
    durationMs,
    ...(recordFile ? { recordFile } : {}),
  };
}

/**
 * What the post-renderer passed on in its last render (helm's upgrade, or its diff when nothing
 * changed): what helm applied, namespaces filled in as helm does. Undefined when unknown.
 */
async function lastRender(file: string, namespace: string): Promise<ObjectRef[] | undefined> {
  const lines = (await readFile(file, 'utf8').catch(() => ''))
    .split('\n')
    .filter((l) => l.trim() !== '');
  const last = lines.at(-1);
  if (last === undefined) return undefined;
  try {
    return (JSON.parse(last) as ObjectRef[]).map((o) => ({
      ...o,
      namespace: o.namespace || (isClusterScoped(o.kind) ? '' : namespace),
    }));
  } catch {
    return undefined; // a line cut short: the objects then come from helm status
  }
}

/** One release as `helm list` shows it (any status), or undefined when it is not installed. */
async function helmRelease(
  tools: ToolRunner,
  kubeconfig: string,
  r: { release: string; namespace: string },
): Promise<HelmRelease | undefined> {
  const list = await tools.run(
    'helm',
    [
      'list',
      '--namespace',
      r.namespace,
      '--all',
      '--filter',
      `^${r.release.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`,
      '--output',
      'json',
      '--kubeconfig',
      kubeconfig,
    ],
    { silent: true },
  );
  if (list.exitCode !== 0) throw new ExplainedError(`helm list failed: ${list.stderr.trim()}`);
  return (JSON.parse(list.stdout || '[]') as HelmRelease[]).find(
    (x) => x.name === r.release && x.namespace === r.namespace,
  );
}

/**
 * The release's latest revision and the objects of its manifest (namespaces filled in as helm
 * applied them), from one `helm status`; undefined when the release is not installed (then helm
 * status fails, and `helm list` tells that apart from any other failure).
 */
async function releaseStatus(
  tools: ToolRunner,
  kubeconfig: string,
  r: { release: string; namespace: string },
): Promise<{ revision: number; status: string; objects: ObjectRef[] } | undefined> {
  const s = await tools.run(
    'helm',
    [
      'status',
      r.release,
      '--namespace',
      r.namespace,
      '--output',
      'json',
      '--kubeconfig',
      kubeconfig,
    ],
    { silent: true },
  );
  if (s.exitCode !== 0) {
    if ((await helmRelease(tools, kubeconfig, r)) === undefined) return undefined;
    throw new ExplainedError(`helm status ${r.release} failed: ${s.stderr.trim()}`);
  }
  const release = JSON.parse(s.stdout) as {
    version?: number;
    info?: { status?: string };
    manifest?: string;
  };
  return {
    revision: Number(release.version),
    status: release.info?.status ?? '',
    objects: manifestObjects(parseManifests(release.manifest ?? '', `release ${r.release}`)).map(
      (o) => ({ ...o.ref, namespace: o.ref.namespace || r.namespace }),
    ),
  };
}

async function runKubectl(
  req: SyncAppsRequest,
  src: Extract<AppSource, { tool: 'kubectl' }>,
  ctx: StageContext,
): Promise<ToolStage> {
  const { tools, kubeconfig } = ctx;
  ctx.warmKube();
  const rendered = await renderManifests(tools, src.manifests);
  const docs = parseManifests(rendered, src.manifests);
  const stopped = ctx.policy ? stopSingletonsInDocs(docs, { ...ctx.policy }) : [];
  const text = stringifyManifests(docs);
  const namespace = await contextNamespace(tools, kubeconfig);
  const objects = manifestObjects(docs).map((o) => ({
    ...o.ref,
    namespace: o.ref.namespace || (isClusterScoped(o.ref.kind) ? '' : namespace),
  }));
  // kubectl diff asks the apiserver for a dry run of each object, which fails for objects in a
  // namespace that does not exist yet (even one this very set creates): those are all new, so
  // they are listed rather than diffed.
  const existing = await existingNamespaces(tools, kubeconfig);
  const created = objects.filter((o) =>
    o.kind === 'Namespace'
      ? !existing.has(o.name)
      : o.namespace !== '' && !existing.has(o.namespace),
  );
  const isCreated = (r: ObjectRef) =>
    created.some(
      (c) =>
        c.kind === r.kind &&
        c.name === r.name &&
        (c.kind === 'Namespace' || c.namespace === (r.namespace || namespace)),
    );
  const diffDocs = docs.filter((d) => !manifestObjects([d]).some((o) => isCreated(o.ref)));
  const diff =
    diffDocs.length > 0
      ? await tools.run('kubectl', kubectlArgv(kubeconfig, 'diff'), {
          input: stringifyManifests(diffDocs),
        })
      : { exitCode: 0, stdout: '', stderr: '', durationMs: 0 };
  const newText = created.map((o) => `+ new ${formatRef(o)}\n`).join('');
  await writeFile(ctx.diffPath, newText + diff.stdout);
  if (newText) ctx.logger.info(newText.trimEnd());
  const diffOutcome = outcomeOf('kubectl-diff', diff.exitCode);
  if (!diffOutcome.ok) {
    throw new ExplainedError(
      `kubectl diff failed (exit code ${diff.exitCode}):\n${lastLines(diff.stderr)}`,
    );
  }
  const outcome = { changed: diffOutcome.changed || created.length > 0 };
  let durationMs = diff.durationMs;
  if (req.mode === 'apply') {
    const apply = await tools.run('kubectl', kubectlArgv(kubeconfig, 'apply'), { input: text });
    durationMs += apply.durationMs;
    if (!outcomeOf('kubectl-apply', apply.exitCode).ok) {
      throw new ExplainedError(
        `kubectl apply --server-side failed (exit code ${apply.exitCode}); objects kubectl listed before the error were applied:\n${lastLines(apply.stderr)}`,
      );
    }
  }
  if (req.mode === 'apply') {
    ctx.onWritten?.(
      [...new Set(objects.map((o) => o.namespace).filter((ns) => ns !== ''))],
      objects,
    );
  }
  const unit: SyncUnit = { name: src.manifests, changed: outcome.changed, workloads: [] };
  const workloads = workloadsIn(text, namespace, src.manifests);
  return {
    units: [unit],
    workloads,
    objects,
    unitOf: () => unit,
    durationMs,
    stoppedInProcess: stopped.map((s) => ({ ...s, namespace: s.namespace || namespace })),
  };
}

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'StorageClass',
  'PriorityClass',
  'PersistentVolume',
  'IngressClass',
]);
function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

async function existingNamespaces(tools: ToolRunner, kubeconfig: string): Promise<Set<string>> {
  const r = await tools.run(
    'kubectl',
    [
      '--kubeconfig',
      kubeconfig,
      'get',
      'namespaces',
      '--output',
      'jsonpath={.items[*].metadata.name}',
    ],
    { silent: true },
  );
  if (r.exitCode !== 0)
    throw new ExplainedError(`kubectl get namespaces failed: ${r.stderr.trim()}`);
  return new Set(r.stdout.split(/\s+/).filter((n) => n !== ''));
}

async function contextNamespace(tools: ToolRunner, kubeconfig: string): Promise<string> {
  const r = await tools.run(
    'kubectl',
    [
      '--kubeconfig',
      kubeconfig,
      'config',
      'view',
      '--minify',
      '--output',
      'jsonpath={..namespace}',
    ],
    { silent: true },
  );
  return (r.exitCode === 0 && r.stdout.trim()) || 'default';
}

/** A kustomization (kubectl kustomize), a folder of YAML/JSON files (sorted), or one file. */
async function renderManifests(tools: ToolRunner, path: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new ConfigurationError(
      `manifests "${path}" does not exist; give a folder of YAML files, a kustomization folder, or one file.`,
    );
  }
  if (!info.isDirectory()) return readFile(path, 'utf8');
  const names = (await readdir(path)).sort();
  if (names.some((n) => ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].includes(n))) {
    const r = await tools.run('kubectl', ['kustomize', path], { silent: true });
    if (r.exitCode !== 0)
      throw new ConfigurationError(`kubectl kustomize ${path} failed:\n${lastLines(r.stderr)}`);
    return r.stdout;
  }
  const files = names.filter((n) => ['.yaml', '.yml', '.json'].includes(extname(n)));
  if (files.length === 0)
    throw new ConfigurationError(`manifests folder "${path}" has no .yaml, .yml or .json files.`);
  const texts = await Promise.all(files.map((f) => readFile(join(path, f), 'utf8')));
  return texts.map((t) => (t.endsWith('\n') ? t : `${t}\n`)).join('---\n');
}

async function readStopped(
  run: ToolStage,
  policy: SingletonPolicy | undefined,
): Promise<StoppedObject[]> {
  if (!policy) return [];
  if (run.stoppedInProcess) return run.stoppedInProcess;
  if (!run.recordFile) return [];
  const text = await readFile(run.recordFile, 'utf8').catch(() => '');
  const seen = new Map<string, StoppedObject>();
  for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
    const s = JSON.parse(line) as StoppedObject;
    // helm renders a release more than once (diff, upgrade); objects without a namespace take
    // their release's, as helm applied them.
    const ns =
      s.namespace ||
      run.objects.find((o) => o.kind === s.kind && o.name === s.name)?.namespace ||
      '';
    seen.set(`${s.kind}/${ns}/${s.name}`, { ...s, namespace: ns });
  }
  return [...seen.values()];
}

/**
 * After an apply off the owner, every CronJob applied must be suspended and every singleton
 * Deployment at 0 replicas. The transform guarantees it; this catches what could bypass it (a
 * chart hook, a renderer of the user's). One found is stopped at once and the sync fails.
 */
async function checkSingletonsStopped(
  kube: () => Promise<KubeClient>,
  objects: ObjectRef[],
  policy: SingletonPolicy,
  read: (namespace: string) => Promise<LiveObject[]>,
): Promise<string> {
  const namespaces = [
    ...new Set(
      objects
        .filter((o) => o.kind === 'CronJob' || o.kind === 'Deployment')
        .map((o) => o.namespace),
    ),
  ];
  const live: LiveObject[] = [];
  // Each namespace once, all at once (a namespace the tool's run announced is being read already).
  const lists = await Promise.all(namespaces.map((ns) => read(ns)));
  for (const [i, ns] of namespaces.entries()) {
    live.push(
      ...(lists[i] ?? []).filter((o) =>
        objects.some((r) => r.kind === o.kind && r.namespace === ns && r.name === o.metadata?.name),
      ),
    );
  }
  const running = runningSingletons(live, policy);
  if (running.length === 0) {
    return `Every CronJob${policy.selector ? ' and singleton Deployment' : ''} applied here is stopped.`;
  }
  const notSet: string[] = [];
  for (const r of running) {
    const patch = r.kind === 'CronJob' ? { spec: { suspend: true } } : { spec: { replicas: 0 } };
    const resource = r.kind === 'CronJob' ? RESOURCES.CronJob : RESOURCES.Deployment;
    try {
      await (
        await kube()
      ).mergePatch(
        `${resourcePath(resource, r.namespace, r.name)}?fieldManager=${encodeURIComponent(FIELD_MANAGER)}`,
        patch,
      );
    } catch (e) {
      notSet.push(
        `${r.kind} ${r.namespace}/${r.name} (${e instanceof Error ? e.message : String(e)})`,
      );
    }
  }
  const set = running.filter(
    (r) => !notSet.some((n) => n.startsWith(`${r.kind} ${r.namespace}/${r.name} `)),
  );
  throw new ExplainedError(
    `On this cluster, which is not the owner, ${running.map((r) => `${r.kind} ${r.namespace}/${r.name}`).join(', ')} ${running.length === 1 ? 'was' : 'were'} applied running although sync-apps renders them stopped: something bypassed the post-renderer (a chart hook, a postRenderer of your own). ${set.length > 0 ? `sync-apps has now set ${[...new Set(set.map((r) => r.set))].join(' / ')}${notSet.length > 0 ? ` on ${set.map((r) => `${r.kind} ${r.namespace}/${r.name}`).join(', ')}` : ''}; ` : ''}${notSet.length > 0 ? `stopping ${notSet.join(', ')} failed: stop ${notSet.length === 1 ? 'it' : 'them'} by hand (kubectl patch … suspend: true / replicas: 0); ` : ''}check whether a Job ran (kubectl get jobs -A) and find what applied them.`,
  );
}

/** What a cancelled run leaves behind, by tool. */
export function stateLeftOnCancel(source: AppSource): string {
  switch (source.tool) {
    case 'helm':
      return `Cancelled while helm ran: release ${source.release} in ${source.namespace} may be left pending-upgrade or pending-install. Check \`helm history ${source.release} -n ${source.namespace}\`; \`helm rollback ${source.release} -n ${source.namespace}\` clears a pending upgrade.`;
    case 'helmfile':
      return 'Cancelled while helmfile ran: releases applied before the cancel stay applied, the one in progress may be left pending-upgrade (check `helm list --all -A`); run sync-apps again to converge.';
    case 'kubectl':
      return 'Cancelled while kubectl ran: server-side apply writes object by object, so some objects may be applied and others not; run sync-apps again to converge.';
  }
}
