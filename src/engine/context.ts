import type { Deployment, TaskConfig } from '../config/types.ts';
import type { Executor } from '../executors/contract.ts';
import type { Logger } from '../logger.ts';
import type { StateStore } from '../store/contract.ts';

/** What every step of a pass works with. */
export interface EngineContext {
  deployment: Deployment;
  store: StateStore;
  executors: ReadonlyMap<string, Executor>;
  logger: Logger;
  /** This controller's identity in job claims: stable across its restarts. */
  controllerId: string;
  /**
   * Who holds the engine lease while passing: only one process passes at a
   * time on a store, so a standby controller or a cron `autoctrl pass` never
   * races the daemon.
   */
  leaseOwner: string;
  leaseTtlMs: number;
  now(): number;
  /** Where jobs reach the reporting endpoint; null when no server runs (`autoctrl pass`). */
  serverUrl: string | null;
  /** Secret that job tokens derive from (see tokens.ts). */
  tokenSecret: Buffer;
}

export function taskByName(
  ctx: Pick<EngineContext, 'deployment'>,
  name: string,
): TaskConfig | undefined {
  return ctx.deployment.tasks.find((t) => t.name === name);
}

export function downstreamOf(deployment: Deployment, task: string): TaskConfig[] {
  return deployment.tasks.filter((t) => t.after.includes(task));
}
