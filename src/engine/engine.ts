import { EventEmitter } from 'node:events';
import { FencedError } from '../errors.ts';
import type { ExecutorJobState } from '../executors/contract.ts';
import type { Instance } from '../model/types.ts';
import type { FeedCursor, FeedItem, Lease } from '../store/contract.ts';
import type { CampaignView } from './campaign-book.ts';
import { stopCancelledCampaigns } from './campaign-stop.ts';
import { gateDownstream, PassScope, scopeOf } from './changes.ts';
import type { EngineContext } from './context.ts';
import { jobsInFlight, jobsToAsk, nextWake } from './executor-state.ts';
import { refreshExpectations } from './expectations.ts';
import { gate } from './gating.ts';
import { HostJobs } from './host-jobs.ts';
import { intake } from './intake.ts';
import { deadOnThisHost } from './liveness.ts';
import { LockChecks } from './lock-checks.ts';
import { settleInstances } from './settle-instances.ts';
import { type StartedInstances, submitIdle } from './submit.ts';
import { syncExecutor } from './sync-executors.ts';
import { newWaitMemory, recheckWaits } from './wait-memory.ts';

export { PROMPT } from '../model/campaign.ts';

export interface PassResult {
  startedAt: number;
  durationMs: number;
  /** Whether it examined every active instance (a complete pass) or only what changed. */
  full: boolean;
  /**
   * A timer pass that was not complete: what changed, plus the waits only a
   * look outside the store can end (`recheckWaits`), plus every executor polled.
   */
  light: boolean;
  created: number;
  started: number;
  settled: Instance[];
  submitted: number;
  /** When a delayed retry becomes due: the daemon runs a pass then. */
  wakeAt: number | null;
  /** Another controller holds the engine lease: this one did nothing. */
  skipped: boolean;
}

export const ENGINE_LEASE = 'engine';
const FEED_PAGE = 1_000;
/**
 * The safety net: a timer pass examines every active instance at least this
 * often, whatever the change feed said. In between, timer passes are light.
 */
export const COMPLETE_PASS_EVERY_MS = 10 * 60_000;

export interface EngineEvents {
  pass: [PassResult];
  settled: [Instance];
  /** This controller took the lead (with the lease's epoch) or lost it. */
  lead: [Lease | null];
}

/** A pass that found its lease gone: it stops where it is; the new leader's full pass redoes the rest. */
class LeaseLost extends Error {}

/** What the pass loop runs next: a complete pass, one over what changed, or nothing. */
type Again = 'full' | 'changes' | null;

/**
 * The pass of DESIGN.md, idempotent per (campaign, task), run by the one
 * controller holding the engine lease. Tasks are taken in topological order
 * so that an upstream instance settled early in a pass lets its downstream
 * start in the same pass: a chain advances one step per job run, not per poll.
 *
 * A full pass looks at every active instance; a triggered pass follows the
 * store's change feed and looks only at what the changes touch, so its cost
 * follows the change, not the backlog.
 */
export class Engine extends EventEmitter<EngineEvents> {
  readonly ctx: EngineContext;
  /** The jobs of host-scoped executors this controller runs, leading or not. */
  readonly hostJobs: HostJobs;
  private running: Promise<PassResult> | null = null;
  private again: Again = null;
  /** Ends the wait of a loop whose passes are over but whose submissions are not, when a pass is asked. */
  private asked: (() => void) | null = null;
  private lease: Lease | null = null;
  /** Local time by which the lease must be renewed (a third of its life left). */
  private renewBy = 0;
  private feed: FeedCursor | null = null;
  /**
   * Every change since the last complete pass was followed (no pass failed
   * half-way, none fell back on a complete one): only then may a timer pass
   * be light. With `completeAt`, when that complete pass started.
   */
  private followed = false;
  private completeAt = 0;
  /**
   * Instances the last pass, which ended, created (and gated) or settled
   * `done` and gated the downstream of: their events, read back from the
   * feed by the next pass, need nothing more.
   */
  private handled: ReadonlySet<number> = new Set();
  /** Jobs whose executor told of a change (an exit, a start) since the last pass, with their state. */
  private readonly told = new Map<number, ExecutorJobState>();

  constructor(ctx: EngineContext) {
    super();
    this.ctx = ctx;
    this.hostJobs = new HostJobs(ctx, ENGINE_LEASE);
  }

  /** The lease while this controller leads. */
  get leading(): Lease | null {
    return this.lease;
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

  /** An executor told that a job ended (or started): the next pass looks at it without polling every job. */
  jobChanged(jobId: number, state: ExecutorJobState): void {
    // An end is final: a start told late must not hide it.
    if (this.told.get(jobId)?.state === 'exited') return;
    this.told.set(jobId, state);
  }

  /**
   * Runs one pass, or joins the one in progress and runs another right after
   * it, so a trigger during a pass is never lost and passes never overlap.
   * `full: false` asks for a pass over what changed only.
   */
  pass(opts: { full?: boolean } = {}): Promise<PassResult> {
    const full = opts.full ?? true;
    if (this.running !== null) {
      this.again = full || this.again === 'full' ? 'full' : 'changes';
      this.asked?.();
      return this.running;
    }
    this.running = this.loop(full).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async loop(full: boolean): Promise<PassResult> {
    let result: PassResult;
    let kind = full;
    for (;;) {
      this.again = null;
      result = await this.passOnce(kind);
      this.emit('pass', result);
      let again: Again = this.again;
      if (again === null) {
        // The pass is over once its submissions are recorded, or sooner when another is asked for;
        // an exit told of a job being submitted waited for that (takeTold) and needs a pass.
        await this.submittedOrAsked();
        again = (this.again as Again) ?? (this.told.size > 0 ? 'changes' : null);
      }
      if (again === null) return result;
      kind = again === 'full';
    }
  }

  private submittedOrAsked(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.asked = resolve;
      void this.ctx.memory.submitting.settled().then(resolve);
    }).finally(() => {
      this.asked = null;
    });
  }

  /** Takes the lease, or renews it when a third of its life is left. Null: another leads. */
  async holdLease(): Promise<Lease | null> {
    const { ctx } = this;
    if (this.lease !== null && Date.now() < this.renewBy) return this.lease;
    const asked = Date.now();
    const next =
      this.lease === null
        ? await this.acquire()
        : await ctx.store.renewLease(this.lease, ctx.leaseTtlMs);
    this.renewBy = asked + (2 * ctx.leaseTtlMs) / 3;
    const had = this.lease;
    const gained = next !== null && next.epoch !== had?.epoch;
    if (next === null && had !== null)
      ctx.logger.warn('engine lease lost: another controller leads');
    this.lease = next;
    ctx.fence = next === null ? undefined : { lease: ENGINE_LEASE, epoch: next.epoch };
    if (gained) {
      // A new term starts from the feed's end with a full pass: that covers whatever came before.
      this.feed = null;
      ctx.logger.info({ epoch: next.epoch }, 'this controller leads the engine');
    }
    if (gained || (next === null && had !== null)) this.emit('lead', next);
    return next;
  }

  private async acquire(): Promise<Lease | null> {
    const { store, controllerId, leaseTtlMs } = this.ctx;
    const got = await store.acquireLease(ENGINE_LEASE, controllerId, leaseTtlMs);
    if (got !== null) return got;
    const holder = (await store.getLease(ENGINE_LEASE))?.owner;
    if (holder === undefined || !deadOnThisHost(holder, controllerId)) return null;
    this.ctx.logger.info(
      { holder },
      'taking the engine lease from a controller of this host that is gone',
    );
    return store.acquireLease(ENGINE_LEASE, controllerId, leaseTtlMs, { takeFrom: holder });
  }

  private async renewOrStop(): Promise<void> {
    if ((await this.holdLease()) === null) throw new LeaseLost();
  }

  private async passOnce(fullAsked: boolean): Promise<PassResult> {
    const { ctx } = this;
    const startedAt = ctx.now();
    const idle = {
      startedAt,
      durationMs: 0,
      full: fullAsked,
      light: false,
      created: 0,
      started: 0,
      settled: [],
      submitted: 0,
      wakeAt: null,
    };
    // A triggered pass does not try to take the lease (the controller's timer does): a standby woken
    // by every commit would otherwise write to the store for nothing.
    const lease = fullAsked || this.lease !== null ? await this.holdLease() : null;
    if (lease === null) {
      const wakeAt = await this.hostJobs.pass(fullAsked, this.takeTold());
      return { ...idle, wakeAt, skipped: true };
    }
    try {
      return await this.work(fullAsked || this.feed === null, startedAt);
    } catch (err) {
      if (err instanceof LeaseLost || err instanceof FencedError) {
        ctx.logger.warn({ err }, 'pass stopped: this controller no longer leads');
        this.lease = null;
        ctx.fence = undefined;
        this.emit('lead', null);
        return { ...idle, skipped: true };
      }
      throw err;
    }
  }

  private async work(fullWanted: boolean, startedAt: number): Promise<PassResult> {
    const { ctx } = this;
    const followed = this.followed;
    // Set again only if this pass ends: one that throws half-way may have read changes it never followed.
    this.followed = false;
    const handled = this.handled;
    this.handled = new Set();
    const lightAsked =
      fullWanted &&
      followed &&
      this.feed !== null &&
      startedAt - this.completeAt < COMPLETE_PASS_EVERY_MS;
    let full = fullWanted && !lightAsked;
    const told = this.takeTold();
    // Side by side, each a round trip on a database server. The campaigns before syncing: a campaign
    // job's timeout is in its campaign's task configuration. Host-scoped executors whose host lease
    // another controller holds are left to it. Only claimed jobs can be known to an executor: the
    // queue behind them is never read whole.
    const [campaigns, executors, inFlight, head] = await Promise.all([
      this.campaigns(),
      this.hostJobs.runnable(),
      jobsInFlight(ctx),
      full ? ctx.store.feedHead() : null,
    ]);
    if (head !== null) this.feed = head;
    const now = ctx.now();
    for (const [name, executor] of executors) {
      const asked = jobsToAsk(ctx, executor, inFlight.get(name) ?? [], told, fullWanted, now);
      await this.hostJobs.run(executor, (own) => syncExecutor(own, executor, asked, told), false);
    }
    await stopCancelledCampaigns(ctx, campaigns, executors);
    let scope = new PassScope(true);
    if (!full) {
      const changes = await this.readChanges();
      const changed = changes === null ? null : await scopeOf(ctx, changes, campaigns, handled);
      if (changed === null) full = true;
      else scope = changed;
    }
    // A light pass that fell back on a complete one (too many changes to follow) is not light.
    const light = lightAsked && !full;
    // Rebuilt by the complete pass's gating, which sees every waiting instance.
    if (full) ctx.memory.waits = newWaitMemory();

    const handledNow = new Set<number>();
    const startedNow: StartedInstances = new Map();
    let created = 0;
    let started = 0;
    const settled: Instance[] = [];
    // Lock answers last one pass: a lock shared by many instances, in every campaign, is asked once.
    const locks = new LockChecks(ctx);
    if (light) await recheckWaits(ctx, locks, scope);
    for (const view of campaigns) {
      for (const task of view.tasks) {
        await this.renewOrStop();
        const made = scope.runsChanged && !view.cancelled ? await intake(ctx, view.name, task) : [];
        created += made.length;
        for (const i of made) handledNow.add(i.id);
        scope.addGate(
          view.name,
          task.name,
          made.map((i) => i.id),
        );
        const only = full ? undefined : scope.settleIds(view.name, task.name);
        const done = await settleInstances(ctx, view.name, task, only);
        settled.push(...done);
        if (!full) {
          const ok = done.filter((i) => i.status === 'done');
          await gateDownstream(ctx, ok, campaigns, scope);
          for (const i of ok) handledNow.add(i.id);
        }
        const toGate = full ? undefined : scope.gateIds(view.name, task.name);
        if (!view.cancelled) started += await gate(ctx, view.name, task, locks, toGate, startedNow);
      }
    }
    for (const inst of settled) this.emit('settled', inst);

    let submitted = 0;
    // Re-read: the pass settled jobs, and reports during it may have, which frees slots.
    const active = await jobsInFlight(ctx);
    for (const [name, executor] of executors) {
      await this.renewOrStop();
      const held = active.get(name) ?? [];
      submitted += await this.hostJobs.run(
        executor,
        (own) => submitIdle(own, executor, held, campaigns, startedNow),
        0,
      );
    }
    // The overview's global status of new or changed runs: computed here so that reading never writes.
    // Only runs and campaigns (which make a pass full) leave rows to compute.
    if (scope.runsChanged) await refreshExpectations(ctx.store, ctx.deployment);
    if (full) this.completeAt = startedAt;
    this.followed = followed || full;
    this.handled = handledNow;
    // The next triggered pass reads from where this one started reading: it sees this pass's own
    // writes again (cheap, and idempotent) but never misses what another process wrote meanwhile.
    return {
      startedAt,
      durationMs: ctx.now() - startedAt,
      full,
      light,
      created,
      started,
      settled,
      submitted,
      wakeAt: await nextWake(ctx, executors, active),
      skipped: false,
    };
  }

  /** The change-feed items since the last pass; null when there are too many to follow one by one. */
  private async readChanges(): Promise<FeedItem[] | null> {
    const items: FeedItem[] = [];
    for (let page = 0; page < 5; page++) {
      const got = await this.ctx.store.readFeed(this.feed, {
        limit: FEED_PAGE,
        kinds: ['event', 'run'],
      });
      items.push(...got.items);
      this.feed = got.cursor;
      if (got.items.length < FEED_PAGE) return items;
    }
    return null;
  }

  /**
   * The exits and starts executors told of since the last pass, handed to this one;
   * those of jobs whose submission is not recorded yet wait for it.
   */
  private takeTold(): Map<number, ExecutorJobState> {
    const told = new Map<number, ExecutorJobState>();
    for (const [id, state] of this.told) {
      if (this.ctx.memory.submitting.has(id)) continue;
      told.set(id, state);
      this.told.delete(id);
    }
    return told;
  }

  /** Lets another controller take over at once (a clean stop). */
  async releaseLease(): Promise<void> {
    if (this.lease !== null) await this.ctx.store.releaseLease(this.lease);
    this.lease = null;
    this.ctx.fence = undefined;
  }
}
