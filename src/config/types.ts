import type { MirrorConfig } from '../mirror/config.ts';
/**
 * The deployment, resolved from `autoctrl.yaml`: paths absolute, durations in
 * milliseconds, defaults filled in, tasks in topological order (upstream first).
 */
export interface Deployment {
  /** Absolute path of the deployment file. */
  file: string;
  /** Its directory: relative paths in the file are relative to it. */
  dir: string;
  /** Store URL with an absolute path for file stores: `sqlite:/abs/state.db`, `postgres://...`. */
  store: string;
  /** Job work areas and logs: `data_dir`, default `<dir>/data`. */
  dataDir: string;
  server: ServerConfig;
  engine: EngineConfig;
  watchdog: WatchdogConfig;
  executors: Record<string, ExecutorConfig>;
  sources: Record<string, SourceConfig>;
  /** Tasks in topological order: every task comes after its upstream tasks. */
  tasks: TaskConfig[];
  /** `prod`, `dev`...: notifiers pick their channel by it, so a test deployment never posts to production. */
  environment: string;
  /** Names this deployment's jobs in batch systems (`<name>-<environment>-<job>.<attempt>`); default its directory's name. */
  name: string;
  /** Variables of the controller's environment its jobs also get (beyond PATH, HOME, USER, LANG, TZ, TMPDIR). */
  envPass: string[];
  /** Absolute paths of ES modules adding lock kinds and sources (`defineLock`, `defineSource`). */
  plugins: string[];
  notify: Record<string, NotifierConfig>;
  auth: AuthConfig;
  /** Slash commands (`chat:`); absent: `/api/chat/command` refuses every request. */
  chat?: ChatConfig;
  limits: Limits;
  /** A dev mirror's `mirror:` section (prod's runs and the tasks taken from prod); absent for others. */
  mirror?: MirrorConfig;
  /** How long history is kept (`retention:`); absent: for ever. */
  retention?: RetentionConfig;
  /** Mirrors, by kind (`export:`): each kind's options as its schema checked them. */
  exports: Record<string, Record<string, unknown>>;
}

/** Limits a site may raise (`limits:` in the deployment file); the fixed ones are in `src/limits.ts`. */
export interface Limits {
  /** Jobs one instance may have (`jobs: N`, `--set TASK.jobs=N`): default 10,000. */
  maxJobsPerInstance: number;
  /** Bytes of one API request body: default 16 MiB; a larger one gets 413. */
  maxRequestBytes: number;
}

export interface NotifierConfig {
  type: string;
  /** Which happenings it wants (`instance_failed`, `lock_timeout`, `source_failing`, `job_retried`); empty = all. */
  events: string[];
  /** The rest of the notifier's section, validated by its backend. */
  options: Record<string, unknown>;
}

export interface AuthConfig {
  /** Whether reading (the page, GET requests) needs a token. */
  readOpen: boolean;
  /** Operators allowed to act (reprocess, resubmit, create campaigns), by SHA-256 of their token. */
  operators: Array<{ name: string; tokenSha256: string }>;
}

/**
 * Slash commands from Mattermost and Slack. Secrets stay in the controller's
 * environment: only the variables' names are here.
 */
export interface ChatConfig {
  /** Variable holding the Mattermost slash command's token; null: Mattermost is not taken. */
  mattermostTokenEnv: string | null;
  /** Variable holding the Slack app's signing secret; null: Slack is not taken. */
  slackSigningSecretEnv: string | null;
  /** `mattermost:alice` or `slack:U024BE7LH` → operator name (a key of `auth.operators`). */
  operators: Record<string, string>;
}

export interface LockConfig {
  kind: string;
  /** Shown in reasons; default `<kind>` or `<kind>#<n>` when a task has several of a kind. */
  name: string;
  /** After this long closed, an alert goes out (once); null for never. */
  timeoutMs: number | null;
  /** The rest of the lock's entry, validated by its kind. */
  options: Record<string, unknown>;
}

/** Which runs a task applies to; every given condition must hold. */
export interface RunFilter {
  /** Run types (null: any). */
  types: string[] | null;
  minLumi: number | null;
  /** Metadata that must match exactly. */
  meta: Record<string, string | number | boolean>;
}

export interface ServerConfig {
  host: string;
  port: number;
  /** How people and jobs reach the server, e.g. `https://ecal-calib.cern.ch`; default `http://host:port`. */
  publicUrl: string;
  /** Metadata keys shown as overview columns (`server.columns`); absent: derived from the newest runs. */
  columns?: string[];
  /** Output areas whose disk usage the health panel shows (`server.disk`). */
  disk?: DiskArea[];
}

export interface DiskArea {
  /** Absolute path of the directory. */
  path: string;
  /** `local` (the default) measures the file system; `eos` and `afs` ask their quota command. */
  kind?: 'local' | 'eos' | 'afs';
  /** The quota command's argv for `eos` and `afs` areas (the path is added last); null: the usual one. */
  command?: string[] | null;
  /** Bytes allowed; null for the size of its file system. */
  quotaBytes: number | null;
  /** Fraction of the quota above which the page warns (default 0.8). */
  warn: number;
}

export interface EngineConfig {
  /** Time between timer-driven passes (triggers run passes at once regardless). */
  intervalMs: number;
  /** How long the engine lease lasts unrenewed (`engine.lease_ttl`). */
  leaseTtlMs: number;
  /** How many controllers the deployment runs (`engine.controllers`); a host-scoped executor then needs a host. */
  controllers: number;
}

/** Alerts on the automation itself (`watchdog:`): a stalled leader, stuck jobs and runs, full areas. */
export interface WatchdogConfig {
  /** No pass finished for this long means the controller stalled (default 3 × `engine.interval`). */
  stalledAfterMs: number;
  /** How often the checks run (default 1 minute). */
  intervalMs: number;
  /** A run whose instances made no progress for this long is stuck; null: never judged. */
  maxRunAgeMs: number | null;
}

export interface RetentionConfig {
  /** Job-field samples older than this are deleted by the leader; null: kept for ever. */
  samplesMs: number | null;
}

export interface ExecutorConfig {
  type: string;
  /** `max_jobs`: jobs in flight at most; null for the backend's default. */
  maxJobs: number | null;
  /** `poll_interval`: least time between two status queries; null for the backend's default. */
  pollIntervalMs: number | null;
  /** `lost_after`: how long a job may be gone from the batch system before it is lost (default 10 min). */
  lostAfterMs: number;
  /** The rest of the executor's section, validated by its backend. */
  options: Record<string, unknown>;
}

export interface SourceConfig {
  type: string;
  /** Poll period. */
  intervalMs: number;
  options: Record<string, unknown>;
}

export type Grouping = { by: 'run' } | { by: 'fill' } | { by: 'lumi'; lumi: number };

export interface TaskConfig {
  name: string;
  /** Display group; default the task name. */
  workflow: string;
  /** Upstream tasks that must be done for the same runs. */
  after: string[];
  group: Grouping;
  /** argv with `{run}`-style placeholders; never run through a shell. */
  command: string[];
  /** A fixed number of jobs, or one job per upstream output file. */
  jobs: number | { per: 'input' };
  /** Attempts after the first. */
  retries: number;
  /** Delay before the first retry; doubles at each further one. */
  retryDelayMs: number;
  timeoutMs: number | null;
  /** A job queued or held longer than this raises `job_stuck` (`max_queue`); null: never. */
  maxQueueMs: number | null;
  /** Executor name (a key of `executors`). */
  executor: string;
  /** Extra environment for the jobs (values may hold placeholders). */
  env: Record<string, string>;
  /** Batch-system requests passed to the executor as given (`request_memory`, `partition`...). */
  resources: Record<string, string | number>;
  /** Working directory of the jobs; default the deployment's directory. */
  cwd: string;
  /** Conditions outside autoctrl that must hold before an instance starts. */
  locks: LockConfig[];
  /** The runs it applies to; null for all. */
  when: RunFilter | null;
  /** The container its command runs in; null to run it on the host. */
  container: ContainerConfig | null;
  /** `code:` files, directories or globs (relative to `cwd`) whose content is part of each attempt's record. */
  code: string[];
}

export type ContainerRuntime = 'apptainer' | 'docker' | 'podman';

export interface ContainerConfig {
  /** An image name (`registry/name:tag`), or for apptainer also a SIF file (absolute path) or `docker://...` URI. */
  image: string;
  runtime: ContainerRuntime;
  /** Extra arguments for the runtime's `run`/`exec`, placed before the image. */
  args: string[];
  /** Absolute host paths bound in at the same place, besides the job's work directory and cwd. */
  binds: string[];
}
