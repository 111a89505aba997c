import { SlurmOutputError } from './commands.ts';

/** One job as squeue or sacct lists it. */
export interface SlurmRow {
  /** `1234`, or `1234_5` for an array task. */
  id: string;
  name: string;
  /** `RUNNING`, `PENDING`, `CANCELLED` (sacct's "CANCELLED by 0" is cut to its first word). */
  state: string;
  /** squeue's reason code (`Priority`, `JobHeldUser`, `TimeLimit`); null when none. */
  reason: string | null;
  exitCode: number | null;
  signal: number | null;
}

/**
 * squeue's `-O` fields, each ended by `|` (a field with a suffix and no
 * width is printed whole). The name comes last: it is the only free text.
 */
export const SQUEUE_FIELDS = 'JobArrayID:|,State:|,Reason:|,exit_code:|,Name:|';

/** The ids autoctrl's jobs have: a job, or one task of an array. */
const OWN_ID = /^\d+(_\d+)?$/;

/** `squeue -h -r -t all -O SQUEUE_FIELDS` */
export function parseSqueue(stdout: string): SlurmRow[] {
  const rows: SlurmRow[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const parts = line.split('|');
    const [id, state, reason, status] = parts;
    const name = parts.slice(4, -1).join('|');
    if (id === undefined || status === undefined || parts.length < 6) {
      throw new SlurmOutputError(
        'squeue',
        line,
        'expected JobArrayID|State|Reason|exit_code|Name|',
      );
    }
    // The user's other jobs (heterogeneous `1+0`, `1_[2-5]`): never autoctrl's.
    if (!OWN_ID.test(id)) continue;
    // exit_code is the raw wait status: exit code in the high byte, signal in the low bits.
    const raw = /^\d+$/.test(status) ? Number(status) : null;
    rows.push({
      id,
      name,
      state: state ?? '',
      reason: reason === 'None' || reason === '' ? null : (reason ?? null),
      exitCode: raw === null ? null : (raw >> 8) & 0xff,
      signal: raw === null ? null : raw & 0x7f,
    });
  }
  return rows;
}

/** sacct's fields, `-P` (separated by `|`): again the name last. */
export const SACCT_FIELDS = 'JobID,State,ExitCode,JobName';

/** `sacct -n -P -X -o SACCT_FIELDS` */
export function parseSacct(stdout: string): SlurmRow[] {
  const rows: SlurmRow[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const parts = line.split('|');
    const [id, state, exit] = parts;
    const m = /^(\d+):(\d+)$/.exec(exit ?? '');
    if (parts.length < 4 || m === null || !id) {
      throw new SlurmOutputError('sacct', line, 'expected JobID|State|ExitCode|JobName');
    }
    if (!OWN_ID.test(id)) continue;
    rows.push({
      id,
      name: parts.slice(3).join('|'),
      state: (state ?? '').split(' ')[0] ?? '',
      reason: null,
      exitCode: Number(m[1]),
      signal: Number(m[2]),
    });
  }
  return rows;
}
