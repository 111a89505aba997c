import { lstat, open, readFile, readlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { JobLaunch } from '../contract.ts';
import { isCode } from '../local/job-files.ts';
import { STAGED } from '../shared/staging.ts';

/**
 * The batch script of every job autoctrl hands to Slurm: constant text, no
 * job value is ever part of it. It runs the job its task file describes
 * (`$1`, or task `$SLURM_ARRAY_TASK_ID` of the array's one task file
 * `$1/tasks`) with `env -i`, so the job sees the launch's environment and a
 * few of Slurm's own variables, nothing else.
 *
 * A task file's first line is `N` and the Slurm job name (for the executor
 * only). Every other line starts with whom it is for, `-` (every task) or
 * the task's index, then a space, then one value after a letter saying what
 * it is: `D` the working directory, `E` an environment entry NAME=value, `O`
 * the outputs directory to create, `P` a file the inputs file starts with,
 * `J` the inputs file, `T` the text that ends it, `A` an argument (argv[0]
 * first). The job stages its own work area from them (on the shared
 * filesystem), so the controller writes one file for a whole array instead of
 * several per job. Values escape `\` as `\\` and a newline as `\n`, which
 * `printf %b` undoes; the script never evaluates a value as code (a
 * here-document does not expand what an expansion produced). argv goes
 * through `sh -c 'exec "$@"'` so that an argv[0] holding `=` is not taken by
 * `env` for a variable; `exec` looks it up in the job's PATH as execvp would.
 */
export const JOB_SCRIPT = `#!/bin/sh
# autoctrl's Slurm batch script (the same for every job): see task-file.ts.
PATH=/usr/bin:/bin
case \${SLURM_ARRAY_TASK_ID-} in
'') f=$1 k=x ;;
*[!0-9]*) echo "autoctrl: SLURM_ARRAY_TASK_ID is not a number" >&2; exit 97 ;;
*) f=$1/tasks k=$SLURM_ARRAY_TASK_ID ;;
esac
if [ ! -r "$f" ]; then echo "autoctrl: cannot read the task file $f" >&2; exit 97; fi
# A job alone has only lines for every task: its k (x) matches none.
lines=$(sed -n -e 's/^- //p' -e "s/^$k //p" "$f") || exit 97
set -- -i \${SLURM_JOB_ID+"SLURM_JOB_ID=$SLURM_JOB_ID"} \\
  \${SLURM_ARRAY_JOB_ID+"SLURM_ARRAY_JOB_ID=$SLURM_ARRAY_JOB_ID"} \\
  \${SLURM_ARRAY_TASK_ID+"SLURM_ARRAY_TASK_ID=$SLURM_ARRAY_TASK_ID"} \\
  \${SLURM_JOB_NAME+"SLURM_JOB_NAME=$SLURM_JOB_NAME"} \\
  \${SLURM_JOB_NODELIST+"SLURM_JOB_NODELIST=$SLURM_JOB_NODELIST"} \\
  \${SLURM_CPUS_ON_NODE+"SLURM_CPUS_ON_NODE=$SLURM_CPUS_ON_NODE"} \\
  \${SLURM_MEM_PER_NODE+"SLURM_MEM_PER_NODE=$SLURM_MEM_PER_NODE"} \\
  \${SLURMD_NODENAME+"SLURMD_NODENAME=$SLURMD_NODENAME"}
argv= head= to=
while IFS= read -r line; do
  case $line in
  *\\\\*) v=$(printf '%b_' "\${line#?}"); v=\${v%_} ;;
  *) v=\${line#?} ;;
  esac
  case $line in
  D*) cd -- "$v" || exit 97 ;;
  E*) set -- "$@" "$v" ;;
  O*) mkdir -p -- "$v" || exit 97 ;;
  P*) head=$v ;;
  J*) to=$v ;;
  T*) { if [ -n "$head" ]; then cat -- "$head"; fi; printf '%s' "$v"; } >"$to" || exit 97 ;;
  A*)
    if [ -z "$argv" ]; then set -- "$@" /bin/sh -c 'exec "$@"' autoctrl-job; argv=1; fi
    set -- "$@" "$v" ;;
  esac
done <<AUTOCTRL_TASK_LINES
$lines
AUTOCTRL_TASK_LINES
exec env "$@"
`;

/** The name of an array's one task file, in the array's directory. */
export const ARRAY_TASKS = 'tasks';

/**
 * An attempt's marker in its work directory, written before `sbatch`, so it
 * tells that the attempt was handed over: a job alone's own task file, or
 * (array task) a symbolic link to the task's log link in the array's
 * directory, `<array dir>/<index>.log`, which says both where and which.
 */
export function taskFilePath(workDir: string, attempt: number): string {
  return join(workDir, `slurm.${attempt}.task`);
}

/** The link in an array's directory that Slurm's `--output=<dir>/%a.log` opens for task `index`. */
export function arrayLogLink(arrayDir: string, index: number): string {
  return join(arrayDir, `${index}.log`);
}

function encode(kind: string, value: string): string {
  return `${kind}${value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')}\n`;
}

function decode(line: string): string {
  return line.slice(1).replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** Why a launch cannot be written as a task file (a NUL byte, a bad variable name), or null. */
export function launchProblem(launch: JobLaunch): string | null {
  if (launch.argv.length === 0) return 'argv is empty';
  const values = [...launch.argv, ...Object.values(launch.env), launch.cwd, launch.logPath];
  if (values.some((v) => v.includes('\0'))) return 'a value holds a NUL byte';
  const bad = Object.keys(launch.env).find((k) => k === '' || /[=\0]/.test(k));
  if (bad !== undefined) return `environment variable name ${JSON.stringify(bad)} is not valid`;
  // Slurm stops expanding %-patterns in --output when the path holds a backslash.
  if (launch.logPath.includes('\\') || launch.workDir.includes('\\'))
    return 'the log path and work directory must not contain a backslash (Slurm reads it as an escape)';
  return null;
}

/**
 * A launch's inputs file cut where the jobs of one instance stop sharing it:
 * `head` (runs and upstream outputs, the same for every job of an instance,
 * written once per array) and `tail` (the job's own input).
 */
export function splitInputs(launch: JobLaunch): { head: string; tail: string } {
  const { input, ...shared } = launch.inputs;
  return {
    head: `${JSON.stringify(shared).slice(0, -1)},"input":`,
    tail: `${JSON.stringify(input)}}\n`,
  };
}

/** A task's lines: `env` (D and E) may be shared by every task, `own` are its alone. */
function linesOf(launch: JobLaunch, inputsHead: string | null): { env: string[]; own: string[] } {
  const env = [encode('D', launch.cwd)];
  for (const [k, v] of Object.entries(launch.env)) env.push(encode('E', `${k}=${v}`));
  const { head, tail } = splitInputs(launch);
  const own = [encode('O', join(launch.workDir, STAGED.outputs))];
  if (inputsHead !== null) own.push(encode('P', inputsHead));
  own.push(encode('J', join(launch.workDir, STAGED.inputs)));
  own.push(encode('T', inputsHead === null ? head + tail : tail));
  for (const a of launch.argv) own.push(encode('A', a));
  return { env, own };
}

/**
 * The task file of a job alone (`inputsHeads` null: its inputs file is
 * written whole from it) or of an array (task index = position in
 * `launches`; `inputsHeads[k]` the file holding the head of task k's inputs).
 */
export function taskFileText(
  launches: readonly JobLaunch[],
  slurmName: string,
  inputsHeads: ReadonlyArray<string> | null = null,
): string {
  const per = launches.map((l, k) => linesOf(l, inputsHeads?.[k] ?? null));
  const count = new Map<string, number>();
  for (const { env } of per) for (const line of env) count.set(line, (count.get(line) ?? 0) + 1);
  const everyone = (line: string) => count.get(line) === launches.length;
  const parts = [encode('N', slurmName)];
  for (const line of count.keys()) if (everyone(line)) parts.push(`- ${line}`);
  for (const [k, { env, own }] of per.entries()) {
    const who = inputsHeads === null ? '-' : String(k);
    for (const line of env) if (!everyone(line)) parts.push(`${who} ${line}`);
    for (const line of own) parts.push(`${who} ${line}`);
  }
  return parts.join('');
}

/** What a task file says of its submission: the Slurm job name, the array index, when it was written. */
export interface TaskMarker {
  name: string;
  index: number | null;
  writtenAt: number;
}

export async function readTaskMarker(workDir: string, attempt: number): Promise<TaskMarker | null> {
  const path = taskFilePath(workDir, attempt);
  try {
    const info = await lstat(path);
    if (!info.isSymbolicLink()) {
      const name = nameLine(await readFile(path, 'utf8'));
      return name === null ? null : { name, index: null, writtenAt: info.mtimeMs };
    }
    const link = await readlink(path);
    const index = /^(\d+)\.log$/.exec(basename(link))?.[1];
    const name = nameLine(await readStart(join(dirname(link), ARRAY_TASKS)));
    if (index === undefined || name === null) return null;
    return { name, index: Number(index), writtenAt: info.mtimeMs };
  } catch (err) {
    if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return null;
    throw err;
  }
}

function nameLine(text: string): string | null {
  const first = text.split('\n', 1)[0];
  return first?.startsWith('N') ? decode(first) : null;
}

/** The start of an array's task file (its name line) without reading every task. */
async function readStart(path: string): Promise<string> {
  const file = await open(path);
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(4096), 0, 4096, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await file.close();
  }
}
