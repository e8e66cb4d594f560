/** The rollout file: parse with positions and validate (the check kinds are health's). */
export {
  ANALYSIS_DEFAULTS,
  MAX_CLUSTERS,
  MIN_CLUSTERS,
  SUPPORTED_VERSIONS,
  parseChecks,
  parseRolloutFile,
  readRolloutFile,
} from './parse.js';
export { formatDuration, parseDuration } from '../common/duration.js';
export type * from './types.js';
