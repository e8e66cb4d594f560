/** The rollout file: parse with positions, validate, and the checks shared with verify-health. */
export {
  ANALYSIS_DEFAULTS,
  MAX_CLUSTERS,
  MIN_CLUSTERS,
  SUPPORTED_VERSIONS,
  parseChecks,
  parseRolloutFile,
  readRolloutFile,
} from './parse.js';
export { CHECK_KINDS, CLOUDWATCH_METRICS, HTTP_CHECK_DEFAULTS, defaultChecks } from './checks.js';
export { formatDuration, parseDuration } from '../common/duration.js';
export type * from './types.js';
