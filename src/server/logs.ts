import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Job } from '../model/types.ts';
import type { StateStore } from '../store/contract.ts';
import { LogNotFoundError } from './errors.ts';
import type { EventHub, Subscriber } from './hub.ts';
import { openSse } from './sse.ts';

const BLOCK = 64 * 1024;
/** Most bytes sent per follow tick: a job writing fast cannot make one message huge. */
const MAX_CHUNK = 256 * 1024;

/** Whether the file exists; the log path is recorded before the executor creates the file. */
async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

export function logPathOf(job: Job): string {
  if (job.logPath === null) {
    throw new LogNotFoundError(job.id, 'the job is not submitted yet; try again once it runs');
  }
  return job.logPath;
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

/** The log as text/plain, streamed from disk: whole, or from where the last `tail` lines start. */
export async function logResponse(job: Job, tail: number | undefined): Promise<Response> {
  const path = logPathOf(job);
  if ((await sizeOf(path)) === null) {
    throw new LogNotFoundError(
      job.id,
      `${path} does not exist (yet, or any more): check the executor's log area`,
    );
  }
  const start = tail === undefined ? 0 : await tailOffset(path, tail);
  const stream = Readable.toWeb(createReadStream(path, { start })) as ReadableStream<Uint8Array>;
  return new Response(stream, {
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' },
  });
}

const ended = (j: Job) => j.status === 'done' || j.status === 'failed';

/**
 * Live tail as Server-Sent Events: the log so far (or its last `tail`
 * lines), then each appended chunk as `data: <JSON string>` (JSON keeps
 * newlines and partial lines intact), then `event: end` with the job's final
 * status once it ends, and the stream closes. The end comes from the shared
 * event hub; the file is watched by polling, which works on network file
 * systems where change notifications do not.
 */
export async function followLog(
  store: StateStore,
  hub: EventHub,
  first: Job,
  tail: number | undefined,
  pollMs = 200,
): Promise<Response> {
  let job = first;
  let offset: number | null = null;
  let finished = ended(job);
  let busy = false;
  const decoder = new TextDecoder();
  const sub: Subscriber = {
    deliver(fed) {
      if (
        fed.some(
          ({ event: e }) =>
            e.entity === 'job' &&
            e.entityId === String(job.id) &&
            (e.to === 'done' || e.to === 'failed'),
        )
      )
        finished = true;
    },
    beat: () => stream.comment('ping'),
    close: () => stream.close(),
  };
  const { response, stream } = openSse(() => {
    clearInterval(timer);
    hub.unsubscribe(sub);
  });
  const timer = setInterval(() => void tick(), pollMs);
  async function readMore(path: string): Promise<void> {
    const size = await sizeOf(path);
    if (size === null) return;
    offset ??= tail === undefined ? 0 : await tailOffset(path, tail);
    // Reads only as fast as the client takes it: a big log is sent over several ticks.
    while (offset < size && !stream.closed && stream.queued < MAX_CHUNK) {
      const len = Math.min(MAX_CHUNK, size - offset);
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, offset);
        offset += bytesRead;
        const text = decoder.decode(buf.subarray(0, bytesRead), { stream: true });
        if (text !== '') stream.send({ data: JSON.stringify(text) });
        if (bytesRead === 0) break;
      } finally {
        await fh.close();
      }
    }
  }
  async function tick(): Promise<void> {
    if (busy || stream.closed) return;
    busy = true;
    try {
      const wasFinished = finished;
      if (job.logPath === null || wasFinished) job = (await store.getJob(job.id)) ?? job;
      if (job.logPath !== null) await readMore(job.logPath);
      const size = job.logPath === null ? null : await sizeOf(job.logPath);
      const caughtUp = size === null || (offset ?? 0) >= size;
      if ((wasFinished || ended(job)) && caughtUp) {
        stream.send({
          event: 'end',
          data: JSON.stringify({ status: job.status, exitCode: job.exitCode }),
        });
        stream.close();
      }
    } catch (err) {
      stream.send({ event: 'error', data: JSON.stringify({ message: String(err) }) });
      stream.close();
    } finally {
      busy = false;
    }
  }
  try {
    await hub.subscribe(sub);
  } catch (err) {
    stream.close();
    throw err;
  }
  stream.comment('following');
  void tick();
  return response;
}
