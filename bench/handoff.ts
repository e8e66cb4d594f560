/**
 * The singleton handoff's time against its drain, printed (not asserted; the goal is within 2 s
 * of the longest running Job):
 *
 *   node scripts/run-ts.mjs bench/handoff.ts [--cronjobs 20] [--job-seconds 5]
 *
 * Two sandbox clusters with real Kubernetes; `--cronjobs` CronJobs in two namespaces, live on
 * blue and suspended on green (as sync-apps leaves them); one of them has a Job running for
 * `--job-seconds` (started by hand, as `kubectl create job --from=cronjob/…` does, so the bench
 * need not wait for a minute slot). Then blue → green through the same code apply runs.
 * Without the tools (`npm run kube-tools`) it says so and exits 0.
 */
import { parseArgs } from 'node:util';
import { CreateClusterCommand, EKSClient, waitUntilClusterActive } from '@aws-sdk/client-eks';
import { systemClock } from '../src/common/clock.js';
import { MemoryLogger } from '../src/common/logger.js';
import { handOffSingletons, planHandoff, readSingletons } from '../src/kube/handoff.js';
import { connectCluster } from '../src/operations/kube-access.js';
import { startSandbox } from '../sandbox/index.js';
import { missingKubeTools } from '../sandbox/kube/tools.js';

const { values } = parseArgs({
  options: {
    cronjobs: { type: 'string', default: '20' },
    'job-seconds': { type: 'string', default: '5' },
  },
});
const count = Number(values.cronjobs);
const jobMs = Number(values['job-seconds']) * 1000;

const missing = missingKubeTools();
if (missing) {
  console.log(`handoff bench skipped: ${missing}`);
  process.exit(0);
}

const sandbox = await startSandbox({ kubernetes: true, eksTransitionMs: 0 });
const credentials = {
  accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
  secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
};
const eks = new EKSClient({ endpoint: sandbox.endpoint, region: sandbox.region, credentials });
try {
  const api: Record<string, Awaited<ReturnType<typeof connectCluster>>> = {};
  for (const name of ['blue', 'green']) {
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
    await waitUntilClusterActive(
      { client: eks, minDelay: 1, maxDelay: 1, maxWaitTime: 120 },
      { name },
    );
    api[name] = await connectCluster({
      eks,
      region: sandbox.region,
      eksName: name,
      cluster: name,
      credentials: () => Promise.resolve(credentials),
    });
  }
  const blue = api.blue as NonNullable<(typeof api)['blue']>;
  const green = api.green as NonNullable<(typeof api)['green']>;
  const namespaces = ['bench-a', 'bench-b'];
  for (const [cluster, suspend] of [
    [blue, false],
    [green, true],
  ] as const) {
    for (const ns of namespaces) {
      await cluster.post('/api/v1/namespaces', { metadata: { name: ns } });
    }
    for (let i = 0; i < count; i++) {
      await cluster.post(`/apis/batch/v1/namespaces/${namespaces[i % 2]}/cronjobs`, {
        metadata: { name: `notify-${i}` },
        spec: {
          schedule: '0 3 * * *',
          suspend,
          jobTemplate: {
            spec: {
              template: {
                spec: {
                  restartPolicy: 'Never',
                  containers: [{ name: 'notify', image: 'eks-cluster-canary/demo-app:v1' }],
                },
              },
            },
          },
        },
      });
    }
  }
  const owner = await blue.get<{ metadata: { uid: string } }>(
    '/apis/batch/v1/namespaces/bench-a/cronjobs/notify-0',
  );
  await blue.post('/apis/batch/v1/namespaces/bench-a/jobs', {
    metadata: {
      name: 'notify-0-manual',
      ownerReferences: [
        {
          apiVersion: 'batch/v1',
          kind: 'CronJob',
          name: 'notify-0',
          uid: owner.metadata.uid,
          controller: true,
        },
      ],
    },
    spec: {
      template: {
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'notify',
              image: 'eks-cluster-canary/demo-app:v1',
              args: ['--duration-ms', String(jobMs)],
            },
          ],
        },
      },
    },
  });
  const jobStarted = Date.now();
  const policy = { namespaces };
  const plan = planHandoff(
    { cluster: 'blue', state: await readSingletons(blue, policy) },
    { cluster: 'green', state: await readSingletons(green, policy) },
  );
  const logger = new MemoryLogger();
  const result = await handOffSingletons(
    { plan, from: blue, to: green, drainTimeoutMs: 120_000, activeJobs: 'wait' },
    { clock: systemClock, logger },
  );
  const ended = Date.now();
  const job = await blue.get<{
    status: {
      completionTime?: string;
      conditions?: { type: string; lastTransitionTime: string }[];
    };
  }>('/apis/batch/v1/namespaces/bench-a/jobs/notify-0-manual');
  const pods = await blue.get<{
    items: {
      status: { containerStatuses?: { state: { terminated?: { finishedAt: string } } }[] };
    }[];
  }>('/api/v1/namespaces/bench-a/pods?labelSelector=job-name%3Dnotify-0-manual');
  const finishedAt = pods.items[0]?.status.containerStatuses?.[0]?.state.terminated?.finishedAt;
  const completed = job.status.completionTime;
  const after = (t: string | undefined): string =>
    t ? `${((ended - Date.parse(t)) / 1000).toFixed(1)} s` : '?';
  console.log('handoff: blue → green, real CronJob/Job controllers, sandbox clusters');
  console.log(
    `  ${count} CronJobs in ${namespaces.length} namespaces, one Job of ${jobMs / 1000} s running (created ${((ended - result.totalMs - jobStarted) / 1000).toFixed(1)} s before the handoff began)`,
  );
  console.log(
    `  ${result.status}: handoff ${(result.totalMs / 1000).toFixed(2)} s, of which drain ${(result.drainMs / 1000).toFixed(2)} s`,
  );
  console.log(
    `  ended ${after(finishedAt)} after the Job's container exited and ${after(completed)} after the Job was marked complete (both to the second; goal ≤ 2 s)`,
  );
  if (result.status !== 'handed-off') console.log(result.message, logger.text());
  blue.close();
  green.close();
} finally {
  eks.destroy();
  await sandbox.close();
}
