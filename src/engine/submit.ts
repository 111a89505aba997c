import { ClaimLostError, InfrastructureError } from '../errors.ts';
import type { Executor, JobLaunch } from '../executors/contract.ts';
import { setExecutorAvailable } from '../export/metrics-hooks.ts';
import { DEFAULT_SHARE, PROMPT } from '../model/campaign.ts';
import type { Instance, Job } from '../model/types.ts';
import type { CampaignView } from './campaign-book.ts';
import { type EngineContext, taskIn } from './context.ts';
import {
  blockedOn,
  blockSubmission,
  executorHealth,
  executorMemory,
  pruneBlocked,
  submissionBlocked,
} from './executor-state.ts';
import { buildLaunch, instanceInputs } from './launch.ts';
import { settleJob } from './outcome.ts';
import { chooseJobs } from './slot-share.ts';

/**
 * Hands idle jobs to their executor, oldest first, no more than its
 * `max_jobs` in flight (`inFlight`: its claimed jobs). Each job is claimed
 * in the store before it is submitted, so it is submitted by one controller
 * only; the jobs of one instance go as one batch (one cluster, one array).
 * Only as many ready jobs per campaign as could start are read, so the cost
 * does not grow with the queue; none of a cancelled campaign. Resolves once
 * the jobs are claimed; their submissions go on in `ctx.memory.submitting`.
 */
export async function submitIdle(
  ctx: EngineContext,
  executor: Executor,
  inFlight: readonly Job[],
  campaigns: readonly CampaignView[],
  started: StartedInstances = new Map(),
): Promise<number> {
  await pruneBlocked(ctx, executor.name);
  if (executorMemory(ctx, executor.name).unavailable) return 0;
  const room = executor.maxJobs - inFlight.length;
  if (room <= 0) return 0;
  const now = ctx.now();
  // Jobs held back by an infrastructure error stay idle: read past them.
  const limit = room + blockedOn(ctx, executor.name);
  const ready: Job[] = [];
  for (const view of campaigns) {
    if (view.cancelled) continue;
    const jobs = await ctx.store.readyJobs({
      executor: executor.name,
      campaign: view.name,
      now,
      limit,
    });
    for (const j of jobs) if (!submissionBlocked(ctx, j.id, now)) ready.push(j);
  }
  if (ready.length === 0) return 0;
  ready.sort((a, b) => a.id - b.id);
  // `prompt` first; each other campaign within its share of the slots, so bulk work never starves it.
  const chosen = chooseJobs(
    ready,
    inFlight,
    room,
    executor.slots ?? executor.maxJobs,
    (campaign) =>
      campaign === PROMPT ? null : (ctx.campaigns.get(campaign)?.share ?? DEFAULT_SHARE),
  );
  const claimed = new Set(
    await ctx.store.claimJobs(
      chosen.map((j) => j.id),
      { owner: ctx.controllerId, ttlMs: ctx.claimTtlMs },
      ctx.fence,
    ),
  );
  const byInstance = new Map<number, Job[]>();
  for (const job of chosen) {
    if (!claimed.has(job.id)) continue;
    const list = byInstance.get(job.instanceId);
    if (list === undefined) byInstance.set(job.instanceId, [job]);
    else list.push(job);
  }
  // Not waited for: while processes start or a batch system answers, the next pass settles and
  // gates what changed meanwhile. The engine waits for them before it goes idle.
  for (const jobs of byInstance.values())
    ctx.memory.submitting.add(
      jobs.map((j) => j.id),
      submitBatch(ctx, executor, jobs, started.get(jobs[0]?.instanceId ?? -1)),
      ctx.logger,
    );
  return claimed.size;
}

/**
 * Instances the pass started, with the jobs their start created, by
 * instance id: their submission need not read them back.
 */
export type StartedInstances = Map<number, { instance: Instance; jobs: readonly Job[] }>;

/** Submits claimed jobs of one instance as one batch; `known`: the instance as its start this pass left it. */
export async function submitBatch(
  ctx: EngineContext,
  executor: Executor,
  jobs: readonly Job[],
  known?: { instance: Instance; jobs: readonly Job[] },
): Promise<void> {
  const [first] = jobs;
  if (first === undefined) return;
  // Independent reads side by side: on a database server each is a round trip.
  const [task, instance, all] = await Promise.all([
    taskIn(ctx, first.task, first.campaign),
    known?.instance ?? ctx.store.getInstance(first.instanceId),
    known?.jobs ?? ctx.store.jobsForInstance(first.instanceId),
  ]);
  // The count of this attempt's jobs: a reprocessed instance may be split differently.
  const siblings = all.filter((j) => j.instanceAttempt === first.instanceAttempt);
  if (task === undefined || instance === null) {
    for (const job of jobs) {
      await settleJob(ctx, job, {
        status: 'failed',
        reason: `task ${job.task} is no longer in the deployment file`,
        by: 'engine',
      });
    }
    return;
  }
  const jobCount = siblings.reduce((m, j) => Math.max(m, j.index + 1), 0);
  const inputs = await instanceInputs(ctx, task, instance);
  const launches = jobs.map((job) => buildLaunch(ctx, task, instance, job, jobCount, inputs));
  let answers: Awaited<ReturnType<Executor['submit']>>;
  try {
    answers = await executor.submit(launches);
  } catch (err) {
    // Whether the jobs arrived is learnt from `status` (adopted by name, or submitted again): the claims stay.
    executorMemory(ctx, executor.name).unavailable = true;
    setExecutorAvailable(executor.name, false);
    ctx.logger.warn({ err, executor: executor.name, jobs: jobs.length }, 'submission failed');
    await executorHealth(ctx).failed(executor.name, err);
    return;
  }
  await executorHealth(ctx).succeeded(executor.name);
  for (const [i, job] of jobs.entries()) {
    const answer = answers[i];
    const launch = launches[i] as JobLaunch;
    if (answer === undefined) {
      await submissionFailed(ctx, executor, job, new Error('the executor gave no answer for it'));
    } else if ('error' in answer) {
      await submissionFailed(ctx, executor, job, answer.error);
    } else {
      ctx.memory.blocked.delete(job.id);
      const running = answer.running === true ? `executor:${executor.name}` : undefined;
      await recordSubmitted(ctx, job.id, answer.executorId, launch.logPath, running);
    }
  }
}

/**
 * Records that this controller handed a job it claims to its executor; with
 * `runningBy`, that it runs already (one transaction for both).
 */
export async function recordSubmitted(
  ctx: EngineContext,
  jobId: number,
  executorId: string | null,
  logPath: string | null,
  runningBy?: string,
): Promise<void> {
  try {
    await ctx.store.setJobSubmitted(jobId, {
      owner: ctx.controllerId,
      executorId,
      logPath,
      ...(runningBy === undefined ? {} : { running: { by: runningBy, at: ctx.now() } }),
    });
  } catch (err) {
    if (!(err instanceof ClaimLostError)) throw err;
    // Submitted after its claim was taken back: the executor's record of it keeps the attempt single.
    ctx.logger.error({ err, job: jobId }, 'job submitted after its claim expired');
  }
}

/**
 * A job the executor refused. The site's fault (a full disk, an unwritable
 * data directory): the job waits without using up its retries, and an alert
 * goes out once. The job's own fault: it fails (and is retried if it may).
 */
async function submissionFailed(
  ctx: EngineContext,
  executor: Executor,
  job: Job,
  err: Error,
): Promise<void> {
  if (err instanceof InfrastructureError) {
    await ctx.store.releaseClaims([{ id: job.id, owner: ctx.controllerId }]);
    const firstTime = !ctx.memory.blocked.has(job.id);
    const waitMs = blockSubmission(ctx, executor.name, job.id, ctx.now());
    ctx.logger.warn({ err, job: job.id, waitMs }, 'job held back by an infrastructure error');
    if (firstTime) await recordBlocked(ctx, executor, job, err);
    return;
  }
  ctx.logger.warn({ err, job: job.id, task: job.task }, 'job submission failed');
  await settleJob(ctx, job, {
    status: 'failed',
    reason: `submission to ${executor.name} failed: ${err.message}`,
    by: 'engine',
  });
}

async function recordBlocked(
  ctx: EngineContext,
  executor: Executor,
  job: Job,
  err: Error,
): Promise<void> {
  const instance = await ctx.store.getInstance(job.instanceId);
  await ctx.store.appendEvent({
    at: ctx.now(),
    entity: 'job',
    entityId: String(job.id),
    campaign: job.campaign,
    task: job.task,
    instanceId: job.instanceId,
    from: null,
    to: null,
    reason: `${err.message} (executor ${executor.name}); it is tried again, its retries are kept`,
    by: `controller:${ctx.controllerId}`,
    configHash: instance?.configHash ?? null,
    data: { alert: 'submission_blocked', attempt: job.instanceAttempt },
  });
}
