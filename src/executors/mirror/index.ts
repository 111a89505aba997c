import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spoolPath } from '../../app/spool.ts';
import { InfrastructureError, InvalidInputError } from '../../errors.ts';
import { MAX_OUTPUTS_PER_REPORT } from '../../limits.ts';
import { openReader } from '../../mirror/open.ts';
import { absoluteFrom, mirrorFromOptions } from '../../mirror/options.ts';
import type { DeploymentReader, InstanceResult } from '../../mirror/reader.ts';
import { PROMPT } from '../../model/campaign.ts';
import type {
  Executor,
  ExecutorFactory,
  ExecutorJobState,
  JobLaunch,
  JobRef,
  SubmitAnswer,
} from '../contract.ts';
import { readFileLog } from '../shared/file-log.ts';
import { stageOnSharedFs } from '../shared/staging.ts';
import { type Decision, decide, type MirrorRequest } from './resolve.ts';

/** In the job's work directory: what it asks of prod, then how that ended. */
const REQUEST = 'mirror-request.json';
const RESULT = 'mirror-result.json';

interface StoredRequest extends MirrorRequest {
  /** The job attempt's token and spool: prod's fields and outputs go in as the job's own report. */
  token: string;
  spool: string;
  logPath: string;
}

type Pending = StoredRequest & { workDir: string };

interface StoredResult {
  /** Retries share the job's work directory: a result is its attempt's only. */
  attempt: number;
  exitCode: number;
  reason: string | null;
}

/**
 * The executor of the tasks a dev mirror takes from prod instead of running
 * them: a job "runs" by waiting for prod's job at the same position of the
 * instance with the same runs, then reporting that job's fields and outputs
 * as its own (through its spool, the path a job's own report takes) and
 * exiting 0; prod's failure fails it. Prod is only read. What a job asked
 * and how it ended are files in its work directory, so a restarted
 * controller adopts it like any other job.
 */
export const createMirrorExecutor: ExecutorFactory = async (name, options, ctx) => {
  const parsed = mirrorFromOptions.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidInputError(
      `executors.${name}${issue?.path.length ? `.${issue.path.join('.')}` : ''}`,
      issue?.message ?? 'invalid options',
    );
  }
  const from = absoluteFrom(parsed.data.from, ctx.configDir ?? process.cwd());
  return new MirrorExecutor(name, ctx.maxJobs ?? 10_000, ctx.pollIntervalMs ?? 2_000, () =>
    openReader({ from, tokenEnv: parsed.data.token_env ?? null }, ctx.logger),
  );
};

class MirrorExecutor implements Executor {
  readonly scope = 'cluster';
  #reader: DeploymentReader | null = null;

  constructor(
    readonly name: string,
    readonly maxJobs: number,
    readonly pollIntervalMs: number,
    private readonly open: () => Promise<DeploymentReader>,
  ) {}

  async submit(batch: readonly JobLaunch[]): Promise<SubmitAnswer[]> {
    const answers: SubmitAnswer[] = [];
    for (const l of batch) {
      await stageOnSharedFs(l);
      const req: StoredRequest = {
        jobId: l.jobId,
        attempt: l.attempt,
        campaign: l.env.AUTOCTRL_CAMPAIGN ?? PROMPT,
        task: l.env.AUTOCTRL_TASK ?? '',
        runs: l.inputs.runs.map((r) => r.run).sort((a, b) => a - b),
        index: Number(l.env.AUTOCTRL_JOB_INDEX ?? 0),
        token: l.env.AUTOCTRL_TOKEN ?? '',
        spool: l.env.AUTOCTRL_SPOOL ?? spoolPath(l.workDir),
        logPath: l.logPath,
      };
      await writeJson(join(l.workDir, REQUEST), req);
      await appendFile(
        l.logPath,
        `taken from prod: waiting for its ${req.task} of runs ${req.runs.join(',')}\n`,
      );
      answers.push({ executorId: executorId(l.jobId) });
    }
    return answers;
  }

  async status(jobs: readonly JobRef[]): Promise<Map<number, ExecutorJobState>> {
    const states = new Map<number, ExecutorJobState>();
    const pending: Pending[] = [];
    for (const ref of jobs) {
      const req = await readJson<StoredRequest>(join(ref.workDir, REQUEST));
      if (req === null || req.attempt !== ref.attempt) {
        states.set(ref.jobId, { state: 'never-submitted' });
        continue;
      }
      const done = await readJson<StoredResult>(join(ref.workDir, RESULT));
      if (done !== null && done.attempt === ref.attempt)
        states.set(ref.jobId, exited(ref.jobId, done));
      else pending.push({ ...req, workDir: ref.workDir });
    }
    if (pending.length === 0) return states;
    const reader = await this.#open();
    const cache = new Map<string, Promise<InstanceResult[]>>();
    const prodOf = (campaign: string, task: string, runs: number[]) => {
      const key = `${campaign}\0${task}\0${runs.join(',')}`;
      let p = cache.get(key);
      if (p === undefined) {
        p = reader.results({ campaign, task, from: runs[0] ?? 0, to: runs.at(-1) ?? 0 });
        cache.set(key, p);
      }
      return p;
    };
    for (const req of pending) {
      const own = await prodOf(req.campaign, req.task, req.runs);
      const prompt = req.campaign === PROMPT ? own : await prodOf(PROMPT, req.task, req.runs);
      const d = decide(req, own, prompt);
      if (d.kind === 'wait') {
        states.set(req.jobId, {
          state: 'queued',
          executorId: executorId(req.jobId),
          reason: d.reason,
        });
        continue;
      }
      const result = await this.#finish(req, d, reader.label);
      states.set(req.jobId, exited(req.jobId, result));
    }
    return states;
  }

  /** Writes prod's fields and outputs into the job's spool, then how it ended: spool first, so a crash between repeats it, never loses it. */
  async #finish(
    req: Pending,
    d: Exclude<Decision, { kind: 'wait' }>,
    label: string,
  ): Promise<StoredResult> {
    let result: StoredResult;
    if (d.kind === 'fail') {
      result = { attempt: req.attempt, exitCode: 1, reason: d.reason };
      await appendFile(req.logPath, `${d.reason}\n`);
    } else {
      const lines: string[] = [];
      const report = (r: Record<string, unknown>) =>
        lines.push(
          `${JSON.stringify({ job: req.jobId, attempt: req.attempt, token: req.token, report: r })}\n`,
        );
      report({ fields: d.job.fields });
      for (let i = 0; i < d.outputs.length; i += MAX_OUTPUTS_PER_REPORT) {
        const outputs = d.outputs.slice(i, i + MAX_OUTPUTS_PER_REPORT).map((o) => ({
          path: o.path,
          ...(o.kind !== null ? { kind: o.kind } : {}),
          meta: o.meta,
        }));
        report({ outputs });
      }
      // Appended (the collector keeps its offset across retries) in one write, so a collection
      // meanwhile sees complete lines only; not again after a crash before the result was kept.
      if (!(await spooled(req.spool, lines[0] ?? ''))) await appendFile(req.spool, lines.join(''));
      await appendFile(
        req.logPath,
        `copied from ${label}: job ${d.job.id} of instance ${d.instanceId} (${Object.keys(d.job.fields).length} fields, ${d.outputs.length} outputs)\n`,
      );
      result = { attempt: req.attempt, exitCode: 0, reason: null };
    }
    await writeJson(join(req.workDir, RESULT), result);
    return result;
  }

  async #open(): Promise<DeploymentReader> {
    try {
      this.#reader ??= await this.open();
      return this.#reader;
    } catch (err) {
      throw new InfrastructureError(`executor ${this.name}: opening prod`, (err as Error).message, {
        cause: err,
      });
    }
  }

  async cancel(): Promise<void> {
    // Nothing runs: a cancelled job is simply no longer asked about.
  }

  readLog(job: JobRef, opts?: { tail?: number; follow?: boolean; signal?: AbortSignal }) {
    return readFileLog(job.jobId, job.logPath, opts);
  }

  async close(): Promise<void> {
    await this.#reader?.close();
    this.#reader = null;
  }
}

const executorId = (jobId: number) => `mirror:${jobId}`;

function exited(jobId: number, r: StoredResult): ExecutorJobState {
  return { state: 'exited', executorId: executorId(jobId), exitCode: r.exitCode, reason: r.reason };
}

async function writeJson(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, path);
}

/** Whether the spool already holds this line (written before a crash kept the result from being recorded). */
async function spooled(spool: string, line: string): Promise<boolean> {
  const text = await readFile(spool, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return text.includes(line);
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
