export * from './types.js';
export {
  prepareAnalysis,
  runAnalysis,
  scheduleAnalysis,
  cloudWatchAlignmentMs,
  measurementLine,
  DEFAULT_CLOUDWATCH_PERIOD_MS,
} from './analysis.js';
export type {
  AnalysisRequest,
  AnalysisDeps,
  AnalysisSchedule,
  PreparedAnalysis,
} from './analysis.js';
export { resolveTargets, targetsFromArns } from './targets.js';
export type { TargetSpec, TargetGroupSpec } from './targets.js';
export { buildReport, summaryMarkdown } from './report.js';
export type { HealthReport } from './report.js';
