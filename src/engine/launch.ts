import { execFile } from 'node:child_process';
import { dirname, isAbsolute, join } from 'node:path';
import { spoolPath } from '../app/spool.ts';
import { jobToken } from '../app/tokens.ts';
import type { Deployment, TaskConfig } from '../config/types.ts';
import { removeContainerArgv, wrapInContainer } from '../executors/container/wrap.ts';
import type { Executor, JobLaunch, JobRef } from '../executors/contract.ts';
import { STAGED } from '../executors/shared/staging.ts';
import type { Instance, Job, Output, Run } from '../model/types.ts';
import { storeUrlWithoutPassword } from '../store/url.ts';
import { type EngineContext, taskByName, upstreamCampaign } from './context.ts';
import { expandArgv, expandPlaceholders, type PlaceholderValues } from './placeholders.ts';

type JobPlace = Pick<Job, 'id' | 'campaign' | 'task'>;

/** What a job gets of the controller's environment without asking (`env_pass` adds to it). */
const PASSED_ENV = ['PATH', 'HOME', 'USER', 'LANG', 'TZ', 'TMPDIR'];

export function jobWorkDir(ctx: Pick<EngineContext, 'deployment'>, job: JobPlace): string {
  return join(ctx.deployment.dataDir, 'jobs', job.campaign, job.task, String(job.id));
}

export function jobLogPath(ctx: Pick<EngineContext, 'deployment'>, job: JobPlace): string {
  return join(jobWorkDir(ctx, job), 'log.txt');
}

/** The job's name in a batch system: whose it is (deployment, environment), which job, which attempt. */
export function jobName(deployment: Deployment, job: Pick<Job, 'id' | 'attempt'>): string {
  return `${deployment.name}-${deployment.environment}-${job.id}.${job.attempt}`;
}

export function jobRef(ctx: Pick<EngineContext, 'deployment' | 'campaigns'>, job: Job): JobRef {
  return {
    jobId: job.id,
    attempt: job.attempt,
    name: jobName(ctx.deployment, job),
    executorId: job.executorId,
    workDir: jobWorkDir(ctx, job),
    logPath: job.logPath ?? jobLogPath(ctx, job),
    submittedAt: job.submittedAt,
    timeoutMs: taskByName(ctx, job.task, job.campaign)?.timeoutMs ?? null,
  };
}

/** What the jobs of one instance share: its runs and its upstream outputs, read once per batch. */
export interface InstanceInputs {
  runs: Run[];
  outputs: Output[];
}

/** Reads an instance's runs and the outputs of its upstream instances, side by side. */
export async function instanceInputs(
  ctx: EngineContext,
  task: TaskConfig,
  instance: Instance,
): Promise<InstanceInputs> {
  const upstream = async (): Promise<Output[]> => {
    const lists = await Promise.all(
      task.after.map((up) =>
        ctx.store.instancesForRuns(upstreamCampaign(ctx, instance.campaign, up), up, instance.runs),
      ),
    );
    const ids = new Set(lists.flat().map((u) => u.id));
    // A chain's first task has no upstream: no round trip for an empty list.
    return ids.size === 0 ? [] : ctx.store.outputsForInstances([...ids]);
  };
  const [runs, outputs] = await Promise.all([ctx.store.getRuns(instance.runs), upstream()]);
  return { runs, outputs };
}

/**
 * Everything an executor needs to start one job: argv and env with
 * placeholders expanded (each value stays one argv element), the inputs as
 * data (the executor stages them), and an environment made of exactly what
 * the job is meant to see: never the controller's tokens or credentials.
 */
export function buildLaunch(
  ctx: EngineContext,
  task: TaskConfig,
  instance: Instance,
  job: Job,
  jobCount: number,
  { runs, outputs }: InstanceInputs,
): JobLaunch {
  const workDir = jobWorkDir(ctx, job);
  const values: PlaceholderValues = {
    run: String(instance.runs[0] ?? ''),
    runs: instance.runs.join(','),
    fill: runs[0]?.fill != null ? String(runs[0].fill) : '',
    campaign: job.campaign,
    task: job.task,
    job: String(job.id),
    attempt: String(job.attempt),
    input: job.input ?? '',
    index: String(job.index),
    meta: runs[0]?.meta ?? {},
    inputs: outputs.map((o) => o.path),
  };
  const name = jobName(ctx.deployment, job);
  const argv = expandArgv(task.command, values);
  const env = jobEnv(ctx, task, job, values, { workDir, jobCount });
  const run =
    task.container === null
      ? { argv, env }
      : wrapInContainer(task.container, {
          argv,
          env,
          cwd: task.cwd,
          workDir,
          // The inputs are read where they are: their directories are bound in at the same place.
          binds: [...new Set([...values.inputs, values.input].filter(isAbsolute).map(dirname))],
          name,
          ...(process.getuid && process.getgid
            ? { user: { uid: process.getuid(), gid: process.getgid() } }
            : {}),
        });
  return {
    jobId: job.id,
    attempt: job.attempt,
    instanceId: instance.id,
    name,
    argv: run.argv,
    env: run.env,
    cwd: task.cwd,
    workDir,
    inputs: { runs, outputs, input: job.input },
    logPath: jobLogPath(ctx, job),
    timeoutMs: task.timeoutMs,
    resources: task.resources,
  };
}

function jobEnv(
  ctx: EngineContext,
  task: TaskConfig,
  job: Job,
  values: PlaceholderValues,
  at: { workDir: string; jobCount: number },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...PASSED_ENV, ...ctx.deployment.envPass]) {
    const v = process.env[name];
    if (v !== undefined) env[name] = v;
  }
  for (const [k, v] of Object.entries(task.env)) env[k] = expandPlaceholders(v, values);
  Object.assign(env, {
    AUTOCTRL_URL: ctx.serverUrl ?? '',
    AUTOCTRL_TOKEN: jobToken(ctx.tokenSecret, job.id, job.attempt),
    AUTOCTRL_JOB: String(job.id),
    AUTOCTRL_JOB_INDEX: String(job.index),
    AUTOCTRL_JOB_COUNT: String(at.jobCount),
    AUTOCTRL_TASK: job.task,
    AUTOCTRL_CAMPAIGN: job.campaign,
    AUTOCTRL_RUNS: values.runs,
    AUTOCTRL_ATTEMPT: values.attempt,
    AUTOCTRL_INPUTS: join(at.workDir, STAGED.inputs),
    AUTOCTRL_OUTPUT_DIR: join(at.workDir, STAGED.outputs),
    // Where bin/autoctrl-job keeps what it could not send: collected when the job is seen ended.
    AUTOCTRL_SPOOL: spoolPath(at.workDir),
    // Lets `autoctrl job report` write to the store directly when no server runs; never a password.
    AUTOCTRL_STORE: storeUrlWithoutPassword(ctx.deployment.store),
    AUTOCTRL_CONFIG: ctx.deployment.file,
  });
  return env;
}

/** How long a job whose container was removed gets to end by itself before its executor stops it. */
const CONTAINER_END_GRACE_MS = 15_000;

/**
 * Stops a job: its container first (podman, docker), so the runtime's own
 * process ends cleanly and its clean-up runs to the end, then the job
 * through its executor. Killed first, the runtime process would leave the
 * container running (podman's conmon, docker's daemon) or half removed. A
 * container already gone, or never started, makes the removal fail, which
 * is fine.
 */
export async function cancelJob(
  ctx: EngineContext,
  executor: Executor,
  job: Job,
  reason: string,
): Promise<void> {
  const ref = jobRef(ctx, job);
  const container = taskByName(ctx, job.task, job.campaign)?.container;
  const argv =
    container == null ? null : removeContainerArgv(container, jobName(ctx.deployment, job));
  if (argv !== null) {
    await removeContainer(ctx, job, argv);
    const deadline = Date.now() + CONTAINER_END_GRACE_MS;
    while (Date.now() < deadline) {
      const state = (await executor.status([ref]).catch(() => null))?.get(job.id)?.state;
      if (state !== 'running' && state !== 'queued') break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await executor.cancel(ref, reason);
}

function removeContainer(ctx: EngineContext, job: Job, argv: string[]): Promise<void> {
  const [program, ...args] = argv as [string, ...string[]];
  return new Promise<void>((resolve) => {
    execFile(program, args, { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (err !== null && !/no such container|no container with name/i.test(stderr)) {
        ctx.logger.warn(
          { err, job: job.id, stderr: stderr.trim() },
          'could not remove the container',
        );
      }
      resolve();
    });
  });
}
