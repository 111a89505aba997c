import { jobTokenSecret } from './app/tokens.ts';
import type { Deployment } from './config/types.ts';
import { claimDataDir } from './data-dir.ts';
import { CampaignBook } from './engine/campaign-book.ts';
import { type EngineContext, newEngineMemory } from './engine/context.ts';
import { Engine } from './engine/engine.ts';
import { newControllerId } from './engine/liveness.ts';
import { AutoctrlError } from './errors.ts';
import type { Executor } from './executors/contract.ts';
import { executorKinds } from './executors/registry.ts';
import { hostName } from './host-name.ts';
import type { Logger } from './logger.ts';
import type { StateStore } from './store/contract.ts';
import { openStore } from './store/open.ts';

/** A deployment brought to life: its store, executors and engine. */
export interface Runtime {
  deployment: Deployment;
  store: StateStore;
  executors: Map<string, Executor>;
  engine: Engine;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger: Logger;
  serverUrl?: string | null;
  controllerId?: string;
  leaseTtlMs?: number;
  claimTtlMs?: number;
  now?: () => number;
}

export async function openExecutors(
  deployment: Deployment,
  logger: Logger,
): Promise<Map<string, Executor>> {
  const executors = new Map<string, Executor>();
  for (const [name, cfg] of Object.entries(deployment.executors)) {
    const kind = executorKinds[cfg.type];
    if (kind === undefined)
      throw new AutoctrlError('unknown_executor', `executor ${name}: unknown type ${cfg.type}`);
    const pinned = cfg.options.host;
    if (kind.hostScoped === true && typeof pinned === 'string' && pinned !== hostName()) {
      // Only a controller on that host can start and watch its jobs: one there runs them (host-jobs.ts).
      logger.info(
        { executor: name, host: pinned },
        'executor runs on another host: not opened here',
      );
      continue;
    }
    const factory = await kind.load();
    executors.set(
      name,
      await factory(name, cfg.options, {
        logger: logger.child({ executor: name }),
        dataDir: deployment.dataDir,
        host: hostName(),
        configDir: deployment.dir,
        maxJobs: cfg.maxJobs,
        pollIntervalMs: cfg.pollIntervalMs,
      }),
    );
  }
  return executors;
}

export async function openRuntime(deployment: Deployment, opts: RuntimeOptions): Promise<Runtime> {
  const store = await openStore(deployment.store, opts.logger);
  try {
    // Before the executors: they mark their jobs with the id this leaves in the data directory.
    await claimDataDir(store, deployment);
    const executors = await openExecutors(deployment, opts.logger);
    const leaseTtlMs = opts.leaseTtlMs ?? deployment.engine.leaseTtlMs;
    const ctx: EngineContext = {
      deployment,
      store,
      executors,
      logger: opts.logger,
      controllerId: opts.controllerId ?? newControllerId(),
      leaseTtlMs,
      // A claim outlives the lease: its owner notices the lost lease and stops before it lapses.
      claimTtlMs: opts.claimTtlMs ?? 2 * leaseTtlMs,
      fence: undefined,
      now: opts.now ?? Date.now,
      serverUrl: opts.serverUrl ?? null,
      tokenSecret: await jobTokenSecret(store),
      campaigns: new CampaignBook(deployment),
      memory: newEngineMemory(),
    };
    const engine = new Engine(ctx);
    return {
      deployment,
      store,
      executors,
      engine,
      async close() {
        await engine.releaseLease();
        await engine.hostJobs.release();
        for (const e of executors.values()) await e.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
