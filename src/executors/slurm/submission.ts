import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ExecutorUnavailableError, InfrastructureError } from '../../errors.ts';
import { makeDirs } from '../../fs-util.ts';
import type { Logger } from '../../logger.ts';
import { forEachLimited } from '../../parallel.ts';
import type { JobLaunch, SubmitAnswer } from '../contract.ts';
import { ExecutorError } from '../local/errors.ts';
import type { SlurmCommands } from './commands.ts';
import { escapeFilePattern, type SlurmOptions, sharedArgs } from './sbatch-args.ts';
import {
  ARRAY_TASKS,
  arrayLogLink,
  launchProblem,
  splitInputs,
  taskFilePath,
  taskFileText,
} from './task-file.ts';

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

/** Files made at once at most: enough to keep libuv's threads busy, few enough not to hold thousands of buffers. */
const PARALLEL_FS = 16;

/**
 * The job's work directory and its log's, made by the controller because
 * Slurm opens the log before the job runs (the job makes `out/` and its
 * inputs file itself). One `mkdir` when the parent exists (the jobs of a
 * task share it), `mkdir -p` otherwise.
 */
async function makeWorkDirs(l: JobLaunch): Promise<void> {
  await mkdir(l.workDir).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') return;
    if (err.code !== 'ENOENT') throw err;
    await makeDirs(l.workDir);
  });
  if (dirname(l.logPath) !== l.workDir) await makeDirs(dirname(l.logPath));
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
  const first = launches[0] as JobLaunch;
  const array = launches.length > 1;
  // An array's tasks share one name: it names the first job and how many follow.
  const name = array ? `${first.name}+${launches.length - 1}` : first.name;
  const answers: SubmitAnswer[] = launches.map(() => ({ executorId: null }));
  let prepared: { target: string; output: string; markers: Array<string | null> };
  try {
    prepared = array
      ? await prepareArray(launches, name, answers)
      : await prepareAlone(first, name);
  } catch (err) {
    const error = new InfrastructureError(
      `preparing Slurm job ${name} in ${first.workDir}`,
      err instanceof Error ? err.message : String(err),
      { cause: err },
    );
    return launches.map(() => ({ error }));
  }
  const { target, output, markers } = prepared;
  const ready = markers.flatMap((f, k) => (f === null ? [] : [k]));
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
    // Unanswered: the jobs may have arrived; status() finds them by their markers.
    if (err instanceof ExecutorUnavailableError) throw err;
    // Refused: nothing was submitted, so no marker may say otherwise.
    await forEachLimited(ready, PARALLEL_FS, async (k) => {
      await rm(markers[k] as string, { force: true });
      const { jobId } = launches[k] as JobLaunch;
      answers[k] = {
        error: new ExecutorError(ctx.executor, jobId, (err as Error).message, { cause: err }),
      };
    });
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

/** A job alone: its work directory, then its task file (which is also its marker). */
async function prepareAlone(l: JobLaunch, name: string) {
  await makeWorkDirs(l);
  const file = taskFilePath(l.workDir, l.attempt);
  await writeFile(file, taskFileText([l], name));
  return { target: file, output: escapeFilePattern(l.logPath), markers: [file] };
}

/**
 * An array: a directory (in the first job's work directory) with the one
 * task file of all tasks and the inputs head(s); then per job its work
 * directory, the log link Slurm's one `--output` pattern opens, and the
 * marker: three file-system operations per job. A job whose own part fails
 * gets its error in `answers` and no marker.
 */
async function prepareArray(launches: readonly JobLaunch[], name: string, answers: SubmitAnswer[]) {
  const first = launches[0] as JobLaunch;
  await makeWorkDirs(first);
  const dir = await mkdtemp(join(first.workDir, 'slurm-array-'));
  const heads = new Map<string, string>();
  const headOf = launches.map((l) => {
    const { head } = splitInputs(l);
    const file = heads.get(head) ?? join(dir, `inputs.${heads.size}.head`);
    heads.set(head, file);
    return file;
  });
  await Promise.all([...heads].map(([text, file]) => writeFile(file, text)));
  await writeFile(join(dir, ARRAY_TASKS), taskFileText(launches, name, headOf));
  const markers: Array<string | null> = launches.map(() => null);
  await forEachLimited(launches, PARALLEL_FS, async (l, k) => {
    try {
      if (k > 0) await makeWorkDirs(l);
      const link = arrayLogLink(dir, k);
      await symlink(l.logPath, link);
      const marker = taskFilePath(l.workDir, l.attempt);
      await symlink(link, marker);
      markers[k] = marker;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      answers[k] = {
        error: new InfrastructureError(`staging job ${l.jobId} in ${l.workDir}`, why, {
          cause: err,
        }),
      };
    }
  });
  return { target: dir, output: `${escapeFilePattern(dir)}/%a.log`, markers };
}
