/**
 * retire-cluster: the last stage of a migration. The rollout files (one per service the cluster
 * serves) name the cluster (`as`); each of its target groups has weight 0 on every route and it
 * owns no singleton any more. Then, in order:
 *
 *   1. its TargetGroupBindings are deleted, and the AWS Load Balancer Controller deregisters
 *      their targets; wait until no target group holds a target of this cluster (draining
 *      counts until it is gone)
 *   2. pod identity associations, node groups (wait deleted), add-ons (wait deleted), the
 *      cluster (wait deleted), then the IAM OIDC provider of its issuer
 *
 * The gate reads only and reports every reason at once; a refusal changes nothing. Waits use the
 * SDK's waiters bounded by what is left of the timeout and the job's AbortSignal, with a progress
 * line every 30 s. Cancelled or timed out, it reads everything again and says exactly what is
 * left; a re-run continues (what is gone already is `gone` in its plan).
 */
import {
  DescribeAddonCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  waitUntilAddonDeleted,
  waitUntilClusterDeleted,
  waitUntilNodegroupDeleted,
} from '@aws-sdk/client-eks';
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  type Action,
  type ElasticLoadBalancingV2Client,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { forwardWeights } from '../alb/forward.js';
import { shortName } from '../aws/arn.js';
import { abortableClock, type Clock } from '../common/clock.js';
import { formatDuration } from '../common/duration.js';
import { ConfigurationError, ExplainedError, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { EksClients } from '../eks/live.js';
import * as teardown from '../eks/teardown.js';
import type { KubeApi } from '../kube/api.js';
import { readSingletons, type SingletonState } from '../kube/handoff.js';
import {
  clusterAddresses,
  listBindings,
  deleteBinding,
  singletonsStillRunning,
  type BoundBinding,
} from '../kube/retire.js';
import { clusterWeights, formatClusterWeights } from '../rollout-file/step.js';
import type { ClusterSpec, RolloutFile, RouteRef } from '../rollout-file/types.js';
import { handoffPolicy } from './handoff.js';
import type { RetireItem, RetireOutcome, RetireStep } from './results.js';

export interface RetireSettings {
  /** The rollout files that name the cluster: one per service it serves, all of them. */
  files: RolloutFile[];
  /** The cluster's name in the rollout files. */
  as: string;
  /** Where the cluster is; the rollout file's region unless the input overrides it. */
  region: string;
  dryRun: boolean;
  /** Overall deadline, from the start. */
  timeoutMs: number;
  /** How often EKS and the target group are asked while waiting. */
  pollMs: number;
  /** How often a progress line is logged while waiting; default 30 s. */
  progressEveryMs?: number;
}

export interface RetireClients extends EksClients {
  elbv2: ElasticLoadBalancingV2Client;
  /** The cluster's apiserver (DescribeCluster's endpoint and CA, an EKS token). */
  kube(): Promise<KubeApi>;
}

export interface RetireContext {
  clients: RetireClients;
  logger: Logger;
  clock: Clock;
  signal?: AbortSignal;
}

/** Statuses whose apiserver answers: the gate can (and must) read the cluster. */
const SERVING = new Set(['ACTIVE', 'UPDATING']);

/** One rollout file and what it says of the cluster. */
interface Served {
  file: RolloutFile;
  spec: ClusterSpec;
}

interface RouteWeight {
  file: RolloutFile;
  targetGroup: string;
  ref: RouteRef;
  weight: number;
  /** The route's weights in the file's cluster names, as read. */
  live: string;
}

interface Target {
  id: string;
  port: number | undefined;
  state: string;
}

/** Everything the gate and the plan look at, read once. */
interface Survey {
  eks: teardown.TeardownState;
  routes: RouteWeight[];
  routeProblems: string[];
  /** The apiserver's part; absent when the cluster is not serving. */
  kube?:
    | {
        /** Bindings of the files' target groups, and of any other target group. */
        bindings: BoundBinding[];
        foreign: BoundBinding[];
        addresses: Set<string>;
        singletons: Map<string, SingletonState>;
      }
    | { error: string };
  /** Per target group of the cluster: its targets registered from this cluster, and the others. */
  groups: GroupTargets[];
}

interface GroupTargets {
  arn: string;
  here: Target[];
  other: Target[];
  problem?: string;
}

class StepFailedError extends ExplainedError {
  override name = 'StepFailedError';
}

export async function retireCluster(
  settings: RetireSettings,
  ctx: RetireContext,
): Promise<RetireOutcome> {
  const { as } = settings;
  const served = servedBy(settings);
  const spec = (served[0] as Served).spec;
  const startedAt = ctx.clock.now();
  const deadline = startedAt.getTime() + settings.timeoutMs;
  // One signal for cancellation and the overall timeout; every call and wait takes it.
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new Error(`timed out after ${formatDuration(settings.timeoutMs)}`)),
    settings.timeoutMs,
  );
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout.signal]) : timeout.signal;
  const steps: RetireStep[] = [];
  const base = {
    command: 'retire-cluster' as const,
    cluster: as,
    eksName: spec.eks,
    region: settings.region,
    targetGroups: targetGroupsOf(served),
    dryRun: settings.dryRun,
    steps,
    startedAt,
  };
  let plan: RetireItem[] = [];
  let notes: string[] = [];
  let issuer: string | undefined;
  // The apiserver client, kept from the reads for the bindings' deletion; closed at the end.
  const held: { api?: KubeApi } = {};
  // Set once the first write may have been sent: any failure after it reports what is left.
  let changing = false;
  const closeApi = (): void => {
    held.api?.close();
    delete held.api;
  };
  try {
    const survey = await ctx.logger.group(`Reading what exists: ${as} (${spec.eks})`, async () => {
      const s = await readSurvey(settings, served, ctx, signal, (a) => (held.api = a));
      issuer = s.eks.cluster?.identity?.oidc?.issuer;
      return s;
    });
    const refusals = gate(settings, served, survey);
    ({ plan, notes } = planOf(as, spec, survey, issuer));
    for (const p of plan) {
      ctx.logger.info(`${p.action.padEnd(7)} ${p.resource} ${p.name}: ${p.state}`);
    }
    for (const n of notes) ctx.logger.info(n);
    if (refusals.length > 0) {
      for (const r of refusals) ctx.logger.warning(r);
      return {
        ...base,
        status: 'refused',
        refusals,
        plan,
        notes,
        failure: `Refused to retire ${as}; nothing was changed:\n${refusals.map((r) => `- ${r}`).join('\n')}`,
        endedAt: ctx.clock.now(),
      };
    }
    if (settings.dryRun) {
      return { ...base, status: 'planned', refusals, plan, notes, endedAt: ctx.clock.now() };
    }
    if (plan.every((p) => p.action === 'gone' || p.action === 'unknown')) {
      ctx.logger.info(`${as} (${spec.eks}) is retired already: nothing to do.`);
      return { ...base, status: 'retired', refusals, plan, notes, endedAt: ctx.clock.now() };
    }
    const run = new Retirer(settings, served, ctx, signal, deadline, survey, steps, held.api);
    changing = true;
    await ctx.logger.group(`Retiring ${as} (${spec.eks})`, () => run.run());
    closeApi();
    return { ...base, status: 'retired', refusals, plan, notes, endedAt: ctx.clock.now() };
  } catch (e) {
    const stopped = signal.aborted;
    if (!stopped && !changing) throw e;
    if (!stopped && !(e instanceof StepFailedError) && e instanceof Error && e.stack) {
      ctx.logger.debug(e.stack);
    }
    closeApi();
    // Read everything again, without the (aborted) job signal but bounded.
    const left = await readLeft(settings, served, ctx, issuer);
    const still = left.filter((p) => p.action !== 'gone');
    const why = stopped
      ? `Stopped (${errorMessage(signal.reason)}).`
      : e instanceof StepFailedError
        ? e.message
        : `${e instanceof Error && '$metadata' in e ? `${e.name}: ` : ''}${errorMessage(e)}`.replace(
            /\.?$/,
            '.',
          );
    const done = steps.length > 0 ? ` Done: ${steps.map((s) => s.what).join('; ')}.` : '';
    const rest =
      still.length > 0
        ? ` Still there: ${still.map((p) => `${p.resource} ${p.name} (${p.state})`).join('; ')}.`
        : ' Nothing is left.';
    return {
      ...base,
      status: stopped ? 'stopped' : 'failed',
      refusals: [],
      plan,
      notes,
      left,
      failure: `${why}${done}${rest} Run again to continue from here.`,
      endedAt: ctx.clock.now(),
    };
  } finally {
    clearTimeout(timer);
    closeApi();
  }
}

// ---- reading ------------------------------------------------------------------------------

/** Each file with its entry for the cluster; every file must name it, with one EKS name. */
function servedBy(settings: RetireSettings): Served[] {
  const served = settings.files.map((file) => {
    const spec = file.clusters.find((c) => c.name === settings.as);
    if (!spec) {
      throw new ConfigurationError(`${file.path} has no cluster named "${settings.as}".`);
    }
    return { file, spec };
  });
  const first = served[0];
  if (!first) throw new ConfigurationError('No rollout file was given.');
  const other = served.find((x) => x.spec.eks !== first.spec.eks);
  if (other) {
    throw new ConfigurationError(
      `${first.file.path} says ${settings.as} is EKS cluster ${first.spec.eks}, ${other.file.path} says ${other.spec.eks}: retire one EKS cluster per run.`,
    );
  }
  return served;
}

function targetGroupsOf(served: Served[]): string[] {
  return [...new Set(served.map((x) => x.spec.targetGroup))];
}

async function readSurvey(
  settings: RetireSettings,
  served: Served[],
  ctx: RetireContext,
  signal: AbortSignal,
  keepApi: (api: KubeApi) => void,
  issuer?: string,
): Promise<Survey> {
  const opts = { abortSignal: signal };
  const eksName = (served[0] as Served).spec.eks;
  const tgs = targetGroupsOf(served);
  const [eks, ...routes] = await Promise.all([
    teardown.readTeardown(ctx.clients, eksName, opts, issuer),
    ...served.map((x) => readRouteWeights(ctx.clients.elbv2, x.file, x.spec.targetGroup, signal)),
  ]);
  const survey: Survey = {
    eks,
    routes: routes.flatMap((r) => r.routes),
    routeProblems: routes.flatMap((r) => r.problems),
    groups: [],
  };
  const status = eks.cluster?.status ?? '';
  if (SERVING.has(status)) {
    try {
      const api = await ctx.clients.kube();
      keepApi(api);
      // One read per distinct singleton policy (files of several services may share one).
      const policies = new Map(
        served.map((x) => [JSON.stringify(handoffPolicy(x.file)), handoffPolicy(x.file)]),
      );
      const [all, addresses, ...singletons] = await Promise.all([
        listBindings(api),
        clusterAddresses(api),
        ...[...policies.values()].map((p) => readSingletons(api, p)),
      ]);
      survey.kube = {
        bindings: all.filter((b) => tgs.includes(b.targetGroupArn)),
        foreign: all.filter((b) => !tgs.includes(b.targetGroupArn)),
        addresses,
        singletons: new Map(singletons.flatMap((m) => [...m])),
      };
    } catch (e) {
      if (signal.aborted) throw e;
      survey.kube = { error: errorMessage(e) };
    }
  }
  const here =
    survey.kube && 'addresses' in survey.kube ? survey.kube.addresses : new Set<string>();
  survey.groups = await Promise.all(
    tgs.map(async (arn): Promise<GroupTargets> => {
      try {
        const all = await describeTargets(ctx.clients.elbv2, arn, signal);
        return {
          arn,
          here: all.filter((t) => here.has(t.id)),
          other: all.filter((t) => !here.has(t.id)),
        };
      } catch (e) {
        if (signal.aborted) throw e;
        return { arn, here: [], other: [], problem: errorMessage(e) };
      }
    }),
  );
  return survey;
}

/** Everything again after a stop: EKS and IAM, and the target group (no apiserver: it may be gone). */
async function readLeft(
  settings: RetireSettings,
  served: Served[],
  ctx: RetireContext,
  issuer: string | undefined,
): Promise<RetireItem[]> {
  // Short enough to report before the runner kills a cancelled step (7.5 s to its SIGTERM).
  const signal = AbortSignal.timeout(5_000);
  const opened: KubeApi[] = [];
  try {
    const s = await readSurvey(settings, served, ctx, signal, (api) => opened.push(api), issuer);
    return planOf(settings.as, (served[0] as Served).spec, s, issuer).plan;
  } catch (e) {
    return [
      {
        resource: 'cluster',
        name: (served[0] as Served).spec.eks,
        action: 'unknown',
        state: `could not be read: ${errorMessage(e)}`,
      },
    ];
  } finally {
    for (const api of opened) api.close();
  }
}

/** The weight of `targetGroup` on each of the file's routes (0 where it is not forwarded to). */
async function readRouteWeights(
  elbv2: ElasticLoadBalancingV2Client,
  file: RolloutFile,
  targetGroup: string,
  signal: AbortSignal,
): Promise<{ routes: RouteWeight[]; problems: string[] }> {
  const routes: RouteWeight[] = [];
  const problems: string[] = [];
  await Promise.all(
    file.routes.map(async (ref) => {
      let actions: Action[] | undefined;
      try {
        if (ref.kind === 'listener') {
          const r = await elbv2.send(new DescribeListenersCommand({ ListenerArns: [ref.arn] }), {
            abortSignal: signal,
          });
          actions = r.Listeners?.[0]?.DefaultActions;
        } else {
          const r = await elbv2.send(new DescribeRulesCommand({ RuleArns: [ref.arn] }), {
            abortSignal: signal,
          });
          actions = r.Rules?.[0]?.Actions;
        }
      } catch (e) {
        if (signal.aborted) throw e;
        problems.push(`Could not read the ${ref.kind} ${ref.arn}: ${errorMessage(e)}`);
        return;
      }
      const weights: Record<string, number> = {};
      for (const a of (actions ?? []).filter((x) => x.Type === 'forward')) {
        for (const [tg, w] of Object.entries(forwardWeights(a)))
          weights[tg] = (weights[tg] ?? 0) + w;
      }
      routes.push({
        file,
        targetGroup,
        ref,
        weight: weights[targetGroup] ?? 0,
        live: formatClusterWeights(
          clusterWeights(file, weights),
          file.clusters.map((c) => c.name),
        ),
      });
    }),
  );
  const order = file.routes.map((r) => r.arn);
  routes.sort((a, b) => order.indexOf(a.ref.arn) - order.indexOf(b.ref.arn));
  return { routes, problems };
}

async function describeTargets(
  elbv2: ElasticLoadBalancingV2Client,
  targetGroup: string,
  signal: AbortSignal,
): Promise<Target[]> {
  const r = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroup }), {
    abortSignal: signal,
  });
  return (r.TargetHealthDescriptions ?? []).map((d: TargetHealthDescription) => ({
    id: d.Target?.Id ?? '?',
    port: d.Target?.Port,
    state: d.TargetHealth?.State ?? 'unknown',
  }));
}

// ---- the gate and the plan ------------------------------------------------------------------

/** Every reason not to retire the cluster now; reads nothing. */
function gate(settings: RetireSettings, served: Served[], s: Survey): string[] {
  const { as } = settings;
  const eksName = (served[0] as Served).spec.eks;
  const reasons: string[] = [];
  for (const { file } of served) {
    const at = (path: (string | number)[]): string => {
      const p = file.locate(path);
      return `${file.path}:${p.line}:${p.col}`;
    };
    if (file.owner === as) {
      reasons.push(
        `${at(['owner'])}: ${as} is the owner: it runs the CronJobs and singletons. Merge a change of owner to another cluster first (the rollout action hands them over), then retire ${as}.`,
      );
    }
    const desired = file.weights[as] ?? 0;
    if (desired !== 0) {
      reasons.push(
        `${at(['weights', as])}: the rollout file gives ${as} weight ${desired}. Move its traffic away first: merge (and apply) a rollout file with ${as}: 0.`,
      );
    }
  }
  for (const r of s.routes.filter((x) => x.weight > 0)) {
    reasons.push(
      `The ALB still sends ${as} traffic: ${r.ref.kind} ${r.ref.arn} forwards with weight ${r.weight} to ${shortName(r.targetGroup)} (live: ${r.live}). Apply a rollout step of ${r.file.path} that gives ${as} 0 on every route, then run again.`,
    );
  }
  reasons.push(...s.routeProblems.map((p) => `${p}; the live weight of ${as} cannot be checked.`));
  const status = s.eks.cluster?.status;
  if (status !== undefined && !SERVING.has(status) && status !== 'DELETING') {
    reasons.push(
      `Cluster ${eksName} is ${status}: its apiserver cannot be checked for running singletons and bindings. Wait until it is ACTIVE, or delete it by hand (aws eks delete-cluster --name ${eksName} --region ${settings.region}, after its node groups).`,
    );
  }
  if (s.kube && 'error' in s.kube) {
    reasons.push(
      `Cannot read the apiserver of ${as} (${eksName}) to check that the handoff is done and find its TargetGroupBindings: ${s.kube.error}`,
    );
  }
  if (s.kube && 'singletons' in s.kube) {
    const running = singletonsStillRunning(as, s.kube.singletons);
    if (running.length > 0) {
      const to = served.find((x) => x.file.owner !== as)?.file.owner;
      reasons.push(
        `The singleton handoff is not done on ${as}: ${running.join('; ')}. ${to ? `Run the owner step to ${to} again (rollout apply of the file with owner: ${to}), or wait for the running Jobs` : 'Move the owner away'} so that nothing runs on ${as}, then run again.`,
      );
    }
    for (const b of s.kube.foreign) {
      reasons.push(
        `TargetGroupBinding ${b.namespace}/${b.name} in ${as} binds ${b.targetGroupArn ? shortName(b.targetGroupArn) : 'a target group by name'}, which no rollout file given here gives to ${as}: its traffic may still reach ${as}. Give the rollout file of that service too (rollout-file takes several), or delete the binding once its traffic is elsewhere, then run again.`,
      );
    }
    // Draining targets leave by themselves (a re-run after a stop waits for them).
    const bound = new Set(s.kube.bindings.map((b) => b.targetGroupArn));
    for (const g of s.groups.filter((x) => !bound.has(x.arn))) {
      const stay = g.here.filter((t) => t.state !== 'draining');
      if (stay.length === 0) continue;
      reasons.push(
        `${stay.length} target(s) of ${as} are registered in ${shortName(g.arn)} (${stay.map(targetText).join(', ')}) but no TargetGroupBinding in ${as} binds it, so nothing would deregister them. Deregister them (aws elbv2 deregister-targets --target-group-arn ${g.arn} --targets ${stay.map((t) => `Id=${t.id}${t.port ? `,Port=${t.port}` : ''}`).join(' ')}), then run again.`,
      );
    }
  }
  return reasons;
}

function targetText(t: Target): string {
  return `${t.id}${t.port ? `:${t.port}` : ''} ${t.state}`;
}

function planOf(
  as: string,
  spec: ClusterSpec,
  s: Survey,
  issuer: string | undefined,
): { plan: RetireItem[]; notes: string[] } {
  const plan: RetireItem[] = [];
  const notes: string[] = [];
  const c = s.eks.cluster;
  if (s.kube && 'bindings' in s.kube) {
    for (const b of s.kube.bindings) {
      plan.push({
        resource: 'target-group-binding',
        name: `${b.namespace}/${b.name}`,
        action: b.deleting ? 'wait' : 'delete',
        state: b.deleting
          ? `being deleted (finalizers: ${b.finalizers.join(', ') || 'none'})`
          : `binds Service ${b.serviceName} to ${shortName(b.targetGroupArn)}`,
      });
    }
  } else if (s.kube) {
    plan.push({
      resource: 'target-group-binding',
      name: `bindings of ${s.groups.map((g) => shortName(g.arn)).join(', ')}`,
      action: 'unknown',
      state: 'the apiserver could not be read',
    });
  }
  for (const g of s.groups) {
    const tg = shortName(g.arn);
    if (g.problem) {
      plan.push({ resource: 'targets', name: tg, action: 'unknown', state: g.problem });
    } else if (s.kube && 'addresses' in s.kube) {
      plan.push({
        resource: 'targets',
        name: tg,
        action: g.here.length > 0 ? 'wait' : 'gone',
        state:
          g.here.length > 0
            ? `${g.here.length} registered from ${as} (${countStates(g.here)}); deregistered by the controller`
            : `none from ${as}`,
      });
    }
    if (g.other.length > 0) {
      notes.push(
        c && SERVING.has(c.status ?? '')
          ? `${tg} also has ${g.other.length} target(s) that are not pods of ${as} (${g.other.map(targetText).join(', ')}): left alone.`
          : `${tg} has ${g.other.length} target(s) (${g.other.map(targetText).join(', ')}); ${as} no longer serves, so they cannot be matched to its pods.`,
      );
    }
  }
  for (const p of s.eks.podIdentityAssociations) {
    plan.push({
      resource: 'pod-identity-association',
      name: `${p.namespace}/${p.serviceAccount}`,
      action: 'delete',
      state: p.id,
    });
  }
  const byStatus = (status: string): RetireItem['action'] =>
    status === 'DELETING' ? 'wait' : 'delete';
  for (const n of s.eks.nodegroups) {
    plan.push({ resource: 'nodegroup', name: n.name, action: byStatus(n.status), state: n.status });
  }
  for (const a of s.eks.addons) {
    plan.push({ resource: 'addon', name: a.name, action: byStatus(a.status), state: a.status });
  }
  plan.push({
    resource: 'cluster',
    name: spec.eks,
    action: c ? byStatus(c.status ?? '') : 'gone',
    state: c ? (c.status ?? '?') : 'absent',
  });
  const theIssuer = c?.identity?.oidc?.issuer ?? issuer;
  if (s.eks.oidcProviderArn) {
    plan.push({
      resource: 'oidc-provider',
      name: s.eks.oidcProviderArn,
      action: 'delete',
      state: `exists for ${theIssuer ?? 'the issuer'}`,
    });
  } else if (theIssuer) {
    plan.push({
      resource: 'oidc-provider',
      name: theIssuer,
      action: 'gone',
      state: 'no IAM OIDC provider for this issuer',
    });
  } else {
    plan.push({
      resource: 'oidc-provider',
      name: `of ${spec.eks}`,
      action: 'unknown',
      state: 'the cluster is gone, and with it the issuer that names its provider',
    });
    notes.push(
      `The cluster ${spec.eks} is gone, so its OIDC issuer (and IAM OIDC provider) cannot be known here. If a run was stopped between deleting the cluster and its provider, delete the provider with aws iam list-open-id-connect-providers and aws iam delete-open-id-connect-provider.`,
    );
  }
  return { plan, notes };
}

function countStates(targets: Target[]): string {
  const counts = new Map<string, number>();
  for (const t of targets) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
  return [...counts.entries()].map(([k, v]) => `${v} ${k}`).join(', ');
}

// ---- doing ------------------------------------------------------------------------------------

/** Deletes in order, everything of one kind in parallel, each wait bounded by the deadline. */
class Retirer {
  private readonly pending = new Set<string>();
  private readonly opts: { abortSignal: AbortSignal };

  private readonly eksName: string;
  private readonly targetGroups: string[];

  constructor(
    private readonly settings: RetireSettings,
    served: Served[],
    private readonly ctx: RetireContext,
    private readonly signal: AbortSignal,
    private readonly deadline: number,
    private readonly survey: Survey,
    private readonly steps: RetireStep[],
    private readonly api: KubeApi | undefined,
  ) {
    this.opts = { abortSignal: signal };
    this.eksName = (served[0] as Served).spec.eks;
    this.targetGroups = targetGroupsOf(served);
  }

  async run(): Promise<void> {
    const progress = this.startProgress();
    const eks = this.ctx.clients.eks;
    const name = this.eksName;
    const s = this.survey;
    try {
      // 1. The bindings, and the targets the controller deregisters for them.
      if (this.api && s.kube && 'bindings' in s.kube) {
        const api = this.api;
        const addresses = s.kube.addresses;
        await Promise.all(
          s.kube.bindings
            .filter((b) => !b.deleting)
            .map((b) =>
              this.step(`delete TargetGroupBinding ${b.namespace}/${b.name}`, () =>
                deleteBinding(api, b),
              ),
            ),
        );
        if (s.kube.bindings.length > 0 || s.groups.some((g) => g.here.length > 0)) {
          await this.waitDeregistered(api, addresses);
        }
      }
      // 2. EKS: pod identity associations, node groups, add-ons, the cluster, its OIDC provider.
      const cluster = s.eks.cluster;
      if (cluster && cluster.status !== 'DELETING') {
        await Promise.all(
          s.eks.podIdentityAssociations.map((p) =>
            this.step(`delete pod identity association ${p.namespace}/${p.serviceAccount}`, () =>
              teardown.deletePodIdentityAssociation(eks, name, p.id, this.opts),
            ),
          ),
        );
        await Promise.all(
          s.eks.nodegroups
            .filter((n) => n.status !== 'DELETING')
            .map((n) =>
              this.step(`delete node group ${n.name}`, () =>
                teardown.deleteNodegroup(eks, name, n.name, this.opts),
              ),
            ),
        );
        await Promise.all(
          s.eks.nodegroups.map((n) =>
            this.waitDeleted(
              `node group ${n.name}`,
              async (w) => {
                await waitUntilNodegroupDeleted(w, { clusterName: name, nodegroupName: n.name });
              },
              () =>
                this.status(
                  async () =>
                    (
                      await eks.send(
                        new DescribeNodegroupCommand({ clusterName: name, nodegroupName: n.name }),
                      )
                    ).nodegroup,
                ),
            ),
          ),
        );
        await Promise.all(
          s.eks.addons
            .filter((a) => a.status !== 'DELETING')
            .map((a) =>
              this.step(`delete add-on ${a.name}`, () =>
                teardown.deleteAddon(eks, name, a.name, this.opts),
              ),
            ),
        );
        await Promise.all(
          s.eks.addons.map((a) =>
            this.waitDeleted(
              `add-on ${a.name}`,
              async (w) => {
                await waitUntilAddonDeleted(w, { clusterName: name, addonName: a.name });
              },
              () =>
                this.status(
                  async () =>
                    (
                      await eks.send(
                        new DescribeAddonCommand({ clusterName: name, addonName: a.name }),
                      )
                    ).addon,
                ),
            ),
          ),
        );
        // The apiserver goes with the cluster.
        this.api?.close();
        await this.step(`delete cluster ${name}`, () =>
          teardown.deleteCluster(eks, name, this.opts),
        );
      }
      if (cluster) {
        await this.waitDeleted(
          `cluster ${name}`,
          async (w) => {
            await waitUntilClusterDeleted(w, { name });
          },
          () =>
            this.status(async () => (await eks.send(new DescribeClusterCommand({ name }))).cluster),
        );
      }
      if (s.eks.oidcProviderArn) {
        const arn = s.eks.oidcProviderArn;
        await this.step(`delete IAM OIDC provider ${arn}`, () =>
          teardown.deleteOidcProvider(this.ctx.clients, arn, this.opts),
        );
      }
    } finally {
      progress();
    }
  }

  /** Until no binding of the target groups is left and none holds a target of this cluster. */
  private async waitDeregistered(api: KubeApi, addresses: Set<string>): Promise<void> {
    const groups = this.targetGroups.map(shortName).join(', ');
    const what = `targets of ${this.settings.as} to leave ${groups}`;
    const startedAt = this.ctx.clock.now();
    const clock = abortableClock(this.ctx.clock, this.signal);
    this.pending.add(what);
    try {
      for (;;) {
        const [all, ...targets] = await Promise.all([
          listBindings(api),
          ...this.targetGroups.map((tg) =>
            describeTargets(this.ctx.clients.elbv2, tg, this.signal),
          ),
        ]);
        const bindings = all.filter((b) => this.targetGroups.includes(b.targetGroupArn));
        const here = targets.flat().filter((t) => addresses.has(t.id));
        if (bindings.length === 0 && here.length === 0) break;
        if (this.ctx.clock.now().getTime() + this.settings.pollMs >= this.deadline) {
          const stuck = bindings.map(
            (b) =>
              `TargetGroupBinding ${b.namespace}/${b.name} is still there (finalizers: ${b.finalizers.join(', ') || 'none'}); is the AWS Load Balancer Controller running?`,
          );
          throw new StepFailedError(
            `Timed out waiting for ${what}. ${[...stuck, here.length > 0 ? `Still registered: ${here.map(targetText).join(', ')} (a draining target stays for the group's deregistration delay).` : ''].filter(Boolean).join(' ')}`,
          );
        }
        await clock.sleep(this.settings.pollMs);
      }
    } finally {
      this.pending.delete(what);
    }
    this.done(`targets of ${this.settings.as} deregistered from ${groups}`, startedAt);
  }

  /** The SDK waiter settings: poll every pollMs, give up at the deadline, stop on the signal. */
  private waiter(maxWaitTime: number): Parameters<typeof waitUntilClusterDeleted>[0] {
    const poll = this.settings.pollMs / 1000;
    return {
      client: this.ctx.clients.eks,
      minDelay: poll,
      maxDelay: poll,
      maxWaitTime,
      abortSignal: this.signal,
    };
  }

  private async waitDeleted(
    what: string,
    wait: (w: Parameters<typeof waitUntilClusterDeleted>[0]) => Promise<void>,
    status: () => Promise<string>,
  ): Promise<void> {
    const startedAt = this.ctx.clock.now();
    this.pending.add(what);
    try {
      const remaining = (this.deadline - startedAt.getTime()) / 1000;
      const poll = this.settings.pollMs / 1000;
      await wait(this.waiter(Math.max(remaining, poll + 0.001)));
    } catch (e) {
      if (this.signal.aborted) throw this.signal.reason;
      if (e instanceof Error && e.name === 'TimeoutError') {
        throw new StepFailedError(`Timed out waiting for ${what} to be deleted.`);
      }
      const now = await status().catch((x: unknown) => `unknown (${errorMessage(x)})`);
      throw new StepFailedError(`${what} was not deleted: it is ${now}.`);
    } finally {
      this.pending.delete(what);
    }
    this.done(`${what} deleted`, startedAt);
  }

  /** A resource's status and health issues, for a failed wait's message. */
  private async status(
    read: () => Promise<
      { status?: string; health?: { issues?: { code?: string; message?: string }[] } } | undefined
    >,
  ): Promise<string> {
    const x = await read();
    const issues = (x?.health?.issues ?? []).map((i) => `${i.code ?? 'issue'}: ${i.message ?? ''}`);
    return `${x?.status ?? '?'}${issues.length > 0 ? ` (${issues.join('; ')})` : ''}`;
  }

  private async step(what: string, fn: () => Promise<boolean>): Promise<void> {
    const startedAt = this.ctx.clock.now();
    const deleted = await fn();
    this.done(deleted ? what : `${what}: gone already`, startedAt);
  }

  private done(what: string, startedAt: Date): void {
    this.steps.push({ what, startedAt, endedAt: this.ctx.clock.now() });
    this.ctx.logger.info(`✓ ${what}`);
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
        `… still waiting for ${[...this.pending].join(', ')} (${elapsed} elapsed)`,
      );
    }, every);
    return () => clearInterval(timer);
  }
}
