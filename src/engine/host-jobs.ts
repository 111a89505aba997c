import { FencedError } from '../errors.ts';
import type { Executor, ExecutorJobState } from '../executors/contract.ts';
import type { Job } from '../model/types.ts';
import type { Lease } from '../store/contract.ts';
import { stopJob } from './campaign-stop.ts';
import type { EngineContext } from './context.ts';
import { executorMemory, jobsInFlight, jobsToAsk, nextWake } from './executor-state.ts';
import { deadOnThisHost, liveOnThisHost } from './liveness.ts';
import { submitIdle } from './submit.ts';
import { syncExecutor } from './sync-executors.ts';

/** The lease naming the controller that runs a host-scoped executor's jobs. */
export function hostLeaseName(executor: string): string {
  return `executor:${executor}`;
}

interface HostLease {
  lease: Lease | null;
  /** Local time of the next take or renewal. */
  nextTry: number;
}

/**
 * The jobs of host-scoped executors (`scope: 'host'`, local processes) can
 * only be started, watched and stopped on their host, so they must not wait
 * for a controller of that host to lead. Each such executor has a lease of
 * its own (`executor:<name>`, judged by the store's clock) held by one
 * controller that opened it; that controller claims, submits and polls the
 * executor's jobs and records their transitions, whether it leads the
 * engine or not. The leader keeps the rest (intake, gating, settling
 * instances, campaign state) and is woken by the store when a job's end is
 * recorded; the holder is woken the same way when the leader creates jobs.
 *
 * One holder per executor keeps `max_jobs` and campaign shares exact (one
 * process counts the claims) and the executor polled once. Its claims are
 * fenced by the executor's lease, not the engine's: a holder that lost the
 * executor cannot claim beside its successor. A leader of the executor's
 * host holds it itself, so that with controllers on one host the leader's
 * pass hands jobs over as a single controller's does. When the holder
 * dies, another controller of the host takes the lease (at once when the
 * holder's process is gone) and asks about every job, adopting those still
 * running through their work directories, as after a restart.
 */
export class HostJobs {
  readonly #ctx: EngineContext;
  /** The engine's lease: a standby leaves its host's executors to a leader of the same host. */
  readonly #engineLease: string;
  readonly #leases = new Map<string, HostLease>();
  #holding: Promise<boolean> | null = null;

  constructor(ctx: EngineContext, engineLease: string) {
    this.#ctx = ctx;
    this.#engineLease = engineLease;
  }

  /** Whether this controller runs some host-scoped executor's jobs now. */
  get holding(): boolean {
    for (const h of this.#leases.values()) if (h.lease !== null) return true;
    return false;
  }

  /**
   * Takes or renews the leases of the host-scoped executors this controller
   * opened, each at most every third of the lease's life; true when one was
   * newly taken (its next poll adopts its jobs). Calls that overlap share
   * one round.
   */
  hold(): Promise<boolean> {
    this.#holding ??= this.#holdAll().finally(() => {
      this.#holding = null;
    });
    return this.#holding;
  }

  async #holdAll(): Promise<boolean> {
    const { store, executors, controllerId } = this.#ctx;
    const asked = Date.now();
    const due = [...executors.values()].filter(
      (e) => e.scope === 'host' && asked >= (this.#leases.get(e.name)?.nextTry ?? 0),
    );
    if (due.length === 0) return false;
    // A leader on this host runs them in its own pass, in step with gating (one hop less per job,
    // as with a single controller): a standby of the same host leaves them to it.
    const leader = (await store.getLease(this.#engineLease))?.owner;
    const yieldTo = leader !== undefined && liveOnThisHost(leader, controllerId) ? leader : null;
    let gained = false;
    for (const e of due) if (await this.#holdOne(e.name, asked, yieldTo)) gained = true;
    return gained;
  }

  async #holdOne(name: string, asked: number, yieldTo: string | null): Promise<boolean> {
    const { store, leaseTtlMs, logger } = this.#ctx;
    const h = this.#leases.get(name) ?? { lease: null, nextTry: 0 };
    this.#leases.set(name, h);
    const had = h.lease;
    if (yieldTo !== null) {
      h.lease = null;
      h.nextTry = asked + leaseTtlMs / 3;
      if (had === null) return false;
      // Claims made under it are refused once the leader takes it (a new epoch).
      await store.releaseLease(had);
      logger.info({ executor: name, leader: yieldTo }, 'executor left to the leader of this host');
      return false;
    }
    const next = had === null ? await this.#acquire(name) : await store.renewLease(had, leaseTtlMs);
    h.lease = next;
    h.nextTry = asked + (next === null ? leaseTtlMs / 3 : (2 * leaseTtlMs) / 3);
    if (next !== null && next.epoch !== had?.epoch) {
      executorMemory(this.#ctx, name).adopt = true;
      logger.info(
        { executor: name, epoch: next.epoch },
        'this controller runs the executor’s jobs',
      );
      return true;
    }
    if (next === null && had !== null)
      logger.warn({ executor: name }, 'executor lease lost: another controller runs its jobs');
    return false;
  }

  async #acquire(name: string): Promise<Lease | null> {
    const { store, controllerId, leaseTtlMs } = this.#ctx;
    const lease = hostLeaseName(name);
    const got = await store.acquireLease(lease, controllerId, leaseTtlMs);
    if (got !== null) return got;
    const holder = (await store.getLease(lease))?.owner;
    if (holder === undefined || !deadOnThisHost(holder, controllerId)) return null;
    return store.acquireLease(lease, controllerId, leaseTtlMs, { takeFrom: holder });
  }

  /**
   * The executors whose jobs this controller runs now: every cluster-scoped
   * one it opened, and the host-scoped ones whose lease it holds.
   */
  async runnable(): Promise<Map<string, Executor>> {
    await this.hold();
    const mine = new Map<string, Executor>();
    for (const [name, executor] of this.#ctx.executors)
      if (executor.scope !== 'host' || this.#leases.get(name)?.lease != null)
        mine.set(name, executor);
    return mine;
  }

  /**
   * Runs `work` over an executor's jobs. A host-scoped executor's claims
   * carry its own lease's epoch (not the engine's), so a controller that
   * lost the executor cannot claim beside the one that took it, whether
   * either leads or not; such a refused claim ends `work` with `otherwise`
   * and the executor is left to its new holder.
   */
  async run<T>(
    executor: Executor,
    work: (ctx: EngineContext) => Promise<T>,
    otherwise: T,
  ): Promise<T> {
    const h = executor.scope === 'host' ? this.#leases.get(executor.name) : undefined;
    const lease = h?.lease;
    if (h === undefined || lease == null) return work(this.#ctx);
    try {
      return await work({ ...this.#ctx, fence: { lease: lease.name, epoch: lease.epoch } });
    } catch (err) {
      if (!(err instanceof FencedError) || err.lease !== lease.name) throw err;
      h.lease = null;
      h.nextTry = Date.now() + this.#ctx.leaseTtlMs / 3;
      this.#ctx.logger.warn(
        { executor: executor.name },
        'executor taken over by another controller',
      );
      return otherwise;
    }
  }

  /**
   * A controller's pass while another leads: over the host-scoped executors
   * it holds, merges what they know (exits, starts), stops jobs of cancelled
   * campaigns and hands idle jobs over, within `max_jobs` and the campaigns'
   * shares. Leader-only writes are left alone. Returns when a pass is next
   * due without a trigger (a delayed retry, a poll).
   */
  async pass(full: boolean, told: ReadonlyMap<number, ExecutorJobState>): Promise<number | null> {
    const ctx = this.#ctx;
    await this.hold();
    const held = [...ctx.executors.values()].filter(
      (e) => e.scope === 'host' && this.#leases.get(e.name)?.lease != null,
    );
    if (held.length === 0) return null;
    // A campaign's task settings, share and cancellation, as the leader last wrote them.
    const campaigns = await ctx.campaigns.refresh(ctx.store);
    const executors = new Map(held.map((e) => [e.name, e]));
    const inFlight = await jobsInFlight(ctx);
    const active = new Map<string, Job[]>();
    for (const executor of held) {
      const jobs = inFlight.get(executor.name) ?? [];
      const asked = jobsToAsk(ctx, executor, jobs, told, full, ctx.now());
      const left = await this.run(
        executor,
        async (own) => {
          await syncExecutor(own, executor, asked, told);
          // Re-read what it changed: jobs moved on, and their slots are free.
          const current =
            asked.length > 0 ? ((await jobsInFlight(ctx)).get(executor.name) ?? []) : jobs;
          // Idle jobs nobody claimed are the leader's to stop; those handed over only their holder can.
          for (const job of current)
            if (ctx.campaigns.get(job.campaign)?.cancelled === true)
              await stopJob(own, job, executors);
          await submitIdle(own, executor, current, campaigns);
          return current;
        },
        [],
      );
      active.set(executor.name, left);
    }
    return nextWake(ctx, executors, active);
  }

  /** Lets another controller of the host take the executors over at once (a clean stop). */
  async release(): Promise<void> {
    for (const h of this.#leases.values()) {
      if (h.lease !== null) await this.#ctx.store.releaseLease(h.lease);
      h.lease = null;
    }
  }
}
