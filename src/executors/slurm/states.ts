import { constants } from 'node:os';
import type { ExecutorJobState } from '../contract.ts';
import type { SlurmRow } from './queue.ts';

const HELD_REASONS = new Set(['JobHeldUser', 'JobHeldAdmin']);

/** States in which the job holds (or is getting) its allocation. */
const RUNNING = new Set([
  'RUNNING',
  'CONFIGURING',
  'COMPLETING',
  'SIGNALING',
  'STAGE_OUT',
  'RESIZING',
]);

/** Why a job ended, for the end states that are not its own doing. */
const END_REASONS: Record<string, string> = {
  TIMEOUT: 'timeout: the job ran past its Slurm time limit',
  NODE_FAIL: 'node failure: Slurm lost the node the job ran on',
  OUT_OF_MEMORY: 'out of memory: Slurm killed the job',
  PREEMPTED: 'preempted by Slurm for another job',
  BOOT_FAIL: 'the node failed to boot',
  DEADLINE: 'Slurm deadline reached before the job could end',
  REVOKED: 'revoked by Slurm (the job ran on another cluster of the federation)',
};

export const CANCELLED_OUTSIDE =
  'cancelled in Slurm, not by autoctrl (scancel or an administrator)';

function signalName(signal: number | null): string | null {
  if (signal === null || signal === 0) return null;
  const found = Object.entries(constants.signals).find(([, n]) => n === signal);
  return found?.[0] ?? `signal ${signal}`;
}

/**
 * A job as squeue or sacct shows it, in the contract's terms. `cancelReason`
 * is what autoctrl wrote down when it cancelled the job itself.
 */
export function stateOfRow(row: SlurmRow, cancelReason: string | null): ExecutorJobState {
  const executorId = row.id;
  const { state, reason } = row;
  if (state === 'PENDING') {
    if (reason !== null && HELD_REASONS.has(reason))
      return { state: 'held', executorId, reason: `held in Slurm (${reason})` };
    return { state: 'queued', executorId, reason };
  }
  if (state === 'REQUEUE_HOLD' || state === 'RESV_DEL_HOLD' || state === 'SPECIAL_EXIT')
    return { state: 'held', executorId, reason: `held in Slurm (${state})` };
  if (state === 'REQUEUED' || state === 'REQUEUE_FED')
    return { state: 'queued', executorId, reason: state };
  if (RUNNING.has(state)) return { state: 'running', executorId };
  if (state === 'SUSPENDED' || state === 'STOPPED')
    return { state: 'suspended', executorId, reason: reason ?? state };

  const signal = signalName(row.signal);
  if (state === 'COMPLETED')
    return { state: 'exited', executorId, exitCode: row.exitCode ?? 0, signal, reason: null };
  // Ended by Slurm rather than by itself: a 0 there is no success.
  const exitCode = row.exitCode === 0 ? null : row.exitCode;
  if (state === 'FAILED') {
    const why =
      reason !== null && reason !== 'NonZeroExitCode'
        ? `failed in Slurm (${reason})`
        : signal !== null
          ? `killed by ${signal}`
          : null;
    return { state: 'exited', executorId, exitCode, signal, reason: why };
  }
  if (state === 'CANCELLED') {
    return {
      state: 'exited',
      executorId,
      exitCode,
      signal,
      reason: cancelReason ?? CANCELLED_OUTSIDE,
    };
  }
  const known = END_REASONS[state];
  if (known !== undefined) return { state: 'exited', executorId, exitCode, signal, reason: known };
  // A state this autoctrl does not know (a newer Slurm): waiting is safer than guessing an end.
  return { state: 'queued', executorId, reason: `Slurm state ${state}` };
}

/** States that say the job has ended. */
export function isEnded(state: string): boolean {
  return (
    state === 'COMPLETED' || state === 'FAILED' || state === 'CANCELLED' || state in END_REASONS
  );
}
