import { z } from 'zod';
import type { ExecutorFactory } from './contract.ts';
import { slurmOptionsSchema } from './slurm/options.ts';

/**
 * Executor kinds: the options each accepts (checked when the deployment file
 * is loaded) and a loader, so a backend's code and drivers are imported only
 * when a deployment uses it.
 */
export interface ExecutorKind {
  options: z.ZodType<Record<string, unknown>>;
  /**
   * Its jobs run on the controller's own machine: with several controllers,
   * the deployment must pin it to one host (a `host` option).
   */
  hostScoped?: boolean;
  load(): Promise<ExecutorFactory>;
}

export const executorKinds: Record<string, ExecutorKind> = {
  local: {
    options: z
      .object({
        /** Jobs run at once; default the number of cores. `max_jobs` says the same. */
        slots: z.number().int().positive().optional(),
        /** The host whose controller runs this executor's jobs (needed with several controllers). */
        host: z.string().min(1).optional(),
      })
      .strict(),
    hostScoped: true,
    load: async () => (await import('./local/index.ts')).createLocalExecutor,
  },
  slurm: {
    options: slurmOptionsSchema,
    load: async () => (await import('./slurm/index.ts')).createSlurmExecutor,
  },
};
