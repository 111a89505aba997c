import { join } from 'node:path';
import Database from 'better-sqlite3';
import { silentLogger } from '../src/logger.ts';
import { openStore } from '../src/store/open.ts';
import { type Figure, flags, isMain, load, median, report, scratch } from './lib.ts';

const DEFAULTS = { queue: 20_000, reps: 200 };

/** `queue` idle jobs of started instances, two of them claimed, one in a thousand delayed. */
function fill(file: string, queue: number): void {
  const db = new Database(file);
  try {
    const instance = db.prepare<[string, string, number]>(
      `INSERT INTO instances (campaign, task, group_key, runs, first_run, status, attempt, created_at, updated_at)
       VALUES ('prompt', 't', ?, ?, ?, 'processing', 1, 1, 1)`,
    );
    const job = db.prepare<[number, string | null, number | null]>(
      `INSERT INTO jobs (instance_id, campaign, task, job_index, attempt, instance_attempt, status, executor,
         claimed_by, not_before, created_at)
       VALUES (?, 'prompt', 't', 0, 1, 1, 'idle', 'local', ?, ?, 1)`,
    );
    db.transaction(() => {
      for (let i = 0; i < queue; i++) {
        const id = Number(instance.run(String(i), `[${i + 1}]`, i + 1).lastInsertRowid);
        job.run(id, i < 2 ? 'bench' : null, i % 1000 === 0 ? Date.now() + 3_600_000 : null);
      }
    })();
  } finally {
    db.close();
  }
}

/**
 * The three reads of the job queue every pass makes (jobs in flight, ready
 * jobs, the next delayed retry), on a SQLite store with a queue of idle jobs
 * (bulk reprocessing waiting for slots): their cost must not follow the queue.
 */
export async function benchQueueReads(opts: Partial<typeof DEFAULTS> = {}): Promise<Figure[]> {
  const o = { ...DEFAULTS, ...opts };
  const s = scratch('autoctrl-bench-queue-');
  try {
    const file = join(s.dir, 'state.db');
    await (await openStore(`sqlite:${file}`, silentLogger())).close();
    fill(file, o.queue);
    const store = await openStore(`sqlite:${file}`, silentLogger());
    try {
      const reads = {
        jobsInFlight: () => store.jobsInFlight(),
        readyJobs: () =>
          store.readyJobs({ executor: 'local', campaign: 'prompt', now: Date.now(), limit: 2 }),
        nextJobRetry: () => store.nextJobRetry(Date.now()),
      };
      const times: number[] = [];
      for (let rep = 0; rep < o.reps; rep++) {
        const t = performance.now();
        for (const read of Object.values(reads)) await read();
        times.push(performance.now() - t);
      }
      const v = median(times);
      return [
        report({
          name: `a pass's three reads of the job queue (in flight, ready, next retry), ${o.queue} idle jobs, SQLite, median of ${o.reps}`,
          value: v,
          unit: 'ms',
          target: '≤ 1 ms (a pass with nothing to do ≤ 50 ms)',
          ok: v <= 1,
          detail: load(),
        }),
      ];
    } finally {
      await store.close();
    }
  } finally {
    s.remove();
  }
}

if (isMain(import.meta.url)) await benchQueueReads(flags(DEFAULTS));
