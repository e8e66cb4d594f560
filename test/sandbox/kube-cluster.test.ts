/**
 * Sandbox EKS clusters that run real Kubernetes: kubectl and helm (built by `npm run kube-tools`)
 * with a kubeconfig whose user is our token minter, against blue and green running side by side.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DeleteClusterCommand,
  DescribeClusterCommand,
  waitUntilClusterDeleted,
  type Cluster,
  type EKSClient,
} from '@aws-sdk/client-eks';
import type { Sandbox } from '../../sandbox/index.js';
import { mintEksToken } from '../../src/eks/token.js';
import {
  alive,
  createCluster,
  eksClient,
  kubeconfigFile,
  kubectl,
  principalEnv,
  run,
  skipReason,
  startKubeSandbox,
  waitUntil,
  writeTemp,
} from './kube-fixture.js';

describe.skipIf(skipReason !== undefined)(
  `sandbox EKS clusters run Kubernetes ${skipReason ?? ''}`,
  () => {
    let sandbox: Sandbox;
    let eks: EKSClient;
    let blue: Cluster;
    let green: Cluster;
    let blueConfig: string;

    beforeAll(async () => {
      sandbox = await startKubeSandbox();
      eks = eksClient(sandbox);
      // Both at once: two control planes start side by side.
      [blue, green] = await Promise.all([
        createCluster(sandbox, eks, 'blue'),
        createCluster(sandbox, eks, 'green'),
      ]);
      blueConfig = await kubeconfigFile(sandbox, 'blue');
    }, 120_000);

    afterAll(async () => {
      eks?.destroy();
      await sandbox?.close();
    }, 60_000);

    it('DescribeCluster gives a loopback endpoint, a CA that verifies it, and a served OIDC issuer', async () => {
      expect(blue.status).toBe('ACTIVE');
      expect(blue.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(green.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(green.endpoint).not.toBe(blue.endpoint);
      expect(blue.health?.issues).toEqual([]);
      const ca = Buffer.from(blue.certificateAuthority?.data as string, 'base64').toString('utf8');
      expect(ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
      // The issuer's discovery document and keys, unauthenticated, over TLS checked with the CA.
      const fetchJson = (url: string): Promise<Record<string, unknown>> =>
        new Promise((resolve, reject) => {
          httpsGet(url, { ca }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () =>
              res.statusCode === 200
                ? resolve(JSON.parse(body) as Record<string, unknown>)
                : reject(new Error(`${res.statusCode} ${body}`)),
            );
          }).on('error', reject);
        });
      const issuer = blue.identity?.oidc?.issuer as string;
      const discovery = await fetchJson(`${issuer}/.well-known/openid-configuration`);
      expect(discovery.issuer).toBe(issuer);
      const jwks = await fetchJson(discovery.jwks_uri as string);
      expect((jwks.keys as unknown[]).length).toBeGreaterThan(0);
    });

    it('kubectl with our token: version, namespaces, apply; helm installs a chart', async () => {
      const version = JSON.parse(await kubectl(sandbox, blueConfig, ['version', '-o', 'json'])) as {
        serverVersion: { gitVersion: string };
      };
      expect(version.serverVersion.gitVersion).toMatch(/^v1\.3\d\./);
      const namespaces = await kubectl(sandbox, blueConfig, ['get', 'ns', '-o', 'name']);
      expect(namespaces.split('\n')).toEqual(
        expect.arrayContaining(['namespace/default', 'namespace/kube-system']),
      );
      const applied = await kubectl(
        sandbox,
        blueConfig,
        ['apply', '-f', '-'],
        'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\ndata:\n  colour: blue\n',
      );
      expect(applied).toContain('namespace/shop created');
      expect(
        await kubectl(sandbox, blueConfig, [
          '-n',
          'shop',
          'get',
          'cm',
          'settings',
          '-o',
          'jsonpath={.data.colour}',
        ]),
      ).toBe('blue');
      const whoami = await kubectl(sandbox, blueConfig, ['auth', 'whoami', '-o', 'json']);
      expect(JSON.parse(whoami)).toMatchObject({
        status: { userInfo: { username: `arn:aws:iam::${sandbox.accountId}:user/sandbox` } },
      });

      const dir = mkdtempSync(join(tmpdir(), 'chart-'));
      writeFileSync(`${dir}/Chart.yaml`, 'apiVersion: v2\nname: settings\nversion: 0.1.0\n');
      mkdirSync(`${dir}/templates`);
      writeFileSync(
        `${dir}/templates/cm.yaml`,
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  size: {{ .Values.size | quote }}\n',
      );
      const helm = await run(
        'helm',
        [
          '--kubeconfig',
          blueConfig,
          'upgrade',
          '--install',
          'web',
          dir,
          '-n',
          'shop',
          '--set',
          'size=3',
          '--wait',
        ],
        { sandbox },
      );
      expect(helm.stderr).toBe('');
      expect(helm.code).toBe(0);
      const list = await run(
        'helm',
        ['--kubeconfig', blueConfig, 'list', '-n', 'shop', '-o', 'json'],
        { sandbox },
      );
      expect(JSON.parse(list.stdout)).toEqual([
        expect.objectContaining({ name: 'web', status: 'deployed' }),
      ]);
      expect(
        await kubectl(sandbox, blueConfig, [
          '-n',
          'shop',
          'get',
          'cm',
          'web-settings',
          '-o',
          'jsonpath={.data.size}',
        ]),
      ).toBe('3');
    });

    it('helmfile apply (helm and the helm-diff plugin) installs, then finds nothing to change', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'helmfile-'));
      mkdirSync(`${dir}/chart/templates`, { recursive: true });
      writeFileSync(`${dir}/chart/Chart.yaml`, 'apiVersion: v2\nname: flags\nversion: 0.1.0\n');
      writeFileSync(
        `${dir}/chart/templates/cm.yaml`,
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: flags\ndata:\n  dark: {{ .Values.dark | quote }}\n',
      );
      writeFileSync(
        `${dir}/helmfile.yaml`,
        'releases:\n  - name: flags\n    namespace: shop\n    chart: ./chart\n    set:\n      - name: dark\n        value: "on"\n',
      );
      const env = { KUBECONFIG: blueConfig };
      const first = await run('helmfile', ['apply', '--suppress-secrets'], {
        sandbox,
        env,
        cwd: dir,
      });
      expect(first.code, first.stderr).toBe(0);
      expect(
        await kubectl(sandbox, blueConfig, [
          '-n',
          'shop',
          'get',
          'cm',
          'flags',
          '-o',
          'jsonpath={.data.dark}',
        ]),
      ).toBe('on');
      // The second apply diffs (helm-diff) and changes nothing.
      const second = await run('helmfile', ['apply', '--detailed-exitcode'], {
        sandbox,
        env,
        cwd: dir,
      });
      expect(second.code, second.stdout + second.stderr).toBe(0);
    }, 90_000);

    it("answers 401 to a wrong secret, another cluster's token and an expired token", async () => {
      const wrongSecret = await run('kubectl', ['--kubeconfig', blueConfig, 'get', 'ns'], {
        sandbox,
        env: { AWS_SECRET_ACCESS_KEY: 'not-the-sandbox-secret' },
      });
      expect(wrongSecret.code).not.toBe(0);
      expect(wrongSecret.stderr).toMatch(/Unauthorized|must be logged in/);

      const credentials = {
        accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
        secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
      };
      const withToken = (token: string) =>
        run(
          'kubectl',
          [
            '--server',
            blue.endpoint as string,
            '--certificate-authority',
            writeTemp(
              'ca.crt',
              Buffer.from(blue.certificateAuthority?.data as string, 'base64').toString(),
            ),
            '--token',
            token,
            'get',
            'ns',
          ],
          { sandbox, env: { KUBECONFIG: '/dev/null' } },
        );
      const good = await mintEksToken({ clusterName: 'blue', region: sandbox.region, credentials });
      expect((await withToken(good.token)).code).toBe(0);
      const forGreen = await mintEksToken({
        clusterName: 'green',
        region: sandbox.region,
        credentials,
      });
      const foreign = await withToken(forGreen.token);
      expect(foreign.code).not.toBe(0);
      expect(foreign.stderr).toMatch(/Unauthorized|must be logged in/);
      const old = await mintEksToken({
        clusterName: 'blue',
        region: sandbox.region,
        credentials,
        now: new Date(Date.now() - 16 * 60_000),
      });
      const expired = await withToken(old.token);
      expect(expired.code).not.toBe(0);
      expect(expired.stderr).toMatch(/Unauthorized|must be logged in/);
    });

    it("an access entry's kubernetesGroups reach RBAC; an unmapped principal gets 401", async () => {
      const principalArn = `arn:aws:iam::${sandbox.accountId}:role/readers`;
      const asReader = principalEnv(sandbox, principalArn, 'reader-1');
      const before = await run('kubectl', ['--kubeconfig', blueConfig, 'get', 'ns'], {
        sandbox,
        env: asReader,
      });
      expect(before.stderr).toMatch(/Unauthorized|must be logged in/);

      await eks.send(
        new CreateAccessEntryCommand({
          clusterName: 'blue',
          principalArn,
          kubernetesGroups: ['shop-readers'],
        }),
      );
      await kubectl(sandbox, blueConfig, [
        'create',
        'rolebinding',
        'shop-readers',
        '-n',
        'shop',
        '--clusterrole=view',
        '--group=shop-readers',
      ]);
      const read = await waitUntil(
        'the reader to be authenticated',
        async () => {
          const r = await run(
            'kubectl',
            ['--kubeconfig', blueConfig, '-n', 'shop', 'get', 'cm', 'settings', '-o', 'name'],
            { sandbox, env: asReader },
          );
          return r.code === 0 ? r : undefined;
        },
        20_000,
        1000,
      );
      expect(read.stdout.trim()).toBe('configmap/settings');
      const write = await run(
        'kubectl',
        ['--kubeconfig', blueConfig, '-n', 'shop', 'create', 'cm', 'nope'],
        { sandbox, env: asReader },
      );
      expect(write.code).not.toBe(0);
      expect(write.stderr).toContain('forbidden');
      const otherNs = await run(
        'kubectl',
        ['--kubeconfig', blueConfig, '-n', 'default', 'get', 'cm'],
        { sandbox, env: asReader },
      );
      expect(otherNs.stderr).toContain('forbidden');
      const who = JSON.parse(
        (
          await run('kubectl', ['--kubeconfig', blueConfig, 'auth', 'whoami', '-o', 'json'], {
            sandbox,
            env: asReader,
          })
        ).stdout,
      ) as { status: { userInfo: { username: string; groups: string[] } } };
      expect(who.status.userInfo.username).toBe(
        `arn:aws:sts::${sandbox.accountId}:assumed-role/readers/reader-1`,
      );
      expect(who.status.userInfo.groups).toContain('shop-readers');

      // An access policy: AmazonEKSClusterAdminPolicy makes the same principal a cluster admin.
      await eks.send(
        new AssociateAccessPolicyCommand({
          clusterName: 'blue',
          principalArn,
          policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy',
          accessScope: { type: 'cluster' },
        }),
      );
      await waitUntil(
        'the admin policy to apply',
        async () => {
          const r = await run(
            'kubectl',
            ['--kubeconfig', blueConfig, '-n', 'default', 'create', 'cm', 'made-by-reader'],
            { sandbox, env: asReader },
          );
          return r.code === 0;
        },
        20_000,
        1000,
      );
    }, 60_000);

    it('a Deployment of the demo app becomes Available and answers on its pod IPs', async () => {
      await kubectl(sandbox, blueConfig, ['apply', '-f', '-'], DEPLOYMENT);
      await kubectl(sandbox, blueConfig, [
        '-n',
        'shop',
        'rollout',
        'status',
        'deployment/web',
        '--timeout=60s',
      ]);
      const pods = JSON.parse(
        await kubectl(sandbox, blueConfig, [
          '-n',
          'shop',
          'get',
          'pods',
          '-l',
          'app=web',
          '-o',
          'json',
        ]),
      ) as { items: Array<{ status: { podIP: string; phase: string } }> };
      expect(pods.items).toHaveLength(2);
      const ips = pods.items.map((p) => p.status.podIP);
      expect(new Set(ips).size).toBe(2);
      for (const ip of ips) {
        expect(ip).toMatch(/^198\.18\.\d+\.\d+$/); // the pod range (sandbox/kube/pod-network.ts)
        const res = await fetch(`http://${ip}:8080/`);
        expect(await res.json()).toMatchObject({ version: 'k8s-v7' });
      }
      // The real EndpointSlice controller saw them ready (it writes the slice a moment after the
      // Deployment is Available, later still on a busy machine: poll with a deadline).
      const readyAddresses = async (): Promise<string[]> => {
        const slices = JSON.parse(
          await kubectl(sandbox, blueConfig, [
            '-n',
            'shop',
            'get',
            'endpointslices',
            '-l',
            'kubernetes.io/service-name=web',
            '-o',
            'json',
          ]),
        ) as {
          items: Array<{
            endpoints: Array<{ addresses: string[]; conditions: { ready: boolean } }> | null;
          }>;
        };
        return slices.items
          .flatMap((s) =>
            (s.endpoints ?? []).filter((e) => e.conditions.ready).flatMap((e) => e.addresses),
          )
          .sort();
      };
      let ready = await readyAddresses();
      for (
        const deadline = Date.now() + 30_000;
        ready.length < ips.length && Date.now() < deadline;
      ) {
        await new Promise((r) => setTimeout(r, 250));
        ready = await readyAddresses();
      }
      expect(ready).toEqual([...ips].sort());
    }, 90_000);

    it("a TargetGroupBinding sends the ALB's traffic to those pods", async () => {
      const {
        ElasticLoadBalancingV2Client,
        CreateLoadBalancerCommand,
        CreateTargetGroupCommand,
        CreateListenerCommand,
        DescribeTargetHealthCommand,
      } = await import('@aws-sdk/client-elastic-load-balancing-v2');
      const elb = new ElasticLoadBalancingV2Client({
        endpoint: sandbox.endpoint,
        region: sandbox.region,
        credentials: {
          accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
          secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
        },
      });
      const lb = (
        await elb.send(
          new CreateLoadBalancerCommand({
            Name: 'shop',
            Subnets: ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'],
          }),
        )
      ).LoadBalancers?.[0];
      const tg = (
        await elb.send(
          new CreateTargetGroupCommand({
            Name: 'shop-blue',
            Protocol: 'HTTP',
            Port: 8080,
            VpcId: 'vpc-sandbox-a',
            TargetType: 'ip',
            HealthCheckPath: '/healthz',
            HealthCheckIntervalSeconds: 5,
            HealthCheckTimeoutSeconds: 2,
            HealthyThresholdCount: 2,
          }),
        )
      ).TargetGroups?.[0];
      await elb.send(
        new CreateListenerCommand({
          LoadBalancerArn: lb?.LoadBalancerArn,
          Protocol: 'HTTP',
          Port: 80,
          DefaultActions: [{ Type: 'forward', TargetGroupArn: tg?.TargetGroupArn }],
        }),
      );
      await kubectl(
        sandbox,
        blueConfig,
        ['apply', '-f', '-'],
        `apiVersion: elbv2.k8s.aws/v1beta1\nkind: TargetGroupBinding\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  serviceRef:\n    name: web\n    port: 80\n  targetGroupARN: ${tg?.TargetGroupArn}\n  targetType: ip\n`,
      );
      const podIps = (
        await kubectl(sandbox, blueConfig, [
          '-n',
          'shop',
          'get',
          'pods',
          '-l',
          'app=web',
          '-o',
          'jsonpath={.items[*].status.podIP}',
        ])
      )
        .split(' ')
        .sort();
      await waitUntil(
        'both pods registered and healthy',
        async () => {
          const health = await elb.send(
            new DescribeTargetHealthCommand({ TargetGroupArn: tg?.TargetGroupArn }),
          );
          const healthy = (health.TargetHealthDescriptions ?? [])
            .filter((d) => d.TargetHealth?.State === 'healthy')
            .map((d) => `${d.Target?.Id}:${d.Target?.Port}`)
            .sort();
          return healthy.join(',') === podIps.map((ip) => `${ip}:8080`).join(',');
        },
        60_000,
        500,
      );

      // Through the data plane: the listener's real port answers from the pods.
      const listeners = (await (
        await fetch(`${sandbox.endpoint}/_sandbox/elbv2/listeners`)
      ).json()) as Array<{ url: string; port: number }>;
      const url = (listeners.find((l) => l.port === 80) ?? listeners[0])?.url as string;
      const versions = new Set<string>();
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${url}/checkout`);
        expect(res.status).toBe(200);
        versions.add(((await res.json()) as { version: string }).version);
      }
      expect([...versions]).toEqual(['k8s-v7']);
      // Each pod served some of them (round robin), counted by the pods' own /metrics.
      for (const ip of podIps) {
        const metrics = await (await fetch(`http://${ip}:8080/metrics`)).text();
        expect(metrics).toMatch(/http_requests_total\{[^}]*code="200"[^}]*\} [1-9]/);
      }

      // Scaling down deregisters the pod that went away.
      await kubectl(sandbox, blueConfig, ['-n', 'shop', 'scale', 'deployment/web', '--replicas=1']);
      await waitUntil(
        'one target left',
        async () => {
          const health = await elb.send(
            new DescribeTargetHealthCommand({ TargetGroupArn: tg?.TargetGroupArn }),
          );
          const live = (health.TargetHealthDescriptions ?? []).filter(
            (d) => d.TargetHealth?.State !== 'draining',
          );
          return live.length === 1;
        },
        60_000,
        500,
      );
      elb.destroy();
    }, 120_000);

    it("DeleteCluster stops the cluster's processes, pods included", async () => {
      const kube = sandbox.kube as NonNullable<Sandbox['kube']>;
      const greenConfig = await kubeconfigFile(sandbox, 'green');
      await kubectl(sandbox, greenConfig, ['create', 'namespace', 'shop']);
      await kubectl(
        sandbox,
        greenConfig,
        ['apply', '-f', '-'],
        DEPLOYMENT.replace(/replicas: 2/, 'replicas: 1'),
      );
      await kubectl(sandbox, greenConfig, [
        '-n',
        'shop',
        'rollout',
        'status',
        'deployment/web',
        '--timeout=60s',
      ]);
      const { controlPlane, agent } = kube.runtime(sandbox.region, 'green');
      const pids = [
        ...Object.values(controlPlane?.pids() ?? {}),
        ...(agent?.processes() ?? []).map((p) => p.pid),
      ].filter((p): p is number => p !== undefined);
      expect(pids).toHaveLength(4); // etcd, kube-apiserver, kube-controller-manager, one pod
      expect(pids.every(alive)).toBe(true);
      await eks.send(new DeleteClusterCommand({ name: 'green' }));
      await waitUntilClusterDeleted(
        { client: eks, minDelay: 1, maxDelay: 1, maxWaitTime: 60 },
        { name: 'green' },
      );
      expect(pids.filter(alive)).toEqual([]);
      // Blue is untouched.
      expect((await eks.send(new DescribeClusterCommand({ name: 'blue' }))).cluster?.status).toBe(
        'ACTIVE',
      );
      expect(await kubectl(sandbox, blueConfig, ['get', 'ns', 'shop', '-o', 'name'])).toContain(
        'namespace/shop',
      );
    }, 90_000);
  },
);

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: eks-cluster-canary/demo-app:k8s-v7
          ports: [{ containerPort: 8080, name: http }]
          readinessProbe:
            httpGet: { path: /healthz, port: http }
            periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: http, name: http }]
`;
