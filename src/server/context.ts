import type { Runtime } from '../runtime.ts';
import type { DiskMonitor } from './disk.ts';
import type { EventHub } from './hub.ts';

/**
 * The controller's last pass. `full`: it examined every active instance (a
 * complete pass); `light`: a timer pass over what changed and the waits only
 * a look outside can end; neither: a pass triggered by a change.
 */
export interface LastPass {
  at: string;
  durationMs: number;
  skipped: boolean;
  full?: boolean;
  light?: boolean;
}

/** What the controller tells the health panel (the daemon fills it in). */
export interface ControllerHealth {
  controller: string;
  upSince: string;
  /** Last sign of life of the controller's clock: its last pass start. */
  heartbeatAt: string | null;
  lastPass: LastPass | null;
  /** Time between timer-driven passes: a heartbeat older than a few of these means the controller is stuck. */
  intervalMs: number;
  /** Whether this controller leads the engine now. */
  leading: boolean;
  /** How long the engine lease lasts unrenewed. */
  leaseTtlMs: number;
}

export interface AppHooks {
  /**
   * Called after anything that may unblock work (a job report, an action), to
   * run a pass over what changed at once; `full` looks at every active
   * instance (a lock may have opened).
   */
  trigger(opts?: { full?: boolean }): void;
  /** The controller's side of `/api/health`; null when no controller runs in this process. */
  health(): ControllerHealth | null;
}

/** What every route module works with. */
export interface ServerContext {
  rt: Runtime;
  hooks: AppHooks;
  hub: EventHub;
  disk: DiskMonitor;
}
