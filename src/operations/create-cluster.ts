/**
 * create-cluster: an EKS cluster from an eksctl ClusterConfig, through the EKS API, idempotent.
 *
 * Read what exists → plan (create / update / unchanged / drift) → refuse on drift, stop on dry
 * run → apply in eksctl's order, everything independent in parallel:
 *   cluster (wait ACTIVE) → OIDC provider, access entries, add-ons created without waiting,
 *   node groups created → wait for node groups → wait for add-ons (coredns and the EBS CSI
 *   driver stay DEGRADED until nodes exist) → pod identity associations.
 * Waits use the SDK's waiters with an explicit maxWaitTime (what is left of the deadline) and
 * the job's AbortSignal; a progress line every 30 s names what is still pending. Cancelled or
 * timed out, it reads the state once more and reports exactly what exists.
 */
import {
  DescribeAddonCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  waitUntilAddonActive,
  waitUntilClusterActive,
  waitUntilNodegroupActive,
  type Cluster,
  type Issue,
  type NodegroupIssueCode,
} from '@aws-sdk/client-eks';
import { abortableClock, type Clock } from '../common/clock.js';
import { formatDuration } from '../common/duration.js';
import { ConfigurationError, ExplainedError, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { ClusterConfig } from '../eks/cluster-config.js';
import { readAddonVersions, readLive, type EksClients } from '../eks/live.js';
import {
  planCluster,
  podIdentityAssociations,
  resolveAddonVersion,
  type AddonVersions,
  type LiveCluster,
  type PlanItem,
} from '../eks/plan.js';
import * as write from '../eks/write.js';

export interface CreateClusterSettings {
  config: ClusterConfig;
  dryRun: boolean;
  /** Overall deadline, from the start. */
  timeoutMs: number;
  /** How often the waiters poll EKS (the SDK waiters' min and max delay). */
  pollMs: number;
  /** How often a progress line is logged while waiting. */
  progressEveryMs?: number;
}

export interface CreateClusterContext {
  clients: EksClients;
  logger: Logger;
  clock: Clock;
  signal?: AbortSignal;
}

/** One thing done, with when it started and ended. */
export interface DoneStep {
  what: string;
  startedAt: Date;
  endedAt: Date;
}

export interface ClusterOutputs {
  name: string;
  arn: string;
  endpoint: string;
  certificateAuthorityData: string;
  oidcIssuer: string;
  version: string;
  status: string;
}

export interface CreateClusterResult {
  plan: PlanItem[];
  dryRun: boolean;
  changed: boolean;
  steps: DoneStep[];
  /** Absent on a dry run of a cluster that does not exist yet. */
  cluster?: ClusterOutputs;
  startedAt: Date;
  endedAt: Date;
}

/** The state of every resource, when the run could not finish (cancelled, timed out, failed). */
export interface ResourceState {
  resource: string;
  name: string;
  state: string;
  issues?: string[];
}

export class CreateClusterStoppedError extends ExplainedError {
  override name = 'CreateClusterStoppedError';
  constructor(
    message: string,
    readonly plan: PlanItem[],
    readonly steps: DoneStep[],
    readonly states: ResourceState[],
  ) {
    super(message);
  }
}

/**
 * A refused plan: drift, with every field named; nothing was changed. Each drifted field is
 * also a diagnostic on the config line that asks for it (an annotation on the runner).
 */
export class DriftError extends ConfigurationError {
  override name = 'DriftError';
  constructor(
    readonly plan: PlanItem[],
    config: ClusterConfig,
  ) {
    const drifted = plan.filter((p) => p.action === 'drift');
    const lines = drifted.flatMap((p) => [
      `  ${p.resource} ${p.name}: ${p.why}`,
      ...(p.changes ?? []).map((c) => `    ${c.field}: live ${c.live}, config ${c.desired}`),
    ]);
    const diagnostics = drifted.flatMap((p) => {
      const at = (field?: string) =>
        (field !== undefined
          ? config.positions.get(`${p.resource}:${p.name}:${field}`)
          : undefined) ??
        config.positions.get(
          p.resource === 'cluster' ? `cluster:${field ?? ''}` : `${p.resource}:${p.name}`,
        ) ??
        config.positions.get('cluster') ?? { line: 1, col: 1 };
      const changes = p.changes ?? [];
      if (changes.length === 0)
        return [{ file: config.file, ...at(), message: `${p.resource} ${p.name}: ${p.why}` }];
      return changes.map((c) => ({
        file: config.file,
        ...at(c.field),
        message: `${p.resource} ${p.name}: ${c.field} is ${c.live} on EKS, ${c.desired} here; ${p.why.replace(/: [^:]*$/, '')}.`,
      }));
    });
    super(
      [
        `The ClusterConfig asks for changes EKS cannot make in place; nothing was changed:`,
        ...lines,
      ].join('\n'),
      diagnostics,
    );
  }
}

export async function createCluster(
  settings: CreateClusterSettings,
  ctx: CreateClusterContext,
): Promise<CreateClusterResult> {
  const { config } = settings;
  const startedAt = ctx.clock.now();
  const deadline = startedAt.getTime() + settings.timeoutMs;
  // One signal for cancellation and the overall timeout; every call and wait takes it.
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new Error(`timed out after ${formatDuration(settings.timeoutMs)}`)),
    settings.timeoutMs,
  );
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout.signal]) : timeout.signal;
  const steps: DoneStep[] = [];
  let plan: PlanItem[] = [];
  try {
    const live = await ctx.logger.group(`Reading what exists: ${config.name}`, () =>
      readLive(config, ctx.clients, signal),
    );
    const versions = await readAddonVersions(config, live, ctx.clients.eks, signal);
    plan = planCluster({ config, live, addonVersions: versions });
    logPlan(plan, ctx.logger);
    if (plan.some((p) => p.action === 'drift')) throw new DriftError(plan, config);
    const changed = plan.some((p) => p.action === 'create' || p.action === 'update');
    // Nothing to write, but a resource a cancelled run left CREATING or UPDATING: wait for it.
    if (settings.dryRun || (!changed && settled(config, live))) {
      const endedAt = ctx.clock.now();
      return {
        plan,
        dryRun: settings.dryRun,
        changed: false,
        steps,
        ...(live.cluster ? { cluster: outputsOf(live.cluster) } : {}),
        startedAt,
        endedAt,
      };
    }
    const run = new Applier(settings, ctx, signal, deadline, live, versions, plan, steps);
    const cluster = await ctx.logger.group(
      changed ? `Creating ${config.name}` : `Waiting for ${config.name}`,
      () => run.apply(),
    );
    return {
      plan,
      dryRun: false,
      changed,
      steps,
      cluster: outputsOf(cluster),
      startedAt,
      endedAt: ctx.clock.now(),
    };
  } catch (e) {
    if (e instanceof DriftError) throw e;
    if (signal.aborted) {
      const why = errorMessage(signal.reason);
      const states = await describeStates(config, ctx.clients);
      throw new CreateClusterStoppedError(
        `Stopped (${why}). ${stateSentence(states)} Run again to continue from here.`,
        plan,
        steps,
        states,
      );
    }
    if (e instanceof FailedResourceError) {
      const states = await describeStates(config, ctx.clients);
      throw new CreateClusterStoppedError(
        `${e.message} ${stateSentence(states)}`,
        plan,
        steps,
        states,
      );
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

class FailedResourceError extends ExplainedError {
  override name = 'FailedResourceError';
}

/** Applies a plan in eksctl's order. */
class Applier {
  private readonly pending = new Map<string, string>();
  private readonly opts: { abortSignal: AbortSignal };
  private readonly cluster: string;

  constructor(
    private readonly settings: CreateClusterSettings,
    private readonly ctx: CreateClusterContext,
    private readonly signal: AbortSignal,
    private readonly deadline: number,
    private readonly live: LiveCluster,
    private readonly versions: Map<string, AddonVersions>,
    private readonly plan: PlanItem[],
    private readonly steps: DoneStep[],
  ) {
    this.opts = { abortSignal: signal };
    this.cluster = settings.config.name;
  }

  private action(resource: PlanItem['resource'], name: string): PlanItem['action'] | undefined {
    return this.plan.find((p) => p.resource === resource && p.name === name)?.action;
  }

  async apply(): Promise<Cluster> {
    const { config } = this.settings;
    const { eks } = this.ctx.clients;
    const progress = this.startProgress();
    try {
      if (this.action('cluster', config.name) === 'create') {
        await this.step(`create cluster ${config.name}`, () =>
          write.createCluster(config, this.ctx.clients, this.opts),
        );
      }
      await this.waitFor(
        `cluster ${config.name}`,
        async (maxWaitTime) => {
          await waitUntilClusterActive(this.waiter(maxWaitTime), { name: config.name });
        },
        () => this.clusterIssues(),
      );
      let described = await eks.send(new DescribeClusterCommand({ name: config.name }), this.opts);
      // Cluster settings first, one UpdateClusterConfig at a time: node groups and add-ons
      // cannot be created while the cluster is UPDATING.
      if (this.action('cluster', config.name) === 'update') {
        for (const u of write.clusterConfigUpdates(config, described.cluster as Cluster)) {
          await this.step(`update cluster ${config.name}: ${u.what}`, () =>
            write.updateClusterConfig(u.input, this.ctx.clients, this.opts),
          );
          await this.waitFor(
            `cluster ${config.name}`,
            async (maxWaitTime) => {
              await waitUntilClusterActive(this.waiter(maxWaitTime), { name: config.name });
            },
            () => this.clusterIssues(),
          );
        }
        described = await eks.send(new DescribeClusterCommand({ name: config.name }), this.opts);
      }
      const cluster = described.cluster as Cluster;

      // Everything that needs only an ACTIVE cluster, in parallel; add-ons are not waited on yet.
      const issuer = cluster.identity?.oidc?.issuer;
      await Promise.all([
        this.action('oidc-provider', config.name) === 'create' && issuer
          ? this.step(`create IAM OIDC provider for ${issuer}`, () =>
              write.createOidcProvider(issuer, this.ctx.clients, config.tags, this.opts),
            )
          : undefined,
        ...config.access.entries
          .filter((e) => isWrite(this.action('access-entry', e.principalArn)))
          .map((e) =>
            this.step(
              `${this.action('access-entry', e.principalArn)} access entry ${e.principalArn}`,
              () => write.putAccessEntry(config.name, e, this.live, this.ctx.clients, this.opts),
            ),
          ),
        ...config.addons
          .filter((a) => isWrite(this.action('addon', a.name)))
          .map((a) => {
            const version = resolveAddonVersion(a, this.versions.get(a.name));
            const act = this.action('addon', a.name);
            return this.step(`${act} add-on ${a.name}${version ? ` ${version}` : ''}`, () =>
              act === 'create'
                ? write.createAddon(config.name, a, version, this.ctx.clients, this.opts)
                : write.updateAddon(config.name, a, version, this.ctx.clients, this.opts),
            );
          }),
        ...config.nodeGroups
          .filter((n) => isWrite(this.action('nodegroup', n.name)))
          .map((n) => {
            const act = this.action('nodegroup', n.name);
            const existing = this.live.nodegroups.get(n.name);
            return this.step(`${act} node group ${n.name}`, () =>
              act === 'create' || !existing
                ? write.createNodegroup(config.name, n, config.version, this.ctx.clients, this.opts)
                : write.updateNodegroup(config.name, n, existing, this.ctx.clients, this.opts),
            );
          }),
      ]);

      await Promise.all(
        config.nodeGroups.map((n) =>
          this.waitFor(
            `node group ${n.name}`,
            async (maxWaitTime) => {
              await waitUntilNodegroupActive(this.waiter(maxWaitTime), {
                clusterName: config.name,
                nodegroupName: n.name,
              });
            },
            () => this.nodegroupIssues(n.name),
          ),
        ),
      );
      await Promise.all(config.addons.map((a) => this.waitAddon(a.name)));

      await Promise.all(
        podIdentityAssociations(config)
          .filter((p) =>
            isWrite(
              this.action('pod-identity-association', `${p.namespace}/${p.serviceAccountName}`),
            ),
          )
          .map((p) =>
            this.step(`pod identity association ${p.namespace}/${p.serviceAccountName}`, () =>
              write.putPodIdentityAssociation(
                config.name,
                p,
                this.live,
                this.ctx.clients,
                this.opts,
              ),
            ),
          ),
      );
      return cluster;
    } finally {
      progress();
    }
  }

  /** The SDK waiter settings: poll every pollMs, give up at the deadline, stop on the signal. */
  private waiter(maxWaitTime: number): Parameters<typeof waitUntilClusterActive>[0] {
    const poll = this.settings.pollMs / 1000;
    return {
      client: this.ctx.clients.eks,
      minDelay: poll,
      maxDelay: poll,
      maxWaitTime,
      abortSignal: this.signal,
    };
  }

  private async step(what: string, fn: () => Promise<unknown>): Promise<void> {
    const startedAt = this.ctx.clock.now();
    await fn();
    this.steps.push({ what, startedAt, endedAt: this.ctx.clock.now() });
    this.ctx.logger.info(`✓ ${what}`);
  }

  /** Runs a waiter with what is left of the deadline; a failure names the resource's issues. */
  private async waitFor(
    what: string,
    wait: (maxWaitTime: number) => Promise<void>,
    issues: () => Promise<string[]>,
  ): Promise<void> {
    const startedAt = this.ctx.clock.now();
    this.pending.set(what, 'waiting');
    try {
      const remaining = (this.deadline - startedAt.getTime()) / 1000;
      const poll = this.settings.pollMs / 1000;
      await wait(Math.max(remaining, poll + 0.001));
    } catch (e) {
      if (this.signal.aborted) throw this.signal.reason;
      if (e instanceof Error && e.name === 'TimeoutError') {
        throw new FailedResourceError(`Timed out waiting for ${what}.`);
      }
      const found = await issues().catch(() => []);
      throw new FailedResourceError(
        `${what} did not become ACTIVE${found.length > 0 ? `: ${found.join('; ')}` : ` (${shortWaiterError(e)})`}.`,
      );
    } finally {
      this.pending.delete(what);
    }
    this.steps.push({ what: `${what} ACTIVE`, startedAt, endedAt: this.ctx.clock.now() });
    this.ctx.logger.info(`✓ ${what} ACTIVE`);
  }

  /**
   * The SDK's add-on waiter fails on DEGRADED, which coredns and the EBS CSI driver pass
   * through while nodes join; until the deadline, DEGRADED means wait more.
   */
  private async waitAddon(name: string): Promise<void> {
    const what = `add-on ${name}`;
    const clusterName = this.settings.config.name;
    let degraded: string[] = [];
    await this.waitFor(
      what,
      async (maxWaitTime) => {
        for (;;) {
          try {
            await waitUntilAddonActive(this.waiter(maxWaitTime), { clusterName, addonName: name });
            return;
          } catch (e) {
            if (this.signal.aborted || (e instanceof Error && e.name === 'TimeoutError')) throw e;
            const r = await this.ctx.clients.eks.send(
              new DescribeAddonCommand({ clusterName, addonName: name }),
              this.opts,
            );
            if (r.addon?.status === 'ACTIVE') return;
            if (r.addon?.status !== 'DEGRADED') throw e;
            degraded = issueTexts(r.addon.health?.issues);
            if (!this.mayBeDegradedForNow(name)) {
              // DEGRADED is how it runs now, not a transition this run waits out.
              this.ctx.logger.warning(
                `${what} is DEGRADED${degraded.length > 0 ? `: ${degraded.join('; ')}` : ''}; ${this.settings.config.nodeGroups.length === 0 ? 'the config has no node group to run its pods' : 'this run changed neither it nor its nodes'}.`,
              );
              return;
            }
            maxWaitTime = (this.deadline - this.ctx.clock.now().getTime()) / 1000;
            if (maxWaitTime <= this.settings.pollMs / 1000) {
              throw Object.assign(new Error('DEGRADED until the deadline'), {
                name: 'TimeoutError',
              });
            }
            await abortableClock(this.ctx.clock, this.signal).sleep(this.settings.pollMs);
          }
        }
      },
      async () => [...(await this.addonIssues(name)), ...degraded],
    );
  }

  /**
   * DEGRADED passes once nodes run the add-on's pods: for an add-on this run created or
   * updated, or while node groups this run created or changed are joining. Without any node
   * group in the config it cannot pass (the nodes come later, from elsewhere).
   */
  private mayBeDegradedForNow(addon: string): boolean {
    const { nodeGroups } = this.settings.config;
    return (
      nodeGroups.length > 0 &&
      (isWrite(this.action('addon', addon)) ||
        nodeGroups.some((n) => isWrite(this.action('nodegroup', n.name))))
    );
  }

  private async clusterIssues(): Promise<string[]> {
    const r = await this.ctx.clients.eks.send(new DescribeClusterCommand({ name: this.cluster }));
    return [`status ${r.cluster?.status ?? '?'}`, ...issueTexts(r.cluster?.health?.issues)];
  }

  private async nodegroupIssues(name: string): Promise<string[]> {
    const r = await this.ctx.clients.eks.send(
      new DescribeNodegroupCommand({ clusterName: this.cluster, nodegroupName: name }),
    );
    return [`status ${r.nodegroup?.status ?? '?'}`, ...issueTexts(r.nodegroup?.health?.issues)];
  }

  private async addonIssues(name: string): Promise<string[]> {
    const r = await this.ctx.clients.eks.send(
      new DescribeAddonCommand({ clusterName: this.cluster, addonName: name }),
    );
    return [`status ${r.addon?.status ?? '?'}`, ...issueTexts(r.addon?.health?.issues)];
  }

  /** A progress line every 30 s while anything is pending; returns the stopper. */
  private startProgress(): () => void {
    const every = this.settings.progressEveryMs ?? 30_000;
    const started = this.ctx.clock.now().getTime();
    const timer = setInterval(() => {
      if (this.pending.size === 0) return;
      const elapsed = formatDuration(
        Math.round((this.ctx.clock.now().getTime() - started) / 1000) * 1000,
      );
      this.ctx.logger.info(
        `… still waiting for ${[...this.pending.keys()].join(', ')} (${elapsed} elapsed)`,
      );
    }, every);
    return () => clearInterval(timer);
  }
}

/** Every resource the config names exists and is ACTIVE: nothing to wait for. */
function settled(config: ClusterConfig, live: LiveCluster): boolean {
  const active = (status: string | undefined): boolean => status === 'ACTIVE';
  // DEGRADED is a steady state of an add-on (reported, not waited on, when nothing changed).
  const addonSettled = (status: string | undefined): boolean =>
    status === 'ACTIVE' || status === 'DEGRADED';
  return (
    active(live.cluster?.status) &&
    config.nodeGroups.every((n) => active(live.nodegroups.get(n.name)?.status)) &&
    config.addons.every((a) => addonSettled(live.addons.get(a.name)?.status))
  );
}

function isWrite(action: PlanItem['action'] | undefined): boolean {
  return action === 'create' || action === 'update';
}

function issueTexts(
  issues: readonly (Issue | { code?: NodegroupIssueCode | string; message?: string })[] | undefined,
): string[] {
  return (issues ?? []).map((i) => `${i.code ?? 'issue'}: ${i.message ?? ''}`.trim());
}

function shortWaiterError(e: unknown): string {
  const m = errorMessage(e);
  try {
    const parsed = JSON.parse(m) as { state?: string; reason?: { message?: string } };
    return parsed.reason?.message ?? parsed.state ?? m;
  } catch {
    return m;
  }
}

export function outputsOf(c: Cluster): ClusterOutputs {
  return {
    name: c.name ?? '',
    arn: c.arn ?? '',
    endpoint: c.endpoint ?? '',
    certificateAuthorityData: c.certificateAuthority?.data ?? '',
    oidcIssuer: c.identity?.oidc?.issuer ?? '',
    version: c.version ?? '',
    status: c.status ?? '',
  };
}

function logPlan(plan: PlanItem[], logger: Logger): void {
  for (const p of plan) logger.info(`${p.action.padEnd(9)} ${p.resource} ${p.name}: ${p.why}`);
}

/** Every resource the config names, as it is now; read without the (aborted) job signal. */
export async function describeStates(
  config: ClusterConfig,
  clients: EksClients,
): Promise<ResourceState[]> {
  const bounded = { abortSignal: AbortSignal.timeout(20_000) };
  const states: ResourceState[] = [];
  try {
    const live = await readLive(config, clients, bounded.abortSignal);
    if (!live.cluster) return [{ resource: 'cluster', name: config.name, state: 'absent' }];
    states.push({
      resource: 'cluster',
      name: config.name,
      state: live.cluster.status ?? '?',
      issues: issueTexts(live.cluster.health?.issues),
    });
    if (config.withOIDC)
      states.push({
        resource: 'oidc-provider',
        name: config.name,
        state: live.oidcProviderArn ? 'exists' : 'absent',
      });
    for (const e of config.access.entries) {
      states.push({
        resource: 'access-entry',
        name: e.principalArn,
        state: live.accessEntries.has(e.principalArn) ? 'exists' : 'absent',
      });
    }
    for (const a of config.addons) {
      const x = live.addons.get(a.name);
      states.push({
        resource: 'addon',
        name: a.name,
        state: x?.status ?? 'absent',
        issues: issueTexts(x?.health?.issues),
      });
    }
    for (const n of config.nodeGroups) {
      const x = live.nodegroups.get(n.name);
      states.push({
        resource: 'nodegroup',
        name: n.name,
        state: x?.status ?? 'absent',
        issues: issueTexts(x?.health?.issues),
      });
    }
    for (const p of podIdentityAssociations(config)) {
      const key = `${p.namespace}/${p.serviceAccountName}`;
      states.push({
        resource: 'pod-identity-association',
        name: key,
        state: live.podIdentityAssociations.has(key) ? 'exists' : 'absent',
      });
    }
  } catch (e) {
    states.push({
      resource: 'cluster',
      name: config.name,
      state: `unknown (could not read it: ${errorMessage(e)})`,
    });
  }
  return states;
}

function stateSentence(states: ResourceState[]): string {
  return `State now: ${states.map((s) => `${s.resource} ${s.name} ${s.state}${s.issues?.length ? ` (${s.issues.join('; ')})` : ''}`).join('; ')}.`;
}
