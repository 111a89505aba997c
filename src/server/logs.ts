import { LogNotFoundError } from '../errors.ts';
import type { LogOptions } from '../executors/contract.ts';
import type { Job } from '../model/types.ts';
import type { StateStore } from '../store/contract.ts';
import type { EventHub, Subscriber } from './hub.ts';
import { openSse } from './sse.ts';

/** Most bytes queued for one client before the reader waits: a job writing fast cannot flood it. */
const MAX_QUEUED = 256 * 1024;

/** Reads a job's log through its executor (which knows where the log lives: a local file, a batch system's). */
export type LogReader = (job: Job, opts: LogOptions) => AsyncIterable<Uint8Array>;

/**
 * The log as text/plain, whole or its last `tail` lines. The first chunk is
 * read before answering, so a missing log is a 404, not a broken stream.
 */
export async function logResponse(
  read: LogReader,
  job: Job,
  tail: number | undefined,
): Promise<Response> {
  const chunks = read(job, tail === undefined ? {} : { tail })[Symbol.asyncIterator]();
  const first = await chunks.next();
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      if (first.done === true) c.close();
      else c.enqueue(first.value);
    },
    async pull(c) {
      const next = await chunks.next();
      if (next.done === true) c.close();
      else c.enqueue(next.value);
    },
    async cancel() {
      await chunks.return?.();
    },
  });
  return new Response(first.done === true ? '' : stream, {
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' },
  });
}

const ended = (j: Job) => j.status === 'done' || j.status === 'failed';

/**
 * Live tail as Server-Sent Events: the log so far (or its last `tail`
 * lines), then each appended chunk as `data: <JSON string>` (JSON keeps
 * newlines and partial lines intact), then `event: end` with the job's final
 * status once it ends, and the stream closes. The end comes from the shared
 * event hub; the executor's reader gives what is left once told to stop.
 */
export async function followLog(
  store: StateStore,
  hub: EventHub,
  read: LogReader,
  first: Job,
  tail: number | undefined,
): Promise<Response> {
  const stop = new AbortController();
  const sub: Subscriber = {
    deliver(fed) {
      const over = fed.some(
        ({ event: e }) =>
          e.entity === 'job' &&
          e.entityId === String(first.id) &&
          (e.to === 'done' || e.to === 'failed'),
      );
      if (over) stop.abort();
    },
    beat: () => stream.comment('ping'),
    close: () => stream.close(),
  };
  const { response, stream } = openSse(() => {
    stop.abort();
    hub.unsubscribe(sub);
  });
  try {
    await hub.subscribe(sub);
  } catch (err) {
    stream.close();
    throw err;
  }
  if (ended(first)) stop.abort();
  stream.comment('following');
  void pump();
  return response;

  async function pump(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      const opts: LogOptions = { follow: true, signal: stop.signal };
      if (tail !== undefined) opts.tail = tail;
      for await (const chunk of read(first, opts)) {
        if (stream.closed) return;
        const text = decoder.decode(chunk, { stream: true });
        if (text !== '') stream.send({ data: JSON.stringify(text) });
        // Reads only as fast as the client takes it.
        while (stream.queued > MAX_QUEUED && !stream.closed)
          await new Promise((r) => setTimeout(r, 50));
      }
      if (stream.closed) return;
      const job = (await store.getJob(first.id)) ?? first;
      stream.send({
        event: 'end',
        data: JSON.stringify({ status: job.status, exitCode: job.exitCode }),
      });
    } catch (err) {
      const message = err instanceof LogNotFoundError ? err.message : String(err);
      if (!stream.closed) stream.send({ event: 'error', data: JSON.stringify({ message }) });
    } finally {
      stream.close();
    }
  }
}
