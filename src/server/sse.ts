const encoder = new TextEncoder();

/** Bytes queued for a client before it counts as stuck and is dropped (it resumes with Last-Event-ID). */
const MAX_QUEUED = 4 * 1024 * 1024;

export interface SseMessage {
  id?: number | string;
  event?: string;
  /** One string; newlines become several `data:` lines, as the format wants. */
  data: string;
}

export interface SseStream {
  send(m: SseMessage): void;
  comment(text: string): void;
  close(): void;
  readonly closed: boolean;
  /** Bytes written but not yet taken by the client. */
  readonly queued: number;
}

/**
 * A Server-Sent Events response over a plain ReadableStream: `onClose` runs
 * once, whether the client went away (the body is cancelled), the server
 * ended the stream, or the client fell too far behind.
 */
export function openSse(onClose: () => void): { response: Response; stream: SseStream } {
  let controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  let closed = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    onClose();
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      cancel() {
        finish();
      },
    },
    { highWaterMark: MAX_QUEUED, size: (chunk) => chunk.byteLength },
  );
  const write = (text: string) => {
    if (closed || controller === null) return;
    controller.enqueue(encoder.encode(text));
    if ((controller.desiredSize ?? 0) < 0) stream.close();
  };
  const stream: SseStream = {
    send(m) {
      const lines = m.data.split(/\r\n|\r|\n/).map((l) => `data: ${l}`);
      const head = [
        ...(m.id !== undefined ? [`id: ${m.id}`] : []),
        ...(m.event !== undefined ? [`event: ${m.event}`] : []),
      ];
      write(`${[...head, ...lines].join('\n')}\n\n`);
    },
    comment(text) {
      write(`: ${text}\n\n`);
    },
    close() {
      if (closed) return;
      try {
        controller?.close();
      } catch {
        // already closed by the client
      }
      finish();
    },
    get closed() {
      return closed;
    },
    get queued() {
      return controller === null ? 0 : MAX_QUEUED - (controller.desiredSize ?? MAX_QUEUED);
    },
  };
  const response = new Response(body, {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    },
  });
  return { response, stream };
}
