/**
 * What a sandbox EKS cluster with real Kubernetes costs, printed (not asserted):
 *
 *   node scripts/run-ts.mjs bench/kube-cluster.ts [--runs 2]
 *
 * CreateCluster → ACTIVE (the apiserver answers /readyz, the sandbox's bootstrap is in and the
 * default ServiceAccount exists), through the real SDK polling DescribeCluster every 250 ms;
 * then the resident memory of the cluster's etcd, kube-apiserver and kube-controller-manager,
 * idle and after a 2-replica Deployment of the demo app, plus the pods' own processes.
 * Without the tools (`npm run kube-tools`) it says so and exits 0, as the other benches run.
 */
import { parseArgs } from 'node:util';
import {
  CreateClusterCommand,
  DeleteClusterCommand,
  DescribeClusterCommand,
  EKSClient,
  waitUntilClusterDeleted,
} from '@aws-sdk/client-eks';
import { startSandbox } from '../sandbox/index.js';
import { rssOf } from '../sandbox/kube/control-plane.js';
import { missingKubeTools } from '../sandbox/kube/tools.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '2' } } });
const runs = Number(values.runs);

const missing = missingKubeTools();
if (missing) {
  console.log(`kube-cluster bench skipped: ${missing}`);
  process.exit(0);
}

const sandbox = await startSandbox({ kubernetes: true, eksTransitionMs: 0 });
const eks = new EKSClient({
  endpoint: sandbox.endpoint,
  region: sandbox.region,
  credentials: {
    accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
    secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
  },
});
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
try {
  console.log(
    'kube-cluster: CreateCluster → ACTIVE with a ready apiserver, and memory per cluster',
  );
  for (let i = 1; i <= runs; i++) {
    const name = `bench-${i}`;
    const t0 = Date.now();
    await eks.send(
      new CreateClusterCommand({
        name,
        roleArn: `arn:aws:iam::${sandbox.accountId}:role/eks-cluster`,
        resourcesVpcConfig: {
          subnetIds: ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'],
        },
        accessConfig: { authenticationMode: 'API' },
      }),
    );
    let status: string | undefined;
    while (status !== 'ACTIVE') {
      await new Promise((r) => setTimeout(r, 250));
      status = (await eks.send(new DescribeClusterCommand({ name }))).cluster?.status;
      if (status === 'FAILED') throw new Error(`${name} FAILED`);
    }
    const activeMs = Date.now() - t0;
    const kube = sandbox.kube!;
    const { controlPlane, agent } = kube.runtime(sandbox.region, name);
    await new Promise((r) => setTimeout(r, 5000)); // let the controllers settle
    const perProcess = Object.entries(controlPlane!.pids())
      .map(([p, pid]) => `${p} ${mb(rssOf(pid))}`)
      .join(', ');
    const idle = controlPlane!.rssBytes();
    // Two demo-app pods, applied with the admin client.
    await controlPlane!.admin.post('/apis/apps/v1/namespaces/default/deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [
              {
                name: 'web',
                image: 'eks-cluster-canary/demo-app:v1',
                ports: [{ containerPort: 8080 }],
              },
            ],
          },
        },
      },
    });
    const tPods = Date.now();
    while ((agent!.processes().length ?? 0) < 2) await new Promise((r) => setTimeout(r, 100));
    const podsMs = Date.now() - tPods;
    await new Promise((r) => setTimeout(r, 2000));
    const withPods = controlPlane!.rssBytes();
    const podRss = agent!.processes().reduce((s, p) => s + rssOf(p.pid), 0);
    console.log(
      `  run ${i}: ACTIVE in ${activeMs} ms; control plane idle ${mb(idle)} (${perProcess}); ` +
        `with a 2-pod Deployment ${mb(withPods)} + pods ${mb(podRss)} (pods running ${podsMs} ms after create)`,
    );
    const tDel = Date.now();
    await eks.send(new DeleteClusterCommand({ name }));
    await waitUntilClusterDeleted(
      { client: eks, minDelay: 1, maxDelay: 1, maxWaitTime: 60 },
      { name },
    );
    console.log(`  run ${i}: DeleteCluster → gone in ${Date.now() - tDel} ms`);
  }
} finally {
  eks.destroy();
  await sandbox.close();
}
