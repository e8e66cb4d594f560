/**
 * Reads and validates every sync-apps input before anything touches the cluster.
 */
import { ConfigurationError } from '../../common/errors.js';
import type { Mode } from '../../kube/argv.js';
import type { AppSource, ClusterTarget } from '../../operations/sync-apps.js';
import { readRolloutFile, type RolloutFile } from '../../rollout-file/index.js';
import { getDurationInput, getMultilineInput, getOptionalInput } from '../common/inputs.js';
import { Inputs } from './io.js';

export interface SyncAppsInputs {
  cluster: ClusterTarget;
  region: string | undefined;
  source: AppSource;
  mode: Mode;
  rollout?: { file: RolloutFile; as: string };
  timeoutMs: number;
}

export async function readSyncAppsInputs(
  env: NodeJS.ProcessEnv = process.env,
): Promise<SyncAppsInputs> {
  const clusterName = getOptionalInput(Inputs.cluster);
  const kubeconfig = getOptionalInput(Inputs.kubeconfig);
  const helmfile = getOptionalInput(Inputs.helmfile);
  const chart = getOptionalInput(Inputs.chart);
  const manifests = getOptionalInput(Inputs.manifests);
  const modeText = getOptionalInput(Inputs.mode) ?? 'apply';
  const rolloutPath = getOptionalInput(Inputs.rolloutFile);
  const as = getOptionalInput(Inputs.as);
  const timeoutMs = getDurationInput(Inputs.timeout) ?? 600_000;

  if (modeText !== 'apply' && modeText !== 'diff') {
    throw new ConfigurationError(
      `Input "${Inputs.mode}" must be apply or diff, got "${modeText}".`,
    );
  }
  if (timeoutMs <= 0)
    throw new ConfigurationError(`Input "${Inputs.timeout}" must be more than 0.`);
  if ((clusterName === undefined) === (kubeconfig === undefined)) {
    throw new ConfigurationError(
      `Give exactly one of inputs "${Inputs.cluster}" (an EKS cluster name) and "${Inputs.kubeconfig}" (a kubeconfig path).`,
    );
  }
  const sources = [
    helmfile && Inputs.helmfile,
    chart && Inputs.chart,
    manifests && Inputs.manifests,
  ].filter((s) => !!s) as string[];
  if (sources.length !== 1) {
    throw new ConfigurationError(
      sources.length === 0
        ? `Say what to deploy: input "${Inputs.helmfile}" (a helmfile), "${Inputs.chart}" with "${Inputs.release}" and "${Inputs.namespace}" (helm), or "${Inputs.manifests}" (kubectl).`
        : `Give one of inputs ${sources.map((s) => `"${s}"`).join(' and ')}, not several: each sync runs one tool.`,
    );
  }
  const notFor = (tool: string, names: string[]) => {
    const given = names.filter(
      (n) => getOptionalInput(n) !== undefined || getMultilineInput(n).length > 0,
    );
    if (given.length > 0) {
      throw new ConfigurationError(
        `Input ${given.map((g) => `"${g}"`).join(', ')} does not apply to ${tool}; remove it.`,
      );
    }
  };
  let source: AppSource;
  if (helmfile) {
    notFor('helmfile', [Inputs.release, Inputs.namespace, Inputs.values]);
    const environment = getOptionalInput(Inputs.environment);
    source = {
      tool: 'helmfile',
      file: helmfile,
      selectors: getMultilineInput(Inputs.selector),
      ...(environment ? { environment } : {}),
    };
  } else if (chart) {
    notFor('helm', [Inputs.environment, Inputs.selector]);
    const release = getOptionalInput(Inputs.release);
    const namespace = getOptionalInput(Inputs.namespace);
    if (!release || !namespace) {
      throw new ConfigurationError(
        `Input "${Inputs.chart}" needs "${Inputs.release}" and "${Inputs.namespace}" too.`,
      );
    }
    source = {
      tool: 'helm',
      chart,
      release,
      namespace,
      valuesFiles: getMultilineInput(Inputs.values),
    };
  } else {
    notFor('kubectl manifests', [
      Inputs.release,
      Inputs.namespace,
      Inputs.values,
      Inputs.environment,
      Inputs.selector,
    ]);
    source = { tool: 'kubectl', manifests: manifests as string };
  }

  let rollout: SyncAppsInputs['rollout'];
  if (rolloutPath) {
    if (!as) {
      throw new ConfigurationError(
        `Input "${Inputs.as}" is required with "${Inputs.rolloutFile}": the name of this cluster in the file.`,
      );
    }
    const file = await readRolloutFile(rolloutPath);
    if (!file.clusters.some((c) => c.name === as)) {
      throw new ConfigurationError(
        `Input "${Inputs.as}" is "${as}", which is not a cluster of ${rolloutPath}; its clusters are ${file.clusters.map((c) => c.name).join(', ')}.`,
      );
    }
    rollout = { file, as };
  } else if (as) {
    throw new ConfigurationError(`Input "${Inputs.as}" needs "${Inputs.rolloutFile}".`);
  }
  const region =
    getOptionalInput(Inputs.region) ??
    rollout?.file.region ??
    env.AWS_REGION ??
    env.AWS_DEFAULT_REGION;
  let cluster: ClusterTarget;
  if (clusterName) {
    if (!region) {
      throw new ConfigurationError(
        `Input "${Inputs.region}" is required with "${Inputs.cluster}" when there is no rollout file and no AWS_REGION.`,
      );
    }
    cluster = { kind: 'eks', name: clusterName, region };
  } else cluster = { kind: 'kubeconfig', path: kubeconfig as string };
  return { cluster, region, source, mode: modeText, ...(rollout ? { rollout } : {}), timeoutMs };
}
