/**
 * What every rollout command works with, passed in: the GitHub API, AWS clients per region, a
 * clock and logger, the job's cancellation signal, and the triggering event in the few fields
 * the commands read. main.ts builds the real ones; tests pass fakes and the sandbox.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Clock } from '../alb/shift.js';
import type { Logger } from '../common/logger.js';
import type { GitHubApi } from '../github/types.js';
import type { FetchLike } from '../health/types.js';
import type { RolloutResult } from '../actions/rollout/io.js';

export interface AwsClients {
  elbv2: ElasticLoadBalancingV2Client;
  cloudwatch: CloudWatchClient;
}

export interface RolloutDeps {
  github: GitHubApi;
  /** The clients for a region (a rollout file names its region); the same ones on every call. */
  aws(region: string): AwsClients;
  logger: Logger;
  /** Sleeps end early, with an error, when `signal` aborts. */
  clock: Clock;
  fetch: FetchLike;
  /** Aborts when the job is cancelled (SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Read-back tuning for the ALB writes (tests shorten it). */
  readBackDelayMs?: number;
  /** Hides a value from the log from now on (core.setSecret in the action). */
  mask?(secret: string): void;
}

/** The event that started the job, in the fields the commands use. */
export type RolloutEvent =
  | {
      kind: 'pull_request';
      number: number;
      url: string;
      baseSha: string;
      headSha: string;
      baseRef: string;
      labels: string[];
    }
  | {
      kind: 'push';
      before: string;
      after: string;
      /** Branch pushed to, without refs/heads/. */
      branch: string;
      defaultBranch: string;
    }
  | {
      /** rollback and advance: started by hand (or by any event on a branch). */
      kind: 'workflow_dispatch';
      sha: string;
      branch: string;
      /** The branch the reconcile and advance PRs go to. */
      defaultBranch: string;
    };

/** Settings from the inputs that shape how a command runs. */
export interface RolloutSettings {
  settleMs: number;
  cloudWatchPeriodMs: number;
  cloudWatchDelayMs: number;
  /** Where the log of this run is, for PR bodies and deployments. */
  runUrl?: string;
}

/** An error annotation on a line of a rollout file. */
export interface Annotation {
  file: string;
  line: number;
  col: number;
  message: string;
}

/** What a command ends with; main.ts turns it into outputs, the summary and the step's status. */
export interface CommandOutcome {
  result: RolloutResult;
  /** URL of the PR the command opened or updated. */
  pullRequest?: string;
  /** Markdown for the job summary. */
  summary: string;
  /** Everything the command saw and did, for the JSON report. */
  report: Record<string, unknown>;
  annotations: Annotation[];
  /** Set when the step must fail: why, in a sentence or two. */
  failure?: string;
}
