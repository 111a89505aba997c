import type { Logger } from '../../logger.ts';
import type { ExecutorJobState, JobRef } from '../contract.ts';

/** How often jobs that cannot be told of are looked at. */
export const FOLLOW_EVERY_MS = 1000;

type Look = (ref: JobRef) => Promise<ExecutorJobState>;
type Tell = (jobId: number, state: ExecutorJobState) => void;

/**
 * Jobs that another launcher runs (adopted after a restart or a takeover)
 * cannot be told of: nothing reaches this process when they start or end.
 * They are looked at every `everyMs` instead, and what changed is told as
 * for the jobs started here, so the engine settles an adopted job within a
 * second of its end, not at its next timer pass. Only jobs `status()` said
 * are queued or running are followed, until they are neither.
 */
export class Follower {
  readonly #jobs = new Map<number, { ref: JobRef; state: ExecutorJobState['state'] }>();
  readonly #look: Look;
  readonly #tell: Tell;
  readonly #log: Logger;
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | null = null;
  #round: Promise<void> | null = null;
  #closed = false;

  constructor(look: Look, tell: Tell, log: Logger, everyMs = FOLLOW_EVERY_MS) {
    this.#look = look;
    this.#tell = tell;
    this.#log = log;
    this.#everyMs = everyMs;
  }

  /** What `status()` said of a job this process did not start: followed while it is queued or running. */
  note(ref: JobRef, state: ExecutorJobState): void {
    if (this.#closed) return;
    if (state.state === 'queued' || state.state === 'running') {
      this.#jobs.set(ref.jobId, { ref, state: state.state });
      this.#schedule();
    } else {
      this.#jobs.delete(ref.jobId);
    }
  }

  #schedule(): void {
    if (this.#timer !== null || this.#round !== null || this.#jobs.size === 0 || this.#closed)
      return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#round = this.#lookAll().finally(() => {
        this.#round = null;
        this.#schedule();
      });
    }, this.#everyMs);
    // A controller with nothing else to do may exit: the next one follows these jobs.
    this.#timer.unref();
  }

  async #lookAll(): Promise<void> {
    for (const [jobId, seen] of [...this.#jobs]) {
      let now: ExecutorJobState;
      try {
        now = await this.#look(seen.ref);
      } catch (err) {
        this.#log.warn({ err, jobId }, 'could not look at a job another launcher runs');
        continue;
      }
      // Closed, or `status()` noted it again meanwhile (and answered the engine itself).
      if (this.#closed || this.#jobs.get(jobId) !== seen || now.state === seen.state) continue;
      if (now.state === 'queued' || now.state === 'running') seen.state = now.state;
      else this.#jobs.delete(jobId);
      this.#tell(jobId, now);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#jobs.clear();
    await this.#round;
  }
}
