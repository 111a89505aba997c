import type { Logger } from '../logger.ts';
import type { RunInput } from '../model/types.ts';

/**
 * The `Source` contract: where runs come from. The engine calls `poll` with
 * the cursor the source returned last time (kept in the store), stores the
 * runs and the new cursor, so nothing is missed or taken twice across restarts.
 *
 * What the core may assume:
 * - `poll` returns runs in any order; returning a run again is harmless
 *   (unchanged runs are ignored, changed ones are updated).
 * - `poll` throws on failure and leaves the cursor to the caller: a failed poll
 *   is retried at the next interval with the old cursor.
 */
export interface Source {
  readonly name: string;
  poll(cursor: string | null, now: number): Promise<SourcePoll>;
  close?(): Promise<void>;
}

export interface SourcePoll {
  runs: RunInput[];
  /** Opaque state for the next poll; null keeps the previous one. */
  cursor: string | null;
}

export interface SourceContext {
  logger: Logger;
  /** The deployment's directory, for relative paths. */
  dir: string;
}

export type SourceFactory = (
  name: string,
  options: Record<string, unknown>,
  ctx: SourceContext,
) => Promise<Source>;
