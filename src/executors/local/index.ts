import { availableParallelism } from 'node:os';
import { dataDirStoreId } from '../../data-dir.ts';
import type { ExecutorFactory } from '../contract.ts';
import { LocalExecutor } from './local-executor.ts';

export { ExecutorError } from './errors.ts';
export { LocalExecutor, type LocalExecutorOptions } from './local-executor.ts';

/**
 * `kind: local`: jobs are child processes of the controller's machine. Options: `slots` (or
 * `max_jobs`), `queue`. Its jobs' markers name the store that claimed the data directory (`data-dir.ts`).
 */
export const createLocalExecutor: ExecutorFactory = async (name, options, ctx) => {
  const slots =
    ctx.maxJobs ?? (typeof options.slots === 'number' ? options.slots : availableParallelism());
  return new LocalExecutor(name, {
    slots,
    ...(typeof options.queue === 'number' ? { queue: options.queue } : {}),
    logger: ctx.logger,
    storeId: await dataDirStoreId(ctx.dataDir),
    ...(ctx.pollIntervalMs === null ? {} : { pollIntervalMs: ctx.pollIntervalMs }),
  });
};
