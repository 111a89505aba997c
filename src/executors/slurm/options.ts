import { z } from 'zod';
import { durationSchema } from '../../config/duration.ts';
import { reservedOption, type SlurmOptions } from './sbatch-args.ts';

/** The options of a `type: slurm` executor section (besides the core's `max_jobs`, `poll_interval`, `lost_after`). */
export const slurmOptionsSchema = z
  .object({
    partition: z.string().min(1).optional(),
    account: z.string().min(1).optional(),
    qos: z.string().min(1).optional(),
    /** Extra sbatch options for every job, e.g. [--mem=2G, --constraint=el9]. */
    sbatch_args: z
      .array(z.string().min(1))
      .optional()
      .superRefine((args, ctx) => {
        for (const [i, arg] of (args ?? []).entries()) {
          const reserved = reservedOption(arg);
          if (reserved !== null)
            ctx.addIssue({
              code: 'custom',
              path: [i],
              message: `${reserved} is set by autoctrl for every job: leave it out`,
            });
        }
      }),
    /** Slurm's configuration file for the commands (their SLURM_CONF); default theirs. */
    slurm_conf: z.string().min(1).optional(),
    /** How long sbatch, squeue, sacct or scancel may take before Slurm counts as unavailable (default 30s). */
    command_timeout: durationSchema('positive').optional(),
    /** Most jobs in one Slurm array (default 1000; the site's MaxArraySize - 1 at most). */
    max_array_size: z.number().int().min(1).max(4_000_000).optional(),
  })
  .strict();

export const SLURM_DEFAULTS = {
  maxJobs: 1000,
  pollIntervalMs: 10_000,
  commandTimeoutMs: 30_000,
  maxArraySize: 1000,
} as const;

/** The section as the executor uses it (already checked when the file was loaded). */
export function resolveSlurmOptions(raw: Record<string, unknown>): SlurmOptions {
  const o = slurmOptionsSchema.parse(raw);
  return {
    partition: o.partition ?? null,
    account: o.account ?? null,
    qos: o.qos ?? null,
    sbatchArgs: o.sbatch_args ?? [],
    slurmConf: o.slurm_conf ?? null,
    commandTimeoutMs: o.command_timeout ?? SLURM_DEFAULTS.commandTimeoutMs,
    maxArraySize: o.max_array_size ?? SLURM_DEFAULTS.maxArraySize,
  };
}
