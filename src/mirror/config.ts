import { z } from 'zod';
import { durationSchema } from '../config/duration.ts';
import type { Deployment, TaskConfig } from '../config/types.ts';
import { absoluteFrom, mirrorFromOptions } from './options.ts';

/** The name of the source and of the executor a `mirror:` section adds. */
export const MIRROR = 'mirror';
const DEFAULT_INTERVAL_MS = 30_000;

/** `mirror:` in the deployment file. */
export const mirrorSection = mirrorFromOptions.extend({
  /** The tasks this deployment runs itself; every other task is taken from prod. */
  tasks: z.array(z.string().min(1)).min(1, 'list the tasks dev runs itself (the ones under test)'),
  /** Runs before this one are not mirrored (default: all of prod's). */
  first_run: z.number().int().positive().optional(),
  /** How often prod is read for new runs and for the results dev takes (default 30s). */
  interval: durationSchema('positive').optional(),
});

export type MirrorSection = z.output<typeof mirrorSection>;

/** What `mirror:` resolves to, kept on the deployment for people and `diff-env`. */
export interface MirrorConfig {
  /** Prod's API URL or store URL (a SQLite path made absolute). */
  from: string;
  tokenEnv: string | null;
  /** The tasks dev runs itself. */
  tasks: string[];
  /** The tasks taken from prod (every other one). */
  taken: string[];
}

/**
 * A dev mirror: prod's runs come in through a `mirror` source, and the tasks
 * not under test run on a `mirror` executor that takes prod's results
 * instead of computing them (no locks, no timeout: prod did that). The
 * tasks under test are left as written. Returns the deployment unchanged
 * without a `mirror:` section.
 */
export function applyMirror(d: Deployment, section: MirrorSection | null | undefined): Deployment {
  if (section == null) return d;
  const from = absoluteFrom(section.from, d.dir);
  const interval = section.interval ?? DEFAULT_INTERVAL_MS;
  const common = {
    from,
    ...(section.token_env !== undefined ? { token_env: section.token_env } : {}),
  };
  const runs = new Set(section.tasks);
  const take = (t: TaskConfig): TaskConfig =>
    runs.has(t.name)
      ? t
      : {
          ...t,
          executor: MIRROR,
          locks: [],
          container: null,
          retries: 0,
          timeoutMs: null,
          maxQueueMs: null,
        };
  return {
    ...d,
    sources: {
      ...d.sources,
      [MIRROR]: {
        type: MIRROR,
        intervalMs: interval,
        options: {
          ...common,
          ...(section.first_run !== undefined ? { first_run: section.first_run } : {}),
        },
      },
    },
    executors: {
      ...d.executors,
      [MIRROR]: {
        type: MIRROR,
        maxJobs: null,
        pollIntervalMs: interval,
        lostAfterMs: 600_000,
        options: common,
      },
    },
    tasks: d.tasks.map(take),
    mirror: {
      from,
      tokenEnv: section.token_env ?? null,
      tasks: section.tasks,
      taken: d.tasks.filter((t) => !runs.has(t.name)).map((t) => t.name),
    },
  };
}
