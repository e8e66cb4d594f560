/**
 * Where the Kubernetes tools built by `npm run kube-tools` (scripts/kube-tools.sh) live. The
 * sandbox's clusters and the tests find kube-apiserver, kube-controller-manager, etcd, kubectl,
 * helm, helmfile and the helm-diff plugin here, never on PATH: the machine's own kubectl may be
 * too old for the apiserver we build. The same path logic as the script: KUBE_TOOLS_DIR, else
 * $XDG_CACHE_HOME or ~/.cache, then eks-cluster-canary/tools.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

export const TOOL_NAMES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kubectl',
  'helm',
  'helmfile',
] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

export interface KubeTools {
  /** The cache folder (…/eks-cluster-canary/tools). */
  dir: string;
  /** Folder of links to every binary; put it first on PATH for helmfile (it runs `helm`). */
  binDir: string;
  /** Absolute path of each binary. */
  bin: Record<ToolName, string>;
  /** For HELM_PLUGINS: holds the helm-diff plugin. */
  helmPlugins: string;
  /** The versions the script pinned (versions.json). */
  versions: Record<string, string>;
  /** Environment for running kubectl/helm/helmfile: PATH with binDir first, HELM_PLUGINS. */
  env(base?: NodeJS.ProcessEnv): Record<string, string>;
}

/** What to run when the tools are missing; every message about a missing tool says it. */
export const BUILD_HINT =
  'Build them with `npm run kube-tools` (scripts/kube-tools.sh: builds from Go modules, about 30 minutes the first time, then cached).';

export function kubeToolsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KUBE_TOOLS_DIR) return env.KUBE_TOOLS_DIR;
  const cache = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'eks-cluster-canary', 'tools');
}

/** The reason the tools cannot be used, or undefined when every one of them is there. */
export function missingKubeTools(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = kubeToolsDir(env);
  const missing = TOOL_NAMES.filter((t) => !isExecutable(join(dir, 'bin', t)));
  if (!isExecutable(join(dir, 'helm-plugins', 'diff', 'bin', 'diff')))
    missing.push('helm-diff' as ToolName);
  if (missing.length > 0) {
    return `The sandbox's Kubernetes tools are missing from ${dir}/bin (${missing.join(', ')}). ${BUILD_HINT}`;
  }
  if (!hasOpenssl()) {
    return "openssl is not on PATH: the sandbox signs its clusters' certificates with it (Debian: apt-get install openssl).";
  }
  return undefined;
}

/** The built tools, or undefined when any is missing (see missingKubeTools for why). */
export function findKubeTools(env: NodeJS.ProcessEnv = process.env): KubeTools | undefined {
  if (missingKubeTools(env) !== undefined) return undefined;
  const dir = kubeToolsDir(env);
  const binDir = join(dir, 'bin');
  const bin = Object.fromEntries(TOOL_NAMES.map((t) => [t, join(binDir, t)])) as Record<
    ToolName,
    string
  >;
  let versions: Record<string, string> = {};
  try {
    versions = JSON.parse(readFileSync(join(dir, 'versions.json'), 'utf8')) as Record<
      string,
      string
    >;
  } catch {
    // versions.json is informational; the binaries are what matter.
  }
  const helmPlugins = join(dir, 'helm-plugins');
  return {
    dir,
    binDir,
    bin,
    helmPlugins,
    versions,
    env(base: NodeJS.ProcessEnv = process.env): Record<string, string> {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(base)) if (v !== undefined) out[k] = v;
      out.PATH = `${binDir}:${base.PATH ?? '/usr/bin:/bin'}`;
      out.HELM_PLUGINS = helmPlugins;
      return out;
    },
  };
}

/** The tools, or an Error naming what is missing and the command that builds it. */
export function requireKubeTools(env: NodeJS.ProcessEnv = process.env): KubeTools {
  const tools = findKubeTools(env);
  if (!tools) throw new Error(missingKubeTools(env));
  return tools;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let opensslFound: boolean | undefined;
function hasOpenssl(): boolean {
  if (opensslFound === undefined) {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      opensslFound = true;
    } catch {
      opensslFound = false;
    }
  }
  return opensslFound;
}
