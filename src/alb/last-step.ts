/**
 * The last step of a rollout file, recorded on the ALB itself: a tag on every route of the
 * file, written after each step that changes or judges the weights or the owner (apply, the
 * handoff, a rollback by hand). `status` reads it from there, so it works when GitHub is down
 * and whichever runner, job or terminal ran the step.
 *
 * The value is one line of `key=value` fields, at most 256 characters of ELBv2's tag charset:
 *
 *   verdict=passed op=apply weights=blue:90+green:10 at=2026-11-30T21:30:05Z by=https://github.com/acme/web/actions/runs/42/attempts/1 file=rollouts/web.yaml why=3 of 3 intervals passed
 *
 * `why` comes last and takes the rest of the value (it may hold spaces); it is what is cut
 * first when the value would be too long, then `by` and `file` keep their ends.
 */
import { AddTagsCommand, DescribeTagsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';

export const LAST_STEP_TAG = 'eks-cluster-canary:last-step';
/** ELBv2's limits on a tag value (the API reference's `Tag`). */
export const TAG_VALUE_MAX = 256;
export const TAG_VALUE_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/** DescribeTags and AddTags take at most 20 resources per call. */
const BATCH = 20;

/**
 * - `passed`: applied and verified (apply), or handed over and confirmed (the handoff);
 * - `done`: a rollback by hand, confirmed by read-back (no analysis judges it);
 * - `rolled-back`: the step failed and was undone, confirmed on every route (or the old owner
 *   runs everything again);
 * - `not-restored`: the step failed and was NOT undone everywhere; `left` says what state.
 */
export type StepVerdict = 'passed' | 'done' | 'rolled-back' | 'not-restored';
export type StepOp = 'apply' | 'handoff' | 'rollback';

export interface LastStep {
  verdict: StepVerdict;
  op: StepOp;
  /** The weights the step set (or tried to), cluster by cluster, in the file's order. */
  weights?: Record<string, number>;
  /** An owner step: the cluster that was to run the CronJobs and singletons, and the one before. */
  owner?: string;
  from?: string;
  /** When the step ended (to the second). */
  at: Date;
  /** Who ran it: the run's URL, or `cli:<user>@<host>`. */
  by: string;
  /** The rollout file's path. */
  file: string;
  /** A `not-restored` step: what it left, e.g. `changed:1+unknown:1` (routes) or `unsafe`. */
  left?: string;
  /** The verdict's reason, shortened to what fits. */
  why?: string;
}

const VERDICTS: readonly StepVerdict[] = ['passed', 'done', 'rolled-back', 'not-restored'];
const OPS: readonly StepOp[] = ['apply', 'handoff', 'rollback'];

/** Words for the signs a verdict uses that a tag value cannot hold. */
const WORDS: [RegExp, string][] = [
  [/%/g, 'pct'],
  [/\s*>\s*/g, ' over '],
  [/\s*→\s*/g, ' to '],
  [/\s*<\s*/g, ' under '],
  [/\s*≤\s*/g, ' at most '],
  [/\s*≥\s*/g, ' at least '],
  [/[()[\]{},;"'`]/g, ' '],
];

/**
 * Characters a tag value cannot hold become `_`; in the free text (`spaces`) the usual signs
 * become words first, and in a field that is not the last, spaces become `_` too.
 */
function tagSafe(text: string, spaces: boolean): string {
  const safe = (t: string): string => t.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '_');
  if (!spaces) return safe(text).replace(/\p{Z}/gu, '_');
  const worded = WORDS.reduce((t, [sign, word]) => t.replace(sign, word), text);
  return safe(worded.replace(/\s+/gu, ' ').trim());
}

/** The first `max` UTF-16 units of `text`, never splitting a character. */
function head(text: string, max: number): string {
  let out = '';
  for (const ch of text) {
    if (out.length + ch.length > max) break;
    out += ch;
  }
  return out;
}

/** The last `max` UTF-16 units of `text` behind `..`, when it is longer. */
function tail(text: string, max: number): string {
  if (text.length <= max) return text;
  const chars = [...text];
  let out = '';
  while (chars.length > 0 && out.length + (chars.at(-1) as string).length <= max - 2) {
    out = (chars.pop() as string) + out;
  }
  return `..${out}`;
}

/** The tag value for a step: at most 256 characters, all of them allowed in an ELBv2 tag. */
export function encodeLastStep(step: LastStep): string {
  // Cluster names may be 63 characters long: with five of them the value would not fit, so
  // they are shortened in the record when it must be (the common case keeps them whole).
  for (const nameMax of [63, 20, 8]) {
    const value = encodeWith(step, nameMax);
    if (value !== undefined) return value;
  }
  throw new Error('unreachable: a last-step record with 8-character names always fits');
}

/** The `by` and `file` fields keep at least this many of their last characters. */
const MIN_TAIL = 12;

function encodeWith(step: LastStep, nameMax: number): string | undefined {
  const name = (n: string): string => head(tagSafe(n, false), nameMax);
  const fields: string[] = [`verdict=${step.verdict}`, `op=${step.op}`];
  if (step.weights) {
    fields.push(
      `weights=${Object.entries(step.weights)
        .map(([c, w]) => `${name(c)}:${w}`)
        .join('+')}`,
    );
  }
  if (step.owner !== undefined) fields.push(`owner=${name(step.owner)}`);
  if (step.from !== undefined) fields.push(`from=${name(step.from)}`);
  if (step.left !== undefined) fields.push(`left=${head(tagSafe(step.left, false), 24)}`);
  fields.push(`at=${step.at.toISOString().replace(/\.\d{3}Z$/, 'Z')}`);
  // What is left goes to `by` and `file`; each keeps its end (a run id, a file name), and
  // `by` gives way to `file` down to its 40 last characters.
  const room = TAG_VALUE_MAX - fields.join(' ').length - ' by= file='.length;
  const by = tagSafe(step.by, false);
  const file = tagSafe(step.file, false);
  if (room < 2 * MIN_TAIL) return undefined;
  const fileRoom = Math.min(
    file.length,
    Math.max(room - by.length, Math.min(40, room - MIN_TAIL), MIN_TAIL),
  );
  fields.push(`by=${tail(by, room - fileRoom)}`, `file=${tail(file, fileRoom)}`);
  let value = fields.join(' ');
  const why = step.why === undefined ? '' : tagSafe(step.why, true);
  const whyRoom = TAG_VALUE_MAX - value.length - ' why='.length;
  if (why && whyRoom >= 8) {
    value += ` why=${why.length <= whyRoom ? why : `${head(why, whyRoom - 2).trimEnd()}..`}`;
  }
  return value;
}

/** The step a tag value records; undefined when the value is not one of ours. */
export function decodeLastStep(value: string | undefined): LastStep | undefined {
  if (!value) return undefined;
  const whyAt = value.indexOf(' why=');
  const fieldsText = whyAt < 0 ? value : value.slice(0, whyAt);
  const fields = new Map<string, string>();
  for (const part of fieldsText.split(' ')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const verdict = fields.get('verdict') as StepVerdict | undefined;
  const op = fields.get('op') as StepOp | undefined;
  const at = Date.parse(fields.get('at') ?? '');
  if (!verdict || !VERDICTS.includes(verdict) || !op || !OPS.includes(op) || Number.isNaN(at)) {
    return undefined;
  }
  const step: LastStep = {
    verdict,
    op,
    at: new Date(at),
    by: fields.get('by') ?? '',
    file: fields.get('file') ?? '',
  };
  const weights = fields.get('weights');
  if (weights) {
    step.weights = {};
    for (const pair of weights.split('+')) {
      const colon = pair.lastIndexOf(':');
      const n = Number(pair.slice(colon + 1));
      if (colon > 0 && Number.isInteger(n)) step.weights[pair.slice(0, colon)] = n;
    }
  }
  for (const key of ['owner', 'from', 'left'] as const) {
    const v = fields.get(key);
    if (v !== undefined) step[key] = v;
  }
  if (whyAt >= 0) step.why = value.slice(whyAt + ' why='.length);
  return step;
}

/** The step in words: `apply blue=90 green=10: passed`, `handoff owner blue → green: rolled-back`. */
export function describeLastStep(step: LastStep): string {
  const what = step.weights
    ? Object.entries(step.weights)
        .map(([c, w]) => `${c}=${w}`)
        .join(' ')
    : step.owner !== undefined
      ? `owner ${step.from !== undefined ? `${step.from} → ` : ''}${step.owner}`
      : '';
  const verdict = step.left ? `${step.verdict} (left: ${step.left})` : step.verdict;
  return `${step.op} ${what}: ${verdict}${step.why ? ` (${step.why})` : ''}`;
}

/**
 * Records a step on the routes: ceil(routes / 20) AddTags calls. Never throws: a step must not fail or be undone because
 * its record could not be written; the warning says what was not recorded.
 */
export async function writeLastStep(
  client: ElasticLoadBalancingV2Client,
  routes: readonly string[],
  step: LastStep,
  logger: Logger,
  signal?: AbortSignal,
): Promise<boolean> {
  const value = encodeLastStep(step);
  const failed: string[] = [];
  let error = '';
  for (let i = 0; i < routes.length; i += BATCH) {
    const batch = routes.slice(i, i + BATCH);
    try {
      await client.send(
        new AddTagsCommand({ ResourceArns: batch, Tags: [{ Key: LAST_STEP_TAG, Value: value }] }),
        signal ? { abortSignal: signal } : {},
      );
    } catch (e) {
      failed.push(...batch);
      error = errorMessage(e);
    }
  }
  if (failed.length > 0) {
    logger.warning(lastStepNotRecorded(step, failed.length, routes.length, error));
    return false;
  }
  logger.info(`Recorded the last step on ${routes.length} route(s) (tag ${LAST_STEP_TAG}).`);
  return true;
}

export function lastStepNotRecorded(
  step: LastStep,
  failed: number,
  routes: number,
  error: string,
): string {
  return `Could not record the last step (${describeLastStep(step)} at ${step.at.toISOString()}) in the tag ${LAST_STEP_TAG} on ${failed} of ${routes} route(s): ${error}. The step itself stands; \`status\` shows an older record for this file until the next step.`;
}

/** The records on the routes, route by route (routes without one are absent). */
export async function readLastSteps(
  client: ElasticLoadBalancingV2Client,
  routes: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, LastStep>> {
  const out = new Map<string, LastStep>();
  for (let i = 0; i < routes.length; i += BATCH) {
    const res = await client.send(
      new DescribeTagsCommand({ ResourceArns: routes.slice(i, i + BATCH) }),
      signal ? { abortSignal: signal } : {},
    );
    for (const d of res.TagDescriptions ?? []) {
      const step = decodeLastStep(d.Tags?.find((t) => t.Key === LAST_STEP_TAG)?.Value);
      if (step && d.ResourceArn) out.set(d.ResourceArn, step);
    }
  }
  return out;
}
