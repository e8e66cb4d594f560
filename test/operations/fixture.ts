/**
 * The rollout commands against the real sandbox ALB (in-process) and an in-memory GitHub: a
 * web service with blue and green demo apps, a repository holding its rollout file, and the
 * dependencies the commands take.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { systemClock } from '../../src/common/clock.js';
import { MemoryLogger } from '../../src/common/logger.js';
import type { AwsClients, RolloutDeps, RolloutSettings } from '../../src/operations/context.js';
import { afterAll, beforeAll } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createWebService, type WebService } from '../../sandbox/scenario.js';
import { MemoryGitHub } from '../fakes/memory-github.js';

export const PATH = 'rollouts/web.yaml';

export const SETTINGS: RolloutSettings = {
  settleMs: 0,
  cloudWatchPeriodMs: 1000,
  cloudWatchDelayMs: 0,
  runUrl: 'https://github.com/acme/infra/actions/runs/1',
};

/** An analysis that judges the green app directly, so a test decides the verdict without traffic. */
export function httpAnalysis(web: WebService, minHealthy = 1): string {
  return `analysis:
  warmup: 0s
  interval: 1s
  duration: 1s
  checks:
    - targetHealth: { minHealthy: ${minHealthy} }
    - http: { url: "${web.apps.green?.[0]?.url}/", expectStatus: 200 }
`;
}

let seq = 0;

export interface Rig {
  web: WebService;
  github: MemoryGitHub;
  deps: RolloutDeps & { logger: MemoryLogger };
  cancel: AbortController;
  /** Live weights of every route, as `blue/green`. */
  live(): Promise<string[]>;
  close(): Promise<void>;
}

export async function rig(
  sandbox: Sandbox,
  weights: Record<string, number>,
  options: { extraListeners?: number } = {},
): Promise<Rig> {
  const web = await createWebService(sandbox, {
    name: `web${++seq}-${process.pid % 1000}`,
    weights,
    extraListeners: options.extraListeners ?? 1,
  });
  const github = new MemoryGitHub();
  const config = {
    endpoint: sandbox.endpoint,
    region: sandbox.region,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
    },
  };
  const clients: AwsClients = {
    elbv2: new ElasticLoadBalancingV2Client(config),
    cloudwatch: new CloudWatchClient(config),
  };
  const cancel = new AbortController();
  const deps = {
    github,
    aws: () => clients,
    logger: new MemoryLogger(),
    clock: systemClock,
    fetch: globalThis.fetch,
    signal: cancel.signal,
    readBackDelayMs: 50,
  };
  return {
    web,
    github,
    deps,
    cancel,
    async live() {
      const all = await Promise.all(
        [...web.listenerArns, ...web.ruleArns].map((arn) => web.liveWeights(arn)),
      );
      return all.map((w) => `${w.blue}/${w.green}`);
    },
    async close() {
      clients.elbv2.destroy();
      clients.cloudwatch.destroy();
      await web.close();
    },
  };
}

/**
 * One in-process sandbox for a test file, and `rig()` on it: every rig made is closed, and the
 * sandbox with them, after the file's tests.
 */
export function useSandboxRigs(): {
  readonly sandbox: Sandbox;
  rig(weights: Record<string, number>, options?: { extraListeners?: number }): Promise<Rig>;
} {
  let sandbox: Sandbox | undefined;
  const rigs: Rig[] = [];
  beforeAll(async () => {
    sandbox = await startSandbox({ healthCheckTimeScale: 0.05 });
  });
  afterAll(async () => {
    await Promise.all(rigs.map((r) => r.close()));
    await sandbox?.close();
  });
  return {
    get sandbox() {
      if (!sandbox) throw new Error('the sandbox starts in beforeAll; use it inside a test');
      return sandbox;
    },
    async rig(weights, options) {
      const r = await rig(this.sandbox, weights, options);
      rigs.push(r);
      return r;
    },
  };
}
