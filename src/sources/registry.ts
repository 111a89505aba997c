import { z } from 'zod';
import { AutoctrlError } from '../errors.ts';
import { mirrorSourceOptions } from '../mirror/options.ts';
import { commandOptions } from './command/options.ts';
import type { SourceFactory } from './contract.ts';
import { directoryOptions } from './directory/options.ts';
import { httpOptions } from './http/options.ts';

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
  /** A JSON endpoint polled for runs, with field mapping, a filter and incremental queries. */
  http: {
    options: httpOptions,
    load: async () => (await import('./http/index.ts')).createHttpSource,
  },
  /** An argv that prints runs as JSON lines. */
  command: {
    options: commandOptions,
    load: async () => (await import('./command/index.ts')).createCommandSource,
  },
  /** Another deployment's runs, read-only (a dev mirror's; `mirror:` in the deployment file sets it up). */
  mirror: {
    options: mirrorSourceOptions,
    load: async () => (await import('./mirror/index.ts')).createMirrorSource,
  },
  /** New files in a directory: one run per file, or JSON manifests. */
  directory: {
    options: directoryOptions,
    load: async () => (await import('./directory/index.ts')).createDirectorySource,
  },
};

const BUILT_IN = 'built-in';
/** Where each kind comes from (`built-in` or a plugin's path), to name both sides of a clash. */
const origins = new Map<string, string>(Object.keys(sourceKinds).map((k) => [k, BUILT_IN]));

/** Two definitions of one source type. */
export class SourceKindConflictError extends AutoctrlError {
  constructor(
    readonly type: string,
    readonly origin: string,
    readonly existing: string,
  ) {
    super(
      'source_kind_conflict',
      existing === BUILT_IN
        ? `source type '${type}' from ${origin} is a built-in type: give the plugin's source another type name`
        : `source type '${type}' is defined by both ${existing} and ${origin}: rename one or list only one plugin`,
    );
  }
}

/**
 * Adds a source type (from a plugin). Registering the same type again from
 * the same origin replaces it, so loading a deployment twice is harmless.
 */
export function registerSourceKind(type: string, kind: SourceKind, origin: string): void {
  const existing = origins.get(type);
  if (existing !== undefined && existing !== origin) {
    throw new SourceKindConflictError(type, origin, existing);
  }
  origins.set(type, origin);
  sourceKinds[type] = kind;
}

/** `built-in`, a plugin's path, or undefined for an unknown type. */
export function sourceKindOrigin(type: string): string | undefined {
  return origins.get(type);
}
