import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobLaunch } from '../contract.ts';
import { isCode } from '../local/wrapper.ts';

/**
 * The batch script of every job autoctrl hands to Slurm: constant text, no
 * job value is ever part of it. It runs the job its task file describes
 * (`$1`, or `$1/<index>.task` in an array) with `env -i`, so the job sees the
 * launch's environment and a few of Slurm's own variables, nothing else.
 *
 * A task file has one value per line, after a letter saying what it is:
 * `D` the working directory, `E` an environment entry NAME=value, `A` an
 * argument (argv[0] first); `N` and `I` (the Slurm job name and array index)
 * are for the executor only. Values escape `\` as `\\` and a newline as `\n`,
 * which `printf %b` undoes; the script never evaluates a value as code.
 * argv goes through `sh -c 'exec "$@"'` so that an argv[0] holding `=` is
 * not taken by `env` for a variable; `exec` looks it up in the job's PATH as
 * execvp would.
 */
export const JOB_SCRIPT = `#!/bin/sh
# autoctrl's Slurm batch script (the same for every job): see task-file.ts.
PATH=/usr/bin:/bin
case \${SLURM_ARRAY_TASK_ID-} in
'') f=$1 ;;
*[!0-9]*) echo "autoctrl: SLURM_ARRAY_TASK_ID is not a number" >&2; exit 97 ;;
*) f=$1/$SLURM_ARRAY_TASK_ID.task ;;
esac
if [ ! -r "$f" ]; then echo "autoctrl: cannot read the task file $f" >&2; exit 97; fi
set -- -i \${SLURM_JOB_ID+"SLURM_JOB_ID=$SLURM_JOB_ID"} \\
  \${SLURM_ARRAY_JOB_ID+"SLURM_ARRAY_JOB_ID=$SLURM_ARRAY_JOB_ID"} \\
  \${SLURM_ARRAY_TASK_ID+"SLURM_ARRAY_TASK_ID=$SLURM_ARRAY_TASK_ID"} \\
  \${SLURM_JOB_NAME+"SLURM_JOB_NAME=$SLURM_JOB_NAME"} \\
  \${SLURM_JOB_NODELIST+"SLURM_JOB_NODELIST=$SLURM_JOB_NODELIST"} \\
  \${SLURM_CPUS_ON_NODE+"SLURM_CPUS_ON_NODE=$SLURM_CPUS_ON_NODE"} \\
  \${SLURM_MEM_PER_NODE+"SLURM_MEM_PER_NODE=$SLURM_MEM_PER_NODE"} \\
  \${SLURMD_NODENAME+"SLURMD_NODENAME=$SLURMD_NODENAME"}
argv=
while IFS= read -r line; do
  case $line in
  *\\\\*) v=$(printf '%b_' "\${line#?}"); v=\${v%_} ;;
  *) v=\${line#?} ;;
  esac
  case $line in
  D*) cd -- "$v" || exit 97 ;;
  E*) set -- "$@" "$v" ;;
  A*)
    if [ -z "$argv" ]; then set -- "$@" /bin/sh -c 'exec "$@"' autoctrl-job; argv=1; fi
    set -- "$@" "$v" ;;
  esac
done <"$f"
exec env "$@"
`;

/** The task file of an attempt, in its work directory: written before `sbatch`, so it also marks the attempt as handed over. */
export function taskFilePath(workDir: string, attempt: number): string {
  return join(workDir, `slurm.${attempt}.task`);
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

/** The task file's text: who it is (N, I) for the executor, then what the script runs. */
export function taskFileText(launch: JobLaunch, slurmName: string, index: number | null): string {
  let text = encode('N', slurmName) + encode('I', index === null ? '' : String(index));
  text += encode('D', launch.cwd);
  for (const [k, v] of Object.entries(launch.env)) text += encode('E', `${k}=${v}`);
  for (const a of launch.argv) text += encode('A', a);
  return text;
}

/** What a task file says of its submission: the Slurm job name, the array index, when it was written. */
export interface TaskMarker {
  name: string;
  index: number | null;
  writtenAt: number;
}

export async function readTaskMarker(workDir: string, attempt: number): Promise<TaskMarker | null> {
  const path = taskFilePath(workDir, attempt);
  let text: string;
  let writtenAt: number;
  try {
    [text, writtenAt] = await Promise.all([
      readFile(path, 'utf8'),
      stat(path).then((s) => s.mtimeMs),
    ]);
  } catch (err) {
    if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return null;
    throw err;
  }
  const [n, i] = text.split('\n');
  if (!n?.startsWith('N') || !i?.startsWith('I')) return null;
  const index = decode(i);
  return { name: decode(n), index: index === '' ? null : Number(index), writtenAt };
}
