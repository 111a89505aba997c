import { IllegalTransitionError } from '../errors.ts';
import type { InstanceStatus, JobStatus } from './types.ts';

/**
 * Instance state machine (DESIGN.md). `waiting → waiting` records a change of
 * reason (another lock closed). `→ new` from a settled state is a reprocess and
 * starts a new attempt.
 */
export const INSTANCE_TRANSITIONS: Readonly<Record<InstanceStatus, readonly InstanceStatus[]>> = {
  new: ['waiting', 'processing'],
  waiting: ['waiting', 'processing', 'new'],
  processing: ['done', 'failed'],
  done: ['new'],
  failed: ['new'],
};

/**
 * Job state machine. A retry is a new job record with the next attempt, never a
 * transition back, so each attempt runs at most once.
 */
export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  idle: ['running', 'done', 'failed'],
  running: ['done', 'failed'],
  done: [],
  failed: [],
};

export function canTransitionInstance(from: InstanceStatus, to: InstanceStatus): boolean {
  return INSTANCE_TRANSITIONS[from].includes(to);
}

export function canTransitionJob(from: JobStatus, to: JobStatus): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

export function assertInstanceTransition(
  id: number | string,
  from: InstanceStatus,
  to: InstanceStatus,
): void {
  if (!canTransitionInstance(from, to)) throw new IllegalTransitionError('instance', id, from, to);
}

export function assertJobTransition(id: number | string, from: JobStatus, to: JobStatus): void {
  if (!canTransitionJob(from, to)) throw new IllegalTransitionError('job', id, from, to);
}

export function isTerminalJob(status: JobStatus): boolean {
  return JOB_TRANSITIONS[status].length === 0;
}
