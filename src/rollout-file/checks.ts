/**
 * The checks live in health/checks; ./index.ts re-exports these from here until it imports
 * them from there.
 */
export {
  CHECK_KINDS,
  CLOUDWATCH_METRICS,
  HTTP_CHECK_DEFAULTS,
  defaultChecks,
} from '../health/checks/index.js';
