import type { JobLaunch } from '../contract.ts';

/** The `type: slurm` section of the deployment file, resolved. */
export interface SlurmOptions {
  partition: string | null;
  account: string | null;
  qos: string | null;
  /** Passed to every sbatch before autoctrl's own options. */
  sbatchArgs: readonly string[];
  /** `SLURM_CONF` for Slurm's commands; null: theirs (the environment, /etc/slurm). */
  slurmConf: string | null;
  /** How long a Slurm command may take before Slurm counts as unavailable. */
  commandTimeoutMs: number;
  /** Most tasks in one array (Slurm's MaxArraySize is 1001 by default: indexes 0-1000). */
  maxArraySize: number;
}

/**
 * sbatch options autoctrl sets itself, or that would break what it relies
 * on (one run per attempt, its own naming, logs and environment): refused
 * in `sbatch_args` and in a task's `resources`.
 */
const RESERVED_LONG = [
  'job-name',
  'output',
  'error',
  'input',
  'chdir',
  'export',
  'export-file',
  'get-user-env',
  'array',
  'parsable',
  'wrap',
  'requeue',
  'no-requeue',
  'hold',
  'time',
  'open-mode',
  'wait',
  'test-only',
];
const RESERVED_SHORT = ['J', 'o', 'e', 'i', 'D', 'a', 'H', 't', 'W'];

/** The reserved option an sbatch argument sets, or null. */
export function reservedOption(arg: string): string | null {
  const long = /^--([a-z-]+)(=|$)/.exec(arg);
  if (long?.[1] !== undefined && RESERVED_LONG.includes(long[1])) return `--${long[1]}`;
  const short = /^-([A-Za-z])/.exec(arg);
  if (short?.[1] !== undefined && !arg.startsWith('--') && RESERVED_SHORT.includes(short[1]))
    return `-${short[1]}`;
  return null;
}

/** A task's `resources` as sbatch options (`mem: 4G` → `--mem=4G`, `cpus_per_task` → `--cpus-per-task`). */
export function resourceArgs(resources: JobLaunch['resources']): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(resources)) {
    if (!/^[a-z][a-z0-9_-]*$/.test(key))
      throw new Error(`resource ${key} is not an sbatch option (lower-case, like mem or gres)`);
    const arg = `--${key.replaceAll('_', '-')}=${value}`;
    const reserved = reservedOption(arg);
    if (reserved !== null) throw new Error(`resource ${key}: ${reserved} is set by autoctrl`);
    args.push(arg);
  }
  return args;
}

/** Slurm counts time limits in whole minutes: a limit is rounded up, never down. */
export function timeLimitMinutes(ms: number): number {
  return Math.max(1, Math.ceil(ms / 60_000));
}

/** `%` starts a pattern in sbatch's file names (`%j`, `%a`): a literal one is `%%`. */
export function escapeFilePattern(path: string): string {
  return path.replaceAll('%', '%%');
}

/**
 * The options a group of launches shares (all but the name, output, array
 * and directory: the batch script enters each task's own): launches of one
 * instance normally share them all, so they go as one array.
 */
export function sharedArgs(opts: SlurmOptions, launch: JobLaunch): string[] {
  return [
    ...opts.sbatchArgs,
    ...(opts.partition === null ? [] : [`--partition=${opts.partition}`]),
    ...(opts.account === null ? [] : [`--account=${opts.account}`]),
    ...(opts.qos === null ? [] : [`--qos=${opts.qos}`]),
    ...resourceArgs(launch.resources),
    ...(launch.timeoutMs === null ? [] : [`--time=${timeLimitMinutes(launch.timeoutMs)}`]),
  ];
}
