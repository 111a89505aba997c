import type { Logger } from '../logger.ts';

/**
 * The submissions a pass started and did not wait for, by job id: from the
 * claim until the executor's answer is recorded. While a job is here the
 * engine neither asks its executor about it (it could not know it yet) nor
 * follows an exit told of it (its start is not recorded yet).
 */
export class Submissions {
  readonly #jobs = new Map<number, Promise<void>>();

  has(jobId: number): boolean {
    return this.#jobs.has(jobId);
  }

  /**
   * Follows `work`, the submission of `jobIds`, until it ends. It does not
   * reject: a submission that throws is logged, and its jobs keep their
   * claims, so a later pass learns from the executor whether they arrived.
   */
  add(jobIds: readonly number[], work: Promise<void>, logger: Logger): void {
    const done = work
      .catch((err: unknown) =>
        logger.error({ err, jobs: jobIds }, 'submission not recorded: the executor is asked later'),
      )
      .finally(() => {
        for (const id of jobIds) if (this.#jobs.get(id) === done) this.#jobs.delete(id);
      });
    for (const id of jobIds) this.#jobs.set(id, done);
  }

  /** Resolves once every submission under way now (and any added meanwhile) has ended. */
  async settled(): Promise<void> {
    while (this.#jobs.size > 0) await Promise.all(this.#jobs.values());
  }
}
