import { z } from 'zod';
import type { SourceFactory } from './contract.ts';

/** Source kinds: options checked at load time, code imported only when used. */
export interface SourceKind {
  options: z.ZodType<Record<string, unknown>>;
  load(): Promise<SourceFactory>;
}

export const sourceKinds: Record<string, SourceKind> = {
  /**
   * A simulated LHC for demos and tests. `seed`, `first_run`, `first_fill`,
   * `backlog` and `int_lumi_fb` shape the start of a simulation; once it has a
   * cursor, it continues from there.
   */
  simulator: {
    options: z
      .object({
        /** Seed of the generator: the same seed gives the same runs (default 1). */
        seed: z.number().int().optional(),
        /** First run number (default 355100). */
        first_run: z.number().int().positive().optional(),
        /** First fill number (default 8033). */
        first_fill: z.number().int().positive().optional(),
        /**
         * Simulated seconds of data taking per real second (default 1200: a run
         * ends every 4 real seconds on average). Run times are simulated times,
         * so they run ahead of the wall clock.
         */
        speed: z.number().positive().optional(),
        /** Mean run length in simulated minutes (default 60). */
        run_minutes: z.number().positive().optional(),
        /** Collision runs per fill on average (default 4). */
        runs_per_fill: z.number().positive().optional(),
        /** Runs already ended at the first poll, so a fresh deployment has work at once (default 2). */
        backlog: z.number().int().nonnegative().optional(),
        /** Luminosity delivered before the simulation starts, /fb (default 10): the detector's past damage. */
        int_lumi_fb: z.number().nonnegative().optional(),
        /** `global_tag` in every run's metadata (default `130X_dataRun3_Prompt_v3`). */
        global_tag: z.string().min(1).optional(),
      })
      .strict(),
    load: async () => (await import('./simulator/index.ts')).createSimulatorSource,
  },
};
