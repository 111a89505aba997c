import { join } from 'node:path';
import type { Deployment, TaskConfig } from '../src/config/types.ts';

export function deploymentOf(dir: string, tasks: TaskConfig[], slots = 4): Deployment {
  return {
    file: join(dir, 'autoctrl.yaml'),
    dir,
    store: `sqlite:${join(dir, 'state.db')}`,
    dataDir: join(dir, 'data'),
    server: { host: '127.0.0.1', port: 0, publicUrl: 'http://127.0.0.1:0' },
    engine: { intervalMs: 60_000 },
    executors: { local: { type: 'local', options: { slots } } },
    sources: {},
    tasks,
  };
}
