import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ExecutorUnavailableError } from '../../errors.ts';
import { makeDirs } from '../../fs-util.ts';
import type { Logger } from '../../logger.ts';
import type { JobLaunch, SubmitAnswer } from '../contract.ts';
import { ExecutorError } from '../local/errors.ts';
import { stageOnSharedFs } from '../shared/staging.ts';
import type { SlurmCommands } from './commands.ts';
import { escapeFilePattern, type SlurmOptions, sharedArgs } from './sbatch-args.ts';
import { launchProblem, taskFilePath, taskFileText } from './task-file.ts';

export interface SubmitContext {
  executor: string;
  opts: SlurmOptions;
  commands: SlurmCommands;
  log: Logger;
  /** The batch script's path (written once; sbatch sends its text to slurmctld). */
  script: () => Promise<string>;
}

/**
 * Hands a batch over: launches that share their sbatch options (normally all
 * of one instance) go as one array (or one job, alone), up to
 * `maxArraySize` each. Answers per launch, in order.
 */
export async function submitBatch(
  ctx: SubmitContext,
  batch: readonly JobLaunch[],
): Promise<SubmitAnswer[]> {
  const answers: SubmitAnswer[] = batch.map(() => ({ executorId: null }));
  const groups = new Map<string, { shared: string[]; at: number[] }>();
  for (const [i, launch] of batch.entries()) {
    try {
      const problem = launchProblem(launch);
      if (problem !== null) throw new Error(problem);
      const shared = sharedArgs(ctx.opts, launch);
      const key = JSON.stringify(shared);
      const group = groups.get(key) ?? { shared, at: [] };
      group.at.push(i);
      groups.set(key, group);
    } catch (err) {
      answers[i] = { error: new ExecutorError(ctx.executor, launch.jobId, (err as Error).message) };
    }
  }
  for (const { shared, at } of groups.values()) {
    for (let start = 0; start < at.length; start += ctx.opts.maxArraySize) {
      const chunk = at.slice(start, start + ctx.opts.maxArraySize);
      const got = await submitGroup(
        ctx,
        chunk.map((i) => batch[i] as JobLaunch),
        shared,
      );
      for (const [k, i] of chunk.entries()) answers[i] = got[k] as SubmitAnswer;
    }
  }
  return answers;
}

/** The work area, the log's directory (when it is elsewhere), then the task file. */
async function prepare(l: JobLaunch, name: string, index: number | null): Promise<string> {
  await stageOnSharedFs(l);
  if (dirname(l.logPath) !== l.workDir) await makeDirs(dirname(l.logPath));
  const file = taskFilePath(l.workDir, l.attempt);
  await writeFile(file, taskFileText(l, name, index));
  return file;
}

/** `0-4,6-9`: the indexes of an array whose other tasks could not be prepared. */
function arraySpec(indexes: readonly number[]): string {
  const ranges: string[] = [];
  for (let i = 0; i < indexes.length; ) {
    let j = i;
    while (j + 1 < indexes.length && (indexes[j + 1] as number) === (indexes[j] as number) + 1) j++;
    ranges.push(i === j ? `${indexes[i]}` : `${indexes[i]}-${indexes[j]}`);
    i = j + 1;
  }
  return ranges.join(',');
}

/**
 * One sbatch for launches sharing their options: a job alone, or an array
 * (task index = position in `launches`). A launch whose preparation fails
 * fails alone, and its index is left out of the array.
 */
async function submitGroup(
  ctx: SubmitContext,
  launches: readonly JobLaunch[],
  shared: readonly string[],
): Promise<SubmitAnswer[]> {
  const answers: SubmitAnswer[] = launches.map(() => ({ executorId: null }));
  const first = launches[0] as JobLaunch;
  const array = launches.length > 1;
  // An array's tasks share one name: it names the first job and how many follow.
  const name = array ? `${first.name}+${launches.length - 1}` : first.name;
  let target: string;
  let output: string;
  const taskFiles: Array<string | null> = launches.map(() => null);
  const prepared = async (k: number, extra?: (file: string) => Promise<unknown>) => {
    const l = launches[k] as JobLaunch;
    try {
      const file = await prepare(l, name, array ? k : null);
      await extra?.(file);
      taskFiles[k] = file;
    } catch (err) {
      answers[k] = { error: err as Error };
    }
  };
  if (array) {
    // Slurm gives an array one --output pattern: per task, a link to that task's file and log.
    try {
      await stageOnSharedFs(first);
      target = await mkdtemp(join(first.workDir, 'slurm-array-'));
    } catch (err) {
      return launches.map(() => ({ error: err as Error }));
    }
    await Promise.all(
      launches.map((l, k) =>
        prepared(k, (file) =>
          Promise.all([
            symlink(file, join(target, `${k}.task`)),
            symlink(l.logPath, join(target, `${k}.log`)),
          ]),
        ),
      ),
    );
    output = `${escapeFilePattern(target)}/%a.log`;
  } else {
    await prepared(0);
    target = taskFiles[0] ?? '';
    output = escapeFilePattern(first.logPath);
  }
  const ready = taskFiles.flatMap((f, k) => (f === null ? [] : [k]));
  if (ready.length === 0) return answers;
  const args = [
    '--parsable',
    ...shared,
    `--job-name=${name}`,
    `--chdir=${first.cwd}`,
    `--output=${output}`,
    '--open-mode=append',
    '--no-requeue',
    // The script's own environment is sbatch's (PATH, SLURM_CONF): the job's comes from its task file.
    '--export=ALL',
    ...(array ? [`--array=${arraySpec(ready)}`] : []),
    await ctx.script(),
    target,
  ];
  let stdout: string;
  try {
    ({ stdout } = await ctx.commands.run('sbatch', args));
  } catch (err) {
    // Unanswered: the jobs may have arrived; status() finds them by their task files.
    if (err instanceof ExecutorUnavailableError) throw err;
    // Refused: nothing was submitted, so no task file may say otherwise.
    for (const k of ready) {
      await rm(taskFiles[k] as string, { force: true });
      const { jobId } = launches[k] as JobLaunch;
      answers[k] = {
        error: new ExecutorError(ctx.executor, jobId, (err as Error).message, { cause: err }),
      };
    }
    return answers;
  }
  const id = /^(\d+)(;.*)?$/.exec(stdout.trim())?.[1];
  if (id === undefined) {
    ctx.log.warn({ stdout }, 'sbatch --parsable printed no job id: ids are learnt from squeue');
    return answers;
  }
  ctx.log.info({ slurmJob: id, name, jobs: ready.length }, 'submitted to Slurm');
  for (const k of ready) answers[k] = { executorId: array ? `${id}_${k}` : id };
  return answers;
}
