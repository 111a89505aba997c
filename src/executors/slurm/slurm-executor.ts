import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirs } from '../../fs-util.ts';
import type { Logger } from '../../logger.ts';
import type { Executor, ExecutorJobState, JobLaunch, JobRef, SubmitAnswer } from '../contract.ts';
import { isCode } from '../local/job-files.ts';
import { FileLogExecutor } from '../shared/file-log-executor.ts';
import { SlurmCommandError, SlurmCommands } from './commands.ts';
import { parseSacct, parseSqueue, SACCT_FIELDS, type SlurmRow, SQUEUE_FIELDS } from './queue.ts';
import type { SlurmOptions } from './sbatch-args.ts';
import { isEnded, stateOfRow } from './states.ts';
import { submitBatch } from './submission.ts';
import { JOB_SCRIPT, readTaskMarker, type TaskMarker } from './task-file.ts';

export interface SlurmExecutorConfig extends SlurmOptions {
  maxJobs: number;
  pollIntervalMs: number;
  /** The script is written below it (`slurm/`). */
  dataDir: string;
  logger: Logger;
}

/** What identifies a job in Slurm's listings: its id, or (no id recorded) its task file's name and index. */
interface Wanted {
  ref: JobRef;
  marker: TaskMarker | null;
}

/**
 * `type: slurm`: jobs go to Slurm with `sbatch` (one array per batch where
 * their options agree), are followed with one `squeue` per `status()` call
 * (and `sacct` for those no longer in the queue), stopped with `scancel`.
 * Slurm runs them on a filesystem the controller shares, so staging and logs
 * are plain files. Jobs are polled only: there is no `onChange`.
 */
export class SlurmExecutor extends FileLogExecutor implements Executor {
  readonly scope = 'cluster' as const;
  readonly #cfg: SlurmExecutorConfig;
  readonly #commands: SlurmCommands;
  readonly #log: Logger;
  #script: Promise<string> | null = null;
  /** sacct answered "accounting storage is disabled": read the job completion log (`sacct -c`) instead. */
  #jobcompOnly = false;

  constructor(name: string, cfg: SlurmExecutorConfig) {
    super(name, cfg);
    this.#cfg = cfg;
    this.#log = cfg.logger;
    this.#commands = new SlurmCommands(name, cfg.commandTimeoutMs, cfg.slurmConf, cfg.logger);
  }

  /** A task file without any Slurm job this long after it was written: its sbatch never got through. */
  get #submitGraceMs(): number {
    return this.#cfg.commandTimeoutMs + 30_000;
  }

  submit(batch: readonly JobLaunch[]): Promise<SubmitAnswer[]> {
    return submitBatch(
      {
        executor: this.name,
        opts: this.#cfg,
        commands: this.#commands,
        log: this.#log,
        script: () => this.#writeScript(),
      },
      batch,
    );
  }

  #writeScript(): Promise<string> {
    this.#script ??= (async () => {
      const dir = join(this.#cfg.dataDir, 'slurm');
      await makeDirs(dir);
      const path = join(dir, 'autoctrl-job.sh');
      await writeFile(path, JOB_SCRIPT, { mode: 0o755 });
      return path;
    })().catch((err) => {
      this.#script = null;
      throw err;
    });
    return this.#script;
  }

  async status(jobs: readonly JobRef[]): Promise<Map<number, ExecutorJobState>> {
    const out = new Map<number, ExecutorJobState>();
    const wanted: Wanted[] = [];
    for (const ref of jobs) {
      const marker =
        ref.executorId === null ? await readTaskMarker(ref.workDir, ref.attempt) : null;
      // No task file and no id: this executor never handed the job over.
      if (ref.executorId === null && marker === null)
        out.set(ref.jobId, { state: 'never-submitted' });
      else wanted.push({ ref, marker });
    }
    if (wanted.length === 0) return out;

    let missing = await this.#resolve(wanted, await this.#squeue(), out, true);
    if (missing.length > 0)
      missing = await this.#resolve(missing, await this.#sacct(missing), out, false);
    const now = Date.now();
    for (const { ref, marker } of missing) {
      if (ref.executorId !== null) {
        out.set(ref.jobId, {
          state: 'gone',
          executorId: ref.executorId,
          reason: `Slurm job ${ref.executorId} is neither in squeue nor in sacct`,
        });
      } else if (marker !== null && now - marker.writtenAt < this.#submitGraceMs) {
        // Its sbatch may still be on its way (a controller killed while it ran).
        out.set(ref.jobId, { state: 'queued', executorId: null, reason: 'being submitted' });
      } else {
        out.set(ref.jobId, { state: 'never-submitted' });
      }
    }
    return out;
  }

  /** Sets the state of each wanted job found in `rows`; returns those not found. */
  async #resolve(
    wanted: Wanted[],
    rows: SlurmRow[],
    out: Map<number, ExecutorJobState>,
    fromQueue: boolean,
  ): Promise<Wanted[]> {
    const byId = new Map(rows.map((r) => [r.id, r]));
    const missing: Wanted[] = [];
    for (const w of wanted) {
      const id = w.ref.executorId ?? idOf(w.marker, rows);
      const row = id === null ? undefined : byId.get(id);
      if (row === undefined) {
        missing.push(w);
      } else if (!fromQueue && !isEnded(row.state)) {
        // Accounting says it lives, the queue no longer has it: slurmctld lost it.
        out.set(w.ref.jobId, {
          state: 'gone',
          executorId: row.id,
          reason: `sacct says ${row.state}, but squeue no longer lists Slurm job ${row.id}`,
        });
      } else {
        const cancelReason = row.state === 'CANCELLED' ? await readCancelReason(w.ref) : null;
        out.set(w.ref.jobId, stateOfRow(row, cancelReason));
      }
    }
    return missing;
  }

  /** Every job of this user Slurm still holds in memory, ended ones too (for MinJobAge), one line per array task. */
  async #squeue(): Promise<SlurmRow[]> {
    const { stdout } = await this.#commands.run('squeue', [
      '--me',
      '--noheader',
      '--array',
      '--states=all',
      `--Format=${SQUEUE_FIELDS}`,
    ]);
    return parseSqueue(stdout);
  }

  /** What the accounting knows of jobs the queue has forgotten: by id, and by name for those without one. */
  async #sacct(wanted: Wanted[]): Promise<SlurmRow[]> {
    const ids = wanted.flatMap((w) => (w.ref.executorId === null ? [] : [w.ref.executorId]));
    const markers = wanted.flatMap((w) => (w.marker === null ? [] : [w.marker]));
    const rows: SlurmRow[] = [];
    if (ids.length > 0) rows.push(...(await this.#sacctRun([`--jobs=${ids.join(',')}`])));
    if (markers.length > 0) {
      const since = Math.min(...markers.map((m) => m.writtenAt)) - 3_600_000;
      const names = [...new Set(markers.map((m) => m.name))];
      rows.push(
        ...(await this.#sacctRun([`--name=${names.join(',')}`, `--starttime=${sacctTime(since)}`])),
      );
    }
    return rows;
  }

  async #sacctRun(filter: string[]): Promise<SlurmRow[]> {
    const base = ['--noheader', '--parsable2', '--allocations', `--format=${SACCT_FIELDS}`];
    if (!this.#jobcompOnly) {
      try {
        return parseSacct((await this.#commands.run('sacct', [...base, ...filter])).stdout);
      } catch (err) {
        if (
          !(err instanceof SlurmCommandError && /accounting storage is disabled/i.test(err.stderr))
        )
          throw err;
        this.#log.warn(
          'Slurm has no accounting database: ended jobs are read from the job completion log (sacct -c), which knows array tasks only by their own job ids',
        );
        this.#jobcompOnly = true;
      }
    }
    // The completion log knows an array task by its own job id, not as <array>_<index>, and
    // filters nothing: only plain jobs are matched, by id or name, below.
    const rows = parseSacct(
      (await this.#commands.run('sacct', [...base, '--completion', ...filter])).stdout,
    );
    return rows;
  }

  async cancel(job: JobRef, reason: string): Promise<void> {
    await writeCancelReason(job, reason);
    const state = job.executorId === null ? (await this.status([job])).get(job.jobId) : null;
    const id =
      job.executorId ??
      (state !== undefined && state !== null && 'executorId' in state ? state.executorId : null);
    if (id === null) return;
    this.#log.info({ jobId: job.jobId, slurmJob: id, reason }, 'cancelling Slurm job');
    try {
      await this.#commands.run('scancel', [id]);
    } catch (err) {
      // Ended and gone already: nothing left to stop.
      if (
        err instanceof SlurmCommandError &&
        /Invalid job id|already completing or completed/i.test(err.stderr)
      )
        return;
      throw err;
    }
  }

  async close(): Promise<void> {}
}

/** The Slurm id of the job a task file describes, among listed rows (by name and array index). */
function idOf(marker: TaskMarker | null, rows: SlurmRow[]): string | null {
  if (marker === null) return null;
  for (const r of rows) {
    if (r.name !== marker.name) continue;
    const task = /_(\d+)$/.exec(r.id)?.[1];
    if (marker.index === null ? task === undefined : task === String(marker.index)) return r.id;
  }
  return null;
}

/** Why autoctrl cancelled a job, beside its task file: the first reason stays (a timeout is not renamed by a later cancel). */
function cancelFile(job: JobRef): string {
  return join(job.workDir, `slurm.${job.attempt}.cancel`);
}

async function writeCancelReason(job: JobRef, reason: string): Promise<void> {
  try {
    await writeFile(cancelFile(job), reason, { flag: 'wx' });
  } catch (err) {
    if (!isCode(err, 'EEXIST') && !isCode(err, 'ENOENT')) throw err;
  }
}

async function readCancelReason(job: JobRef): Promise<string | null> {
  try {
    return await readFile(cancelFile(job), 'utf8');
  } catch (err) {
    if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return null;
    throw err;
  }
}

/** sacct's --starttime, in the local time it reads. */
function sacctTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
