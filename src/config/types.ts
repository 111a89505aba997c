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
  executors: Record<string, ExecutorConfig>;
  sources: Record<string, SourceConfig>;
  /** Tasks in topological order: every task comes after its upstream tasks. */
  tasks: TaskConfig[];
}

export interface ServerConfig {
  host: string;
  port: number;
  /** How people and jobs reach the server, e.g. `https://ecal-calib.cern.ch`; default `http://host:port`. */
  publicUrl: string;
}

export interface EngineConfig {
  /** Time between timer-driven passes (triggers run passes at once regardless). */
  intervalMs: number;
}

export interface ExecutorConfig {
  type: string;
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
  /** Executor name (a key of `executors`). */
  executor: string;
  /** Extra environment for the jobs (values may hold placeholders). */
  env: Record<string, string>;
  /** Working directory of the jobs; default the deployment's directory. */
  cwd: string;
}
