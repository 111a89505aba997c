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

/** The work area, the log's directory and the task file of each launch; a launch that fails here fails alone. */
async function stage(launches: readonly JobLaunch[], answers: SubmitAnswer[]): Promise<number[]> {
  const results = await Promise.allSettled(
    launches.map(async (l) => {
      await stageOnSharedFs(l);
      await makeDirs(dirname(l.logPath));
    }),
  );
  const ready: number[] = [];
  for (const [k, r] of results.entries()) {
    if (r.status === 'fulfilled') ready.push(k);
    else answers[k] = { error: r.reason as Error };
  }
  return ready;
}

async function submitGroup(
  ctx: SubmitContext,
  launches: readonly JobLaunch[],
  shared: readonly string[],
): Promise<SubmitAnswer[]> {
  const answers: SubmitAnswer[] = launches.map(() => ({ executorId: null }));
  const readyAt = await stage(launches, answers);
  const ready = readyAt.map((k) => launches[k] as JobLaunch);
  if (ready.length === 0) return answers;
  const first = ready[0] as JobLaunch;
  const array = ready.length > 1;
  // An array's tasks share one name: it names the first job and how many follow.
  const name = array ? `${first.name}+${ready.length - 1}` : first.name;
  const taskFiles = ready.map((l) => taskFilePath(l.workDir, l.attempt));
  await Promise.all(
    ready.map((l, i) => writeFile(taskFiles[i] as string, taskFileText(l, name, array ? i : null))),
  );
  let target: string;
  let output: string;
  if (array) {
    // Slurm gives an array one --output pattern: per task, a link to that task's file and log.
    target = await mkdtemp(join(first.workDir, 'slurm-array-'));
    await Promise.all(
      ready.flatMap((l, i) => [
        symlink(taskFiles[i] as string, join(target, `${i}.task`)),
        symlink(l.logPath, join(target, `${i}.log`)),
      ]),
    );
    output = `${escapeFilePattern(target)}/%a.log`;
  } else {
    target = taskFiles[0] as string;
    output = escapeFilePattern(first.logPath);
  }
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
    ...(array ? [`--array=0-${ready.length - 1}`] : []),
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
    await Promise.all(taskFiles.map((f) => rm(f, { force: true })));
    for (const [i, l] of ready.entries()) {
      answers[readyAt[i] as number] = {
        error: new ExecutorError(ctx.executor, l.jobId, (err as Error).message, { cause: err }),
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
  for (const [i, k] of readyAt.entries()) answers[k] = { executorId: array ? `${id}_${i}` : id };
  return answers;
}
