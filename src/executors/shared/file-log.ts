import { open, stat } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { LogNotFoundError } from '../../errors.ts';
import type { LogOptions } from '../contract.ts';

const BLOCK = 64 * 1024;
/** Most bytes yielded at once: a job writing fast cannot make one chunk huge. */
const MAX_CHUNK = 256 * 1024;
/** Polling, not change notifications: those do not work on network filesystems (EOS, AFS, NFS). */
const FOLLOW_POLL_MS = 200;

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

/**
 * Where the last `lines` lines start, reading backwards a block at a time: a
 * tail of a multi-gigabyte log reads only its end. A final newline does not
 * count as an empty last line.
 */
export async function tailOffset(path: string, lines: number): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    let pos = size;
    let seen = 0;
    let skipFinal = true;
    const buf = Buffer.alloc(BLOCK);
    while (pos > 0) {
      const len = Math.min(BLOCK, pos);
      pos -= len;
      await fh.read(buf, 0, len, pos);
      for (let i = len - 1; i >= 0; i--) {
        if (buf[i] !== 0x0a) {
          skipFinal = false;
          continue;
        }
        if (skipFinal) {
          skipFinal = false;
          continue;
        }
        seen++;
        if (seen === lines) return pos + i + 1;
      }
    }
    return 0;
  } finally {
    await fh.close();
  }
}

/** Reads `path` from `offset` up to its current size, a chunk at a time. */
async function* readFrom(path: string, offset: number): AsyncGenerator<Uint8Array, number> {
  let pos = offset;
  const size = await sizeOf(path);
  if (size === null || size <= pos) return pos;
  const fh = await open(path, 'r');
  try {
    while (pos < size) {
      const buf = Buffer.alloc(Math.min(MAX_CHUNK, size - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
  return pos;
}

/**
 * `Executor.readLog` for a log file the controller can read (this machine,
 * a shared filesystem, or a log an executor fetched back).
 */
export async function* readFileLog(
  jobId: number,
  path: string | null,
  opts: LogOptions = {},
): AsyncGenerator<Uint8Array> {
  if (path === null) {
    throw new LogNotFoundError(jobId, 'the job is not submitted yet; try again once it runs');
  }
  const exists = (await sizeOf(path)) !== null;
  if (!exists && !opts.follow) {
    throw new LogNotFoundError(
      jobId,
      `${path} does not exist (yet, or any more): check the executor's log area`,
    );
  }
  let offset = exists && opts.tail !== undefined ? await tailOffset(path, opts.tail) : 0;
  offset = yield* readFrom(path, offset);
  if (!opts.follow) return;
  const { signal } = opts;
  while (signal?.aborted !== true) {
    await delay(FOLLOW_POLL_MS, undefined, { signal }).catch(() => undefined);
    if (offset === 0 && opts.tail !== undefined && (await sizeOf(path)) !== null) {
      offset = await tailOffset(path, opts.tail);
    }
    offset = yield* readFrom(path, offset);
  }
}
