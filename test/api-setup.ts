import { createHash } from 'node:crypto';
import type { ChatConfig } from '../src/config/types.ts';
import { silentLogger } from '../src/logger.ts';
import type { InstanceStatus } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { createServerApp, type ServerApp } from '../src/server/app.ts';
import { closeRuntime, deployment, task, until } from './helpers.ts';

export const OPERATOR_TOKEN = 'op-secret-token';
export const sha256 = (t: string) => createHash('sha256').update(t).digest('hex');

export interface ApiWorld {
  rt: Runtime;
  server: ServerApp;
  triggers: { n: number };
  req(path: string, init?: RequestInit & { token?: string }): Promise<Response>;
  json<T = Record<string, unknown>>(
    path: string,
    init?: RequestInit & { token?: string },
  ): Promise<T>;
  instance(task: string, run: number): Promise<{ id: number; status: InstanceStatus }>;
  close(): Promise<void>;
}

/**
 * A deployment with a real SQLite store and local executor: `reco` prints a
 * log and succeeds (reporting a field), `calib` after it fails for good on
 * run 2, `slow` runs until a file appears (for live tails).
 */
export async function apiWorld(
  dir: string,
  over: { readOpen?: boolean; chat?: ChatConfig; store?: string } = {},
): Promise<ApiWorld> {
  const tasks = [
    task('reco', {
      workflow: 'ecal',
      command: ['sh', '-c', 'echo "start $1"; echo line2', 'sh', '{run}'],
    }),
    task('calib', {
      workflow: 'ecal',
      after: ['reco'],
      command: ['sh', '-c', 'echo calib; test "$1" != 2', 'sh', '{run}'],
    }),
    task('slow', {
      command: ['sh', '-c', `echo first; while [ ! -f ${dir}/go ]; do sleep 0.05; done; echo last`],
      group: { by: 'fill' },
    }),
  ];
  const rt = await openRuntime(
    deployment(dir, tasks, {
      auth: {
        readOpen: over.readOpen ?? true,
        operators: [{ name: 'alice', tokenSha256: sha256(OPERATOR_TOKEN) }],
      },
      ...(over.chat ? { chat: over.chat } : {}),
      ...(over.store ? { store: over.store } : {}),
    }),
    { logger: silentLogger() },
  );
  const triggers = { n: 0 };
  const server = createServerApp(
    rt,
    {
      trigger: () => triggers.n++,
      health: () => ({
        controller: 'test',
        upSince: new Date().toISOString(),
        heartbeatAt: new Date().toISOString(),
        lastPass: { at: new Date().toISOString(), durationMs: 3, skipped: false },
        intervalMs: 60_000,
        leading: true,
        leaseTtlMs: 6_000,
      }),
    },
    { pollMs: 10 },
  );
  const req = (path: string, init: RequestInit & { token?: string } = {}) => {
    const { token, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    if (rest.body !== undefined) headers.set('content-type', 'application/json');
    return Promise.resolve(server.app.request(path, { ...rest, headers }));
  };
  const world: ApiWorld = {
    rt,
    server,
    triggers,
    req,
    async json<T>(path: string, init: RequestInit & { token?: string } = {}) {
      const res = await req(path, init);
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    async instance(taskName: string, run: number) {
      const [inst] = await rt.store.instancesForRuns('prompt', taskName, [run]);
      if (inst === undefined) throw new Error(`no ${taskName} instance for run ${run}`);
      return inst;
    },
    async close() {
      server.close();
      await closeRuntime(rt);
    },
  };
  return world;
}

/** Runs 1 and 2 (fill 10, still open) through reco and calib: run 1 all done, run 2's calib failed. */
export async function settle(w: ApiWorld): Promise<void> {
  await w.rt.store.upsertRuns(
    [
      {
        run: 1,
        fill: 10,
        start: 1_000,
        end: 2_000,
        lumi: 5,
        type: 'collisions',
        meta: { global_tag: 'GT_A' },
      },
      {
        run: 2,
        fill: 10,
        start: 3_000,
        end: 4_000,
        lumi: 7,
        type: 'collisions',
        meta: { global_tag: 'GT_B' },
      },
    ],
    'test',
  );
  await until(
    async () => {
      await w.rt.engine.pass();
      const c1 = await w.instance('calib', 1).catch(() => null);
      const c2 = await w.instance('calib', 2).catch(() => null);
      return c1?.status === 'done' && c2?.status === 'failed';
    },
    20_000,
    'runs 1 and 2 to settle',
  );
}
