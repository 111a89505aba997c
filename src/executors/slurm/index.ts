import type { ExecutorFactory } from '../contract.ts';
import { resolveSlurmOptions, SLURM_DEFAULTS } from './options.ts';
import { SlurmExecutor } from './slurm-executor.ts';

export { SlurmCommandError, SlurmOutputError } from './commands.ts';
export { SlurmExecutor } from './slurm-executor.ts';

/**
 * `type: slurm`. Options: `partition`, `account`, `qos`, `sbatch_args`,
 * `slurm_conf`, `command_timeout`, `max_array_size`; `max_jobs` (default
 * 1000) and `poll_interval` (default 10s) as for every executor.
 */
export const createSlurmExecutor: ExecutorFactory = async (name, options, ctx) =>
  new SlurmExecutor(name, {
    ...resolveSlurmOptions(options),
    maxJobs: ctx.maxJobs ?? SLURM_DEFAULTS.maxJobs,
    pollIntervalMs: ctx.pollIntervalMs ?? SLURM_DEFAULTS.pollIntervalMs,
    dataDir: ctx.dataDir,
    logger: ctx.logger,
  });
