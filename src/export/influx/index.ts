import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Logger } from '../../logger.ts';
import { ExportConfigError, ExportError, type Exporter, type ExportItem } from '../contract.ts';
import { Lines } from './line.ts';
import { type InfluxOptions, influxOptions } from './options.ts';
import { PointMaker } from './points.ts';

/** A write InfluxDB has not answered in this long is given up and retried. */
const WRITE_TIMEOUT_MS = 30_000;
const gzipAsync = promisify(gzip);

/** Points per `/write` request, and requests in flight at once. */
const CHUNK_LINES = 5_000;
const IN_FLIGHT = 3;

/**
 * The InfluxDB 1.x mirror: batches as line protocol to `/write` with
 * precision `ns`. A database that does not exist is created (when the
 * credentials allow it), so a fresh InfluxDB works at once.
 */
export async function createInfluxExporter(
  options: Record<string, unknown>,
  ctx: { logger: Logger },
): Promise<Exporter> {
  return new InfluxExporter(influxOptions.parse(options), ctx.logger);
}

class InfluxExporter implements Exporter {
  readonly name = 'influx';
  readonly target: string;
  readonly #opts: InfluxOptions;
  readonly #logger: Logger;
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #gzipped: Record<string, string>;
  readonly #points = new PointMaker();
  #idle: Lines | null = new Lines();

  constructor(opts: InfluxOptions, logger: Logger) {
    this.#opts = opts;
    this.#logger = logger;
    this.#base = opts.url.replace(/\/+$/, '');
    this.target = `${this.#base} database ${opts.database}`;
    this.#headers = { 'content-type': 'text/plain; charset=utf-8', ...authHeader(opts) };
    this.#gzipped = { ...this.#headers, 'content-encoding': 'gzip' };
  }

  /**
   * A large batch (a catch-up) goes as several requests at once: InfluxDB
   * parses and indexes each on its own core, which one large request would
   * not. Points are idempotent (same series and time), so a batch written
   * again after one of its requests failed loses and doubles nothing.
   */
  async write(batch: readonly ExportItem[], signal: AbortSignal): Promise<void> {
    // The mirror writes one batch at a time; a second write meanwhile gets a buffer of its own.
    const lines = this.#idle ?? new Lines();
    this.#idle = null;
    try {
      this.#points.write(lines.reset(), batch);
      const chunks = lines.chunks(CHUNK_LINES);
      if (chunks.length === 0) return;
      const params = new URLSearchParams({ db: this.#opts.database, precision: 'ns' });
      if (this.#opts.retention != null) params.set('rp', this.#opts.retention);
      let next = 0;
      let failed = false;
      const sender = async () => {
        for (let chunk = chunks[next++]; chunk !== undefined && !failed; chunk = chunks[next++]) {
          try {
            await this.#writeChunk(params, chunk, signal);
          } catch (err) {
            failed = true;
            throw err;
          }
        }
      };
      // Every request settled before the buffer is handed back: a failed one must not let the
      // next write overwrite what the others are still sending.
      const sent = await Promise.allSettled(
        Array.from({ length: Math.min(IN_FLIGHT, chunks.length) }, sender),
      );
      for (const r of sent) if (r.status === 'rejected') throw r.reason;
    } finally {
      this.#idle = lines;
    }
  }

  async #writeChunk(params: URLSearchParams, text: Buffer, signal: AbortSignal): Promise<void> {
    const body = this.#opts.gzip === true ? await gzipAsync(text, { level: 1 }) : text;
    const res = await this.#request('/write', params, body, signal);
    if (res.status === 204 || res.status === 200) return;
    const message = influxMessage(await res.text().catch(() => ''));
    if (res.status === 404 && /database not found/i.test(message)) {
      await this.#createDatabase(signal);
      throw new ExportError(
        this.name,
        404,
        `database ${this.#opts.database} was missing: created it, writing again`,
      );
    }
    if (res.status === 400) {
      // A point InfluxDB refuses (a field's type changed) is refused again on every retry:
      // the rest of the batch was written, and the mirror must move on.
      this.#logger.error(
        { status: res.status, influx: message },
        'InfluxDB refused some points of a batch; the others are written',
      );
      return;
    }
    throw new ExportError(this.name, res.status, describeStatus(res.status, message, this.#opts));
  }

  async #createDatabase(signal: AbortSignal): Promise<void> {
    const q = `CREATE DATABASE "${this.#opts.database.replace(/["\\]/g, (c) => `\\${c}`)}"`;
    const res = await this.#request('/query', new URLSearchParams({ q }), undefined, signal);
    const body = await res.text().catch(() => '');
    if (!res.ok || /"error"/.test(body)) {
      throw new ExportError(
        this.name,
        res.status,
        `database ${this.#opts.database} does not exist and could not be created (${influxMessage(body) || res.status}): create it, or give a user allowed to`,
      );
    }
    this.#logger.info({ database: this.#opts.database }, 'created the InfluxDB database');
  }

  async #request(
    path: string,
    params: URLSearchParams,
    body: Buffer | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    try {
      return await fetch(`${this.#base}${path}?${params}`, {
        method: 'POST',
        headers: this.#opts.gzip === true && body !== undefined ? this.#gzipped : this.#headers,
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(WRITE_TIMEOUT_MS)]),
      });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : '';
      const why =
        err instanceof Error && err.name === 'TimeoutError'
          ? `no answer in ${WRITE_TIMEOUT_MS / 1000} s`
          : cause || String(err);
      throw new ExportError(
        this.name,
        null,
        `cannot reach InfluxDB at ${this.#base} (${why}): is it running, and is the url right?`,
        { cause: err },
      );
    }
  }

  async close(): Promise<void> {}
}

function authHeader(opts: InfluxOptions): Record<string, string> {
  if (opts.token_env != null) {
    const token = process.env[opts.token_env];
    if (!token)
      throw new ExportConfigError('influx', `token_env names ${opts.token_env}, which is not set`);
    return { authorization: `Token ${token}` };
  }
  if (opts.username == null) return {};
  const password = opts.password_env == null ? '' : process.env[opts.password_env];
  if (password === undefined) {
    throw new ExportConfigError(
      'influx',
      `password_env names ${opts.password_env}, which is not set`,
    );
  }
  const basic = Buffer.from(`${opts.username}:${password}`).toString('base64');
  return { authorization: `Basic ${basic}` };
}

function influxMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: a proxy's page
  }
  return body.trim().slice(0, 300);
}

function describeStatus(status: number, message: string, opts: InfluxOptions): string {
  const said = message === '' ? `HTTP ${status}` : `HTTP ${status}: ${message}`;
  if (status === 401 || status === 403) {
    const how =
      opts.username == null && opts.token_env == null
        ? 'InfluxDB wants credentials: set username and password_env (or token_env)'
        : `check username ${opts.username ?? '(token)'} and the variable ${opts.password_env ?? opts.token_env ?? 'password_env'}, and the user's WRITE privilege on ${opts.database}`;
    return `InfluxDB refused the credentials (${said}): ${how}`;
  }
  return `InfluxDB did not take the batch (${said})`;
}
