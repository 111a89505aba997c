import type { Deployment, TaskConfig } from '../config/types.ts';
import type { Executor } from '../executors/contract.ts';
import type { Logger } from '../logger.ts';
import { PROMPT } from '../model/campaign.ts';
import type { Fence, StateStore } from '../store/contract.ts';
import type { CodeCapture } from '../trace/code.ts';
import { CampaignBook } from './campaign-book.ts';
import type { ExecutorMemory, SubmissionBlock } from './executor-state.ts';
import type { HealthStreak } from './health-streak.ts';
import type { TaskLock } from './lock-checks.ts';
import type { LockWait } from './lock-waits.ts';
import { Submissions } from './submissions.ts';
import { newWaitMemory, type WaitMemory } from './wait-memory.ts';

/** What every step of a pass works with. */
export interface EngineContext {
  deployment: Deployment;
  store: StateStore;
  executors: ReadonlyMap<string, Executor>;
  logger: Logger;
  /**
   * This controller process's identity (host, pid, a random part): owner of
   * its job claims and of the engine lease. Never reused after a restart, so
   * two processes on one host never pass for each other.
   */
  controllerId: string;
  /** How long the engine lease lasts unrenewed: a standby takes over within twice this. */
  leaseTtlMs: number;
  /** How long a claim on a job lasts before another leader may take it back. */
  claimTtlMs: number;
  /**
   * The engine lease's fence while this process leads (set by the engine):
   * the pass's own writes carry it, so a deposed leader's are refused.
   */
  fence: Fence | undefined;
  now(): number;
  /** Where jobs reach the reporting endpoint; null when no server runs (`autoctrl pass`). */
  serverUrl: string | null;
  /** Secret that job tokens derive from (see tokens.ts). */
  tokenSecret: Buffer;
  /** The campaigns' task configurations (overrides applied), refreshed at every pass. */
  campaigns: CampaignBook;
  /** What the engine remembers from pass to pass. */
  memory: EngineMemory;
}

/** Caches the engine keeps across passes; the store stays the truth, so losing them costs reads only. */
export interface EngineMemory {
  /** Since when instances wait on a closed lock, by instance id. */
  lockWaits: Map<number, LockWait>;
  /** The waits only a look outside the store can end, for light passes. */
  waits: WaitMemory;
  /** Each task's lock instances, created once (except those that failed: a plugin may fix them). */
  locks: WeakMap<TaskConfig, Promise<TaskLock[]>>;
  /** Each executor's polling and health, by executor name. */
  executors: Map<string, ExecutorMemory>;
  /** Jobs held back by an infrastructure error at submission, by job id. */
  blocked: Map<number, SubmissionBlock>;
  /** Submissions a pass started and the engine has not seen end yet. */
  submitting: Submissions;
  /** What the code of each task is (commits, file hashes, images), kept while it holds: made at first use. */
  code?: CodeCapture;
  /** The executors' failure streaks, made at their first use (it needs the context). */
  executorHealth: HealthStreak | null;
}

export function newEngineMemory(): EngineMemory {
  return {
    lockWaits: new Map(),
    waits: newWaitMemory(),
    locks: new WeakMap(),
    executors: new Map(),
    blocked: new Map(),
    submitting: new Submissions(),
    executorHealth: null,
  };
}

/**
 * A task's configuration in a campaign: the deployment's for `prompt`, the
 * campaign's copy otherwise (undefined for a campaign the engine has not
 * read: use `taskIn` outside a pass).
 */
export function taskByName(
  ctx: Pick<EngineContext, 'deployment'> & { campaigns?: CampaignBook },
  name: string,
  campaign: string = PROMPT,
): TaskConfig | undefined {
  const tasks =
    campaign === PROMPT ? ctx.deployment.tasks : (ctx.campaigns?.get(campaign)?.tasks ?? []);
  return tasks.find((t) => t.name === name);
}

/** `taskByName` that reads a campaign from the store when the engine has not yet. */
export async function taskIn(
  ctx: Pick<EngineContext, 'deployment' | 'store'> & { campaigns?: CampaignBook },
  name: string,
  campaign: string,
): Promise<TaskConfig | undefined> {
  if (campaign === PROMPT) return taskByName(ctx, name);
  const book = ctx.campaigns ?? new CampaignBook(ctx.deployment);
  return (await book.load(ctx.store, campaign))?.tasks.find((t) => t.name === name);
}

/**
 * The campaign whose instances of `upstream` feed `campaign`'s tasks: the
 * campaign itself when it runs that task, otherwise `prompt` (see CampaignView).
 */
export function upstreamCampaign(
  ctx: Pick<EngineContext, 'campaigns'>,
  campaign: string,
  upstream: string,
): string {
  return ctx.campaigns.get(campaign)?.upstreamCampaign(upstream) ?? campaign;
}

/** The fence field for a leader-only write: empty outside the engine's lead. */
export function fenceOf(ctx: Pick<EngineContext, 'fence'>): { fence?: Fence } {
  return ctx.fence === undefined ? {} : { fence: ctx.fence };
}

export function downstreamOf(deployment: Deployment, task: string): TaskConfig[] {
  return deployment.tasks.filter((t) => t.after.includes(task));
}
