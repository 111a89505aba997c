import { z } from 'zod';
import { mirrorFromOptions } from '../mirror/options.ts';
import type { ExecutorFactory } from './contract.ts';
import { templateProblems } from './htcondor/template-check.ts';
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
  /**
   * What is wrong with the files its options name on this machine (a
   * template it reads at start), by option key; checked where `validate`
   * checks paths, so that `serve` does not refuse what `validate` accepted.
   * `dir` is the deployment file's directory. Synchronous, cheap, no network.
   */
  checkFiles?(
    options: Record<string, unknown>,
    dir: string,
  ): Array<{ key: string; message: string }>;
  load(): Promise<ExecutorFactory>;
}

export const executorKinds: Record<string, ExecutorKind> = {
  local: {
    options: z
      .object({
        /** Jobs run at once; default the number of cores. `max_jobs` says the same. */
        slots: z.number().int().positive().optional(),
        /**
         * Jobs handed over beyond the slots, each started the moment a slot frees
         * without waiting for the engine; default as many as the slots, at least 16; 0 for none.
         */
        queue: z.number().int().nonnegative().optional(),
        /** The host whose controller runs this executor's jobs (needed with several controllers). */
        host: z.string().min(1).optional(),
      })
      .strict(),
    hostScoped: true,
    load: async () => (await import('./local/index.ts')).createLocalExecutor,
  },
  htcondor: {
    options: z
      .object({
        /** The user's submit description (the seed's `template.sub`), relative to the deployment file. */
        submit_template: z.string().min(1).optional(),
        /** `condor_* -name`: a schedd other than the local one. */
        schedd: z.string().min(1).optional(),
        /** `condor_* -pool`: the central manager to find the schedd through. */
        pool: z.string().min(1).optional(),
        /** Workers see the controller's paths (AFS, EOS); false: inputs and out/ are transferred. */
        shared_fs: z.boolean().optional(),
        /** Seconds a condor_* command may take before the schedd counts as unavailable. */
        command_timeout: z.number().positive().optional(),
        /** Least seconds between two condor_q checks for jobs the event log does not account for. */
        queue_check: z.number().positive().optional(),
      })
      .strict(),
    checkFiles: templateProblems,
    load: async () => (await import('./htcondor/index.ts')).createHTCondorExecutor,
  },
  /** A dev mirror's tasks taken from prod (`mirror:` in the deployment file sets it up). */
  mirror: {
    options: mirrorFromOptions,
    load: async () => (await import('./mirror/index.ts')).createMirrorExecutor,
  },
  slurm: {
    options: slurmOptionsSchema,
    load: async () => (await import('./slurm/index.ts')).createSlurmExecutor,
  },
};
