import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jobToken } from '../app/tokens.ts';
import type { TaskConfig } from '../config/types.ts';
import type { JobLaunch } from '../executors/contract.ts';
import { makeDirs } from '../fs-util.ts';
import type { Instance, Job } from '../model/types.ts';
import { type EngineContext, upstreamCampaign } from './context.ts';
import { expandPlaceholders, type PlaceholderValues } from './placeholders.ts';

type JobPlace = Pick<Job, 'id' | 'campaign' | 'task'>;

export function jobWorkDir(ctx: Pick<EngineContext, 'deployment'>, job: JobPlace): string {
  return join(ctx.deployment.dataDir, 'jobs', job.campaign, job.task, String(job.id));
}

export function jobLogPath(ctx: Pick<EngineContext, 'deployment'>, job: JobPlace): string {
  return join(jobWorkDir(ctx, job), 'log.txt');
}

/**
 * Everything an executor needs to start one job: argv and env with placeholders
 * expanded (each value stays one argv element), a fresh work area, and the
 * inputs file (the runs and the outputs of upstream instances).
 */
export async function buildLaunch(
  ctx: EngineContext,
  task: TaskConfig,
  instance: Instance,
  job: Job,
): Promise<JobLaunch> {
  const workDir = jobWorkDir(ctx, job);
  const outputDir = join(workDir, 'out');
  await makeDirs(outputDir);
  const runs = await ctx.store.getRuns(instance.runs);
  const upstreamIds = new Set<number>();
  for (const up of task.after) {
    const from = upstreamCampaign(ctx, instance.campaign, up);
    for (const u of await ctx.store.instancesForRuns(from, up, instance.runs))
      upstreamIds.add(u.id);
  }
  const outputs = await ctx.store.outputsForInstances([...upstreamIds]);
  const inputsPath = join(workDir, 'inputs.json');
  await writeFile(inputsPath, JSON.stringify({ runs, outputs, input: job.input }, null, 1));

  const jobCount = (await ctx.store.jobsForInstance(instance.id)).reduce(
    (m, j) => Math.max(m, j.index + 1),
    0,
  );
  const values: PlaceholderValues = {
    run: String(instance.runs[0] ?? ''),
    runs: instance.runs.join(','),
    fill: runs[0]?.fill != null ? String(runs[0].fill) : '',
    campaign: job.campaign,
    task: job.task,
    job: String(job.id),
    attempt: String(job.attempt),
    input: job.input ?? '',
  };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const [k, v] of Object.entries(task.env)) env[k] = expandPlaceholders(v, values);
  Object.assign(env, {
    AUTOCTRL_URL: ctx.serverUrl ?? '',
    AUTOCTRL_TOKEN: jobToken(ctx.tokenSecret, job.id, job.attempt),
    AUTOCTRL_JOB: String(job.id),
    AUTOCTRL_JOB_INDEX: String(job.index),
    AUTOCTRL_JOB_COUNT: String(jobCount),
    AUTOCTRL_TASK: job.task,
    AUTOCTRL_CAMPAIGN: job.campaign,
    AUTOCTRL_RUNS: values.runs,
    AUTOCTRL_ATTEMPT: values.attempt,
    AUTOCTRL_INPUTS: inputsPath,
    AUTOCTRL_OUTPUT_DIR: outputDir,
    // Lets `autoctrl job report` write to the store directly when no server runs.
    AUTOCTRL_STORE: ctx.deployment.store,
    AUTOCTRL_CONFIG: ctx.deployment.file,
  });
  return {
    jobId: job.id,
    name: `autoctrl-${job.id}`,
    argv: task.command.map((a) => expandPlaceholders(a, values)),
    env,
    cwd: task.cwd,
    workDir,
    logPath: jobLogPath(ctx, job),
    timeoutMs: task.timeoutMs,
  };
}
