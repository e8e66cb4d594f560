export * from './types.js';
export {
  prepareAnalysis,
  runAnalysis,
  scheduleAnalysis,
  analysisIntervalCount,
  cloudWatchAlignmentMs,
  measurementLine,
  describeEarlyFailure,
} from './analysis.js';
export {
  EARLY_CONFIDENCE_TEXT,
  EARLY_MIN_REQUESTS,
  EARLY_SIGNIFICANCE,
  decisivelyOver,
  earlyLookEnds,
  errorTailBound,
} from './early.js';
export type {
  AnalysisRequest,
  AnalysisDeps,
  AnalysisSchedule,
  PreparedAnalysis,
} from './analysis.js';
export * from './checks/index.js';
export { resolveTargets, targetsFromArns } from './targets.js';
export type { TargetSpec, TargetGroupSpec, TargetGroupSources } from './targets.js';
export { buildReport, summaryMarkdown } from './report.js';
export type { HealthReport } from './report.js';
