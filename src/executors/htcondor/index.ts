import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { makeDirs } from '../../fs-util.ts';
import type { ExecutorFactory } from '../contract.ts';
import { CondorCli } from './commands.ts';
import { HTCondorExecutor } from './htcondor-executor.ts';
import { WRAPPER_NAME, WRAPPER_SCRIPT } from './quoting.ts';
import { checkTemplate, loadTemplate } from './submit-file.ts';

export { HTCondorExecutor } from './htcondor-executor.ts';

/** Options of `type: htcondor`, as the registry validated them. */
export interface HTCondorOptions {
  submit_template?: string;
  schedd?: string;
  pool?: string;
  shared_fs?: boolean;
  command_timeout?: number;
  queue_check?: number;
}

const DEFAULTS = {
  maxJobs: 5000,
  /** Reading event logs is cheap: a `stat` per batch. */
  pollIntervalMs: 5_000,
  commandTimeoutMs: 60_000,
  queueCheckMs: 300_000,
};

/** Written once per executor: the launcher for values a submit line cannot carry. */
async function writeWrapper(dir: string): Promise<string> {
  const path = join(dir, WRAPPER_NAME);
  const current = await readFile(path, 'utf8').catch(() => null);
  if (current !== WRAPPER_SCRIPT) await writeFile(path, WRAPPER_SCRIPT, { mode: 0o755 });
  return path;
}

/**
 * `type: htcondor`: jobs go to an HTCondor schedd through `condor_submit`
 * and are followed through their event logs. Options: `submit_template`,
 * `schedd`, `pool`, `shared_fs` (default true), `command_timeout` and
 * `queue_check` (seconds).
 */
export const createHTCondorExecutor: ExecutorFactory = async (name, options, ctx) => {
  const o = options as HTCondorOptions;
  const sharedFs = o.shared_fs ?? true;
  const template =
    o.submit_template === undefined
      ? null
      : await loadTemplate(resolve(ctx.configDir ?? process.cwd(), o.submit_template));
  if (template !== null) checkTemplate(template, sharedFs);
  const dir = join(ctx.dataDir, 'htcondor', name);
  await makeDirs(dir);
  const timeoutMs = (o.command_timeout ?? DEFAULTS.commandTimeoutMs / 1000) * 1000;
  return new HTCondorExecutor(name, {
    cli: new CondorCli(name, { schedd: o.schedd ?? null, pool: o.pool ?? null }, timeoutMs),
    logger: ctx.logger,
    dir,
    wrapper: await writeWrapper(dir),
    template,
    sharedFs,
    maxJobs: ctx.maxJobs ?? DEFAULTS.maxJobs,
    pollIntervalMs: ctx.pollIntervalMs ?? DEFAULTS.pollIntervalMs,
    queueCheckMs: Math.max(
      ctx.pollIntervalMs ?? 0,
      (o.queue_check ?? DEFAULTS.queueCheckMs / 1000) * 1000,
    ),
  });
};
