import { afterEach } from 'node:test';
import { silentLogger } from '../src/logger.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { deployment, task, tempDir } from './helpers.ts';

/** Campaign tests share this deployment: reco → calib, and an independent quick task, over runs 1–3. */
const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await rt.close();
});

export async function withRuns(): Promise<Runtime> {
  const rt = await openRuntime(
    deployment(tempDir(), [
      task('reco', { command: ['reco.sh', '{run}'] }),
      task('calib', { after: ['reco'] }),
      task('quick'),
    ]),
    { logger: silentLogger() },
  );
  open.push(rt);
  await rt.store.upsertRuns(
    [1, 2, 3].map((run) => ({ run, fill: 5, start: 1, end: 2, lumi: 3, type: 'collisions' })),
    'test',
  );
  return rt;
}
