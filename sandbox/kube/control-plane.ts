/**
 * One sandbox cluster's Kubernetes control plane: etcd, kube-apiserver and
 * kube-controller-manager as child processes on free loopback ports, with their data and
 * certificates in a temporary folder. `startControlPlane` resolves once the apiserver answers
 * /readyz (what makes the EKS cluster ACTIVE); `close` stops the processes and removes the folder.
 *
 * Each process runs in its own process group (so close can signal it and anything it forked) and,
 * where util-linux's setpriv exists, with a parent-death signal, so a crashed sandbox or test
 * worker does not leave an apiserver behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { KubeClient } from './client.js';
import { createClusterPki, type ClusterPki } from './pki.js';
import type { KubeTools } from './tools.js';

export interface ControlPlaneOptions {
  tools: KubeTools;
  clusterName: string;
  /** The cluster's service CIDR (DescribeCluster's kubernetesNetworkConfig.serviceIpv4Cidr). */
  serviceCidr: string;
  /** Where kube-apiserver posts TokenReviews (the sandbox's EKS authenticator for this cluster). */
  tokenWebhookUrl: string;
  /** How long to wait for /readyz. Default 60 s. */
  readyTimeoutMs?: number;
  /** Parent of the data folder. Default the OS temp folder. */
  baseDir?: string;
}

export interface ControlPlane {
  clusterName: string;
  /** https://127.0.0.1:<port> */
  endpoint: string;
  /** The CA as DescribeCluster carries it: base64 of the PEM. */
  certificateAuthorityData: string;
  /** The service-account issuer (the apiserver, which serves its discovery document). */
  issuer: string;
  dataDir: string;
  pki: ClusterPki;
  /** A client with the admin certificate (system:masters). */
  admin: KubeClient;
  /** Process ids: etcd, kube-apiserver, kube-controller-manager. */
  pids(): Record<string, number | undefined>;
  /** Resident memory of the three processes, bytes (from /proc). */
  rssBytes(): number;
  close(): Promise<void>;
}

interface Managed {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const dataDir = await mkdtemp(
    join(options.baseDir ?? tmpdir(), `sandbox-eks-${options.clusterName}-`),
  );
  const processes: Managed[] = [];
  let admin: KubeClient | undefined;
  const stopAll = async (): Promise<void> => {
    admin?.close();
    for (const p of [...processes].reverse()) await stop(p);
  };
  try {
    const serviceIp = firstServiceIp(options.serviceCidr);
    const pki = await createClusterPki(join(dataDir, 'pki'), {
      clusterName: options.clusterName,
      serviceIp,
    });
    const [etcdPort, peerPort, apiPort] = await freePorts(3);
    const endpoint = `https://127.0.0.1:${apiPort}`;
    const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);

    const etcd = launch(options.tools.bin.etcd, dataDir, 'etcd', [
      '--name=sandbox',
      `--data-dir=${join(dataDir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=sandbox=http://127.0.0.1:${peerPort}`,
      '--quota-backend-bytes=268435456',
      '--snapshot-count=5000',
      // A throwaway cluster on one disk: durability buys nothing, fsync costs seconds.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    processes.push(etcd);
    await waitFor('etcd /health', deadline, [etcd], async () =>
      (await httpGet(`http://127.0.0.1:${etcdPort}/health`)).includes('"health":"true"'),
    );

    const webhookConfig = join(dataDir, 'token-webhook.kubeconfig');
    await writeFile(webhookConfig, webhookKubeconfig(options.tokenWebhookUrl));
    const apiserver = launch(options.tools.bin['kube-apiserver'], dataDir, 'kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--authentication-token-webhook-config-file=${webhookConfig}`,
      '--authentication-token-webhook-version=v1',
      // Short, so a changed access entry or a revoked credential shows within seconds.
      '--authentication-token-webhook-cache-ttl=10s',
      '--authorization-mode=RBAC',
      `--service-account-issuer=${endpoint}`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--api-audiences=https://kubernetes.default.svc',
      `--service-cluster-ip-range=${options.serviceCidr}`,
      '--allow-privileged=true',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      `--cert-dir=${join(dataDir, 'apiserver-certs')}`,
      '--v=1',
    ]);
    processes.push(apiserver);
    const ca = pki.caPem;
    admin = new KubeClient({
      server: endpoint,
      ca,
      cert: await readFile(pki.adminCert, 'utf8'),
      key: await readFile(pki.adminKey, 'utf8'),
    });
    const client = admin;
    await waitFor(
      'kube-apiserver /readyz',
      deadline,
      [etcd, apiserver],
      async () => (await client.text('/readyz')).status === 200,
    );

    const kcmConfig = join(dataDir, 'controller-manager.kubeconfig');
    await writeFile(
      kcmConfig,
      certKubeconfig(endpoint, ca, pki.controllerManagerCert, pki.controllerManagerKey),
    );
    const kcm = launch(
      options.tools.bin['kube-controller-manager'],
      dataDir,
      'kube-controller-manager',
      [
        `--kubeconfig=${kcmConfig}`,
        `--authentication-kubeconfig=${kcmConfig}`,
        `--authorization-kubeconfig=${kcmConfig}`,
        '--secure-port=0',
        `--service-account-private-key-file=${pki.serviceAccountKey}`,
        `--root-ca-file=${pki.caCert}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        '--use-service-account-credentials=true',
        '--leader-elect=false',
        `--service-cluster-ip-range=${options.serviceCidr}`,
        // Everything that works without a cloud or kubelets. nodeipam would need a pod CIDR
        // (the node agent gives pods loopback addresses instead); the rest are off by default.
        '--controllers=*,-nodeipam',
        '--concurrent-deployment-syncs=2',
        '--concurrent-replicaset-syncs=2',
        '--v=1',
      ],
    );
    processes.push(kcm);

    const admin2 = admin;
    return {
      clusterName: options.clusterName,
      endpoint,
      certificateAuthorityData: Buffer.from(ca).toString('base64'),
      issuer: endpoint,
      dataDir,
      pki,
      admin: admin2,
      pids: () => Object.fromEntries(processes.map((p) => [p.name, p.child.pid])),
      rssBytes: () => processes.reduce((sum, p) => sum + rssOf(p.child.pid), 0),
      async close() {
        await stopAll();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await stopAll();
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }

  function launch(binary: string, dir: string, name: string, args: string[]): Managed {
    const logFile = join(dir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    const useSetpriv = existsSync('/usr/bin/setpriv');
    const child = spawn(
      useSetpriv ? '/usr/bin/setpriv' : binary,
      useSetpriv ? ['--pdeathsig', 'SIGKILL', binary, ...args] : args,
      {
        detached: true,
        stdio: ['ignore', fd, fd],
        // Go's heap grows to twice the live set by default; a soft limit keeps several
        // clusters (and two test workers) within a small machine.
        env: { ...process.env, GOMEMLIMIT: name === 'kube-apiserver' ? '400MiB' : '150MiB' },
      },
    );
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(-1));
    });
    return { name, child, logFile, exited };
  }
}

async function stop(p: Managed): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const signal = (s: NodeJS.Signals): void => {
    try {
      if (p.child.pid !== undefined) process.kill(-p.child.pid, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const done = await Promise.race([p.exited.then(() => true), sleep(5000).then(() => false)]);
  if (!done) {
    signal('SIGKILL');
    await p.exited;
  }
}

async function waitFor(
  what: string,
  deadline: number,
  watched: Managed[],
  check: () => Promise<boolean>,
): Promise<void> {
  for (;;) {
    for (const p of watched) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) {
        throw new Error(
          `${p.name} exited (${p.child.exitCode ?? p.child.signalCode}) while waiting for ${what}. Last lines of ${p.logFile}:\n${tail(p.logFile)}`,
        );
      }
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      const last = watched[watched.length - 1] as Managed;
      throw new Error(
        `timed out waiting for ${what}. Last lines of ${last.logFile}:\n${tail(last.logFile)}`,
      );
    }
    await sleep(100);
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: 2000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Ports the OS says are free now (bound then released together, so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => {
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(s));
      });
    }),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** 10.100.0.0/16 → 10.100.0.1: the `kubernetes` Service's address. */
export function firstServiceIp(cidr: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const n =
    ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  const first = (n + 1) >>> 0;
  return [first >>> 24, (first >>> 16) & 255, (first >>> 8) & 255, first & 255].join('.');
}

function webhookKubeconfig(url: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sandbox-eks-authenticator', cluster: { server: url } }],
    users: [{ name: 'kube-apiserver', user: {} }],
    contexts: [
      {
        name: 'webhook',
        context: { cluster: 'sandbox-eks-authenticator', user: 'kube-apiserver' },
      },
    ],
    'current-context': 'webhook',
  });
}

function certKubeconfig(server: string, caPem: string, certFile: string, keyFile: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'sandbox',
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: 'cert', user: { 'client-certificate': certFile, 'client-key': keyFile } }],
    contexts: [{ name: 'sandbox', context: { cluster: 'sandbox', user: 'cert' } }],
    'current-context': 'sandbox',
  });
}

/** Resident set of a process and its descendants (setpriv execs, so the pid is the binary's). */
export function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
