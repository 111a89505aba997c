import { join } from 'node:path';
import type { Deployment, TaskConfig } from '../src/config/types.ts';
import { DEFAULT_LIMITS } from '../src/limits.ts';

/**
 * Deployments built in code, for tests and benchmarks (no node:test here, so
 * bench scripts can use it too).
 */

export function task(name: string, over: Partial<TaskConfig> = {}): TaskConfig {
  return {
    name,
    workflow: name,
    after: [],
    group: { by: 'run' },
    command: ['true'],
    jobs: 1,
    retries: 0,
    retryDelayMs: 10,
    timeoutMs: null,
    maxQueueMs: null,
    executor: 'local',
    env: {},
    resources: {},
    cwd: '/',
    locks: [],
    when: null,
    container: null,
    code: [],
    ...over,
  };
}

/**
 * A deployment in `dir` with a SQLite store and a local executor; tasks in the
 * order given (topological); a task `cwd` of `/` means `dir`.
 */
export function deployment(
  dir: string,
  tasks: TaskConfig[],
  over: Partial<Deployment> = {},
  slots = 4,
): Deployment {
  return {
    file: join(dir, 'autoctrl.yaml'),
    dir,
    store: `sqlite:${join(dir, 'state.db')}`,
    dataDir: join(dir, 'data'),
    server: { host: '127.0.0.1', port: 0, publicUrl: 'http://127.0.0.1:0' },
    engine: { intervalMs: 60_000, leaseTtlMs: 6_000, controllers: 1 },
    watchdog: { stalledAfterMs: 180_000, intervalMs: 60_000, maxRunAgeMs: null },
    executors: {
      local: {
        type: 'local',
        maxJobs: null,
        pollIntervalMs: null,
        lostAfterMs: 600_000,
        options: { slots },
      },
    },
    sources: {},
    tasks: tasks.map((t) => ({ ...t, cwd: t.cwd === '/' ? dir : t.cwd })),
    environment: 'test',
    name: 'fixture',
    envPass: [],
    plugins: [],
    notify: {},
    auth: { readOpen: true, operators: [] },
    limits: { ...DEFAULT_LIMITS },
    exports: {},
    ...over,
  };
}
