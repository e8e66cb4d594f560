/**
 * The certificates one sandbox cluster needs: its own CA (what DescribeCluster returns as
 * certificateAuthority.data), the apiserver's serving certificate, client certificates for the
 * sandbox's own controllers and for kube-controller-manager, and the service-account key pair.
 *
 * Keys come from node:crypto. X.509 certificates come from `openssl` (Debian's, on every machine
 * that runs the sandbox): Node can parse certificates but not issue them, and hand-written DER
 * would be a second, untested X.509 implementation. openssl is the one Kubernetes' own docs use
 * ("Certificates" / "PKI certificates and requirements"), so what it makes is what a cluster
 * expects. ECDSA P-256 everywhere: fast to generate, accepted by every Kubernetes component.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ClusterPki {
  dir: string;
  caCert: string;
  caKey: string;
  /** The CA PEM, as DescribeCluster's certificateAuthority.data carries it (base64 of the PEM). */
  caPem: string;
  servingCert: string;
  servingKey: string;
  /** O=system:masters: the sandbox's node agent, TGB controller and authenticator. */
  adminCert: string;
  adminKey: string;
  /** CN=system:kube-controller-manager, which the bootstrap RBAC policy binds. */
  controllerManagerCert: string;
  controllerManagerKey: string;
  /** Service-account token signing key (private) and its public half, PEM files. */
  serviceAccountKey: string;
  serviceAccountPub: string;
}

export interface PkiOptions {
  /** Written into the CA's common name, so a certificate says which cluster it belongs to. */
  clusterName: string;
  /** The first address of the service CIDR: the `kubernetes` Service's ClusterIP. */
  serviceIp: string;
}

export async function createClusterPki(dir: string, options: PkiOptions): Promise<ClusterPki> {
  const p = (name: string): string => join(dir, name);
  const pki: ClusterPki = {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    caPem: '',
    servingCert: p('apiserver.crt'),
    servingKey: p('apiserver.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    controllerManagerCert: p('controller-manager.crt'),
    controllerManagerKey: p('controller-manager.key'),
    serviceAccountKey: p('sa.key'),
    serviceAccountPub: p('sa.pub'),
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeKey(pki.caKey);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    pki.caKey,
    '-out',
    pki.caCert,
    '-days',
    '3650',
    '-subj',
    `/CN=sandbox-eks-ca ${options.clusterName}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  const sans = [
    'IP:127.0.0.1',
    `IP:${options.serviceIp}`,
    'DNS:localhost',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local',
  ].join(',');
  await issue(pki, pki.servingCert, pki.servingKey, '/CN=kube-apiserver', [
    `subjectAltName=${sans}`,
    'extendedKeyUsage=serverAuth',
  ]);
  await issue(pki, pki.adminCert, pki.adminKey, '/O=system:masters/CN=sandbox-eks-admin', [
    'extendedKeyUsage=clientAuth',
  ]);
  await issue(
    pki,
    pki.controllerManagerCert,
    pki.controllerManagerKey,
    '/CN=system:kube-controller-manager',
    ['extendedKeyUsage=clientAuth'],
  );
  const sa = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  await writeFile(pki.serviceAccountKey, sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  await writeFile(pki.serviceAccountPub, sa.publicKey.export({ type: 'spki', format: 'pem' }));
  pki.caPem = await readFile(pki.caCert, 'utf8');
  return pki;
}

async function issue(
  pki: ClusterPki,
  cert: string,
  key: string,
  subject: string,
  extensions: string[],
): Promise<void> {
  await writeKey(key);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    key,
    '-out',
    cert,
    '-days',
    '365',
    '-subj',
    subject,
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    '-addext',
    'basicConstraints=critical,CA:FALSE',
    '-addext',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    ...extensions.flatMap((e) => ['-addext', e]),
  ]);
}

async function writeKey(path: string): Promise<void> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  await writeFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(
      `openssl ${args.slice(0, 2).join(' ')} failed: ${err.stderr?.trim() || err.message}`,
      { cause: e },
    );
  }
}
