import { z } from 'zod';
import type { ExecutorFactory } from './contract.ts';

/**
 * Executor kinds: the options each accepts (checked when the deployment file
 * is loaded) and a loader, so a backend's code and drivers are imported only
 * when a deployment uses it.
 */
export interface ExecutorKind {
  options: z.ZodType<Record<string, unknown>>;
  load(): Promise<ExecutorFactory>;
}

export const executorKinds: Record<string, ExecutorKind> = {
  local: {
    options: z
      .object({
        /** Jobs run at once; default the number of cores. */
        slots: z.number().int().positive().optional(),
      })
      .strict(),
    load: async () => (await import('./local/index.ts')).createLocalExecutor,
  },
};
