/**
 * The owner step through the rollout bundle (dist/rollout/index.js), as the runner runs it:
 * AWS (ELBv2 and EKS) from one sandbox whose EKS clusters run real Kubernetes, the apiservers
 * reached with DescribeCluster and an EKS token minted from the job's credentials, GitHub from
 * the fake server. The job is cancelled (SIGTERM) while the handoff waits for a running Job.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EKSClient } from '@aws-sdk/client-eks';
import { parseRolloutFile } from '../../src/rollout-file/index.js';
import { startFakeGitHub } from '../../sandbox/github/server.js';
import { OWNER, REPO, TOKEN, pushPayload, runnerEnv } from '../../sandbox/github/events.js';
import type { Sandbox } from '../../sandbox/index.js';
import { createWebService } from '../../sandbox/scenario.js';
import {
  createCluster,
  eksClient,
  jobsCronJob,
  kubeconfigFile,
  kubectl,
  skipReason,
  startKubeSandbox,
} from '../sandbox/kube-fixture.js';
import { startAction } from './harness.js';

const BUNDLE = 'dist/rollout/index.js';
const PATH = 'rollouts/web.yaml';
// The rollout file's clusters.<name>.eks, as the scenario writes them.
const EKS = { blue: 'prod-1-31', green: 'prod-1-32' };

describe.skipIf(skipReason !== undefined)(
  `rollout bundle: the owner step ${skipReason ?? ''}`,
  () => {
    let sandbox: Sandbox;
    let eks: EKSClient;
    const configs: Record<string, string> = {};
    const closers: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "npm run bundle" first.`);
      sandbox = await startKubeSandbox();
      eks = eksClient(sandbox);
      for (const [name, eksName] of Object.entries(EKS)) {
        await createCluster(sandbox, eks, eksName);
        configs[name] = await kubeconfigFile(sandbox, eksName);
      }
    }, 120_000);
    afterAll(async () => {
      await Promise.all(closers.map((c) => c()));
      eks?.destroy();
      await sandbox?.close();
    }, 60_000);

    const cronJob = (suspend: boolean) => jobsCronJob(suspend);
    const suspendOf = (cluster: string): Promise<string> =>
      kubectl(sandbox, configs[cluster] as string, [
        'get',
        'cronjob',
        'notify',
        '-n',
        'jobs',
        '-o',
        'jsonpath={.spec.suspend}',
      ]);

    it('SIGTERM while the handoff waits for a running Job: blue restored, owner back to blue in a PR', async () => {
      await kubectl(sandbox, configs.blue as string, ['apply', '-f', '-'], cronJob(false));
      await kubectl(sandbox, configs.green as string, ['apply', '-f', '-'], cronJob(true));
      const uid = await kubectl(sandbox, configs.blue as string, [
        'get',
        'cronjob',
        'notify',
        '-n',
        'jobs',
        '-o',
        'jsonpath={.metadata.uid}',
      ]);
      await kubectl(
        sandbox,
        configs.blue as string,
        ['apply', '-f', '-'],
        `apiVersion: batch/v1
kind: Job
metadata:
  name: notify-manual
  namespace: jobs
  ownerReferences: [{ apiVersion: batch/v1, kind: CronJob, name: notify, uid: ${uid}, controller: true }]
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - { name: notify, image: "eks-cluster-canary/demo-app:v1", args: [--duration-ms, "60000"] }
`,
      );
      const web = await createWebService(sandbox, {
        name: 'handoff-e2e',
        weights: { blue: 0, green: 100 },
        clusters: [
          { name: 'blue', version: '1.31' },
          { name: 'green', version: '1.32' },
        ],
      });
      const file = (owner: string) =>
        web
          .rolloutFile({ blue: 0, green: 100 })
          .replace('owner: blue', `owner: ${owner}`)
          .concat('singletons:\n  namespaces: [jobs]\n');
      const github = await startFakeGitHub({
        owner: OWNER,
        repo: REPO,
        token: TOKEN,
        files: { [PATH]: file('blue') },
      });
      closers.push(async () => {
        await web.close();
        await github.close();
      });
      const before = github.state.refs.main as string;
      github.commit('owner-green', { [PATH]: file('green') });
      const number = github.openPullRequest({ head: 'owner-green', title: 'web: owner green' });
      const after = github.mergePullRequest(number);

      const started = startAction(
        'rollout',
        { command: 'apply', 'github-token': TOKEN, 'settle-seconds': '0' },
        {
          ...sandbox.env,
          ...runnerEnv(github, {
            name: 'push',
            payload: pushPayload(before, after),
            sha: after,
            ref: 'refs/heads/main',
          }),
        },
      );
      const deadline = Date.now() + 30_000;
      while (!started.stdout().includes('waiting for Job jobs/notify-manual')) {
        if (Date.now() > deadline) throw new Error(`never got to the drain:\n${started.stdout()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await suspendOf('blue')).toBe('true');
      started.child.kill('SIGTERM');
      const run = await started.done;
      expect(run.exitCode, run.stdout + run.stderr).toBe(1);
      expect(run.outputs.result).toBe('rolled-back');
      expect(run.stdout).toContain('the job was cancelled');
      expect(run.stdout).toContain('every object runs on blue again');
      expect(await suspendOf('blue')).toBe('false');
      expect(await suspendOf('green')).toBe('true');
      const pr = github.state.pulls.find((p) => p.head === `rollout/${web.name}/reconcile`);
      expect(pr?.title).toContain('owner back to blue');
      const text = github.fileAt(`rollout/${web.name}/reconcile`, PATH) as string;
      expect(parseRolloutFile(text, PATH).owner).toBe('blue');
    }, 120_000);
  },
);
