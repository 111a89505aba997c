import { AutoctrlError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/**
 * What people are told about, by the names the deployment file uses in a
 * notifier's `events:`. A recovery (`source_recovered`,
 * `controller_recovered`) goes to the notifiers that want its failure:
 * whoever heard of the failure hears of its end.
 */
export const ALERT_KINDS = [
  'instance_failed',
  'job_retried',
  'lock_timeout',
  'source_failing',
  'source_recovered',
  'executor_unavailable',
  'executor_recovered',
  'submission_blocked',
  'export_failing',
  'export_recovered',
  'controller_stalled',
  'controller_recovered',
  'disk_quota',
  'job_stuck',
  'run_stuck',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** The recovery that ends each failure kind that has one. */
export const RECOVERY_OF: Partial<Record<AlertKind, AlertKind>> = {
  source_failing: 'source_recovered',
  controller_stalled: 'controller_recovered',
  executor_unavailable: 'executor_recovered',
  export_failing: 'export_recovered',
};

/** The names a notifier's `events:` may list. */
export const SUBSCRIBABLE: readonly AlertKind[] = ALERT_KINDS.filter(
  (k) => !Object.values(RECOVERY_OF).includes(k),
);

/**
 * One happening worth a message, built from one event of the log. Plain data
 * (it is kept in the store while a delivery waits), and what the generic
 * `webhook` notifier posts.
 */
export interface Alert {
  kind: AlertKind;
  /** The event it comes from: alerts are in event order. */
  eventId: number;
  at: number;
  /** The deployment's `environment` (`prod`, `dev`). */
  environment: string;
  campaign: string | null;
  task: string | null;
  runs: number[];
  /** The instance's attempt (1, +1 per reprocess). */
  attempt: number | null;
  instanceId: number | null;
  jobId: number | null;
  /** For `job_retried`: the failed job's attempt and the number allowed. */
  jobAttempt: number | null;
  jobAttempts: number | null;
  /**
   * What the alert is about besides a task: the source (`source_failing`),
   * lock (`lock_timeout`), controller (`controller_stalled`) or output area (`disk_quota`).
   */
  subject: string | null;
  reason: string;
  /** The instance page (or the overview when there is no instance). */
  url: string;
  /** The job's log through the server, and where the log lies on disk. */
  logUrl: string | null;
  logPath: string | null;
}

/**
 * What a notifier sends: one alert, or the summary of the alerts folded into
 * a window after it (same kind, task, campaign and reason shape).
 */
export interface AlertMessage {
  /** The alert itself, or for a summary the first of those folded. */
  alert: Alert;
  folded: FoldSummary | null;
}

export interface FoldSummary {
  /** Alerts folded, `alert` included. */
  count: number;
  /** Their runs, ascending; at most a few hundred kept. */
  runs: number[];
  /** Runs left out of `runs`. */
  runsOmitted: number;
  windowMs: number;
}

/**
 * The `Notifier` contract: one configured destination (a Mattermost or Slack
 * incoming webhook, a generic JSON endpoint). Kinds live in `notify/<kind>.ts`
 * and are listed in `notify/registry.ts`.
 *
 * What the core may assume:
 * - `send` posts one message and resolves once the destination accepted it.
 *   It never retries by itself: the dispatcher retries with backoff in the
 *   background, so `send` may take as long as its own timeout and no longer.
 * - A failure is a `DeliveryError` whose `retryable` says whether trying
 *   again later may help (a 5xx, a refused connection, a timeout) or not
 *   (a 4xx: the message or the URL is wrong).
 * - `send` honours `signal`: an aborted send rejects promptly.
 * - Which alerts a notifier gets (its `events:`) and the folding of repeated
 *   ones are the dispatcher's business, not the notifier's.
 */
export interface Notifier {
  readonly name: string;
  /** How long repeated alerts of one cause are folded into one summary; 0 never folds. */
  readonly foldWindowMs: number;
  send(message: AlertMessage, signal: AbortSignal): Promise<void>;
}

export interface NotifierContext {
  logger: Logger;
  /** Picks the channel: a `dev` deployment never posts to the production channel. */
  environment: string;
  /** `server.publicUrl`, for links. */
  publicUrl: string;
}

/** Builds a notifier from its section of the deployment file (options already checked). */
export type NotifierFactory = (
  name: string,
  options: Record<string, unknown>,
  ctx: NotifierContext,
) => Promise<Notifier>;

/** A message that did not reach its destination. */
export class DeliveryError extends AutoctrlError {
  constructor(
    readonly notifier: string,
    readonly retryable: boolean,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('delivery_failed', `notifier ${notifier}: ${message}`, options);
  }
}

/** A notifier section that cannot work as written. */
export class NotifierConfigError extends AutoctrlError {
  constructor(
    readonly notifier: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('notifier_config', `notify.${notifier}: ${message}`, options);
  }
}
