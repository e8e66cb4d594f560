/**
 * The Kubernetes behind the sandbox's EKS clusters. EksService asks this runtime to start a
 * control plane when a cluster is created and to stop it when the cluster is deleted; the
 * cluster is ACTIVE only once `state()` says ready (the apiserver answers /readyz and the
 * sandbox's bootstrap is in). One per sandbox; it also serves the token webhook that every
 * cluster's kube-apiserver calls (/token-review/<region>/<cluster>).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { build } from 'esbuild';
import { buildKubeconfig } from '../../src/eks/kubeconfig.js';
import { closeServer, readBody } from '../core.js';
import type { StsService } from '../sts/service.js';
import {
  ACCESS_POLICY_ROLES,
  accessPolicyGroup,
  mapIdentity,
  parseAwsAuth,
  verifyEksToken,
  type ClusterAccessView,
} from './authenticator.js';
import { KubeApiError } from './client.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { NodeAgent } from './node-agent.js';
import { podNetwork } from './pod-network.js';
import { TargetGroupBindingController, targetGroupBindingCrd } from './tgb-controller.js';
import { BUILD_HINT, type KubeTools } from './tools.js';

export interface ClusterSpec {
  region: string;
  name: string;
  serviceCidr: string;
}

/** What EksService reads to decide status and render DescribeCluster. */
export type KubeClusterState =
  | { phase: 'starting' }
  | { phase: 'ready'; endpoint: string; certificateAuthorityData: string; issuer: string }
  | { phase: 'failed'; error: string }
  | { phase: 'stopping' }
  | { phase: 'stopped' }
  /** The tools are missing: a record without Kubernetes, as the sandbox had before. */
  | { phase: 'absent'; reason: string };

export interface ClusterRuntime {
  start(spec: ClusterSpec): void;
  state(region: string, name: string): KubeClusterState;
  stop(region: string, name: string): void;
}

export interface KubeClustersOptions {
  /** undefined: no tools, clusters stay records and say why (`missingReason`). */
  tools: KubeTools | undefined;
  missingReason?: string;
  sts: StsService;
  /** The access configuration of a cluster (EksService). */
  access(region: string, name: string): ClusterAccessView | undefined;
  /** The sandbox's AWS endpoint and credentials, for the TGB controller's ELBv2 client. */
  aws: () => { endpoint: string; accessKeyId: string; secretAccessKey: string };
  log?: (line: string) => void;
}

interface Running {
  spec: ClusterSpec;
  state: KubeClusterState;
  controlPlane?: ControlPlane;
  agent?: NodeAgent;
  tgb?: TargetGroupBindingController;
  elbv2?: ElasticLoadBalancingV2Client;
  /** Settles when start finished (either way). */
  started: Promise<void>;
  stopped?: Promise<void>;
}

export class KubeClusters implements ClusterRuntime {
  private readonly clusters = new Map<string, Running>();
  private webhook: { server: Server; url: string } | undefined;
  private webhookStarting: Promise<string> | undefined;
  private bundles: Promise<{ demoApp: string; tokenCli: string }> | undefined;
  private readonly workDir = mkdtempSync(join(tmpdir(), 'sandbox-kube-'));
  private readonly log: (line: string) => void;

  constructor(private readonly options: KubeClustersOptions) {
    this.log = options.log ?? (() => {});
  }

  get enabled(): boolean {
    return this.options.tools !== undefined;
  }

  start(spec: ClusterSpec): void {
    const key = `${spec.region}/${spec.name}`;
    if (!this.options.tools) {
      this.clusters.set(key, {
        spec,
        state: {
          phase: 'absent',
          reason:
            this.options.missingReason ?? `The sandbox has no Kubernetes tools. ${BUILD_HINT}`,
        },
        started: Promise.resolve(),
      });
      return;
    }
    const running: Running = { spec, state: { phase: 'starting' }, started: Promise.resolve() };
    running.started = this.boot(running).catch((e: unknown) => {
      const error = e instanceof Error ? e.message : String(e);
      this.log(`cluster ${spec.name}: control plane failed to start: ${error}`);
      running.state = { phase: 'failed', error };
      return this.teardown(running);
    });
    this.clusters.set(key, running);
  }

  state(region: string, name: string): KubeClusterState {
    return this.clusters.get(`${region}/${name}`)?.state ?? { phase: 'stopped' };
  }

  stop(region: string, name: string): void {
    const key = `${region}/${name}`;
    const running = this.clusters.get(key);
    if (!running || running.stopped) return;
    if (running.state.phase === 'absent') {
      this.clusters.delete(key);
      return;
    }
    running.state = { phase: 'stopping' };
    running.stopped = running.started
      .then(() => this.teardown(running))
      .finally(() => {
        running.state = { phase: 'stopped' };
        this.clusters.delete(key);
      });
  }

  /** Resolves when a cluster's start has settled (ready or failed); for tests and the bench. */
  async whenStarted(region: string, name: string): Promise<KubeClusterState> {
    const running = this.clusters.get(`${region}/${name}`);
    if (running) await running.started;
    return this.state(region, name);
  }

  /** The running control plane and node agent of a cluster (pids, RSS), for tests and the bench. */
  runtime(region: string, name: string): { controlPlane?: ControlPlane; agent?: NodeAgent } {
    const r = this.clusters.get(`${region}/${name}`);
    return {
      ...(r?.controlPlane ? { controlPlane: r.controlPlane } : {}),
      ...(r?.agent ? { agent: r.agent } : {}),
    };
  }

  /**
   * A kubeconfig for a ready cluster whose user runs our token minter (src/eks/token-cli.ts,
   * bundled into the sandbox's work folder) with the caller's AWS credentials.
   */
  async kubeconfig(region: string, name: string): Promise<string> {
    const state = this.state(region, name);
    if (state.phase !== 'ready') {
      throw new Error(`cluster ${name} has no running Kubernetes (${describe(state)})`);
    }
    const { tokenCli } = await this.bundle();
    return buildKubeconfig({
      clusterName: name,
      region,
      endpoint: state.endpoint,
      certificateAuthorityData: state.certificateAuthorityData,
      exec: { command: process.execPath, args: [tokenCli] },
    });
  }

  /** Writes the kubeconfig next to the sandbox's other files and returns its path. */
  async writeKubeconfig(region: string, name: string): Promise<string> {
    const path = join(this.workDir, `${region}-${name}.kubeconfig`);
    await writeFile(path, await this.kubeconfig(region, name), { mode: 0o600 });
    return path;
  }

  async close(): Promise<void> {
    for (const running of this.clusters.values()) {
      if (!running.stopped) {
        running.stopped = running.started.then(() => this.teardown(running));
      }
    }
    await Promise.all([...this.clusters.values()].map((r) => r.stopped));
    this.clusters.clear();
    if (this.webhook) await closeServer(this.webhook.server);
    rmSync(this.workDir, { recursive: true, force: true });
  }

  // ---- starting and stopping -----------------------------------------------------------------

  private async boot(running: Running): Promise<void> {
    const { spec } = running;
    const tools = this.options.tools as KubeTools;
    const webhookUrl = await this.webhookUrl();
    const bundles = await this.bundle();
    const network = podNetwork();
    if (network.warning) this.log(`cluster ${spec.name}: ${network.warning}`);
    const t0 = Date.now();
    const cp = await startControlPlane({
      tools,
      clusterName: spec.name,
      serviceCidr: spec.serviceCidr,
      tokenWebhookUrl: `${webhookUrl}/token-review/${encodeURIComponent(spec.region)}/${encodeURIComponent(spec.name)}`,
    });
    running.controlPlane = cp;
    if (running.stopped) return;
    await bootstrap(cp);
    const aws = this.options.aws();
    running.elbv2 = new ElasticLoadBalancingV2Client({
      region: spec.region,
      endpoint: aws.endpoint,
      credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
    });
    running.agent = new NodeAgent({
      client: cp.admin,
      nodeName: `sandbox-${spec.name}`
        .toLowerCase()
        .replace(/[^a-z0-9.-]/g, '-')
        .slice(0, 63),
      demoApp: { node: process.execPath, script: bundles.demoApp },
      logDir: join(cp.dataDir, 'pods'),
      log: (l) => this.log(`cluster ${spec.name}: ${l}`),
    });
    await running.agent.start();
    running.tgb = new TargetGroupBindingController({
      client: cp.admin,
      elbv2: running.elbv2,
      log: (l) => this.log(`cluster ${spec.name}: ${l}`),
    });
    running.tgb.start();
    await waitForDefaultServiceAccount(cp);
    if (running.state.phase === 'starting') {
      running.state = {
        phase: 'ready',
        endpoint: cp.endpoint,
        certificateAuthorityData: cp.certificateAuthorityData,
        issuer: cp.issuer,
      };
      const kubeconfig = await this.writeKubeconfig(spec.region, spec.name);
      this.log(
        `cluster ${spec.name}: Kubernetes ready at ${cp.endpoint} in ${Date.now() - t0} ms; kubeconfig: ${kubeconfig}`,
      );
    }
  }

  private async teardown(running: Running): Promise<void> {
    running.tgb?.close();
    await running.agent?.close();
    running.elbv2?.destroy();
    await running.controlPlane?.close();
  }

  // ---- the token webhook ---------------------------------------------------------------------

  private webhookUrl(): Promise<string> {
    this.webhookStarting ??= new Promise<string>((resolve, reject) => {
      const server = createServer((req, res) => {
        this.tokenReview(req.url ?? '/', req)
          .then((review) => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify(review));
          })
          .catch((e: unknown) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(e instanceof Error ? e.message : String(e));
          });
      });
      server.keepAliveTimeout = 5000;
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        this.webhook = { server, url };
        resolve(url);
      });
    });
    return this.webhookStarting;
  }

  private async tokenReview(path: string, req: Parameters<typeof readBody>[0]): Promise<unknown> {
    const body = JSON.parse((await readBody(req)).toString('utf8')) as {
      apiVersion?: string;
      spec?: { token?: string; audiences?: string[] };
    };
    const m = /^\/token-review\/([^/]+)\/([^/?]+)/.exec(path);
    const region = decodeURIComponent(m?.[1] ?? '');
    const name = decodeURIComponent(m?.[2] ?? '');
    const answer = (status: Record<string, unknown>): unknown => ({
      apiVersion: body.apiVersion ?? 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      status,
    });
    const deny = (reason: string): unknown => {
      this.log(`cluster ${name}: token rejected: ${reason}`);
      return answer({ authenticated: false, error: reason });
    };
    const running = this.clusters.get(`${region}/${name}`);
    const access = this.options.access(region, name);
    if (!running?.controlPlane || !access) return deny(`no cluster ${name} in ${region}`);
    const verified = await verifyEksToken(body.spec?.token ?? '', {
      clusterName: name,
      credential: (id) => this.options.sts.credential(id),
      sandboxStsOrigins: [new URL(this.options.aws().endpoint).origin],
    });
    if (!verified.ok) return deny(verified.reason);
    let awsAuth: ReturnType<typeof parseAwsAuth> = [];
    if (access.authenticationMode !== 'API') {
      const cm = await running.controlPlane.admin.find<{ data?: Record<string, string> }>(
        '/api/v1/namespaces/kube-system/configmaps/aws-auth',
      );
      try {
        awsAuth = parseAwsAuth(cm?.data);
      } catch (e) {
        return deny(`the aws-auth ConfigMap does not parse: ${String(e)}`);
      }
    }
    const user = mapIdentity(verified.identity, access, awsAuth);
    if (!user) {
      return deny(
        `${verified.identity.canonicalArn} has no access entry${access.authenticationMode === 'API' ? '' : ' and no aws-auth mapping'} on cluster ${name}`,
      );
    }
    // Valid for the audiences the apiserver asked about, as EKS's authenticator answers.
    return answer({
      authenticated: true,
      user,
      ...(body.spec?.audiences ? { audiences: body.spec.audiences } : {}),
    });
  }

  // ---- bundles the cluster processes run ----------------------------------------------------

  private bundle(): Promise<{ demoApp: string; tokenCli: string }> {
    this.bundles ??= (async () => {
      const root = repoRoot();
      const demoApp = join(this.workDir, 'demo-app.mjs');
      const tokenCli = join(this.workDir, 'eks-token.mjs');
      await build({
        entryPoints: [join(root, 'sandbox/app/cli.ts')],
        outfile: demoApp,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        logLevel: 'warning',
      });
      await build({
        entryPoints: [join(root, 'src/eks/token-cli.ts')],
        outfile: tokenCli,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        logLevel: 'warning',
        banner: {
          js: "import { createRequire as __ecc_createRequire } from 'node:module'; const require = __ecc_createRequire(import.meta.url);",
        },
      });
      return { demoApp, tokenCli };
    })();
    return this.bundles;
  }
}

/** The objects every sandbox cluster starts with, besides what Kubernetes bootstraps itself. */
async function bootstrap(cp: ControlPlane): Promise<void> {
  const rbac = '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings';
  for (const [policy, role] of Object.entries(ACCESS_POLICY_ROLES)) {
    await cp.admin.ensure(rbac, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: {
        name: `eks-access-policy:${policy}`,
        labels: { 'sandbox.eks-cluster-canary/owned': 'true' },
      },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: accessPolicyGroup(policy) },
      ],
    });
  }
  // EKS serves its OIDC issuer's discovery document and keys publicly.
  await cp.admin.ensure(rbac, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'sandbox:public-oidc-discovery' },
    roleRef: {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'system:service-account-issuer-discovery',
    },
    subjects: [
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:unauthenticated' },
    ],
  });
  const crds = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  await cp.admin.ensure(crds, targetGroupBindingCrd());
  const deadline = Date.now() + 20_000;
  for (;;) {
    const crd = await cp.admin.find<{
      status?: { conditions?: Array<{ type: string; status: string }> };
    }>(`${crds}/targetgroupbindings.elbv2.k8s.aws`);
    if (crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'))
      break;
    if (Date.now() > deadline)
      throw new Error('the TargetGroupBinding CRD did not become Established in 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  // Discovery of the new group must be visible before a client applies a TargetGroupBinding.
  for (;;) {
    try {
      await cp.admin.get('/apis/elbv2.k8s.aws/v1beta1');
      break;
    } catch (e) {
      if (!(e instanceof KubeApiError && e.status === 404) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Pods need the namespace's default ServiceAccount, which kube-controller-manager creates. */
async function waitForDefaultServiceAccount(cp: ControlPlane): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await cp.admin.find('/api/v1/namespaces/default/serviceaccounts/default'))) {
    if (Date.now() > deadline) {
      throw new Error(
        'kube-controller-manager did not create the default ServiceAccount within 30 s (see its log)',
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function describe(state: KubeClusterState): string {
  switch (state.phase) {
    case 'failed':
      return `its control plane failed: ${state.error}`;
    case 'absent':
      return state.reason;
    default:
      return state.phase;
  }
}

/** The repository root (holds package.json), from wherever this module was loaded or bundled. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'sandbox', 'app', 'cli.ts')))
      return dir;
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}
