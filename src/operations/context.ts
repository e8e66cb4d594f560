/**
 * What every rollout command works with, passed in: the GitHub API, AWS clients per region, a
 * clock and logger, the job's cancellation signal, and the triggering event in the few fields
 * the commands read. main.ts builds the real ones; tests pass fakes and the sandbox.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Clock } from '../common/clock.js';
import type { CancelBudget } from '../common/cancel.js';
import type { Logger } from '../common/logger.js';
import type { GitHubApi } from '../github/types.js';
import type { FetchLike } from '../health/types.js';
import type { KubeApi } from '../kube/api.js';

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
  /**
   * The job's cancellation budget (its signal is `signal`): restores and the reports after a
   * cancel end before the runner's kill. Without it, `signal` counts as the runner's SIGINT.
   */
  budget?: CancelBudget;
  /** Read-back tuning for the ALB writes (tests shorten it). */
  readBackDelayMs?: number;
  /**
   * The apiserver of an EKS cluster (`eksName` in `region`), named `cluster` in messages: for the
   * owner step (the singleton handoff). Absent: an owner change is refused.
   */
  kube?(region: string, eksName: string, cluster: string): Promise<KubeApi>;
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

/**
 * How the caller names the options a user gives a command, for messages that tell the user
 * what to change: the action says `Input "to"`, the CLI `--to`.
 */
export interface OptionNames {
  file: string;
  to: string;
  weights: string;
  owner?: string;
  force: string;
}

export const PLAIN_OPTION_NAMES: OptionNames = {
  file: 'the rollout file',
  to: '"to"',
  weights: '"weights"',
  force: 'force',
};

/** Settings from the inputs that shape how a command runs. */
export interface RolloutSettings {
  /** How messages name the command's options; PLAIN_OPTION_NAMES when absent. */
  optionNames?: OptionNames;
  settleMs: number;
  cloudWatchPeriodMs: number;
  cloudWatchDelayMs: number;
  /** Where the log of this run is, for PR bodies and deployments. */
  runUrl?: string;
  /** Who runs the command when there is no run URL (`cli:<user>@<host>`), for the last-step record. */
  actor?: string;
}

/** An error annotation on a line of a rollout file. */
export interface Annotation {
  file: string;
  line: number;
  col: number;
  message: string;
}

export const COMMANDS = ['plan', 'apply', 'rollback', 'advance', 'changed'] as const;
export type Command = (typeof COMMANDS)[number];

/** What the `result` output can be. */
export type RolloutResult = 'applied' | 'rolled-back' | 'unchanged' | 'planned' | 'failed';

/** The PR label that lets a plan pass a step larger than the next entry of `steps`. */
export const FORCE_LABEL = 'rollout/force';
