/**
 * The job summary of a shift: one row per route with the weights before and after, and
 * console links, so the run page answers "what did it change?" without reading the log.
 */
import * as core from '@actions/core';
import { consoleLink, shortName } from '../../aws/arn.js';
import { formatWeights, type RouteWeights } from '../../alb/forward.js';
import type { NothingChangedError, ShiftFailedError, ShiftResult } from '../../alb/shift.js';
import { describeRef } from '../../alb/shift.js';

const STATUS: Record<string, string> = {
  written: 'shifted',
  unchanged: 'unchanged',
  'would-write': 'would shift (dry run)',
};

export function summarizeShift(result: ShiftResult, region: string): typeof core.summary {
  const heading = result.dryRun
    ? 'shift-weight: dry run (nothing changed)'
    : result.changed
      ? 'shift-weight: weights shifted'
      : 'shift-weight: already at the desired weights';
  const rows = result.routes.map((r) => [
    `<a href="${consoleLink(r.ref.arn, region)}">${describeRef(r.ref)}</a>`,
    formatWeights(r.before),
    formatWeights(result.dryRun ? (result.desired[r.ref.arn] ?? {}) : r.after),
    STATUS[r.status] ?? r.status,
  ]);
  const s = core.summary.addHeading(heading, 2).addTable([
    [
      { data: 'Route', header: true },
      { data: 'Before', header: true },
      { data: result.dryRun ? 'Would be' : 'After', header: true },
      { data: 'Status', header: true },
    ],
    ...rows,
  ]);
  if (result.appliedAt)
    s.addRaw(`Confirmed by read-back at ${result.appliedAt.toISOString()}.`, true);
  return s;
}

export function summarizeFailure(
  error: ShiftFailedError | NothingChangedError,
  region: string,
): typeof core.summary {
  if (!('previous' in error)) {
    return core.summary
      .addHeading(
        error.cancelled
          ? 'shift-weight: cancelled, nothing changed'
          : 'shift-weight: failed, nothing changed',
        2,
      )
      .addCodeBlock(error.message);
  }
  const restored = new Set(error.restored);
  const left = new Map(error.notRestored.map((n) => [n.arn, n]));
  const rows = Object.entries(error.previous).map(([arn, weights]) => {
    const n = left.get(arn);
    return [
      `<a href="${consoleLink(arn, region)}">${shortName(arn)}</a>`,
      formatWeights(weights),
      restored.has(arn)
        ? 'restored (confirmed)'
        : n
          ? n.state === 'changed'
            ? `NOT restored: at ${formatWeights(n.seen ?? {})} (${n.reason})`
            : `unknown, could not be read (${n.reason})`
          : 'not written',
    ];
  });
  const heading =
    error.notRestored.length > 0
      ? `shift-weight: ${error.cancelled ? 'cancelled' : 'failed'}, ${error.notRestored.length} route(s) NOT restored`
      : error.cancelled
        ? 'shift-weight: cancelled, weights restored'
        : 'shift-weight: failed';
  return core.summary
    .addHeading(heading, 2)
    .addCodeBlock(error.message)
    .addTable([
      [
        { data: 'Route', header: true },
        { data: 'Previous weights', header: true },
        { data: 'State', header: true },
      ],
      ...rows,
    ]);
}

export function weightsJson(weights: RouteWeights): string {
  return JSON.stringify(weights);
}
