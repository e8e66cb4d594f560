/**
 * The command lines sync-apps runs, built as argument arrays (never a shell string), and what
 * each tool's exit code means. Pure: tested without running anything.
 */

/** Our field manager for server-side apply: who owns the fields we write, in managedFields. */
export const FIELD_MANAGER = 'eks-cluster-canary';

export type Mode = 'apply' | 'diff';

export interface HelmfileArgs {
  kubeconfig: string;
  file: string;
  environment?: string;
  selectors: string[];
  mode: Mode;
  /** Absent on the owner: nothing to stop there. */
  postRenderer?: string;
  timeoutSeconds: number;
}

export function helmfileArgv(a: HelmfileArgs): string[] {
  const global = ['--kubeconfig', a.kubeconfig, '--file', a.file, '--no-color'];
  if (a.environment) global.push('--environment', a.environment);
  for (const s of a.selectors) global.push('--selector', s);
  const post = a.postRenderer ? ['--post-renderer', a.postRenderer] : [];
  if (a.mode === 'diff') {
    return [...global, 'diff', '--suppress-secrets', '--detailed-exitcode', ...post];
  }
  return [
    ...global,
    'apply',
    '--suppress-secrets',
    '--skip-diff-on-install',
    '--detailed-exitcode',
    '--wait',
    '--timeout',
    String(a.timeoutSeconds),
    ...post,
  ];
}

export function helmfileListArgv(
  a: Omit<HelmfileArgs, 'mode' | 'postRenderer' | 'timeoutSeconds'>,
): string[] {
  const argv = ['--kubeconfig', a.kubeconfig, '--file', a.file, '--no-color'];
  if (a.environment) argv.push('--environment', a.environment);
  for (const s of a.selectors) argv.push('--selector', s);
  return [...argv, 'list', '--output', 'json'];
}

/** `helmfile build`: the state as helmfile reads it (release postRenderers among it). */
export function helmfileBuildArgv(
  a: Omit<HelmfileArgs, 'mode' | 'postRenderer' | 'timeoutSeconds'>,
): string[] {
  return [...helmfileListArgv(a).slice(0, -3), 'build'];
}

export interface HelmArgs {
  kubeconfig: string;
  release: string;
  chart: string;
  namespace: string;
  valuesFiles: string[];
  postRenderer?: string;
  timeoutSeconds: number;
  /** 3 or 4: how rollback on failure is spelled. */
  helmMajor: number;
}

export function helmUpgradeArgv(a: HelmArgs): string[] {
  return [
    'upgrade',
    '--install',
    a.release,
    a.chart,
    '--kubeconfig',
    a.kubeconfig,
    '--namespace',
    a.namespace,
    '--create-namespace',
    '--wait',
    '--timeout',
    `${a.timeoutSeconds}s`,
    // Helm 4 renamed --atomic; both roll the release back when the wait fails.
    a.helmMajor >= 4 ? '--rollback-on-failure' : '--atomic',
    ...a.valuesFiles.flatMap((f) => ['--values', f]),
    ...(a.postRenderer ? ['--post-renderer', a.postRenderer] : []),
  ];
}

export function helmDiffArgv(a: Omit<HelmArgs, 'timeoutSeconds' | 'helmMajor'>): string[] {
  return [
    'diff',
    'upgrade',
    a.release,
    a.chart,
    '--kubeconfig',
    a.kubeconfig,
    '--namespace',
    a.namespace,
    '--allow-unreleased',
    '--suppress-secrets',
    '--detailed-exitcode',
    '--no-color',
    ...a.valuesFiles.flatMap((f) => ['--values', f]),
    ...(a.postRenderer ? ['--post-renderer', a.postRenderer] : []),
  ];
}

/** kubectl reads the (already transformed) manifests from stdin. */
export function kubectlArgv(kubeconfig: string, mode: Mode): string[] {
  return [
    '--kubeconfig',
    kubeconfig,
    mode === 'diff' ? 'diff' : 'apply',
    '--server-side',
    '--field-manager',
    FIELD_MANAGER,
    '--filename',
    '-',
  ];
}

export type Outcome = { ok: true; changed: boolean } | { ok: false };

/**
 * helmfile apply/diff and helm diff with --detailed-exitcode: 0 no change, 2 changes (applied
 * successfully, for apply), anything else a failure. kubectl diff: 0 no change, 1 changes,
 * above 1 a failure. helm upgrade and kubectl apply: 0 success.
 */
export function outcomeOf(
  command: 'helmfile' | 'helm-diff' | 'helm-upgrade' | 'kubectl-diff' | 'kubectl-apply',
  exitCode: number,
): Outcome {
  switch (command) {
    case 'helmfile':
    case 'helm-diff':
      return exitCode === 0 || exitCode === 2
        ? { ok: true, changed: exitCode === 2 }
        : { ok: false };
    case 'kubectl-diff':
      return exitCode === 0 || exitCode === 1
        ? { ok: true, changed: exitCode === 1 }
        : { ok: false };
    case 'helm-upgrade':
    case 'kubectl-apply':
      return exitCode === 0 ? { ok: true, changed: true } : { ok: false };
  }
}

/** `helm version --short` → its major version ("v3.22.0+g…" → 3). */
export function helmMajorVersion(output: string): number | undefined {
  const m = /v(\d+)\./.exec(output.trim());
  return m ? Number(m[1]) : undefined;
}
