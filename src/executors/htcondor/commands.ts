import { execFile } from 'node:child_process';
import { ExecutorUnavailableError } from '../../errors.ts';

/** Where the commands go: `-name` (a schedd) and `-pool` (a central manager). */
export interface CondorTarget {
  schedd: string | null;
  pool: string | null;
}

/** A job ad as `condor_q -json` / `condor_history -json` print it (the attributes asked for). */
export interface JobAd {
  ClusterId?: number;
  ProcId?: number;
  JobStatus?: number;
  AutoctrlJob?: string;
  JobBatchName?: string;
  HoldReason?: string;
  HoldReasonCode?: number;
  HoldReasonSubCode?: number;
  ExitCode?: number;
  ExitBySignal?: boolean;
  ExitSignal?: number;
  RemoveReason?: string;
}

export const AD_ATTRIBUTES = [
  'ClusterId',
  'JobBatchName',
  'ProcId',
  'JobStatus',
  'AutoctrlJob',
  'HoldReason',
  'HoldReasonCode',
  'HoldReasonSubCode',
  'ExitCode',
  'ExitBySignal',
  'ExitSignal',
  'RemoveReason',
];

/** Words of the tools when the schedd or the pool cannot be reached: the farm's fault, not the job's. */
const UNREACHABLE =
  /Failed to connect|Can't find address|Unable to locate|Failed to fetch ads|connect to .*schedd|Couldn't contact|SECMAN|timed? ?out|Connection refused/i;

export class CondorCommandError extends Error {
  constructor(
    readonly tool: string,
    readonly stderr: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The `condor_*` tools, run with an argument array (never a shell) and a
 * timeout. A timeout, a missing tool or a schedd that does not answer
 * becomes `ExecutorUnavailableError`; any other failure `CondorCommandError`
 * with the tool's own words.
 */
export class CondorCli {
  /** Calls per tool, for the benchmark and the tests that count polling. */
  readonly calls = new Map<string, number>();

  constructor(
    private readonly executor: string,
    private readonly target: CondorTarget,
    private readonly timeoutMs: number,
  ) {}

  #targetArgs(): string[] {
    const args: string[] = [];
    if (this.target.schedd !== null) args.push('-name', this.target.schedd);
    if (this.target.pool !== null) args.push('-pool', this.target.pool);
    return args;
  }

  run(tool: string, args: readonly string[]): Promise<string> {
    this.calls.set(tool, (this.calls.get(tool) ?? 0) + 1);
    return new Promise((resolve, reject) => {
      execFile(
        tool,
        [...args],
        { timeout: this.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 256 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err === null) return resolve(stdout);
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
          const words = `${stderr}`.trim() || `${stdout}`.trim() || e.message;
          if (e.killed === true) {
            return reject(
              new ExecutorUnavailableError(
                this.executor,
                `${tool} did not answer within ${this.timeoutMs} ms`,
                { cause: err },
              ),
            );
          }
          if (e.code === 'ENOENT') {
            return reject(
              new ExecutorUnavailableError(
                this.executor,
                `${tool} is not installed or not in PATH on this controller`,
                { cause: err },
              ),
            );
          }
          if (UNREACHABLE.test(words)) {
            return reject(
              new ExecutorUnavailableError(this.executor, `${tool}: ${firstLine(words)}`, {
                cause: err,
              }),
            );
          }
          reject(new CondorCommandError(tool, words, `${tool} failed: ${firstLine(words)}`));
        },
      );
    });
  }

  /** Submits a description file; answers the cluster and the first and last proc (`-terse`). */
  async submit(file: string): Promise<{ cluster: number; first: number; last: number }> {
    const out = await this.run('condor_submit', ['-terse', ...this.#targetArgs(), file]);
    return parseTerse(out);
  }

  /** Job ads in the queue matching a ClassAd constraint. */
  async queue(constraint: string): Promise<JobAd[]> {
    const out = await this.run('condor_q', [
      ...this.#targetArgs(),
      '-json',
      '-attributes',
      AD_ATTRIBUTES.join(','),
      '-constraint',
      constraint,
    ]);
    return parseAds(out);
  }

  /** Job ads that left the queue, matching a ClassAd constraint. */
  async history(constraint: string, limit: number): Promise<JobAd[]> {
    const out = await this.run('condor_history', [
      ...this.#targetArgs(),
      '-json',
      '-attributes',
      AD_ATTRIBUTES.join(','),
      '-limit',
      String(limit),
      '-constraint',
      constraint,
    ]);
    return parseAds(out);
  }

  /** Removes jobs (`cluster.proc`); condor_rm takes no reason (the executor keeps it). */
  async remove(ids: readonly string[]): Promise<void> {
    await this.run('condor_rm', [...this.#targetArgs(), ...ids]);
  }

  async release(ids: readonly string[]): Promise<void> {
    await this.run('condor_release', [...this.#targetArgs(), ...ids]);
  }
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '') ?? text;
}

/** `condor_submit -terse` prints `cluster.first - cluster.last` per cluster (`submit.cpp`). */
export function parseTerse(out: string): { cluster: number; first: number; last: number } {
  const m = /^(\d+)\.(\d+) - (\d+)\.(\d+)\s*$/m.exec(out);
  if (m === null) {
    throw new CondorCommandError(
      'condor_submit',
      out,
      `condor_submit -terse printed no job range: ${JSON.stringify(out.slice(0, 200))}`,
    );
  }
  return { cluster: Number(m[1]), first: Number(m[2]), last: Number(m[4]) };
}

/** `-json` output: an array of ads, or nothing at all when no job matched. */
export function parseAds(out: string): JobAd[] {
  if (out.trim() === '') return [];
  const parsed: unknown = JSON.parse(out);
  if (!Array.isArray(parsed)) throw new Error('condor -json output is not an array of ads');
  return parsed as JobAd[];
}

/** A ClassAd constraint matching any of these `AutoctrlJob` names. */
export function namesConstraint(names: readonly string[]): string {
  return names.map((n) => `AutoctrlJob == ${JSON.stringify(n)}`).join(' || ');
}

/** A ClassAd constraint matching the jobs of these batches (`JobBatchName`). */
export function batchesConstraint(batches: readonly string[]): string {
  return batches.map((b) => `JobBatchName == ${JSON.stringify(b)}`).join(' || ');
}
