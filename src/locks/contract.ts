import type { z } from 'zod';
import type { Logger } from '../logger.ts';
import type { Run } from '../model/types.ts';
import type { StateStore } from '../store/contract.ts';

/**
 * The lock contract: a condition outside autoctrl that must hold before an
 * instance starts (a conditions-DB tag covers the run, Tier-0 finished a
 * dataset stage, a file exists, a time has passed). Built-in kinds live in
 * `locks/<kind>.ts`; sites add theirs with `defineLock` in a plugin.
 *
 * What the core may assume of every lock:
 * - `check` never throws for a condition that does not hold: it answers
 *   `{ open: false, reason }`, the reason written for a person ("global tag
 *   130X_v3 does not cover run 355104 yet"). If it throws anyway (a bug, a
 *   network error), the engine treats it as closed, with the error as reason.
 * - `key(target)` names what is actually asked: two targets with the same key
 *   get the same answer within one pass, so a lock shared by many instances
 *   is asked once per pass.
 * - `check` honours `signal`: the engine aborts a check after `checkTimeoutMs`
 *   and counts it as closed, whether or not the check notices.
 */
export interface Lock {
  key(target: LockTarget): string;
  check(target: LockTarget, signal: AbortSignal, pass: PassMemo): Promise<LockResult>;
  /** How long one check may take (default 30 s). */
  readonly checkTimeoutMs?: number;
}

/**
 * Work shared by the checks of one lock within one pass, for answers that
 * serve targets with different keys: one GET of a global tag's IOVs answers
 * "does it cover run N" for every N.
 */
export interface PassMemo {
  /** `compute()` once per pass for `key` (its promise, rejection included, is shared). */
  once<T>(key: string, compute: () => Promise<T>): Promise<T>;
}

export interface LockTarget {
  campaign: string;
  task: string;
  instanceId: number;
  /** The instance's runs, ascending, with their fields. */
  runs: readonly Run[];
  now: number;
}

export interface LockResult {
  open: boolean;
  /** Why it is closed (or what was found, when open). */
  reason: string;
  /**
   * Input files the open lock found for the instance (the run's files in a
   * file catalogue): a task with `jobs: { per: input }` gets one job per
   * file, after its upstream outputs. Read only when the lock is open, and
   * only when the instance starts: retries keep their file.
   */
  inputs?: readonly string[];
}

export interface LockContext {
  logger: Logger;
  /** The deployment's directory, for relative paths. */
  dir: string;
  store: StateStore;
}

/**
 * A lock kind: its options schema (checked when the deployment loads, and
 * parsed again before `create`, so `create` gets the schema's output) and a
 * factory. `defineLock` gives plugins this shape with full types.
 */
export interface LockKind<S extends z.ZodType = z.ZodType> {
  kind: string;
  options: S;
  create(options: z.output<S>, ctx: LockContext): Lock | Promise<Lock>;
}

/**
 * Types a built-in lock kind: `options` of `create` are inferred from the
 * schema. Plugins use `defineLock` from the package (`plugins/define.ts`),
 * which also marks the kind as a plugin's.
 */
export function lockKind<S extends z.ZodType>(kind: LockKind<S>): LockKind<S> {
  return kind;
}
