/**
 * eks-cluster-canary from a terminal: the operations the actions run, with the same gates
 * (drift, step rule, target health, analysis) and the same restore on failure, without GitHub.
 * The rollout file on disk is what is applied; its last commit (or --base) is what the ALB must
 * have now. What the actions would put in a PR (a reconcile after a rollback, the next step) is
 * printed as the file change to commit, or written with --write. AWS credentials and region
 * come from the SDK's standard chain. The cluster commands (create-cluster, sync, retire, token)
 * are in cluster.ts; handoff is apply's owner step over the file on disk with the new owner.
 *
 * Exit codes (exit.ts): 0 done; 1 the step failed (rolled back, or not restored: the output says
 * which); 2 bad usage or an invalid file; 3 refused by the gate (nothing changed); 130
 * interrupted (after restoring what the step had changed, or saying what was left).
 */
import { writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { systemClock } from '../common/clock.js';
import { parseDuration } from '../common/duration.js';
import { ConfigurationError, ExplainedError, errorMessage } from '../common/errors.js';
import { pathFilter } from '../common/glob.js';
import { flatGroups, type Logger } from '../common/logger.js';
import { DEFAULT_CLOUDWATCH_DELAY_MS, DEFAULT_CLOUDWATCH_PERIOD_MS } from '../health/index.js';
import { regionalClients } from '../operations/aws-clients.js';
import { runAdvance } from '../operations/advance.js';
import { runApply } from '../operations/apply.js';
import type { OptionNames, RolloutDeps, RolloutSettings } from '../operations/context.js';
import { planFile } from '../operations/plan.js';
import { runRollback } from '../operations/rollback.js';
import { setOwner } from '../rollout-file/edit.js';
import { tryParse } from '../operations/live.js';
import { createClusterCommand, retireCommand, syncCommand, tokenCommand } from './cluster.js';
import { EXIT } from './exit.js';
import type { CliIO } from './io.js';
import { LocalRepo, WORKTREE } from './local-repo.js';
import { readStatus, watchStatus } from './status.js';
import { applyText, planText, rollbackText, statusText } from './text.js';

const OPTION_NAMES: OptionNames = {
  file: 'the file',
  to: '--to',
  weights: '--weights',
  owner: '--owner',
  force: '--force',
};

const COMMON = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  verbose: { type: 'boolean', short: 'v' },
} as const satisfies ParseArgsConfig['options'];

const TIMING = {
  'cloudwatch-period': { type: 'string' },
  'cloudwatch-delay': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const COMMANDS: Record<string, { usage: string; options: ParseArgsConfig['options'] }> = {
  status: {
    usage: `status [files...] [--watch] [--interval 5s] [--window 60s] [--json]
  Per rollout file (default rollouts/*.yaml): the live weights of every route against the file's,
  drift, target health per cluster, the canary and the owner. --watch refreshes every --interval
  with the requests and 5xx rate per cluster over the last --window (CloudWatch).`,
    options: {
      ...COMMON,
      watch: { type: 'boolean' },
      interval: { type: 'string' },
      window: { type: 'string' },
    },
  },
  plan: {
    usage: `plan <files...> [--base HEAD] [--force] [--cloudwatch-period 60s] [--cloudwatch-delay 60s] [--json]
  What applying the files on disk would do, judged as apply will: the step rule, drift against
  the file at --base (the last commit), target health, the analysis. Reads only.
  Exit 3 when a file's step would be refused.`,
    options: { ...COMMON, ...TIMING, base: { type: 'string' }, force: { type: 'boolean' } },
  },
  apply: {
    usage: `apply <files...> [--base HEAD] [--force] [--settle 10s] [--cloudwatch-period 60s] [--cloudwatch-delay 60s] [--write] [--json]
  Applies the weights of the files on disk: the ALB must have what the file at --base says
  (compare-and-swap), then every route shifts in lockstep, the analysis runs, and a failed check,
  an error or Ctrl-C restores the weights read before. After a rollback the file must say the
  live weights again: the change is printed, or written with --write.`,
    options: {
      ...COMMON,
      ...TIMING,
      base: { type: 'string' },
      force: { type: 'boolean' },
      settle: { type: 'string' },
      write: { type: 'boolean' },
    },
  },
  rollback: {
    usage: `rollback <file> (--to <cluster> | --weights "blue=80,green=20" | --owner <cluster>) [--force] [--write] [--json]
  Every route to the given weights at once (no step rule, no compare-and-swap). Refuses a
  cluster without a healthy target unless --force. Then the file must say the new weights:
  the change is printed, or written with --write. --owner instead hands the CronJobs and
  singletons over to that cluster now, from whichever cluster runs them (the emergency
  handoff: no gate); then the file must say it.`,
    options: {
      ...COMMON,
      to: { type: 'string' },
      weights: { type: 'string' },
      owner: { type: 'string' },
      force: { type: 'boolean' },
      write: { type: 'boolean' },
    },
  },
  advance: {
    usage: `advance <file> [--write] [--cloudwatch-period 60s] [--cloudwatch-delay 60s] [--json]
  The next entry of steps for the file's canary, with its plan: printed, or written to the file
  with --write (then review, commit and apply).`,
    options: { ...COMMON, ...TIMING, write: { type: 'boolean' } },
  },
  handoff: {
    usage: `handoff <file> --owner <cluster> [--base HEAD] [--write] [--json]
  The owner step, as apply runs a merged owner change: the file at --base must name the owner
  that runs the CronJobs and singletons now and nothing else may change; the gate reads both
  clusters; then every CronJob and singleton moves, and a failure or Ctrl-C hands them back.
  Then the file must say the new owner: the change is printed, or written with --write.`,
    options: {
      ...COMMON,
      owner: { type: 'string' },
      base: { type: 'string' },
      write: { type: 'boolean' },
    },
  },
  'create-cluster': {
    usage: `create-cluster <config> [--dry-run] [--timeout 45m] [--poll-interval 15s] [--kubeconfig path] [--json]
  An EKS cluster from an eksctl ClusterConfig, as the create-cluster action makes it: plan,
  refuse drift, create in eksctl's order and wait, with a progress line while waiting; a second
  run changes nothing. --dry-run prints the plan only. Writes a kubeconfig (default
  $TMPDIR/kubeconfig-<name>) whose user runs this CLI's token command. Ctrl-C stops the waits
  and says exactly what exists; run again to continue.`,
    options: {
      ...COMMON,
      'dry-run': { type: 'boolean' },
      timeout: { type: 'string' },
      'poll-interval': { type: 'string' },
      kubeconfig: { type: 'string' },
    },
  },
  sync: {
    usage: `sync (<cluster> [--region r] | --kubeconfig path) (--helmfile f [--environment e] [--selector s…] | --chart c --release r --namespace n [--values f…] | --manifests dir) [--rollout-file f --as name] [--mode apply|diff] [--timeout 10m] [--json]
  Apps onto one cluster with helmfile, helm or kubectl, as the sync-apps action does: waits for
  the workloads, binds the cluster's target group from --rollout-file (a TargetGroupBinding),
  and off the owner renders CronJobs suspended and singletons at 0 replicas. --mode diff
  changes nothing and says what would change. Needs kubectl, helm (with helm-diff) or helmfile
  on PATH.`,
    options: {
      ...COMMON,
      region: { type: 'string' },
      kubeconfig: { type: 'string' },
      helmfile: { type: 'string' },
      environment: { type: 'string' },
      selector: { type: 'string', multiple: true },
      chart: { type: 'string' },
      release: { type: 'string' },
      namespace: { type: 'string' },
      values: { type: 'string', multiple: true },
      manifests: { type: 'string' },
      'rollout-file': { type: 'string' },
      as: { type: 'string' },
      mode: { type: 'string' },
      timeout: { type: 'string' },
    },
  },
  retire: {
    usage: `retire <files...> --as <cluster> [--region r] [--dry-run] [--timeout 30m] [--poll-interval 15s] [--json]
  The migration's last stage, as the retire-cluster action runs it. The files are every rollout
  file that names the cluster (one per service it serves). The gate reads only: weight 0 on
  every route (live) and in the files, not the owner, its CronJobs and singletons stopped, every
  TargetGroupBinding covered by a file; it refuses with every reason and changes nothing (exit
  3). Then the bindings are deleted and the targets waited out, and the EKS cluster goes in
  order (node groups, add-ons, the cluster, its OIDC provider), with a progress line while
  waiting. --dry-run prints the plan only. Ctrl-C stops the waits and says exactly what is left
  (exit 130); run again to continue.`,
    options: {
      ...COMMON,
      as: { type: 'string' },
      region: { type: 'string' },
      'dry-run': { type: 'boolean' },
      timeout: { type: 'string' },
      'poll-interval': { type: 'string' },
    },
  },
  token: {
    usage: `token <cluster> [--region r]
  The kubeconfig exec credential plugin: prints an ExecCredential
  (client.authentication.k8s.io/v1beta1) holding a fresh EKS token for the cluster, from the
  SDK's credentials. In a kubeconfig: command: node, args: [<clone>/dist/cli/index.js, token,
  --cluster, <cluster>, --region, <region>].`,
    options: {
      help: { type: 'boolean', short: 'h' },
      cluster: { type: 'string' },
      region: { type: 'string' },
    },
  },
};

function help(): string {
  return [
    'eks-cluster-canary <command> [options]',
    '',
    ...Object.values(COMMANDS).map((c) => c.usage),
    '',
    'Exit codes: 0 done, 1 the step failed (restored or not: the output says; create-cluster or',
    'retire stopped by a failure or the timeout, sync failed), 2 bad usage or an invalid file, 3',
    'refused by the gate (nothing changed), 130 interrupted (after restoring, or saying what',
    'state was left).',
    'AWS credentials and region: the SDK standard chain (AWS_PROFILE, AWS_ACCESS_KEY_ID…).',
  ].join('\n');
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.out(help());
    return command ? EXIT.ok : EXIT.usage;
  }
  const spec = COMMANDS[command];
  if (!spec) {
    io.err(
      `Unknown command "${command}". Commands: ${Object.keys(COMMANDS).join(', ')}. See --help.`,
    );
    return EXIT.usage;
  }
  let parsed: {
    values: Record<string, string | boolean | string[] | undefined>;
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args: rest,
      options: spec.options,
      allowPositionals: true,
      strict: true,
    }) as typeof parsed;
  } catch (e) {
    io.err(`${errorMessage(e)}\nusage: eks-cluster-canary ${spec.usage}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(`eks-cluster-canary ${spec.usage}`);
    return EXIT.ok;
  }
  const logger = terminalLogger(io, values.verbose === true);
  try {
    const byName = (name: string, fallback: number): number => duration(values, name, fallback);
    if (command === 'token') return await tokenCommand(values, positionals, io);
    if (command === 'create-cluster')
      return await createClusterCommand(values, positionals, io, logger, byName);
    if (command === 'sync') return await syncCommand(values, positionals, io, logger, byName);
    if (command === 'retire') return await retireCommand(values, positionals, io, logger, byName);
    return await runCommand(command, values, positionals, io, logger);
  } catch (e) {
    if (io.signal.aborted) {
      // What was restored or left is in the explained message; either way it was a Ctrl-C.
      io.err(
        e instanceof ExplainedError
          ? e.message
          : `Interrupted (${errorMessage(io.signal.reason)}).`,
      );
      return EXIT.interrupted;
    }
    if (e instanceof ConfigurationError) {
      io.err(e.message);
      return EXIT.usage;
    }
    if (e instanceof ExplainedError) {
      io.err(e.message);
      return EXIT.failed;
    }
    if (e instanceof Error && /ProviderError$/.test(e.name)) {
      io.err(
        `No usable AWS credentials: ${e.message}. Set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`,
      );
      return EXIT.failed;
    }
    io.err(e instanceof Error && e.stack ? e.stack : errorMessage(e));
    return EXIT.failed;
  }
}

async function runCommand(
  command: string,
  values: Record<string, string | boolean | string[] | undefined>,
  files: string[],
  io: CliIO,
  logger: Logger,
): Promise<number> {
  const json = values.json === true;
  const clients = regionalClients();
  const settings: RolloutSettings = {
    optionNames: OPTION_NAMES,
    settleMs: duration(values, 'settle', command === 'apply' ? 10_000 : 0),
    cloudWatchPeriodMs: duration(values, 'cloudwatch-period', DEFAULT_CLOUDWATCH_PERIOD_MS),
    cloudWatchDelayMs: duration(values, 'cloudwatch-delay', DEFAULT_CLOUDWATCH_DELAY_MS),
    actor: cliActor(),
  };
  const repo = new LocalRepo(io.cwd, files);
  const deps: RolloutDeps = {
    github: repo,
    aws: clients.aws,
    kube: clients.kube,
    logger,
    clock: systemClock,
    fetch: globalThis.fetch,
    signal: io.signal,
  };
  const base = typeof values.base === 'string' ? values.base : 'HEAD';
  const local = {
    kind: 'workflow_dispatch' as const,
    sha: WORKTREE,
    branch: WORKTREE,
    defaultBranch: WORKTREE,
  };
  try {
    switch (command) {
      case 'status': {
        const paths = files.length > 0 ? files : ['rollouts/*.yaml'];
        if (values.watch) {
          await watchStatus(paths, {
            io,
            deps,
            intervalMs: duration(values, 'interval', 5_000),
            windowMs: duration(values, 'window', 60_000),
            json,
          });
          return EXIT.ok;
        }
        const status = await readStatus(paths, { cwd: io.cwd, deps });
        io.out(json ? JSON.stringify(status, null, 2) : statusText(status));
        return EXIT.ok;
      }
      case 'plan': {
        needFiles(files, command);
        const plans = [];
        for (const path of files) {
          plans.push(
            await planFile(
              {
                path,
                baseText: await repo.fileAt(path, base),
                headText: await repo.fileAt(path, WORKTREE),
                force: values.force === true,
                baseLabel: `in ${base}`,
                cloudWatchPeriodMs: settings.cloudWatchPeriodMs,
                cloudWatchDelayMs: settings.cloudWatchDelayMs,
              },
              deps,
            ),
          );
        }
        io.out(
          json
            ? JSON.stringify(
                plans.map(({ head: _h, ...p }) => p),
                null,
                2,
              )
            : plans.map(planText).join('\n\n'),
        );
        return plans.some((p) => p.status === 'invalid')
          ? EXIT.usage
          : plans.some((p) => p.status === 'refused')
            ? EXIT.refused
            : EXIT.ok;
      }
      case 'apply': {
        needFiles(files, command);
        const outcome = await runApply(
          {
            kind: 'push',
            before: base,
            after: WORKTREE,
            branch: WORKTREE,
            defaultBranch: WORKTREE,
          },
          {
            filter: pathFilter(files, 'files'),
            settings,
            autoAdvance: false,
            force: values.force === true,
            baseLabel: `in ${base}`,
          },
          deps,
        );
        await proposed(repo, values, io);
        io.out(json ? JSON.stringify(outcome.report, null, 2) : applyText(outcome));
        if (outcome.files.some((f) => f.status === 'applied')) {
          io.err(`Commit ${files.join(', ')} so that git says what the ALB has.`);
        }
        if (io.signal.aborted) return EXIT.interrupted;
        if (outcome.files.some((f) => f.status === 'refused' && !f.problems)) return EXIT.refused;
        if (outcome.files.some((f) => f.problems)) return EXIT.usage;
        return outcome.failure ? EXIT.failed : EXIT.ok;
      }
      case 'rollback': {
        if (files.length !== 1) throw new ConfigurationError('rollback takes one rollout file.');
        const outcome = await runRollback(
          local,
          {
            file: files[0] as string,
            force: values.force === true,
            ...(typeof values.to === 'string' ? { to: values.to } : {}),
            ...(typeof values.weights === 'string' ? { weights: values.weights } : {}),
            ...(typeof values.owner === 'string' ? { owner: values.owner } : {}),
          },
          settings,
          deps,
        );
        await proposed(repo, values, io);
        io.out(json ? JSON.stringify(outcome.report, null, 2) : rollbackText(outcome));
        return io.signal.aborted
          ? EXIT.interrupted
          : outcome.error !== undefined
            ? EXIT.failed
            : EXIT.ok;
      }
      case 'handoff': {
        if (files.length !== 1) throw new ConfigurationError('handoff takes one rollout file.');
        return await handoffCommand(files[0] as string, base, values, settings, deps, io);
      }
      case 'advance': {
        if (files.length !== 1) throw new ConfigurationError('advance takes one rollout file.');
        const outcome = await runAdvance(local, files[0] as string, settings, deps);
        await proposed(repo, values, io);
        io.out(json ? JSON.stringify(outcome.report, null, 2) : outcome.message);
        return EXIT.ok;
      }
    }
    throw new ConfigurationError(`Unknown command "${command}".`);
  } finally {
    clients.destroy();
  }
}

/** The in-memory ref `handoff` applies: the file on disk with the new owner. */
const HANDOFF_REF = 'HANDOFF';

/**
 * `handoff`: the owner step as apply runs a merged owner change, the file on disk with `owner`
 * set to --owner being the change and the file at --base what must be true now. The same gate
 * (an owner change on its own, both clusters readable, no object in an unsafe state), the same
 * handoff and the same hand-back on failure or Ctrl-C. Unlike `rollback --owner`, which hands
 * over from whichever cluster at once, without the gate.
 */
async function handoffCommand(
  path: string,
  base: string,
  values: Record<string, unknown>,
  settings: RolloutSettings,
  deps: RolloutDeps,
  io: CliIO,
): Promise<number> {
  const owner = values.owner;
  if (typeof owner !== 'string') {
    throw new ConfigurationError(
      'handoff needs --owner <cluster>: the cluster that is to run the CronJobs and singletons.',
    );
  }
  const repo = new LocalRepo(io.cwd, [path]);
  const disk = await repo.fileAt(path, WORKTREE);
  if (disk === undefined) throw new ConfigurationError(`${path} does not exist.`);
  const parsed = tryParse(disk, path);
  if ('error' in parsed) throw parsed.error;
  const clusters = parsed.file.clusters.map((c) => c.name);
  if (!clusters.includes(owner)) {
    throw new ConfigurationError(
      `--owner is "${owner}", which is not a cluster of ${path} (${clusters.join(', ')}).`,
    );
  }
  const baseText = await repo.fileAt(path, base);
  const committed = baseText === undefined ? undefined : tryParse(baseText, path);
  if (!committed || !('file' in committed)) {
    throw new ConfigurationError(
      `${path} has no valid version at ${base}, so there is no owner to hand over from. Commit the file first, or use "rollback ${path} --owner ${owner}" (no gate).`,
    );
  }
  if (committed.file.owner === owner) {
    io.err(
      `${path} at ${base} already says owner: ${owner}, so there is no owner step to run. If CronJobs or singletons still run on another cluster, "rollback ${path} --owner ${owner}" hands them over without the gate. Nothing was changed.`,
    );
    return EXIT.refused;
  }
  const head = setOwner(disk, path, owner);
  const handoffRepo = new LocalRepo(io.cwd, [path], { [HANDOFF_REF]: { [path]: head } });
  const outcome = await runApply(
    { kind: 'push', before: base, after: HANDOFF_REF, branch: WORKTREE, defaultBranch: WORKTREE },
    {
      filter: pathFilter([path], 'files'),
      settings,
      autoAdvance: false,
      force: false,
      baseLabel: `in ${base}`,
    },
    { ...deps, github: handoffRepo },
  );
  const file = outcome.files[0];
  if (file?.status === 'applied' && parsed.file.owner !== owner) {
    handoffRepo.proposed.push({
      title: `${parsed.file.name}: owner ${committed.file.owner} → ${owner} (handed over)`,
      body: '',
      files: [{ path, content: head }],
    });
  }
  await proposed(handoffRepo, values, io);
  io.out(values.json === true ? JSON.stringify(outcome.report, null, 2) : applyText(outcome));
  if (io.signal.aborted) return EXIT.interrupted;
  if (file?.status === 'refused' && !file.problems) return EXIT.refused;
  if (file?.problems) return EXIT.usage;
  return outcome.failure ? EXIT.failed : EXIT.ok;
}

/** The file changes the actions would have opened a PR for: printed, or written with --write. */
async function proposed(
  repo: LocalRepo,
  values: Record<string, unknown>,
  io: CliIO,
): Promise<void> {
  for (const change of repo.proposed) {
    for (const file of change.files) {
      if (values.write === true) {
        await writeFile(resolve(io.cwd, file.path), file.content);
        io.err(`Wrote ${file.path}: ${change.title}. Review and commit it.`);
      } else {
        io.err(
          `${change.title}\n${file.path} must become (run again with --write to write it):\n${file.content}`,
        );
      }
    }
  }
}

function needFiles(files: string[], command: string): void {
  if (files.length === 0)
    throw new ConfigurationError(
      `${command} needs at least one rollout file, e.g. rollouts/web.yaml.`,
    );
}

function duration(values: Record<string, unknown>, name: string, fallback: number): number {
  const text = values[name];
  if (typeof text !== 'string') return fallback;
  const ms = parseDuration(text);
  if (ms === undefined) {
    throw new ConfigurationError(
      `--${name} must be a duration such as 0s, 30s, 1m or 1m30s, got "${text}".`,
    );
  }
  return ms;
}

/** Who runs a step from this terminal, for the last-step record on the routes. */
function cliActor(): string {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for the uid (a container): $USER, if any, says enough.
  }
  return `cli:${user}@${hostname()}`;
}

/** Logs go to stderr, so stdout holds only the result (and --json stays parseable). */
function terminalLogger(io: CliIO, verbose: boolean): Logger {
  return {
    info: (m) => io.err(m),
    debug: (m) => {
      if (verbose) io.err(`debug: ${m}`);
    },
    warning: (m) => io.err(`warning: ${m}`),
    group: flatGroups({
      startGroup: (name) => io.err(`== ${name}`),
      endGroup: () => undefined,
      heading: (name) => io.err(`-- ${name}`),
    }),
  };
}
