/**
 * The CLI's cluster commands, over the operations the create-cluster, sync-apps and
 * retire-cluster actions run: `create-cluster` (an EKS cluster from an eksctl ClusterConfig),
 * `sync` (apps onto one cluster with helmfile, helm or kubectl, then the target group binding),
 * `retire` (the gated retirement of a cluster the rollout files name) and `token` (the
 * kubeconfig exec plugin: an ExecCredential with a fresh EKS token).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { clientOptions, makeElbv2Client } from '../aws/clients.js';
import { systemClock } from '../common/clock.js';
import { formatDuration } from '../common/duration.js';
import { ConfigurationError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { readClusterConfig } from '../eks/cluster-config.js';
import { makeEksClient } from '../eks/describe.js';
import { execCredential } from '../eks/exec-credential.js';
import { buildKubeconfig } from '../eks/kubeconfig.js';
import type { Mode } from '../kube/argv.js';
import { execToolRunner } from '../kube/tools.js';
import {
  CreateClusterStoppedError,
  DriftError,
  createCluster,
  type CreateClusterResult,
} from '../operations/create-cluster.js';
import { retireClients } from '../operations/aws-clients.js';
import type { RetireOutcome } from '../operations/results.js';
import { retireCluster, retireTarget } from '../operations/retire-cluster.js';
import {
  syncApps,
  type AppSource,
  type ClusterTarget,
  type SyncAppsResult,
} from '../operations/sync-apps.js';
import { readRolloutFile, type RolloutFile } from '../rollout-file/index.js';
import { EXIT } from './exit.js';
import type { CliIO } from './io.js';
import { retireText } from './text.js';

type Values = Record<string, string | boolean | string[] | undefined>;

/** This bundle (dist/cli/index.js), and the helpers bundled beside it (scripts/bundle.mjs). */
const SELF = fileURLToPath(import.meta.url);
function helper(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

function text(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function list(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** --timeout and --poll-interval of the commands that wait on AWS, checked as the actions check theirs. */
function waitLimits(
  duration: (name: string, fallback: number) => number,
  defaultTimeoutMs: number,
): { timeoutMs: number; pollMs: number } {
  const timeoutMs = duration('timeout', defaultTimeoutMs);
  const pollMs = duration('poll-interval', 15_000);
  if (timeoutMs <= 0) throw new ConfigurationError('--timeout must be longer than 0s.');
  if (pollMs < 100 || pollMs > 300_000) {
    throw new ConfigurationError(`--poll-interval must be from 100ms to 5m, got ${pollMs} ms.`);
  }
  if (pollMs >= timeoutMs)
    throw new ConfigurationError('--poll-interval must be shorter than --timeout.');
  return { timeoutMs, pollMs };
}

/** A terminal's progress line while waiting: more often than a job log's 30 s. */
function progressEvery(pollMs: number): number {
  return Math.max(pollMs * 4, 5_000);
}

/** A file path as the user typed it, so problems are reported there (file:line:col). */
function asGiven(cwd: string, path: string): string {
  return resolve(cwd) === process.cwd() ? path : resolve(cwd, path);
}

/** `token <cluster> [--region r]`, or as the kubeconfig runs it: `token --cluster c --region r`. */
export async function tokenCommand(
  values: Values,
  positionals: string[],
  io: CliIO,
): Promise<number> {
  const flag = text(values, 'cluster');
  if (positionals.length > 1 || (flag !== undefined && positionals.length > 0)) {
    throw new ConfigurationError(
      'token takes one EKS cluster name: "token <cluster>" (or --cluster <cluster>), not several.',
    );
  }
  const cluster = flag ?? positionals[0];
  if (!cluster) {
    throw new ConfigurationError(
      'token needs the EKS cluster name: "token <cluster> [--region us-east-1]".',
    );
  }
  const region = text(values, 'region') ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new ConfigurationError(
      'token needs a region: give --region, or set AWS_REGION (the cluster’s region).',
    );
  }
  try {
    io.out(await execCredential(['--cluster', cluster, '--region', region], process.env));
  } catch (e) {
    if (e instanceof Error && /^not an EKS cluster name/.test(e.message)) {
      throw new ConfigurationError(`token: ${e.message}; give the EKS cluster's name.`);
    }
    throw e;
  }
  return EXIT.ok;
}

/** A kubeconfig user that stays valid after this process: this bundle's `token` command. */
export function durableTokenExec(): { command: string; args: string[] } {
  return { command: process.execPath, args: [SELF, 'token'] };
}

export async function createClusterCommand(
  values: Values,
  positionals: string[],
  io: CliIO,
  logger: Logger,
  duration: (name: string, fallback: number) => number,
): Promise<number> {
  if (positionals.length !== 1) {
    throw new ConfigurationError(
      'create-cluster takes one eksctl ClusterConfig file, e.g. "create-cluster clusters/green.yaml".',
    );
  }
  const { timeoutMs, pollMs } = waitLimits(duration, 45 * 60_000);
  const config = await readClusterConfig(asGiven(io.cwd, positionals[0] as string));
  const kubeconfigPath = resolve(
    io.cwd,
    text(values, 'kubeconfig') ?? join(tmpdir(), `kubeconfig-${config.name}`),
  );
  const dryRun = values['dry-run'] === true;
  const json = values.json === true;
  const eks = new EKSClient(clientOptions(config.region));
  const iam = new IAMClient(clientOptions(config.region));
  try {
    let result: CreateClusterResult;
    try {
      result = await createCluster(
        { config, dryRun, timeoutMs, pollMs, progressEveryMs: progressEvery(pollMs) },
        { clients: { eks, iam }, logger, clock: systemClock, signal: io.signal },
      );
    } catch (e) {
      if (e instanceof CreateClusterStoppedError) {
        const report = {
          cluster: config.name,
          region: config.region,
          result: 'stopped',
          message: e.message,
          plan: e.plan,
          steps: e.steps,
          states: e.states,
        };
        if (json) io.out(JSON.stringify(report, null, 2));
        else {
          io.out(
            [
              `create-cluster ${config.name}: stopped. ${e.message}`,
              'What exists now:',
              ...e.states.map(
                (s) =>
                  `  ${s.resource} ${s.name}: ${s.state}${s.issues?.length ? ` (${s.issues.join('; ')})` : ''}`,
              ),
            ].join('\n'),
          );
        }
        return io.signal.aborted ? EXIT.interrupted : EXIT.failed;
      }
      if (e instanceof DriftError && json) {
        io.out(
          JSON.stringify(
            { cluster: config.name, region: config.region, result: 'drift', plan: e.plan },
            null,
            2,
          ),
        );
      }
      throw e;
    }
    let kubeconfig: string | undefined;
    const c = result.cluster;
    if (!dryRun && c && c.status === 'ACTIVE' && c.endpoint !== '') {
      await mkdir(dirname(kubeconfigPath), { recursive: true });
      await writeFile(
        kubeconfigPath,
        buildKubeconfig({
          clusterName: config.name,
          region: config.region,
          endpoint: c.endpoint,
          certificateAuthorityData: c.certificateAuthorityData,
          exec: durableTokenExec(),
        }),
        { mode: 0o600 },
      );
      kubeconfig = kubeconfigPath;
      logger.info(`Kubeconfig written to ${kubeconfigPath} (its user runs: ${SELF} token).`);
    }
    if (json) {
      io.out(
        JSON.stringify(
          {
            cluster: config.name,
            region: config.region,
            result: dryRun ? 'planned' : result.changed ? 'changed' : 'unchanged',
            dryRun,
            changed: result.changed,
            plan: result.plan,
            steps: result.steps,
            ...(c ? { outputs: c } : {}),
            ...(kubeconfig ? { kubeconfig } : {}),
          },
          null,
          2,
        ),
      );
    } else io.out(createClusterText(config.name, result, kubeconfig));
    return EXIT.ok;
  } finally {
    eks.destroy();
    iam.destroy();
  }
}

function createClusterText(
  name: string,
  r: CreateClusterResult,
  kubeconfig: string | undefined,
): string {
  const took = formatDuration(
    Math.round((r.endedAt.getTime() - r.startedAt.getTime()) / 1000) * 1000,
  );
  const head = r.dryRun
    ? `create-cluster ${name}: plan (dry run, nothing changed)`
    : r.changed
      ? `create-cluster ${name}: done in ${took}`
      : r.steps.length > 0
        ? `create-cluster ${name}: nothing to change; waited for what a previous run left in progress`
        : `create-cluster ${name}: already as configured (nothing changed)`;
  return [
    head,
    ...r.plan.map((p) => `  ${p.action}: ${p.resource} ${p.name}: ${p.why}`),
    ...r.steps.map(
      (s) =>
        `  done: ${s.what} (${formatDuration(Math.max(0, Math.round((s.endedAt.getTime() - s.startedAt.getTime()) / 1000)) * 1000)})`,
    ),
    ...(r.cluster ? [`  ${r.cluster.arn}: ${r.cluster.status}, ${r.cluster.endpoint}`] : []),
    ...(kubeconfig ? [`  kubeconfig: ${kubeconfig}`] : []),
  ].join('\n');
}

/** Reads and checks the sync flags the way the sync-apps action checks its inputs. */
async function syncRequest(
  values: Values,
  positionals: string[],
  cwd: string,
): Promise<{
  cluster: ClusterTarget;
  region: string;
  source: AppSource;
  mode: Mode;
  rollout?: { file: RolloutFile; as: string };
}> {
  const kubeconfig = text(values, 'kubeconfig');
  if (positionals.length > 1) {
    throw new ConfigurationError(
      `sync takes one EKS cluster name, got ${positionals.length}: ${positionals.join(' ')}.`,
    );
  }
  const clusterName = positionals[0];
  if ((clusterName === undefined) === (kubeconfig === undefined)) {
    throw new ConfigurationError(
      'sync needs the cluster: an EKS cluster name ("sync prod-green …") or --kubeconfig <path>, exactly one of them.',
    );
  }
  const helmfile = text(values, 'helmfile');
  const chart = text(values, 'chart');
  const manifests = text(values, 'manifests');
  const modeText = text(values, 'mode') ?? 'apply';
  if (modeText !== 'apply' && modeText !== 'diff') {
    throw new ConfigurationError(`--mode must be apply or diff, got "${modeText}".`);
  }
  const sources = [helmfile && '--helmfile', chart && '--chart', manifests && '--manifests'].filter(
    (s): s is string => !!s,
  );
  if (sources.length !== 1) {
    throw new ConfigurationError(
      sources.length === 0
        ? 'Say what to deploy: --helmfile <file>, --chart <chart> with --release and --namespace (helm), or --manifests <dir> (kubectl).'
        : `Give one of ${sources.join(' and ')}, not several: each sync runs one tool.`,
    );
  }
  const notFor = (tool: string, names: string[]): void => {
    const given = names.filter((n) => values[n] !== undefined && list(values, n).length > 0);
    if (given.length > 0) {
      throw new ConfigurationError(
        `${given.map((g) => `--${g}`).join(', ')} does not apply to ${tool}; remove it.`,
      );
    }
  };
  const abs = (p: string): string => resolve(cwd, p);
  let source: AppSource;
  if (helmfile) {
    notFor('helmfile', ['release', 'namespace', 'values']);
    const environment = text(values, 'environment');
    source = {
      tool: 'helmfile',
      file: abs(helmfile),
      selectors: list(values, 'selector'),
      ...(environment ? { environment } : {}),
    };
  } else if (chart) {
    notFor('helm', ['environment', 'selector']);
    const release = text(values, 'release');
    const namespace = text(values, 'namespace');
    if (!release || !namespace) {
      throw new ConfigurationError(
        `--chart needs ${[!release && '--release', !namespace && '--namespace'].filter(Boolean).join(' and ')} too.`,
      );
    }
    // A local chart is a path; a repository chart ("repo/name", "oci://…") is passed as is.
    source = {
      tool: 'helm',
      chart: existsSync(abs(chart)) ? abs(chart) : chart,
      release,
      namespace,
      valuesFiles: list(values, 'values').map(abs),
    };
  } else {
    notFor('kubectl manifests', ['release', 'namespace', 'values', 'environment', 'selector']);
    source = { tool: 'kubectl', manifests: abs(manifests as string) };
  }
  const rolloutPath = text(values, 'rollout-file');
  const as = text(values, 'as');
  let rollout: { file: RolloutFile; as: string } | undefined;
  if (rolloutPath) {
    if (!as) {
      throw new ConfigurationError(
        '--as is required with --rollout-file: the name of this cluster in the file (e.g. --as green).',
      );
    }
    const file = await readRolloutFile(abs(rolloutPath));
    if (!file.clusters.some((c) => c.name === as)) {
      throw new ConfigurationError(
        `--as is "${as}", which is not a cluster of ${rolloutPath}; its clusters are ${file.clusters.map((c) => c.name).join(', ')}.`,
      );
    }
    rollout = { file, as };
  } else if (as) {
    throw new ConfigurationError('--as needs --rollout-file (the file that names the cluster).');
  }
  const region =
    text(values, 'region') ??
    rollout?.file.region ??
    process.env.AWS_REGION ??
    process.env.AWS_DEFAULT_REGION;
  let cluster: ClusterTarget;
  if (clusterName) {
    if (!region) {
      throw new ConfigurationError(
        'sync <cluster> needs a region: --region, a --rollout-file, or AWS_REGION.',
      );
    }
    cluster = { kind: 'eks', name: clusterName, region };
  } else cluster = { kind: 'kubeconfig', path: abs(kubeconfig as string) };
  return {
    cluster,
    region: region ?? 'us-east-1',
    source,
    mode: modeText,
    ...(rollout ? { rollout } : {}),
  };
}

export async function syncCommand(
  values: Values,
  positionals: string[],
  io: CliIO,
  logger: Logger,
  duration: (name: string, fallback: number) => number,
): Promise<number> {
  const timeoutMs = duration('timeout', 600_000);
  if (timeoutMs <= 0) throw new ConfigurationError('--timeout must be more than 0s.');
  const req = await syncRequest(values, positionals, io.cwd);
  const workDir = await mkdtemp(join(tmpdir(), 'ecc-sync-'));
  const env = Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const eks = makeEksClient(req.region);
  const elbv2 = makeElbv2Client(req.rollout?.file.region ?? req.region);
  try {
    const result = await syncApps(
      {
        cluster: req.cluster,
        source: req.source,
        mode: req.mode,
        ...(req.rollout ? { rollout: req.rollout } : {}),
        timeoutMs,
        workDir,
        helpers: {
          node: process.execPath,
          postRenderer: helper('post-render.js'),
        },
      },
      {
        tools: (toolEnv) =>
          execToolRunner({ env: toolEnv, signal: io.signal, logStream: process.stderr }),
        env,
        eks: () => eks,
        elbv2: () => elbv2,
        logger,
        clock: systemClock,
        signal: io.signal,
      },
    );
    if (values.json === true) io.out(JSON.stringify(syncReport(result), null, 2));
    else io.out(syncText(result, req.rollout?.as));
    if (req.mode === 'diff') logger.info(`The full diff: ${result.diffPath}`);
    return EXIT.ok;
  } finally {
    eks.destroy();
    elbv2.destroy();
    // The diff stays for the user to read; the kubeconfig and policy files go.
    await rm(join(workDir, 'kubeconfig'), { force: true });
  }
}

function syncReport(r: SyncAppsResult): object {
  return {
    mode: r.mode,
    tool: r.tool,
    owner: r.owner ?? null,
    changed: r.changed,
    diff: r.diffPath,
    units: r.units,
    resources: r.resources,
    stopped: r.stopped,
    ...(r.binding
      ? {
          binding: {
            namespace: r.binding.namespace,
            name: r.binding.name,
            targetGroupArn: r.binding.targetGroupArn,
            serviceName: r.binding.serviceName,
            servicePort: r.binding.servicePort,
            applied: r.binding.applied,
            minHealthy: r.binding.minHealthy,
            ...(r.binding.targets
              ? {
                  healthyHere: r.binding.targets.healthyHere,
                  targets: r.binding.targets.targets,
                }
              : {}),
          },
        }
      : {}),
    timings: { toolMs: r.toolMs, waitMs: r.waitMs, bindMs: r.bindMs },
  };
}

function syncText(r: SyncAppsResult, as: string | undefined): string {
  const owner =
    r.owner === undefined
      ? 'no rollout file: singletons applied as written'
      : r.owner
        ? 'this cluster owns the singletons'
        : 'not the owner: singletons rendered stopped';
  const lines = [
    `sync${r.mode === 'diff' ? ' (diff)' : ''} with ${r.tool}${as ? ` on ${as}` : ''}: ${
      r.changed ? (r.mode === 'diff' ? 'would change' : 'changed') : 'nothing to change'
    }; ${owner}.`,
  ];
  for (const u of r.units) {
    lines.push(
      `  ${u.namespace ? `${u.namespace}/` : ''}${u.name}: ${u.changed === undefined ? 'change unknown' : u.changed ? 'changed' : 'unchanged'}${u.revision ? `, revision ${u.revision.before ?? '–'} → ${u.revision.after ?? '–'}` : ''}`,
    );
    for (const w of u.workloads) lines.push(`    ${w.kind} ${w.name}: ${w.summary}`);
  }
  for (const o of r.stopped) lines.push(`  stopped: ${o.kind} ${o.namespace}/${o.name} (${o.set})`);
  if (r.binding) {
    lines.push(
      r.binding.targets
        ? `  TargetGroupBinding ${r.binding.namespace}/${r.binding.name} → ${r.binding.targetGroupArn}: ${r.binding.targets.healthyHere} healthy target(s) from this cluster (need ${r.binding.minHealthy})`
        : `  would bind Service ${r.binding.namespace}/${r.binding.serviceName} port ${r.binding.servicePort} → ${r.binding.targetGroupArn}`,
    );
  }
  return lines.join('\n');
}

/**
 * `retire <files…> --as <cluster>`: the retire-cluster action's operation, with its gate (every
 * reason at once, nothing changed: exit 3), its order and its stop report (Ctrl-C: what is left,
 * exit 130; a timeout or a failed deletion: exit 1). The result goes to stdout, progress to stderr.
 */
export async function retireCommand(
  values: Values,
  positionals: string[],
  io: CliIO,
  logger: Logger,
  duration: (name: string, fallback: number) => number,
): Promise<number> {
  if (positionals.length === 0) {
    throw new ConfigurationError(
      'retire needs the rollout files that name the cluster, one per service it serves: "retire rollouts/web.yaml --as blue".',
    );
  }
  const as = text(values, 'as');
  if (!as) {
    throw new ConfigurationError(
      'retire needs --as <cluster>: the name of the cluster to retire in the rollout files (e.g. --as blue).',
    );
  }
  const { timeoutMs, pollMs } = waitLimits(duration, 30 * 60_000);
  const files: RolloutFile[] = [];
  for (const path of new Set(positionals)) files.push(await readRolloutFile(asGiven(io.cwd, path)));
  const { eksName, fileRegion } = retireTarget(files, as, '--as');
  const region = text(values, 'region') ?? fileRegion;
  const clients = retireClients({ region, fileRegion, eksName, as });
  try {
    const outcome = await retireCluster(
      {
        files,
        as,
        region,
        dryRun: values['dry-run'] === true,
        timeoutMs,
        pollMs,
        progressEveryMs: progressEvery(pollMs),
      },
      { clients, logger, clock: systemClock, signal: io.signal },
    );
    io.out(
      values.json === true ? JSON.stringify(retireReport(outcome), null, 2) : retireText(outcome),
    );
    switch (outcome.status) {
      case 'retired':
      case 'planned':
        return EXIT.ok;
      case 'refused':
        return EXIT.refused;
      case 'stopped':
        return io.signal.aborted ? EXIT.interrupted : EXIT.failed;
      case 'failed':
        return EXIT.failed;
    }
  } finally {
    clients.destroy();
  }
}

/** retire --json (docs/cli.md): the outcome, in reading order. */
function retireReport(o: RetireOutcome): object {
  return {
    command: o.command,
    cluster: o.cluster,
    eksName: o.eksName,
    region: o.region,
    targetGroups: o.targetGroups,
    dryRun: o.dryRun,
    status: o.status,
    refusals: o.refusals,
    ...(o.failure !== undefined ? { failure: o.failure } : {}),
    plan: o.plan,
    steps: o.steps,
    ...(o.left ? { left: o.left } : {}),
    notes: o.notes,
    startedAt: o.startedAt,
    endedAt: o.endedAt,
  };
}
