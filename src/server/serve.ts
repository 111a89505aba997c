import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Runtime } from '../runtime.ts';
import { type AppHooks, createServerApp } from './app.ts';

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
    server.once('error', reject);
  });
}
