import { execFile } from 'node:child_process';
import { AutoctrlError } from '../errors.ts';

/** What a quota command says of an area: bytes used and allowed. */
export interface QuotaFigures {
  usedBytes: number;
  quotaBytes: number;
}

/** A quota command that failed or printed something this parser does not know. */
export class QuotaCommandError extends AutoctrlError {
  constructor(
    readonly argv: readonly string[],
    message: string,
    options?: { cause?: unknown },
  ) {
    super('quota_command', `${argv.join(' ')}: ${message}`, options);
  }
}

/** The usual commands; the area's path is added as the last argument. */
export const QUOTA_COMMANDS = {
  // Monitoring format (`-m`): one `key=value` line per quota of the node holding the path.
  eos: ['eos', 'quota', 'ls', '-m'],
  afs: ['fs', 'listquota'],
} as const;

/**
 * `eos quota ls -m PATH`: lines such as
 * `quota=node uid=9218 space=/eos/user/ usedbytes=158090138 … maxbytes=0 …`
 * (one per user, group or project quota of the node). The area is as full as
 * its tightest quota: the line with the highest used/max among those with a
 * limit (`maxbytes=0` means none). Null when no line sets a volume limit.
 */
export function parseEosQuota(text: string): QuotaFigures | null {
  let best: QuotaFigures | null = null;
  for (const line of text.split('\n')) {
    if (!/(^|\s)quota=node(\s|$)/.test(line)) continue;
    const kv = new Map(
      line
        .trim()
        .split(/\s+/)
        .map((pair) => {
          const at = pair.indexOf('=');
          return [pair.slice(0, at), pair.slice(at + 1)] as const;
        }),
    );
    const used = Number(kv.get('usedbytes'));
    const max = Number(kv.get('maxbytes'));
    if (!Number.isFinite(used) || !Number.isFinite(max) || max <= 0) continue;
    if (best === null || used / max > best.usedBytes / best.quotaBytes)
      best = { usedBytes: used, quotaBytes: max };
  }
  return best;
}

/**
 * `fs listquota PATH`: a header, then `VOLUME QUOTA USED %USED PARTITION`
 * with sizes in kilobytes (1024 bytes); the quota may be `no limit`, and
 * OpenAFS marks a nearly full volume with `<<` and `<<WARNING`. Null when the
 * volume has no limit.
 */
export function parseAfsListquota(text: string): QuotaFigures | null {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines.findIndex((l) => /^\s*Volume Name\s+Quota\s+Used/i.test(l));
  const row = header === -1 ? undefined : lines[header + 1];
  if (row === undefined) throw new Error('no "Volume Name  Quota  Used" table in the output');
  const m = /^\s*\S+\s+(no limit|\d+)\s+(\d+)\s/i.exec(`${row} `);
  if (m === null) throw new Error(`cannot read the volume line: ${row.trim()}`);
  if (m[1]?.toLowerCase() === 'no limit') return null;
  return { quotaBytes: Number(m[1]) * 1024, usedBytes: Number(m[2]) * 1024 };
}

const PARSERS = { eos: parseEosQuota, afs: parseAfsListquota } as const;

/** Runs the area's quota command (argv, never a shell) and reads its answer. */
export async function measureQuota(
  kind: 'eos' | 'afs',
  path: string,
  command: readonly string[] | null | undefined,
  timeoutMs = 30_000,
): Promise<QuotaFigures | null> {
  const argv = [...(command ?? QUOTA_COMMANDS[kind]), path];
  const [file, ...args] = argv as [string, ...string[]];
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8', windowsHide: true },
      (err, out, stderr) => {
        if (err === null) resolve(out);
        else {
          const detail = stderr.trim().split('\n')[0] ?? '';
          const why =
            (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such program' : err.message;
          reject(
            new QuotaCommandError(argv, `${why}${detail ? `: ${detail}` : ''}`, { cause: err }),
          );
        }
      },
    );
  });
  try {
    return PARSERS[kind](stdout);
  } catch (err) {
    throw new QuotaCommandError(
      argv,
      `${(err as Error).message}: is it the ${kind} quota command?`,
      {
        cause: err,
      },
    );
  }
}
