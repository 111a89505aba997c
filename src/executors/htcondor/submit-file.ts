import { readFile } from 'node:fs/promises';
import { AutoctrlError } from '../../errors.ts';
import type { JobLaunch } from '../contract.ts';
import { classAdString, commandLines, isSubmitSafe, SubmitQuotingError } from './quoting.ts';

/** The user's own submit description (`submit_template`), its bare `queue` line commented out. */
export interface SubmitTemplate {
  path: string;
  text: string;
  /** Commands it sets, lower-cased (`+X` as `my.x`), with their line. */
  keys: Map<string, number>;
}

/** A template that sets what autoctrl must set itself: refused, with the line and what to do instead. */
export class SubmitTemplateError extends AutoctrlError {
  constructor(
    readonly path: string,
    readonly line: number,
    message: string,
  ) {
    super('invalid_input', `${path}:${line}: ${message}`);
  }
}

function normalKey(key: string): string {
  const k = key.trim().toLowerCase();
  return k.startsWith('+') ? `my.${k.slice(1)}` : k;
}

/** Reads the commands a template sets: `key = value` lines, continuation lines joined, comments skipped. */
export function parseTemplate(path: string, text: string): SubmitTemplate {
  const keys = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i] ?? '';
    while (line.trimEnd().endsWith('\\') && i + 1 < lines.length) line = lines[++i] ?? '';
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    if (/^queue\b/i.test(t)) {
      // A template as condor_submit takes it ends with `queue`: kept as written, it is left out of
      // the description, where autoctrl queues one job per launch.
      if (/^queue(\s+1)?$/i.test(t)) {
        lines[i] = `# ${t} (autoctrl queues one job per launch)`;
        continue;
      }
      throw new SubmitTemplateError(
        path,
        lineNo,
        `\`${t}\` queues a count or a list: autoctrl queues one job per launch (or one per input with jobs: { per: input }); end the template with a bare \`queue\` or none`,
      );
    }
    const m = /^([+A-Za-z_][A-Za-z0-9_.]*)\s*=/.exec(t);
    if (m?.[1] !== undefined) keys.set(normalKey(m[1]), lineNo);
  }
  return { path, text: lines.join('\n'), keys };
}

export async function loadTemplate(path: string): Promise<SubmitTemplate> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SubmitTemplateError(path, 0, `cannot read the submit template: ${String(err)}`);
  }
  return parseTemplate(path, text);
}

/** Per batch: where it goes and how the job reaches its files. */
export interface BatchPlan {
  /** The event log of the batch (the submit description's `log`). */
  log: string;
  /** `JobBatchName`: one per batch, unique. */
  batchName: string;
  sharedFs: boolean;
  /** The launcher for values the submit language cannot carry (`WRAPPER_SCRIPT`). */
  wrapper: string;
}

/** Aliases HTCondor accepts for the same command. */
const ALIASES: Record<string, string> = {
  args: 'arguments',
  env: 'environment',
  iwd: 'initialdir',
  jobbatchname: 'batch_name',
  'my.jobbatchname': 'batch_name',
  'my.autoctrljob': 'my.autoctrljob',
};

/** What autoctrl writes for every job, and why a template must leave it out. */
function reservedKeys(sharedFs: boolean): Map<string, string> {
  const job = 'autoctrl sets it from the task (command, env, log) for every job';
  const reserved = new Map<string, string>([
    ['executable', job],
    ['arguments', job],
    ['environment', job],
    ['getenv', 'jobs get exactly their task environment (`env_pass:` in the deployment)'],
    ['input', job],
    ['output', job],
    ['error', job],
    ['log', 'autoctrl reads the job event log it chooses'],
    ['initialdir', "autoctrl sets it to the task's cwd"],
    ['batch_name', 'autoctrl names each batch to find its jobs again'],
    ['my.autoctrljob', 'autoctrl names each job to find it again'],
    ['transfer_executable', 'autoctrl sets it from `shared_fs`'],
    ['periodic_remove', "autoctrl enforces the task's timeout and no-rerun with it"],
    ['on_exit_remove', 'an attempt runs at most once: autoctrl retries, not HTCondor'],
    ['max_retries', 'an attempt runs at most once: use the task `retries` instead'],
  ]);
  if (!sharedFs) {
    for (const k of [
      'should_transfer_files',
      'when_to_transfer_output',
      'transfer_input_files',
      'transfer_output_files',
      'transfer_output_remaps',
    ])
      reserved.set(k, 'autoctrl transfers the inputs and out/ (`shared_fs: false`)');
  }
  return reserved;
}

/** Refuses a template that sets a command autoctrl writes (checked once, when the executor opens). */
export function checkTemplate(template: SubmitTemplate, sharedFs: boolean): void {
  const reserved = reservedKeys(sharedFs);
  for (const [key, line] of template.keys) {
    const why = reserved.get(ALIASES[key] ?? key);
    if (why !== undefined) {
      throw new SubmitTemplateError(
        template.path,
        line,
        `\`${key}\` is set by autoctrl (${why}); remove it from the template`,
      );
    }
  }
}

/** A resource of the task as a submit line: `+X`/`MY.X` strings become ClassAd strings. */
function resourceLine(key: string, value: string | number): string {
  const attr = key.startsWith('+') || /^my\./i.test(key);
  let v = String(value);
  if (!isSubmitSafe(v)) throw new SubmitQuotingError(`resource ${key}`, v, 'has a line break or $');
  if (attr && typeof value === 'string' && !/^".*"$/.test(v)) v = classAdString(v);
  return `${key} = ${v}`;
}

/** A path written as a submit value: no line break, `$`, and (in file lists) no comma. */
function safePath(what: string, path: string): string {
  if (!isSubmitSafe(path) || path !== path.trim() || path.includes(',')) {
    throw new SubmitQuotingError(what, path, 'cannot be written in a submit description');
  }
  return path;
}

/** Runs at most once: removed when idle again after a start (evicted), and past its run-time limit. */
export function periodicRemove(timeoutMs: number | null): string {
  const noRerun = '(JobStatus == 1 && NumJobStarts > 0)';
  if (timeoutMs === null) return noRerun;
  const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
  return `${noRerun} || (JobStatus == 2 && (time() - JobCurrentStartDate) > ${secs})`;
}

export interface SubmitDescription {
  text: string;
  /** Things said to the log: resources that override the template. */
  warnings: string[];
}

/**
 * One submit description for a batch: one cluster, one `queue 1` per launch,
 * in order (proc N is launch N). Throws `SubmitQuotingError` when a value
 * cannot be written safely.
 */
export function buildSubmitDescription(
  template: SubmitTemplate | null,
  batch: readonly JobLaunch[],
  plan: BatchPlan,
): SubmitDescription {
  const warnings: string[] = [];
  const out: string[] = [];
  if (template === null) {
    out.push('# generated by autoctrl (no submit_template)', 'universe = vanilla');
  } else {
    out.push(`# from ${template.path}`, template.text.trimEnd());
  }
  out.push(
    '',
    '# set by autoctrl for every job of the batch',
    `log = ${safePath('event log', plan.log)}`,
    `batch_name = ${plan.batchName}`,
    'getenv = false',
    'on_exit_remove = true',
  );
  if (plan.sharedFs) {
    out.push('transfer_executable = false');
  } else {
    out.push('should_transfer_files = YES', 'when_to_transfer_output = ON_EXIT');
  }
  let lines = batch.map((l) => commandLines(l.argv, l.env, plan.wrapper));
  // Only one executable per cluster is guaranteed to work: a mixed batch goes through the launcher.
  if (new Set(lines.map((l) => l.executable)).size > 1) {
    lines = batch.map((l) => commandLines(l.argv, l.env, plan.wrapper, true));
  }
  for (const [i, launch] of batch.entries()) {
    const cmd = lines[i];
    if (cmd === undefined) continue;
    if (!/^[A-Za-z0-9_.+-]+$/.test(launch.name))
      throw new SubmitQuotingError('job name', launch.name, 'is not letters, digits, _ . + -');
    out.push('', `# job ${launch.jobId} (${launch.name})`);
    out.push(`executable = ${safePath('program', cmd.executable)}`);
    out.push(`arguments = ${cmd.arguments}`, `environment = ${cmd.environment}`);
    const logPath = safePath('job log', launch.logPath);
    out.push(`output = ${logPath}`, `error = ${logPath}`);
    out.push(`+AutoctrlJob = ${classAdString(launch.name)}`);
    out.push(`periodic_remove = ${periodicRemove(launch.timeoutMs)}`);
    if (plan.sharedFs) {
      out.push(`initialdir = ${safePath('cwd', launch.cwd)}`);
    } else {
      const workDir = safePath('work directory', launch.workDir);
      // Outputs come back into the work directory, where the controller expects out/.
      out.push(`initialdir = ${workDir}`);
      out.push(`transfer_input_files = ${workDir}/inputs.json, ${workDir}/out`);
      out.push('transfer_output_files = out');
    }
    for (const [key, value] of Object.entries(launch.resources)) {
      const line = template?.keys.get(normalKey(key));
      if (reservedKeys(plan.sharedFs).has(ALIASES[normalKey(key)] ?? normalKey(key))) {
        throw new SubmitQuotingError(`resource ${key}`, String(value), 'is set by autoctrl itself');
      }
      if (line !== undefined && i === 0) {
        warnings.push(`resource ${key} of the task overrides ${template?.path}:${line}`);
      }
      out.push(resourceLine(key, value));
    }
    out.push('queue 1');
  }
  return { text: `${out.join('\n')}\n`, warnings };
}
