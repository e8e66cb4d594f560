/**
 * Jobs and CronJobs under the real controllers, on pods the sandbox's node agent runs; other
 * images; and a CONFIG_MAP cluster whose identities come from the aws-auth ConfigMap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EKSClient } from '@aws-sdk/client-eks';
import type { Sandbox } from '../../sandbox/index.js';
import {
  createCluster,
  eksClient,
  kubeconfigFile,
  kubectl,
  principalEnv,
  run,
  skipReason,
  startKubeSandbox,
  waitUntil,
} from './kube-fixture.js';

describe.skipIf(skipReason !== undefined)(
  `sandbox Kubernetes: jobs, images, aws-auth ${skipReason ?? ''}`,
  () => {
    let sandbox: Sandbox;
    let eks: EKSClient;
    let config: string;

    beforeAll(async () => {
      sandbox = await startKubeSandbox();
      eks = eksClient(sandbox);
      await createCluster(sandbox, eks, 'singletons', {
        accessConfig: { authenticationMode: 'CONFIG_MAP' },
      });
      config = await kubeconfigFile(sandbox, 'singletons');
    }, 120_000);

    afterAll(async () => {
      eks?.destroy();
      await sandbox?.close();
    }, 60_000);

    const jobStatus = async (
      name: string,
    ): Promise<{
      succeeded?: number;
      failed?: number;
      conditions?: Array<{ type: string; status: string }>;
    }> =>
      (
        JSON.parse(await kubectl(sandbox, config, ['get', 'job', name, '-o', 'json'])) as {
          status: Record<string, never>;
        }
      ).status;

    it('a Job of the demo app runs once and completes; one that exits non-zero fails', async () => {
      await kubectl(
        sandbox,
        config,
        ['apply', '-f', '-'],
        `apiVersion: batch/v1
kind: Job
metadata: { name: report }
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: report
          image: eks-cluster-canary/demo-app:v1
          args: [--duration-ms, "300"]
---
apiVersion: batch/v1
kind: Job
metadata: { name: broken }
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: broken
          image: eks-cluster-canary/demo-app:v1
          args: [--exit-code, "3"]
`,
      );
      await kubectl(sandbox, config, [
        'wait',
        '--for=condition=Complete',
        'job/report',
        '--timeout=60s',
      ]);
      expect((await jobStatus('report')).succeeded).toBe(1);
      await kubectl(sandbox, config, [
        'wait',
        '--for=condition=Failed',
        'job/broken',
        '--timeout=60s',
      ]);
      const pod = JSON.parse(
        await kubectl(sandbox, config, ['get', 'pods', '-l', 'job-name=broken', '-o', 'json']),
      ) as {
        items: Array<{
          status: {
            phase: string;
            containerStatuses: Array<{ state: { terminated?: { exitCode: number } } }>;
          };
        }>;
      };
      expect(pod.items[0]?.status.phase).toBe('Failed');
      expect(pod.items[0]?.status.containerStatuses[0]?.state.terminated?.exitCode).toBe(3);
    }, 90_000);

    it('a CronJob makes Jobs that complete, under the real CronJob controller', async () => {
      await kubectl(
        sandbox,
        config,
        ['apply', '-f', '-'],
        `apiVersion: batch/v1
kind: CronJob
metadata: { name: nightly }
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: nightly
              image: eks-cluster-canary/demo-app:v1
              args: [--duration-ms, "200"]
`,
      );
      // The schedule has minute granularity: the first run starts at the next minute.
      const job = await waitUntil(
        'a completed Job of the CronJob',
        async () => {
          const jobs = JSON.parse(
            await kubectl(sandbox, config, ['get', 'jobs', '-o', 'json']),
          ) as {
            items: Array<{
              metadata: { name: string; ownerReferences?: Array<{ kind: string; name: string }> };
              status: { succeeded?: number };
            }>;
          };
          return jobs.items.find(
            (j) =>
              j.metadata.ownerReferences?.some(
                (o) => o.kind === 'CronJob' && o.name === 'nightly',
              ) && j.status.succeeded === 1,
          );
        },
        90_000,
        1000,
      );
      expect(job.metadata.name).toMatch(/^nightly-\d+$/);
      const cron = JSON.parse(
        await kubectl(sandbox, config, ['get', 'cronjob', 'nightly', '-o', 'json']),
      ) as { status: { lastSuccessfulTime?: string } };
      await waitUntil(
        'the CronJob to record the success',
        async () => {
          const c = JSON.parse(
            await kubectl(sandbox, config, ['get', 'cronjob', 'nightly', '-o', 'json']),
          ) as { status: { lastSuccessfulTime?: string } };
          return c.status.lastSuccessfulTime;
        },
        20_000,
        1000,
      );
      expect(cron).toBeDefined();
    }, 120_000);

    it('a pod of any other image is Running and Ready without running anything', async () => {
      await kubectl(sandbox, config, [
        'run',
        'tools',
        '--image=busybox:1.36',
        '--',
        'sleep',
        '3600',
      ]);
      await kubectl(sandbox, config, [
        'wait',
        '--for=condition=Ready',
        'pod/tools',
        '--timeout=30s',
      ]);
      expect(
        await kubectl(sandbox, config, ['get', 'pod', 'tools', '-o', 'jsonpath={.status.phase}']),
      ).toBe('Running');
      await kubectl(sandbox, config, ['delete', 'pod', 'tools', '--wait=true', '--timeout=30s']);
    }, 60_000);

    it('CONFIG_MAP mode: the creator is admin; other principals need an aws-auth mapping', async () => {
      const roleArn = `arn:aws:iam::${sandbox.accountId}:role/deployer`;
      const asDeployer = principalEnv(sandbox, roleArn, 'deploy-1');
      const before = await run('kubectl', ['--kubeconfig', config, 'get', 'ns'], {
        sandbox,
        env: asDeployer,
      });
      expect(before.stderr).toMatch(/Unauthorized|must be logged in/);
      await kubectl(
        sandbox,
        config,
        ['apply', '-f', '-'],
        `apiVersion: v1
kind: ConfigMap
metadata: { name: aws-auth, namespace: kube-system }
data:
  mapRoles: |
    - rolearn: ${roleArn}
      username: deployer:{{SessionName}}
      groups: [system:masters]
`,
      );
      const who = await waitUntil(
        'the aws-auth mapping to apply',
        async () => {
          const r = await run(
            'kubectl',
            [
              '--kubeconfig',
              config,
              'auth',
              'whoami',
              '-o',
              'jsonpath={.status.userInfo.username}',
            ],
            { sandbox, env: asDeployer },
          );
          return r.code === 0 ? r.stdout : undefined;
        },
        30_000,
        1000,
      );
      expect(who).toBe('deployer:deploy-1');
    }, 60_000);
  },
);
