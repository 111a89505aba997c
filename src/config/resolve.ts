import { createHash } from 'node:crypto';
import path from 'node:path';
import { DEFAULT_LIMITS } from '../limits.ts';
import { applyMirror } from '../mirror/config.ts';
import { DEFAULT_EXECUTORS } from './checks.ts';
import { topoOrder } from './graph.ts';
import type { ParsedFile } from './schema.ts';
import type {
  Deployment,
  ExecutorConfig,
  NotifierConfig,
  SourceConfig,
  TaskConfig,
} from './types.ts';

const DEFAULTS = {
  store: 'sqlite:state.db',
  dataDir: 'data',
  host: '127.0.0.1',
  port: 8080,
  engineIntervalMs: 30_000,
  // A standby takes over within twice this after the leader dies without a word.
  leaseTtlMs: 6_000,
  sourceIntervalMs: 60_000,
  retryDelayMs: 30_000,
  // A batch system may forget a job for a while (a restarted schedd, a slow accounting database).
  lostAfterMs: 600_000,
  watchdogIntervalMs: 60_000,
} as const;

/**
 * The `Deployment` of a file that passed every check: defaults filled in,
 * paths made absolute against the file's directory, tasks in topological
 * order (`taskOrder` is their order in the file).
 */
export function resolveDeployment(
  parsed: ParsedFile,
  file: string,
  taskOrder: string[],
): Deployment {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const host = parsed.server?.host ?? DEFAULTS.host;
  const port = parsed.server?.port ?? DEFAULTS.port;
  const executors: Record<string, ExecutorConfig> = {};
  const executorSections: Record<string, NonNullable<ParsedFile['executors']>[string]> =
    parsed.executors ?? DEFAULT_EXECUTORS;
  for (const [name, section] of Object.entries(executorSections)) {
    const { type, max_jobs, poll_interval, lost_after, ...options } = section;
    executors[name] = {
      type,
      maxJobs: max_jobs ?? null,
      pollIntervalMs: poll_interval ?? null,
      lostAfterMs: lost_after ?? DEFAULTS.lostAfterMs,
      options,
    };
  }
  const sources: Record<string, SourceConfig> = {};
  for (const [name, { type, interval, ...options }] of Object.entries(parsed.sources ?? {})) {
    sources[name] = { type, intervalMs: interval ?? DEFAULTS.sourceIntervalMs, options };
  }
  const executorNames = Object.keys(executors);
  const tasks = taskOrder.flatMap((name): TaskConfig[] => {
    const t = parsed.tasks?.[name];
    if (t === undefined) return [];
    return [
      {
        name,
        workflow: t.workflow ?? name,
        after: t.after ?? [],
        group: t.group ?? { by: 'run' },
        command: t.command,
        jobs: t.jobs ?? 1,
        retries: t.retries ?? 0,
        retryDelayMs: t.retry_delay ?? DEFAULTS.retryDelayMs,
        timeoutMs: t.timeout ?? null,
        maxQueueMs: t.max_queue ?? null,
        // crossCheck made sure there is exactly one executor when a task names none
        executor: t.executor ?? (executorNames[0] as string),
        env: t.env ?? {},
        resources: t.resources ?? {},
        cwd: path.resolve(dir, t.cwd ?? '.'),
        locks: (t.locks ?? []).map(({ kind, name, timeout, ...options }, i, all) => ({
          kind,
          name: name ?? (all.filter((l) => l.kind === kind).length > 1 ? `${kind}#${i + 1}` : kind),
          timeoutMs: timeout ?? null,
          options,
        })),
        when: t.when
          ? {
              types: t.when.type == null ? null : [t.when.type].flat(),
              minLumi: t.when.min_lumi ?? null,
              meta: t.when.meta ?? {},
            }
          : null,
        container: t.container
          ? {
              image: containerImage(t.container.runtime, t.container.image, dir),
              runtime: t.container.runtime,
              args: t.container.args ?? [],
              binds: (t.container.binds ?? []).map((b) => path.resolve(dir, b)),
            }
          : null,
        code: t.code ?? [],
      },
    ];
  });
  const notify: Record<string, NotifierConfig> = {};
  for (const [name, { type, events, ...options }] of Object.entries(parsed.notify ?? {})) {
    notify[name] = { type, events: events ?? [], options };
  }
  const resolved: Deployment = {
    file: abs,
    dir,
    store: storeUrl(parsed.store ?? DEFAULTS.store, dir),
    dataDir: path.resolve(dir, parsed.data_dir ?? DEFAULTS.dataDir),
    server: {
      host,
      port,
      // a trailing slash would double up when paths are appended
      publicUrl: (parsed.server?.public_url ?? `http://${urlHost(host)}:${port}`).replace(
        /\/+$/,
        '',
      ),
      ...(parsed.server?.columns ? { columns: parsed.server.columns } : {}),
      ...(parsed.server?.disk
        ? {
            disk: parsed.server.disk.map((d) => ({
              path: path.resolve(dir, d.path),
              ...(d.kind ? { kind: d.kind } : {}),
              ...(d.command ? { command: d.command } : {}),
              quotaBytes: d.quota ?? null,
              warn: d.warn ?? 0.8,
            })),
          }
        : {}),
    },
    engine: {
      intervalMs: parsed.engine?.interval ?? DEFAULTS.engineIntervalMs,
      leaseTtlMs: parsed.engine?.lease_ttl ?? DEFAULTS.leaseTtlMs,
      controllers: parsed.engine?.controllers ?? 1,
    },
    watchdog: {
      stalledAfterMs:
        parsed.watchdog?.stalled_after ??
        3 * (parsed.engine?.interval ?? DEFAULTS.engineIntervalMs),
      intervalMs: parsed.watchdog?.interval ?? DEFAULTS.watchdogIntervalMs,
      maxRunAgeMs: parsed.watchdog?.max_run_age ?? null,
    },
    ...(parsed.retention?.samples != null
      ? { retention: { samplesMs: parsed.retention.samples } }
      : {}),
    executors,
    sources,
    tasks: topoOrder(tasks),
    environment: parsed.environment ?? 'prod',
    name: parsed.name ?? deploymentName(dir),
    envPass: parsed.env_pass ?? [],
    plugins: (parsed.plugins ?? []).map((p) => path.resolve(dir, p)),
    notify,
    limits: {
      maxJobsPerInstance: parsed.limits?.max_jobs_per_instance ?? DEFAULT_LIMITS.maxJobsPerInstance,
      maxRequestBytes: parsed.limits?.max_request_body ?? DEFAULT_LIMITS.maxRequestBytes,
    },
    exports: Object.fromEntries(
      Object.entries(parsed.export ?? {}).flatMap(([kind, o]) => (o == null ? [] : [[kind, o]])),
    ),
    ...(parsed.chat
      ? {
          chat: {
            mattermostTokenEnv: parsed.chat.mattermost?.token_env ?? null,
            slackSigningSecretEnv: parsed.chat.slack?.signing_secret_env ?? null,
            operators: parsed.chat.operators ?? {},
          },
        }
      : {}),
    auth: {
      readOpen: (parsed.auth?.read ?? 'open') === 'open',
      operators: Object.entries(parsed.auth?.operators ?? {}).flatMap(([name, o]) => {
        // A token from the environment is hashed at once: only hashes are kept.
        const sha = 'token_sha256' in o ? o.token_sha256 : hashEnvToken(o.token_env);
        return sha === null ? [] : [{ name, tokenSha256: sha }];
      }),
    },
  };
  return applyMirror(resolved, parsed.mirror);
}

function hashEnvToken(variable: string): string | null {
  const token = process.env[variable];
  return token ? createHash('sha256').update(token).digest('hex') : null;
}

function storeUrl(store: string, dir: string): string {
  if (!store.startsWith('sqlite:')) return store;
  const file = store.slice('sqlite:'.length);
  return file === ':memory:' ? store : `sqlite:${path.resolve(dir, file)}`;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The default deployment name: its directory's, as a batch system's job names allow. */
function deploymentName(dir: string): string {
  const base = path
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+/, '');
  return base === '' ? 'autoctrl' : base;
}

/** An apptainer image given as a relative file (`images/reco.sif`) is relative to the deployment's directory. */
function containerImage(runtime: string, image: string, dir: string): string {
  const isFile = runtime === 'apptainer' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(image);
  return isFile ? path.resolve(dir, image) : image;
}
