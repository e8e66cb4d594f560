/**
 * A lock the ALB itself carries, so two steps never shift the same listener or rule at once,
 * whichever runner, job or repository they run in: a tag on every route of the step, holding
 * who owns it and until when. ELBv2 tags have no compare-and-swap, so one is built on them:
 * read, write ours where no live lock of another is, wait a moment, read again; where another
 * owner's value won the race, we give up ours and try again after a random pause. A lock
 * expires on its own (a killed runner cannot hold a route forever) and is removed on every
 * exit path by its owner, only where it is still the owner's.
 */
import {
  AddTagsCommand,
  DescribeTagsCommand,
  RemoveTagsCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { shortName } from '../aws/arn.js';
import type { Clock } from '../common/clock.js';
import { ExplainedError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import {
  describeLastStep,
  encodeLastStep,
  LAST_STEP_TAG,
  lastStepNotRecorded,
  type LastStep,
} from './last-step.js';

export const LOCK_TAG = 'eks-cluster-canary:lock';
/** DescribeTags, AddTags and RemoveTags take at most 20 resources per call. */
const BATCH = 20;
/** How long a writer waits before it reads its lock back (other writers' AddTags land by then). */
const SETTLE_MS = 300;

export interface LockRequest {
  /** The listener and rule ARNs the step shifts. */
  routes: readonly string[];
  /** Who holds the lock, for the other waiters' messages: `rollouts/web.yaml@<run>`. */
  owner: string;
  /** How long the lock holds if its owner never removes it (a killed runner). */
  ttlMs: number;
  /** How long to wait for another owner's lock before giving up. */
  waitMs: number;
}

export interface LockDeps {
  client: ElasticLoadBalancingV2Client;
  clock: Clock;
  logger: Logger;
  signal?: AbortSignal;
  /** Pause between tries; random by default. */
  backoffMs?: () => number;
}

export interface RouteLock {
  owner: string;
  expiresAt: Date;
  /**
   * Removes the lock from every route where it is still ours. With a step, first records it on
   * every route no other step holds now (the tag `eks-cluster-canary:last-step`), in the same
   * batches: ceil(routes / 20) calls more. Never throws; says what it left or did not record.
   */
  release(step?: LastStep): Promise<void>;
}

/** The lock could not be had in time: another step holds a route. Nothing was changed. */
export class LockBusyError extends ExplainedError {
  override name = 'LockBusyError';
}

interface Held {
  owner: string;
  expiresAt: number;
}

/** Tag values allow letters, digits, spaces and `_ . : / = + - @`. */
function tagSafe(text: string): string {
  return text.replace(/[^\p{L}\p{N} _.:/=+\-@]/gu, '_').slice(0, 200);
}

function encode(owner: string, expiresAt: number): string {
  return `${new Date(expiresAt).toISOString()}/${owner}`;
}

function decode(value: string | undefined): Held | undefined {
  if (!value) return undefined;
  const slash = value.indexOf('/');
  const expiresAt = Date.parse(value.slice(0, slash));
  if (slash < 0 || Number.isNaN(expiresAt)) return undefined;
  return { owner: value.slice(slash + 1), expiresAt };
}

async function readLocks(deps: LockDeps, routes: readonly string[]): Promise<Map<string, Held>> {
  const held = new Map<string, Held>();
  for (let i = 0; i < routes.length; i += BATCH) {
    const out = await deps.client.send(
      new DescribeTagsCommand({ ResourceArns: routes.slice(i, i + BATCH) }),
      { abortSignal: deps.signal },
    );
    for (const d of out.TagDescriptions ?? []) {
      const lock = decode(d.Tags?.find((t) => t.Key === LOCK_TAG)?.Value);
      if (lock && d.ResourceArn) held.set(d.ResourceArn, lock);
    }
  }
  return held;
}

async function removeLocks(deps: LockDeps, routes: readonly string[]): Promise<void> {
  for (let i = 0; i < routes.length; i += BATCH) {
    await deps.client.send(
      new RemoveTagsCommand({ ResourceArns: routes.slice(i, i + BATCH), TagKeys: [LOCK_TAG] }),
    );
  }
}

export async function acquireRouteLock(req: LockRequest, deps: LockDeps): Promise<RouteLock> {
  const owner = tagSafe(req.owner);
  const deadline = deps.clock.now().getTime() + req.waitMs;
  const backoff = deps.backoffMs ?? (() => 500 + Math.random() * 1500);
  let waitedFor: string | undefined;
  for (;;) {
    const now = deps.clock.now().getTime();
    const held = await readLocks(deps, req.routes);
    const blocking = [...held].filter(([, l]) => l.owner !== owner && l.expiresAt > now);
    if (blocking.length === 0) {
      const expiresAt = now + req.ttlMs;
      const value = encode(owner, expiresAt);
      for (let i = 0; i < req.routes.length; i += BATCH) {
        await deps.client.send(
          new AddTagsCommand({
            ResourceArns: req.routes.slice(i, i + BATCH),
            Tags: [{ Key: LOCK_TAG, Value: value }],
          }),
        );
      }
      await deps.clock.sleep(SETTLE_MS, deps.signal);
      const after = await readLocks(deps, req.routes);
      const lost = req.routes.filter((r) => after.get(r)?.owner !== owner);
      if (lost.length === 0) {
        deps.logger.info(
          `Locked ${req.routes.length} route(s) for ${owner} until ${new Date(expiresAt).toISOString()}.`,
        );
        return {
          owner,
          expiresAt: new Date(expiresAt),
          release: (step) => release(deps, req.routes, owner, step),
        };
      }
      // Another step wrote at the same moment and won on some route: give ours up everywhere
      // it stands, so that one of us goes on, and try again.
      const ours = req.routes.filter((r) => after.get(r)?.owner === owner);
      if (ours.length > 0) await removeLocks(deps, ours);
      deps.logger.info(
        `Another step locked ${shortName(lost[0] as string)} at the same moment; trying again.`,
      );
    } else {
      const [route, lock] = blocking[0] as [string, Held];
      const text = `${shortName(route)} is locked by ${lock.owner} until ${new Date(lock.expiresAt).toISOString()}`;
      if (waitedFor !== text) deps.logger.info(`Waiting: ${text} (its step is in progress).`);
      waitedFor = text;
    }
    if (deps.clock.now().getTime() + 1 > deadline) {
      throw new LockBusyError(
        `Could not lock the routes within ${Math.round(req.waitMs / 1000)}s: ${waitedFor ?? 'other steps kept winning the race for them'}. ` +
          `Nothing was changed. Two rollout files must not share a route; if this one is alone, the lock expires by itself at the time above, or remove the tag ${LOCK_TAG} from the route.`,
      );
    }
    await deps.clock.sleep(backoff(), deps.signal);
  }
}

async function release(
  deps: LockDeps,
  routes: readonly string[],
  owner: string,
  step: LastStep | undefined,
): Promise<void> {
  let held: Map<string, Held>;
  try {
    held = await readLocks({ ...deps, signal: undefined }, routes);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    if (step) deps.logger.warning(lastStepNotRecorded(step, routes.length, routes.length, why));
    deps.logger.warning(
      `Could not remove the lock tag ${LOCK_TAG} from the routes (${why}): it expires by itself; until then other steps on these routes wait.`,
    );
    return;
  }
  const now = deps.clock.now().getTime();
  if (step) await recordStep(deps, routes, owner, held, now, step);
  try {
    const ours = routes.filter((r) => held.get(r)?.owner === owner);
    if (ours.length > 0) await removeLocks(deps, ours);
    deps.logger.info(`Unlocked ${ours.length} route(s).`);
  } catch (e) {
    deps.logger.warning(
      `Could not remove the lock tag ${LOCK_TAG} from the routes (${e instanceof Error ? e.message : String(e)}): it expires by itself; until then other steps on these routes wait.`,
    );
  }
}

/**
 * The step's record, on every route that no other step holds now (one that took a route over
 * after our lock expired records its own step when it ends). A failure is a warning only.
 */
async function recordStep(
  deps: LockDeps,
  routes: readonly string[],
  owner: string,
  held: Map<string, Held>,
  now: number,
  step: LastStep,
): Promise<void> {
  const others = routes.filter((r) => {
    const l = held.get(r);
    return l !== undefined && l.owner !== owner && l.expiresAt > now;
  });
  const mine = routes.filter((r) => !others.includes(r));
  const value = encodeLastStep(step);
  let failed = 0;
  let error = '';
  for (let i = 0; i < mine.length; i += BATCH) {
    const batch = mine.slice(i, i + BATCH);
    try {
      await deps.client.send(
        new AddTagsCommand({ ResourceArns: batch, Tags: [{ Key: LAST_STEP_TAG, Value: value }] }),
      );
    } catch (e) {
      failed += batch.length;
      error = e instanceof Error ? e.message : String(e);
    }
  }
  if (failed > 0) {
    deps.logger.warning(lastStepNotRecorded(step, failed, routes.length, error));
  } else if (others.length > 0) {
    deps.logger.warning(
      `Recorded the last step (${describeLastStep(step)}) on ${mine.length} of ${routes.length} route(s): ${others.map((r) => `${shortName(r)} (locked by ${held.get(r)?.owner})`).join(', ')} now belong to another step, which records its own.`,
    );
  } else {
    deps.logger.info(`Recorded the last step on ${routes.length} route(s) (tag ${LAST_STEP_TAG}).`);
  }
}
