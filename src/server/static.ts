import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';

/** The package's `web/`, the same from `src/` (tests) and `dist/` (installed). */
export const webDir = fileURLToPath(new URL('../../web/', import.meta.url));

function uplotDir(): string | null {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
  } catch {
    return null;
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** A file under `root`, or null: nothing outside it is ever served (`..`, absolute paths, links up). */
async function fileUnder(root: string, rel: string): Promise<string | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rel);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const path = resolve(root, `.${sep}${decoded}`);
  if (path !== root && !path.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  const st = await stat(path).catch(() => null);
  return st?.isFile() ? path : null;
}

async function sendFile(path: string, cache: string): Promise<Response> {
  const st = await stat(path);
  return new Response(Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>, {
    headers: {
      'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
      'content-length': String(st.size),
      'last-modified': st.mtime.toUTCString(),
      'cache-control': cache,
    },
  });
}

/**
 * The page: files of `web/` at `/`, uPlot at `/vendor/uplot/`, and
 * `index.html` for every other page path (`/instances/12`) so that the
 * page's own router takes over.
 */
export function mountStatic(app: Hono, root = webDir): void {
  const vendor = uplotDir();
  const index = join(root, 'index.html');
  app.get('/vendor/uplot/*', async (c) => {
    const path =
      vendor === null ? null : await fileUnder(vendor, c.req.path.slice('/vendor/uplot/'.length));
    return path === null ? c.notFound() : sendFile(path, 'public, max-age=86400');
  });
  app.get('*', async (c) => {
    const p = c.req.path;
    if (p.startsWith('/api/')) return c.notFound();
    const file = p === '/' ? null : await fileUnder(root, p.slice(1));
    if (file !== null) return sendFile(file, 'no-cache');
    // A missing asset is a 404; anything that looks like a page path is the page.
    if (extname(p) !== '') return c.notFound();
    return sendFile(index, 'no-cache');
  });
}
