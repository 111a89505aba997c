import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ExecutorUnavailableError, InfrastructureError } from '../../errors.ts';
import { makeDirs } from '../../fs-util.ts';
import type { Logger } from '../../logger.ts';
import type { Executor, ExecutorJobState, JobLaunch, JobRef, SubmitAnswer } from '../contract.ts';
import { FileLogExecutor } from '../shared/file-log-executor.ts';
import { refOfLaunch } from '../shared/job-ref.ts';
import { STAGED, stageOnSharedFs } from '../shared/staging.ts';
import {
  batchesConstraint,
  type CondorCli,
  CondorCommandError,
  type JobAd,
  namesConstraint,
} from './commands.ts';
import {
  EventLog,
  FILES,
  type Marker,
  readCancelReason,
  readEventLog,
  readMarker,
  removeMarker,
  stateFromAd,
  stateFromLog,
  writeCancelReason,
  writeMarker,
} from './job-files.ts';
import { buildSubmitDescription, type SubmitTemplate } from './submit-file.ts';

export interface HTCondorExecutorOptions {
  cli: CondorCli;
  logger: Logger;
  /** Where batches keep their submit descriptions and event logs. */
  dir: string;
  /** The launcher script (`WRAPPER_SCRIPT`), already written. */
  wrapper: string;
  template: SubmitTemplate | null;
  sharedFs: boolean;
  maxJobs: number;
  pollIntervalMs: number;
  /** Least time between two `condor_q` checks (adoption, `gone`): the schedd is not asked every pass. */
  queueCheckMs: number;
}

type ChangeListener = (jobId: number, state: ExecutorJobState) => void;

/** What status() knows of a job for one call. */
interface Seen {
  ref: JobRef;
  marker: Marker;
  executorId: string | null;
  state: ExecutorJobState | null;
}

const TERMINAL = new Set(['exited', 'gone', 'never-submitted']);

/**
 * Jobs of an HTCondor schedd, driven through its command-line tools. Each
 * batch is one cluster with its own event log, which `status` reads
 * incrementally (as DAGMan does); `condor_q`/`condor_history` are asked at
 * most once per `queueCheckMs`, for jobs the log cannot account for.
 */
export class HTCondorExecutor extends FileLogExecutor implements Executor {
  readonly scope = 'cluster';
  readonly #o: HTCondorExecutorOptions;
  readonly #logs = new Map<string, EventLog>();
  readonly #markers = new Map<string, Marker>();
  /** Work directories whose submission is under way here: not `never-submitted`. */
  readonly #pending = new Map<string, Promise<unknown>>();
  readonly #listeners: ChangeListener[] = [];
  /** Jobs submitted by this instance and not yet ended: watched for `onChange`. */
  readonly #watched = new Map<number, JobRef>();
  readonly #told = new Set<number>();
  /** Ended jobs by work directory: never read again. */
  readonly #final = new Map<string, ExecutorJobState>();
  #lastQueueCheck = Number.NEGATIVE_INFINITY;
  #watchTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(name: string, opts: HTCondorExecutorOptions) {
    super(name, opts);
    this.#o = opts;
  }

  /** The tool calls so far (`condor_q` etc.), for benchmarks and tests. */
  get calls(): ReadonlyMap<string, number> {
    return this.#o.cli.calls;
  }

  onChange(listener: ChangeListener): void {
    this.#listeners.push(listener);
  }

  async submit(batch: readonly JobLaunch[]): Promise<SubmitAnswer[]> {
    const answers: SubmitAnswer[] = batch.map(() => ({ executorId: null }));
    if (batch.length === 0) return answers;
    const stamp = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const batchName = `${batch[0]?.name.replace(/\.\d+$/, '')}-${stamp}`;
    const plan = {
      log: join(this.#o.dir, `${batchName}.log`),
      batchName,
      sharedFs: this.#o.sharedFs,
      wrapper: this.#o.wrapper,
    };
    const good: Array<{ i: number; launch: JobLaunch }> = [];
    for (const [i, raw] of batch.entries()) {
      try {
        if (this.#closed) throw new Error('the executor is closed');
        const launch = this.#prepare(raw);
        buildSubmitDescription(this.#o.template, [launch], plan);
        good.push({ i, launch });
      } catch (err) {
        answers[i] = { error: err instanceof Error ? err : new Error(String(err)) };
      }
    }
    if (good.length === 0) return answers;
    const work = this.#submitGood(good, plan, answers);
    for (const { launch } of good) this.#pending.set(resolve(launch.workDir), work);
    try {
      await work;
    } finally {
      for (const { launch } of good) this.#pending.delete(resolve(launch.workDir));
    }
    return answers;
  }

  /** The launch as the job will see it: without a shared filesystem, its files are scratch-relative. */
  #prepare(launch: JobLaunch): JobLaunch {
    if (launch.argv.length === 0) throw new Error('argv is empty: the task has no command');
    if (this.#o.sharedFs) return launch;
    const env = { ...launch.env };
    if ('AUTOCTRL_INPUTS' in env) env.AUTOCTRL_INPUTS = STAGED.inputs;
    if ('AUTOCTRL_OUTPUT_DIR' in env) env.AUTOCTRL_OUTPUT_DIR = STAGED.outputs;
    return { ...launch, env };
  }

  async #submitGood(
    good: Array<{ i: number; launch: JobLaunch }>,
    plan: { log: string; batchName: string; sharedFs: boolean; wrapper: string },
    answers: SubmitAnswer[],
  ): Promise<void> {
    const marked: Array<{ i: number; launch: JobLaunch }> = [];
    for (const g of good) {
      try {
        await stageOnSharedFs(g.launch);
        await makeDirs(dirname(g.launch.logPath));
        const proc = marked.length;
        const marker = { log: plan.log, batchName: plan.batchName, proc, name: g.launch.name };
        await writeMarker(g.launch.workDir, marker).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
          throw new Error(
            `${join(g.launch.workDir, FILES.marker)} says it was submitted already: ask status() what became of it`,
          );
        });
        marked.push(g);
      } catch (err) {
        answers[g.i] = { error: err instanceof Error ? err : new Error(String(err)) };
      }
    }
    if (marked.length === 0) return;
    const launches = marked.map((g) => g.launch);
    const { text, warnings } = buildSubmitDescription(this.#o.template, launches, plan);
    for (const w of warnings) this.#o.logger.warn({ batch: plan.batchName }, w);
    const file = join(this.#o.dir, `${plan.batchName}.sub`);
    let range: { cluster: number; first: number; last: number };
    try {
      // A disk that refuses the description is the site's fault: InfrastructureError keeps the retries.
      await writeFile(file, text).catch((err: unknown) => {
        throw new InfrastructureError(`writing ${file}`, String(err), { cause: err });
      });
      range = await this.#o.cli.submit(file);
    } catch (err) {
      // Unreachable: the jobs may have arrived; their markers stay and status() finds out.
      if (err instanceof ExecutorUnavailableError) throw err;
      await Promise.all(launches.map((l) => removeMarker(l.workDir)));
      for (const g of marked) answers[g.i] = { error: err as Error };
      return;
    }
    this.#o.logger.info(
      { batch: plan.batchName, cluster: range.cluster, jobs: marked.length },
      'submitted',
    );
    for (const [proc, g] of marked.entries()) {
      const executorId = `${range.cluster}.${range.first + proc}`;
      answers[g.i] = { executorId };
      this.#watch(refOfLaunch(g.launch, executorId, Date.now()));
    }
  }

  async status(jobs: readonly JobRef[]): Promise<Map<number, ExecutorJobState>> {
    const result = new Map<number, ExecutorJobState>();
    const open = jobs.filter((ref) => {
      const final = this.#final.get(resolve(ref.workDir));
      if (final !== undefined) result.set(ref.jobId, final);
      return final === undefined;
    });
    const markers = await Promise.all(
      open.map((ref) => this.#markers.get(resolve(ref.workDir)) ?? this.#marker(ref.workDir)),
    );
    const seen: Seen[] = [];
    for (const [i, ref] of open.entries()) {
      const marker = markers[i];
      if (marker === null || marker === undefined) {
        const pending = this.#pending.has(resolve(ref.workDir));
        result.set(
          ref.jobId,
          pending ? { state: 'queued', executorId: null } : { state: 'never-submitted' },
        );
      } else {
        seen.push({ ref, marker, executorId: ref.executorId, state: null });
      }
    }
    await this.#fromLogs(seen);
    const unsettled = seen.filter((s) => s.state === null || !TERMINAL.has(s.state.state));
    if (unsettled.length > 0 && Date.now() - this.#lastQueueCheck >= this.#o.queueCheckMs) {
      this.#lastQueueCheck = Date.now();
      await this.#fromQueue(unsettled);
    }
    for (const s of seen) {
      const state = s.state ?? { state: 'queued', executorId: s.executorId, reason: null };
      result.set(s.ref.jobId, state);
      if (state.state === 'exited') this.#final.set(resolve(s.ref.workDir), state);
      if (TERMINAL.has(state.state)) this.#tell(s.ref.jobId, state);
    }
    return result;
  }

  async #marker(workDir: string): Promise<Marker | null> {
    const key = resolve(workDir);
    const known = this.#markers.get(key);
    if (known !== undefined) return known;
    const marker = await readMarker(key);
    if (marker !== null) this.#markers.set(key, marker);
    return marker;
  }

  /** Fills in the state of every job its batch's event log accounts for. */
  async #fromLogs(seen: readonly Seen[]): Promise<void> {
    const logs = new Set(seen.map((s) => s.marker.log));
    for (const path of logs) {
      let log = this.#logs.get(path);
      if (log === undefined) {
        log = new EventLog();
        this.#logs.set(path, log);
      }
      await readEventLog(path, log);
    }
    for (const s of seen) {
      const log = this.#logs.get(s.marker.log);
      const cluster = log?.clusters[0];
      if (s.executorId === null && cluster !== undefined)
        s.executorId = `${cluster}.${s.marker.proc}`;
      const logged = s.executorId === null ? undefined : log?.jobs.get(s.executorId);
      if (logged === undefined || s.executorId === null) continue;
      // Only a removed job (no exit status) can have been cancelled by autoctrl.
      const removed =
        logged.state.state === 'exited' &&
        logged.state.exitCode === null &&
        logged.state.signal === null;
      const cancel = removed ? await readCancelReason(s.ref.workDir) : null;
      s.state = stateFromLog(s.executorId, logged, cancel, s.ref.timeoutMs);
    }
  }

  /**
   * Asks the schedd (then its history) about jobs the event log does not
   * account for (no submit event: adoption) or has not seen end (to find
   * those gone without a trace).
   */
  async #fromQueue(unsettled: readonly Seen[]): Promise<void> {
    const batches = [...new Set(unsettled.map((s) => s.marker.batchName))];
    const ads = new Map<string, JobAd>();
    for (const ad of await this.#o.cli.queue(batchesConstraint(batches)))
      if (ad.AutoctrlJob !== undefined) ads.set(ad.AutoctrlJob, ad);
    for (const s of unsettled) {
      const ad = ads.get(s.marker.name);
      // The log has no word of it yet (adoption): the queue's word stands.
      if (ad !== undefined && s.state === null) s.state = stateFromAd(ad, null);
    }
    const missing = unsettled.filter((s) => !ads.has(s.marker.name)).map((s) => s.marker.name);
    if (missing.length === 0) return;
    for (const ad of await this.#o.cli.history(namesConstraint(missing), missing.length))
      if (ad.AutoctrlJob !== undefined && !ads.has(ad.AutoctrlJob)) ads.set(ad.AutoctrlJob, ad);
    const left = unsettled.filter((s) => missing.includes(s.marker.name));
    // A job that left the queue wrote its last event before: the log may tell now.
    await this.#fromLogs(left);
    for (const s of left) {
      if (s.state?.state === 'exited') continue;
      const ad = ads.get(s.marker.name);
      if (ad !== undefined) {
        s.state = stateFromAd(ad, await readCancelReason(s.ref.workDir));
      } else if (s.executorId === null && !this.#pending.has(resolve(s.ref.workDir))) {
        // Marked, but the schedd never took it (condor_submit failed or timed out first).
        await removeMarker(s.ref.workDir);
        this.#markers.delete(resolve(s.ref.workDir));
        s.state = { state: 'never-submitted' };
      } else if (s.executorId !== null) {
        const reason = 'neither condor_q nor condor_history knows it';
        s.state = { state: 'gone', executorId: s.executorId, reason };
      }
    }
  }

  async cancel(job: JobRef, reason: string): Promise<void> {
    await this.#pending.get(resolve(job.workDir))?.catch(() => undefined);
    const state = (await this.status([job])).get(job.jobId);
    if (state === undefined || TERMINAL.has(state.state)) return;
    const executorId = 'executorId' in state ? (state.executorId ?? job.executorId) : null;
    if (executorId === null) {
      throw new ExecutorUnavailableError(
        this.name,
        `job ${job.jobId} has no HTCondor id yet; cancel again once condor_q knows it`,
      );
    }
    await writeCancelReason(job.workDir, reason);
    this.#o.logger.info({ jobId: job.jobId, executorId, reason }, 'removing job');
    try {
      await this.#o.cli.remove([executorId]);
    } catch (err) {
      // Already gone from the queue: it ended meanwhile, which its log will say.
      if (!(err instanceof CondorCommandError && /not found|nonexistent/i.test(err.stderr)))
        throw err;
    }
  }

  /** Releases held jobs (an operator's action; the engine does not call it). */
  async release(jobs: readonly JobRef[]): Promise<void> {
    const ids = jobs.map((j) => j.executorId).filter((id): id is string => id !== null);
    if (ids.length === 0) return;
    try {
      await this.#o.cli.release(ids);
    } catch (err) {
      // condor_release acts on the others and exits 1 for a job released meanwhile or ended.
      const lines = err instanceof CondorCommandError ? err.stderr.split('\n') : [];
      const notHeld = (l: string) => l.trim() === '' || /not held to be released|not found/.test(l);
      if (lines.length === 0 || !lines.every(notHeld)) throw err;
    }
  }

  /** Jobs submitted here are watched through their event logs, so that `onChange` fires without a poll. */
  #watch(ref: JobRef): void {
    if (this.#listeners.length === 0) return;
    this.#watched.set(ref.jobId, ref);
    if (this.#watchTimer !== null) return;
    const tick = () => {
      this.#watchTimer = null;
      if (this.#closed || this.#watched.size === 0) return;
      void this.#fromLogsOnly([...this.#watched.values()]).finally(() => {
        if (!this.#closed && this.#watched.size > 0 && this.#watchTimer === null) {
          this.#watchTimer = setTimeout(tick, WATCH_MS);
          this.#watchTimer.unref();
        }
      });
    };
    this.#watchTimer = setTimeout(tick, WATCH_MS);
    this.#watchTimer.unref();
  }

  async #fromLogsOnly(refs: readonly JobRef[]): Promise<void> {
    const seen: Seen[] = [];
    for (const ref of refs) {
      const marker = await this.#marker(ref.workDir);
      if (marker !== null) seen.push({ ref, marker, executorId: ref.executorId, state: null });
    }
    try {
      await this.#fromLogs(seen);
    } catch (err) {
      this.#o.logger.warn({ err }, 'cannot read an event log; status() will tell');
      return;
    }
    for (const s of seen) if (s.state?.state === 'exited') this.#tell(s.ref.jobId, s.state);
  }

  #tell(jobId: number, state: ExecutorJobState): void {
    this.#watched.delete(jobId);
    if (state.state !== 'exited' || this.#told.has(jobId) || this.#closed) return;
    this.#told.add(jobId);
    for (const listener of this.#listeners) {
      try {
        listener(jobId, state);
      } catch (err) {
        this.#o.logger.error({ err, jobId }, 'a job-change listener threw');
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#watchTimer !== null) clearTimeout(this.#watchTimer);
    this.#watchTimer = null;
    this.#watched.clear();
  }
}

/** How often the event logs of jobs submitted here are read for `onChange`: a `stat` per batch. */
const WATCH_MS = 250;
