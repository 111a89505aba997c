import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { AutoctrlError } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import { type AppHooks, createServerApp } from './app.ts';

/** The server cannot listen where it was told to: the port is taken, the host is not this machine's... */
export class ListenError extends AutoctrlError {
  /** The system's error code (`EADDRINUSE`...). */
  readonly reason: string;
  constructor(host: string, port: number, cause: NodeJS.ErrnoException) {
    const at = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const reason = cause.code ?? 'unknown';
    super('listen_failed', `cannot listen on ${at}: ${LISTEN_HINTS[reason] ?? cause.message}`, {
      cause,
    });
    this.reason = reason;
  }
}

const LISTEN_HINTS: Record<string, string> = {
  EADDRINUSE:
    'the port is in use by another process; stop it, or choose another port with --port or server.port (0 picks a free one)',
  EACCES:
    'this user may not use the port (below 1024 needs privileges): choose a port above 1023 with --port or server.port',
  EADDRNOTAVAIL:
    'no network interface of this machine has that address: use 127.0.0.1, 0.0.0.0 or one of its addresses (--host or server.host)',
  ENOTFOUND:
    'the host name does not resolve: use 127.0.0.1, 0.0.0.0 or a name of this machine (--host or server.host)',
  EAI_AGAIN: 'the host name cannot be resolved now: use an IP address (--host or server.host)',
};

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** Listens on the deployment's host and port (0 picks a free port). */
export async function startServer(
  rt: Runtime,
  hooks: AppHooks,
  listen: { host: string; port: number },
): Promise<RunningServer> {
  const { app, close } = createServerApp(rt, hooks);
  return new Promise((resolve, reject) => {
    const server = serve(
      { fetch: app.fetch, hostname: listen.host, port: listen.port },
      (info: AddressInfo) => {
        resolve({
          url: `http://${info.family === 'IPv6' ? `[${info.address}]` : info.address}:${info.port}`,
          close: () =>
            new Promise<void>((res, rej) => {
              // Live streams first: they would otherwise hold their connections open.
              close();
              server.close((err) => (err ? rej(err) : res()));
              if ('closeAllConnections' in server) server.closeAllConnections();
            }),
        });
      },
    );
    server.once('error', (err: NodeJS.ErrnoException) => {
      close();
      reject(new ListenError(listen.host, listen.port, err));
    });
  });
}
