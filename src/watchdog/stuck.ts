import { humanDuration } from '../locks/options.ts';
import { PROMPT } from '../model/campaign.ts';
import type { Instance, Job } from '../model/types.ts';
import { memory, recordAlert, type WatchdogContext } from './record.ts';

const JOBS_KEY = 'watchdog:stuck-jobs';
const RUNS_KEY = 'watchdog:stuck-runs';
/** Kept by the memories: what is stuck is few; a flood beyond this is alerted again later, not lost. */
const MEMORY_LIMIT = 10_000;

/**
 * Since when a job waits to run, null when it runs: a retry's backoff is
 * waiting on purpose, not queueing; a running job the batch system holds or
 * suspended waits since it was put there.
 */
function waitingSince(j: Job): number | null {
  if (j.status === 'idle') return Math.max(j.createdAt, j.notBefore ?? 0);
  if (j.queueState === 'held' || j.queueState === 'suspended') return j.queueSince;
  return null;
}

/**
 * `job_stuck` for each job queued (`idle`: not yet submitted, or submitted
 * and not running) or held by its batch system longer than its task's
 * `max_queue`, once per job attempt.
 * Returns how many it recorded.
 */
export async function checkStuckJobs(ctx: WatchdogContext, now: number): Promise<number> {
  const limits = new Map(
    ctx.deployment.tasks.flatMap((t) => (t.maxQueueMs === null ? [] : [[t.name, t.maxQueueMs]])),
  );
  if (limits.size === 0) return 0;
  const active = await ctx.store.activeJobs();
  const mem = await memory<number[]>(ctx.store, JOBS_KEY, []);
  const activeIds = new Set(active.map((j) => j.id));
  const known = new Set(mem.value.filter((id) => activeIds.has(id)));
  const stuck = active.flatMap((j) => {
    const limit = limits.get(j.task);
    const since = waitingSince(j);
    return limit !== undefined && since !== null && now - since > limit && !known.has(j.id)
      ? [{ j, since, limit }]
      : [];
  });
  if (!(await mem.save([...known, ...stuck.map((s) => s.j.id)].slice(-MEMORY_LIMIT)))) return 0;
  for (const { j, since, limit } of stuck) {
    const where =
      j.executorId !== null
        ? `submitted as ${j.executorId}`
        : j.submittedAt === null
          ? 'not submitted yet'
          : 'submitted, waiting in its executor for a slot';
    await recordAlert(
      ctx,
      {
        entity: 'job',
        entityId: String(j.id),
        campaign: j.campaign,
        task: j.task,
        instanceId: j.instanceId,
        reason: `job ${j.index} (attempt ${j.attempt}) ${j.queueState ?? 'queued'} on ${j.executor} for ${humanDuration(now - since)}, longer than max_queue ${humanDuration(limit)} (${where})`,
        data: { alert: 'job_stuck', attempt: j.instanceAttempt, job: j.id, maxQueueMs: limit },
      },
      now,
    );
  }
  return stuck.length;
}

/**
 * `run_stuck` for each run of a campaign whose unfinished instances have not
 * changed for `watchdog.max_run_age`, once until it moves again. Reads only
 * the unfinished instances, per (campaign, task), through the status index.
 */
export async function checkStuckRuns(ctx: WatchdogContext, now: number): Promise<number> {
  const maxAge = ctx.deployment.watchdog.maxRunAgeMs;
  if (maxAge === null) return 0;
  const stuck = new Map<string, { campaign: string; run: number; pending: Instance[] }>();
  const moving = new Set<string>();
  for (const campaign of [PROMPT, ...(await ctx.store.campaignNames())]) {
    for (const task of ctx.deployment.tasks) {
      const open = await ctx.store.instancesByStatus(campaign, task.name, [
        'new',
        'waiting',
        'processing',
      ]);
      for (const inst of open) {
        for (const run of inst.runs) {
          const key = `${campaign}:${run}`;
          if (now - inst.updatedAt <= maxAge) moving.add(key);
          const entry = stuck.get(key) ?? { campaign, run, pending: [] };
          entry.pending.push(inst);
          stuck.set(key, entry);
        }
      }
    }
  }
  for (const key of moving) stuck.delete(key);
  const mem = await memory<string[]>(ctx.store, RUNS_KEY, []);
  const known = new Set(mem.value.filter((k) => stuck.has(k)));
  const fresh = [...stuck].filter(([k]) => !known.has(k));
  if (!(await mem.save([...known, ...fresh.map(([k]) => k)].slice(-MEMORY_LIMIT)))) return 0;
  for (const [, { campaign, run, pending }] of fresh) {
    const since = Math.max(...pending.map((i) => i.updatedAt));
    const what = pending
      .map((i) => `${i.task} ${i.status}${i.reason ? ` (${i.reason})` : ''}`)
      .join('; ');
    await recordAlert(
      ctx,
      {
        entity: 'run',
        entityId: String(run),
        campaign,
        task: null,
        instanceId: null,
        reason: `nothing moved for ${humanDuration(now - since)} (max_run_age ${humanDuration(maxAge)}): ${what}`,
        data: { alert: 'run_stuck', runs: [run], since },
      },
      now,
    );
  }
  return fresh.length;
}
