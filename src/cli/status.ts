/**
 * `status`: where every rollout stands, read live. Per file: the live weights of each route
 * against the file's (drift), target health per cluster, the canary and the owner, whether the
 * file on disk differs from its last commit; with --watch, the requests and 5xx rate per
 * cluster from CloudWatch, refreshed until Ctrl-C.
 */
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { readLastSteps, type LastStep } from '../alb/last-step.js';
import { errorMessage } from '../common/errors.js';
import { pathFilter } from '../common/glob.js';
import { resolveTargets, type TargetGroupRef } from '../health/index.js';
import type { RolloutDeps } from '../operations/context.js';
import { readClusterSingletons } from '../operations/handoff.js';
import { precheckTargetHealth, readLive, requiredHealthy, tryParse } from '../operations/live.js';
import { sameClusterWeights } from '../rollout-file/step.js';
import type { RolloutFile } from '../rollout-file/types.js';
import type { CliIO } from './io.js';
import { LocalRepo, WORKTREE } from './local-repo.js';
import { singletonView, statusText, type FileStatus, type LastStepView } from './text.js';

/** The files the patterns name: literal paths as given, globs matched under their fixed prefix. */
export async function expandFiles(cwd: string, patterns: readonly string[]): Promise<string[]> {
  const literal = patterns.filter((p) => !/[*?{]/.test(p));
  const globs = patterns.filter((p) => /[*?{]/.test(p));
  const found = new Set(literal);
  if (globs.length > 0) {
    const filter = pathFilter(globs, 'files');
    const roots = new Set(
      globs.map((g) =>
        g
          .split('/')
          .filter((part, i, all) => i < all.length - 1 && !/[*?{]/.test(part))
          .join('/'),
      ),
    );
    for (const root of roots) {
      for (const file of await walk(join(cwd, root))) {
        const rel = relative(cwd, file);
        if (filter.matches(rel)) found.add(rel);
      }
    }
  }
  return [...found].sort();
}

async function walk(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out;
}

export async function readStatus(
  patterns: readonly string[],
  ctx: { cwd: string; deps: RolloutDeps },
): Promise<FileStatus[]> {
  const files = await expandFiles(ctx.cwd, patterns);
  const repo = new LocalRepo(ctx.cwd, files);
  return Promise.all(files.map((path) => fileStatus(path, repo, ctx.deps)));
}

async function fileStatus(path: string, repo: LocalRepo, deps: RolloutDeps): Promise<FileStatus> {
  const status: FileStatus = { path, order: [], routes: [], health: [] };
  const text = await repo.fileAt(path, WORKTREE);
  if (text === undefined) return { ...status, problem: 'no such file' };
  const parsed = tryParse(text, path);
  if ('error' in parsed) return { ...status, problem: parsed.error.message };
  const file = parsed.file;
  Object.assign(status, {
    name: file.name,
    region: file.region,
    order: file.clusters.map((c) => c.name),
    desired: file.weights,
    owner: file.owner,
    canary: file.canary,
  });
  const committed = await repo.fileAt(path, 'HEAD');
  const before = committed === undefined ? undefined : tryParse(committed, path);
  if (before && 'file' in before && !sameClusterWeights(before.file.weights, file.weights)) {
    status.uncommitted = before.file.weights;
  }
  // The apiservers are read beside the ALB, each cluster on its own: one that cannot be
  // reached is shown as such, and the weights and health are shown all the same.
  const singletons = readClusterSingletons(file, deps).then((all) =>
    all.map((c) =>
      'error' in c
        ? { cluster: c.cluster, error: c.error }
        : { cluster: c.cluster, objects: c.objects.map(singletonView) },
    ),
  );
  // The last step is read on its own too: a failure to read it hides nothing else.
  const lastStep = lastStepOf(file, deps).catch((e: unknown) => ({
    error: `could not be read: ${errorMessage(e)}`,
  }));
  try {
    const [live, health] = await Promise.all([
      readLive(deps, file),
      precheckTargetHealth(deps, file, status.order, requiredHealthy(file)),
    ]);
    status.singletons = await singletons;
    const last = await lastStep;
    if ('error' in last) status.lastStepError = last.error;
    else status.lastStep = last.step;
    if ('problem' in live) return { ...status, problem: live.problem };
    status.routes = live.routes.map((r) => ({
      arn: r.ref.arn,
      weights: r.weights,
      drift: !sameClusterWeights(r.weights, file.weights),
    }));
    status.health = health;
  } catch (e) {
    status.problem = `Could not read AWS: ${errorMessage(e)}`;
    status.singletons = await singletons;
    await lastStep;
  }
  return status;
}

/**
 * The newest last-step record on the file's routes (the tag eks-cluster-canary:last-step), with
 * how many routes carry it: fewer than all when a write of the record failed on some.
 */
async function lastStepOf(
  file: RolloutFile,
  deps: RolloutDeps,
): Promise<{ step: LastStepView | null }> {
  const routes = file.routes.map((r) => r.arn);
  const found = await readLastSteps(deps.aws(file.region).elbv2, routes, deps.signal);
  let newest: LastStep | undefined;
  for (const step of found.values()) {
    if (!newest || step.at.getTime() > newest.at.getTime()) newest = step;
  }
  if (!newest) return { step: null };
  const value = JSON.stringify(newest);
  const onRoutes = [...found.values()].filter((s) => JSON.stringify(s) === value).length;
  return {
    step: { ...newest, at: newest.at.toISOString(), onRoutes, routes: routes.length },
  };
}

/** Requests and the 5xx share per cluster over the last `windowMs`, from CloudWatch's ALB metrics. */
export async function readTraffic(
  file: RolloutFile,
  deps: RolloutDeps,
  windowMs: number,
): Promise<Record<string, { requests: number; errorRate?: number }>> {
  const { elbv2, cloudwatch } = deps.aws(file.region);
  const [first, ...others] = file.clusters.map((c) => ({
    label: c.name,
    arn: c.targetGroup,
    eks: c.eks,
  }));
  if (!first) return {};
  const targets = await resolveTargets(elbv2, { canary: first, weighted: [first, ...others] });
  const period = Math.max(1, Math.round(windowMs / 1000));
  const queries: MetricDataQuery[] = [];
  const series = (tg: TargetGroupRef, metric: string, i: number): MetricDataQuery[] =>
    tg.loadBalancers.map((lb, j) => ({
      Id: `m${i}_${metric === 'RequestCount' ? 'r' : 'e'}_${j}`,
      MetricStat: {
        Metric: {
          Namespace: 'AWS/ApplicationELB',
          MetricName: metric,
          Dimensions: [
            { Name: 'TargetGroup', Value: tg.dimension },
            { Name: 'LoadBalancer', Value: lb },
          ],
        },
        Period: period,
        Stat: 'Sum',
      },
    }));
  targets.weighted.forEach((tg, i) => {
    queries.push(...series(tg, 'RequestCount', i), ...series(tg, 'HTTPCode_Target_5XX_Count', i));
  });
  const end = new Date(Math.floor(Date.now() / 1000) * 1000);
  const out = await cloudwatch.send(
    new GetMetricDataCommand({
      MetricDataQueries: queries,
      StartTime: new Date(end.getTime() - period * 1000),
      EndTime: end,
    }),
    { abortSignal: deps.signal },
  );
  const sum = (prefix: string): number =>
    (out.MetricDataResults ?? [])
      .filter((r) => r.Id?.startsWith(prefix))
      .reduce((a, r) => a + (r.Values ?? []).reduce((x, y) => x + y, 0), 0);
  return Object.fromEntries(
    targets.weighted.map((tg, i) => {
      const requests = sum(`m${i}_r_`);
      const errors = sum(`m${i}_e_`);
      return [tg.label, requests > 0 ? { requests, errorRate: errors / requests } : { requests }];
    }),
  );
}

export async function watchStatus(
  patterns: readonly string[],
  options: { io: CliIO; deps: RolloutDeps; intervalMs: number; windowMs: number; json: boolean },
): Promise<void> {
  const { io, deps } = options;
  while (!io.signal.aborted) {
    const status = await readStatus(patterns, { cwd: io.cwd, deps });
    const files = await expandFiles(io.cwd, patterns);
    const repo = new LocalRepo(io.cwd, files);
    for (const s of status.filter((x) => !x.problem)) {
      const text = await repo.fileAt(s.path, WORKTREE);
      const parsed = text === undefined ? undefined : tryParse(text, s.path);
      if (!parsed || !('file' in parsed)) continue;
      try {
        s.traffic = await readTraffic(parsed.file, deps, options.windowMs);
      } catch (e) {
        if (io.signal.aborted) return;
        s.problem = `Could not read CloudWatch: ${errorMessage(e)}`;
      }
    }
    if (options.json) io.out(JSON.stringify({ at: new Date().toISOString(), files: status }));
    else
      io.out(`\x1b[2J\x1b[H${new Date().toISOString()}  (Ctrl-C to stop)\n\n${statusText(status)}`);
    try {
      await deps.clock.sleep(options.intervalMs, io.signal);
    } catch {
      return;
    }
  }
}
