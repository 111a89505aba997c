import http from 'node:http';
import https from 'node:https';
import { AutoctrlError } from '../../errors.ts';
import { setLongTimeout } from '../../timers.ts';

export interface GetJsonOptions {
  timeoutMs: number;
  headers?: Record<string, string>;
  /** PEM contents for services that want X.509 client certificates (cmsweb) or a private CA. */
  tls?: { cert?: string | Buffer; key?: string | Buffer; ca?: string | Buffer };
  signal?: AbortSignal;
  /** Answers larger than this are refused (default 64 MiB). */
  maxBytes?: number;
}

/** A GET that did not give JSON: the service is down, slow, refuses us, or answered something else. */
export class HttpGetError extends AutoctrlError {
  constructor(
    readonly url: string,
    readonly status: number | null,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('http_get_failed', `GET ${redact(url)}: ${message}`, options);
  }
}

/** Query values may carry tokens; messages and logs get the URL without them. */
function redact(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?…`;
}

/**
 * GETs a URL and parses its JSON answer. Built on node:http(s) rather than
 * fetch so that client certificates work, and without a keep-alive agent: a
 * source polled every minute gains nothing from a pooled socket, and a pooled
 * socket would keep the process alive after the controller stops.
 */
export function getJson(url: string, opts: GetJsonOptions): Promise<unknown> {
  let target: URL;
  try {
    target = new URL(url);
  } catch (cause) {
    return Promise.reject(new HttpGetError(url, null, 'not a valid URL', { cause }));
  }
  const client =
    target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
  if (client === undefined) {
    return Promise.reject(
      new HttpGetError(url, null, 'only http:// and https:// URLs are supported'),
    );
  }
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const abort = new AbortController();
    let timedOut = false;
    const timer = setLongTimeout(
      () => {
        timedOut = true;
        abort.abort();
      },
      opts.timeoutMs,
      { ref: true },
    );
    const onOuterAbort = () => abort.abort();
    opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
    let settled = false;
    const finish = (err: Error | null, value?: unknown) => {
      if (settled) return;
      settled = true;
      timer.clear();
      opts.signal?.removeEventListener('abort', onOuterAbort);
      if (err) reject(err);
      else resolve(value);
    };
    if (opts.signal?.aborted) abort.abort();
    const req = client.get(
      target,
      {
        agent: false,
        signal: abort.signal,
        headers: { accept: 'application/json', ...opts.headers },
        ...opts.tls,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            res.destroy();
            finish(new HttpGetError(url, status, `answer larger than ${maxBytes} bytes`));
          } else {
            chunks.push(chunk);
          }
        });
        res.on('error', (cause) => finish(failure(url, cause, timedOut, opts.timeoutMs)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (status >= 300 && status < 400) {
            const to = res.headers.location ?? '?';
            return finish(
              new HttpGetError(
                url,
                status,
                `redirected (${status}) to ${redact(to)}: often a login page; give the service's credentials (headers, token or certificate options) or the final URL`,
              ),
            );
          }
          if (status < 200 || status >= 300) {
            return finish(
              new HttpGetError(url, status, `HTTP ${status}: ${text.slice(0, 200).trim()}`),
            );
          }
          try {
            finish(null, JSON.parse(text));
          } catch (cause) {
            finish(
              new HttpGetError(url, status, `answer is not JSON: ${text.slice(0, 100).trim()}`, {
                cause,
              }),
            );
          }
        });
      },
    );
    req.on('error', (cause) => finish(failure(url, cause, timedOut, opts.timeoutMs)));
  });
}

function failure(url: string, cause: Error, timedOut: boolean, timeoutMs: number): HttpGetError {
  if (timedOut) {
    return new HttpGetError(url, null, `no answer within ${timeoutMs} ms (raise timeout:)`, {
      cause,
    });
  }
  return new HttpGetError(url, null, cause.message || String(cause), { cause });
}
