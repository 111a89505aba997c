import { EventEmitter } from 'node:events';
import type { Instance, Job } from '../model/types.ts';
import type { CampaignView } from './campaign-book.ts';
import type { EngineContext } from './context.ts';
import { gate } from './gating.ts';
import { intake } from './intake.ts';
import { LockChecks } from './lock-checks.ts';
import { settleInstances } from './settle-instances.ts';
import { submitIdle } from './submit.ts';
import { syncExecutor } from './sync-executors.ts';

export { PROMPT } from '../model/campaign.ts';

export interface PassResult {
  startedAt: number;
  durationMs: number;
  created: number;
  started: number;
  settled: Instance[];
  submitted: number;
  /** When a delayed retry becomes due: the daemon runs a pass then. */
  wakeAt: number | null;
  /** Another controller holds the engine lease: this one did nothing. */
  skipped: boolean;
}

const ENGINE_LEASE = 'engine';
const IDLE = { durationMs: 0, created: 0, started: 0, settled: [], submitted: 0, wakeAt: null };

export interface EngineEvents {
  pass: [PassResult];
  settled: [Instance];
}

/**
 * The pass of DESIGN.md, idempotent per (campaign, task). Tasks are taken in
 * topological order so that an upstream instance settled early in a pass lets
 * its downstream start in the same pass: a chain advances one step per job
 * run, not per poll.
 */
export class Engine extends EventEmitter<EngineEvents> {
  readonly ctx: EngineContext;
  private running: Promise<PassResult> | null = null;
  private again = false;
  private holdsLease = false;

  constructor(ctx: EngineContext) {
    super();
    this.ctx = ctx;
  }

  /** Campaigns with work: `prompt` first, then those created for reprocessing, oldest first. */
  async campaigns(): Promise<CampaignView[]> {
    return this.ctx.campaigns.refresh(this.ctx.store, (name, err) =>
      this.ctx.logger.error(
        { err, campaign: name },
        'campaign left out: its overrides no longer fit the deployment file',
      ),
    );
  }

  /**
   * Runs one pass, or joins the one in progress and runs another right after it,
   * so a trigger during a pass is never lost and passes never overlap.
   */
  pass(): Promise<PassResult> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async loop(): Promise<PassResult> {
    let result: PassResult;
    do {
      this.again = false;
      result = await this.passOnce();
      this.emit('pass', result);
    } while (this.again);
    return result;
  }

  private async passOnce(): Promise<PassResult> {
    const { ctx } = this;
    const startedAt = ctx.now();
    this.holdsLease = await ctx.store.acquireLease(
      ENGINE_LEASE,
      ctx.leaseOwner,
      ctx.leaseTtlMs,
      startedAt,
    );
    if (!this.holdsLease) return { ...IDLE, startedAt, skipped: true };
    // Before syncing: a campaign job's timeout is in its campaign's task configuration.
    const campaigns = await this.campaigns();
    const activeByExecutor = await this.activeJobs();
    for (const [name, executor] of ctx.executors)
      await syncExecutor(ctx, executor, activeByExecutor.get(name) ?? []);

    let created = 0;
    let started = 0;
    const settled: Instance[] = [];
    // Lock answers last one pass: a lock shared by many instances, in every campaign, is asked once.
    const locks = new LockChecks(ctx);
    for (const { name: campaign, tasks } of campaigns) {
      for (const task of tasks) {
        created += await intake(ctx, campaign, task);
        const done = await settleInstances(ctx, campaign, task);
        settled.push(...done);
        started += await gate(ctx, campaign, task, locks);
      }
    }
    for (const inst of settled) this.emit('settled', inst);

    let submitted = 0;
    // Re-read: gating, retries and reports during the pass added idle jobs.
    const active = await this.activeJobs();
    for (const [name, executor] of ctx.executors) {
      submitted += await submitIdle(ctx, executor, active.get(name) ?? []);
    }
    let wakeAt: number | null = null;
    for (const jobs of active.values()) {
      for (const j of jobs) {
        if (j.claimedBy === null && j.notBefore !== null && j.notBefore > ctx.now()) {
          wakeAt = wakeAt === null ? j.notBefore : Math.min(wakeAt, j.notBefore);
        }
      }
    }
    return {
      startedAt,
      durationMs: ctx.now() - startedAt,
      created,
      started,
      settled,
      submitted,
      wakeAt,
      skipped: false,
    };
  }

  /** Lets another controller take over at once (a clean stop). */
  async releaseLease(): Promise<void> {
    if (this.holdsLease) await this.ctx.store.releaseLease(ENGINE_LEASE, this.ctx.leaseOwner);
    this.holdsLease = false;
  }

  private async activeJobs(): Promise<Map<string, Job[]>> {
    const byExecutor = new Map<string, Job[]>();
    for (const job of await this.ctx.store.activeJobs()) {
      const list = byExecutor.get(job.executor);
      if (list === undefined) byExecutor.set(job.executor, [job]);
      else list.push(job);
    }
    return byExecutor;
  }
}
