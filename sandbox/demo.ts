/**
 * `npm run demo`: the PR-driven rollout loop on the local sandbox. The rollout action's bundle
 * (dist/rollout/index.js) runs exactly as a GitHub runner runs it (INPUT_*, GITHUB_EVENT_PATH
 * with a real event payload, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY), against the sandbox for AWS
 * and a local stand-in of GitHub's REST API (sandbox/github) for pull requests, comments and
 * deployments, while a load generator sends real traffic through the sandbox ALB.
 *
 * Part 1: a PR sets green to 10; `plan` comments on it; the merge runs `apply` with
 * auto-advance, which shifts, verifies and opens the PR for the next step; repeated to 100.
 * Part 2: a dispatched `rollback` sends everything back to blue and opens the reconcile PR;
 * then a bad build of green is merged at 10, and `apply` rolls it back, opens the reconcile PR
 * and comments on the merged PR. Every claim it prints is checked against what happened (ALB
 * weights read back, traffic observed through the data plane, the PRs and comments on the
 * GitHub stand-in); it exits non-zero if any check fails.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from './index.js';
import {
  DEMO_ANALYSIS,
  DEMO_TOKEN,
  LoadGenerator,
  PROPAGATION_MS,
  Reporter,
  checkSplit,
  liveWeights,
  mergeAndApply,
  openPullRequest,
  plan,
  rollout,
  show,
  type RolloutDemo,
} from './demo-kit.js';
import { dispatchPayload } from './github/events.js';
import { startFakeGitHub } from './github/server.js';
import { createWebService } from './scenario.js';

const work = mkdtempSync(join(tmpdir(), 'eks-cluster-canary-demo-'));
const reporter = new Reporter();
const load = new LoadGenerator();
const bold = (s: string): string => reporter.bold(s);
const elapsed = (): string => reporter.elapsed();
const say = (line = ''): void => reporter.say(line);
const check = (claim: string, ok: boolean, detail: string): void => {
  reporter.check(claim, ok, detail);
};
const trafficLine = (ms: number): string => load.line(ms);

const PATH = 'rollouts/web.yaml';

interface Stage extends RolloutDemo {
  file(weights: { blue: number; green: number }): string;
}

/** Opens a PR that sets the file to `weights`. */
function openWeightsPullRequest(
  stage: Stage,
  title: string,
  weights: { blue: number; green: number },
): number {
  return openPullRequest(stage, title, { [PATH]: stage.file(weights) });
}

async function healthyPromotion(stage: Stage): Promise<void> {
  say(bold('\nPart 1: a healthy canary, one merged PR per step (steps: [10, 25, 50, 100])'));
  let number = openWeightsPullRequest(stage, 'web: green 10%', { blue: 90, green: 10 });
  for (const green of [10, 25, 50, 100]) {
    await plan(stage, number);
    const apply = await mergeAndApply(stage, number, { 'auto-advance': 'true' });
    const live = await liveWeights(stage.web);
    check(
      `apply shifts every route to blue ${100 - green}/green ${green} and verifies it`,
      apply.exitCode === 0 &&
        apply.outputs.result === 'applied' &&
        live === `${100 - green}/${green}, ${100 - green}/${green}`,
      `exit ${apply.exitCode}, result ${apply.outputs.result}, live ${live}`,
    );
    const deployment = stage.github.state.deployments.at(-1);
    check(
      'a deployment is recorded with status success',
      deployment?.statuses.at(-1)?.state === 'success',
      deployment ? `deployment ${deployment.id} to ${deployment.environment}` : 'none',
    );
    say(`   traffic, last 3 s: ${trafficLine(3000)}`);
    checkSplit(reporter, load, green, '1.32');
    const advance = stage.github.state.pulls.find(
      (p) => p.head === `rollout/${stage.web.name}/advance` && p.state === 'open',
    );
    if (green === 100) {
      check('at the last step no advance PR is opened', advance === undefined, 'none open');
      break;
    }
    check(
      'auto-advance opens the PR for the next step',
      advance !== undefined &&
        apply.outputs['pull-request'] === `https://github.com/acme/infra/pull/${advance.number}`,
      advance ? `#${advance.number} "${advance.title}"` : 'none',
    );
    if (!advance || apply.exitCode !== 0) return;
    number = advance.number;
  }
}

async function rollbackThenBadBuild(stage: Stage): Promise<void> {
  say(bold('\nPart 2: an emergency rollback to blue, then a bad build of green merged at 10%'));
  say(bold(`\n[${elapsed()}] workflow_dispatch: rollback ${PATH} to blue`));
  const main = stage.github.state.refs.main as string;
  const rollback = await rollout(
    stage,
    'rollback',
    {
      name: 'workflow_dispatch',
      payload: dispatchPayload({ file: PATH, to: 'blue' }),
      sha: main,
      ref: 'refs/heads/main',
    },
    { file: PATH, to: 'blue' },
  );
  show(reporter, rollback, /\(confirmed\)|Reconcile PR|^::error::/);
  const reconcile = stage.github.state.pulls.find(
    (p) => p.head === `rollout/${stage.web.name}/reconcile` && p.state === 'open',
  );
  check(
    'rollback moves every route to blue at once and opens the reconcile PR',
    rollback.exitCode === 0 &&
      (await liveWeights(stage.web)) === '100/0, 100/0' &&
      reconcile !== undefined,
    reconcile ? `#${reconcile.number} "${reconcile.title}"` : 'no PR',
  );
  if (!reconcile) return;
  const merged = await mergeAndApply(stage, reconcile.number, {});
  check(
    'merging the reconcile PR changes nothing on the ALB',
    merged.exitCode === 0 && merged.outputs.result === 'unchanged',
    `result ${merged.outputs.result}`,
  );

  say(bold(`\n[${elapsed()}] green gets a bad build: 30% of its requests fail`));
  for (const app of stage.web.apps.green ?? []) app.setBehaviour({ errorRate: 0.3 });
  const number = openWeightsPullRequest(stage, 'web: green 10% again', { blue: 90, green: 10 });
  await plan(stage, number);
  const startedAt = Date.now();
  const apply = await mergeAndApply(stage, number, {});
  check(
    'apply fails the job and reports rolled-back',
    apply.exitCode === 1 && apply.outputs.result === 'rolled-back',
    `exit ${apply.exitCode}, result ${apply.outputs.result}, ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
  );
  const live = await liveWeights(stage.web);
  check('every route is back at blue 100/green 0', live === '100/0, 100/0', `live ${live}`);
  const pr = stage.github.state.pulls.find(
    (p) => p.head === `rollout/${stage.web.name}/reconcile` && p.state === 'open',
  );
  check(
    'a reconcile PR sets the file back to blue 100/green 0, naming the failed check with its numbers',
    pr !== undefined &&
      /error-rate of green \d+(\.\d+)?% > 2%/.test(pr.title) &&
      stage.github.fileAt(pr.head, PATH) === stage.file({ blue: 100, green: 0 }) &&
      apply.outputs['pull-request'] === `https://github.com/acme/infra/pull/${pr.number}`,
    pr ? `#${pr.number}` : 'none opened',
  );
  if (pr) {
    say(`   reconcile PR #${pr.number}: ${pr.title}`);
    for (const line of (pr.body ?? '').split('\n').slice(0, 8)) say(`     │ ${line}`);
  }
  const comment = stage.github.state.comments.find(
    (c) => c.issueNumber === number && c.body.includes('rolled back'),
  );
  check(
    'the merged PR gets a comment that says it was rolled back',
    comment !== undefined,
    comment ? `comment ${comment.id}` : 'none',
  );
  // The restore is not followed by a settle wait (every second counts), and the sandbox ALB,
  // like a real one, takes a moment (1 s here) to apply a weight change. The window below holds
  // whole seconds only, all after that.
  await new Promise((r) => setTimeout(r, PROPAGATION_MS + 4200));
  say(`   traffic, last 3 s: ${trafficLine(3000)}`);
  checkSplit(reporter, load, 0, '1.32');
}

async function main(): Promise<void> {
  say(bold('eks-cluster-canary demo: the rollout action, PR by PR, against the local sandbox'));
  const sandbox = await startSandbox({
    healthCheckTimeScale: 0.05,
    propagationDelayMs: PROPAGATION_MS,
  });
  const web = await createWebService(sandbox, {
    clusters: [
      { name: 'blue', version: '1.31', instances: 2 },
      { name: 'green', version: '1.32', instances: 2 },
    ],
    extraListeners: 1,
  });
  const file = (w: { blue: number; green: number }): string =>
    `# web: blue runs Kubernetes 1.31, green 1.32\n${web.rolloutFile(w, DEMO_ANALYSIS)}`;
  const github = await startFakeGitHub({
    owner: 'acme',
    repo: 'infra',
    token: DEMO_TOKEN,
    files: { [PATH]: file({ blue: 100, green: 0 }) },
  });
  const stage: Stage = { reporter, load, work, web, github, aws: sandbox.env, file };
  say(
    `sandbox at ${sandbox.endpoint}; ALB "${web.name}" with 2 listeners forwarding to blue (1.31) and green (1.32), 2 pods each`,
  );
  say(`GitHub stand-in at ${github.url}: acme/infra holds ${PATH} at blue 100 / green 0`);
  say(`traffic goes to ${web.url} at 60 req/s; step summaries and reports are in ${work}`);
  load.start(web.url, 60);
  await new Promise((r) => setTimeout(r, 3000));
  say(`   traffic, last 2 s: ${trafficLine(2000)}`);

  try {
    await healthyPromotion(stage);
    await rollbackThenBadBuild(stage);
  } finally {
    await load.stop();
    await web.close();
    await github.close();
    await sandbox.close();
  }

  reporter.finish();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
