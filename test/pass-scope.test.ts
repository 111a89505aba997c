import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { scopeOf } from '../src/engine/changes.ts';
import { silentLogger } from '../src/logger.ts';
import type { EventRecord, Instance } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import type { FeedItem } from '../src/store/contract.ts';
import { assertNoLeaksAtEnd, closeRuntime, deployment, task, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await closeRuntime(rt);
});

/** `reco` → `calib`, one run, its instances made by a pass. */
async function start(): Promise<{ rt: Runtime; reco: Instance; calib: Instance }> {
  const rt = await openRuntime(
    deployment(tempDir(), [task('reco'), task('calib', { after: ['reco'] })]),
    { logger: silentLogger() },
  );
  open.push(rt);
  await rt.store.upsertRuns([{ run: 7, fill: 1, lumi: 10, start: 1, end: 2 }], 'test');
  await rt.engine.pass();
  const [reco] = await rt.store.instancesForRuns('prompt', 'reco', [7]);
  const [calib] = await rt.store.instancesForRuns('prompt', 'calib', [7]);
  assert.ok(reco && calib);
  return { rt, reco, calib };
}

let ids = 0;
function event(
  over: Partial<EventRecord> & Pick<EventRecord, 'entity' | 'entityId' | 'to'>,
): FeedItem {
  ids++;
  return {
    cursor: String(ids),
    kind: 'event',
    event: {
      id: ids,
      at: 1,
      campaign: 'prompt',
      task: 'reco',
      instanceId: null,
      from: null,
      reason: null,
      by: 'engine',
      configHash: null,
      data: null,
      ...over,
    },
  };
}

describe('the scope of a pass that follows the change feed', () => {
  it('settles an instance once one of its jobs ended, not when a job only moved', async () => {
    const { rt, reco } = await start();
    const campaigns = await rt.engine.campaigns();
    const job = (to: string) =>
      event({ entity: 'job', entityId: '1', instanceId: reco.id, from: 'idle', to });
    const moved = await scopeOf(rt.engine.ctx, [job('running')], campaigns);
    assert.deepEqual([...(moved?.settleIds('prompt', 'reco') ?? [])], []);
    for (const to of ['done', 'failed']) {
      const ended = await scopeOf(rt.engine.ctx, [job(to)], campaigns);
      assert.deepEqual([...(ended?.settleIds('prompt', 'reco') ?? [])], [reco.id], to);
    }
  });

  it("passes over the engine's own events the last pass followed up, never another writer's", async () => {
    const { rt, reco, calib } = await start();
    const campaigns = await rt.engine.campaigns();
    const handled = new Set([reco.id]);
    const made = event({ entity: 'instance', entityId: String(reco.id), to: 'new' });
    const done = event({ entity: 'instance', entityId: String(reco.id), to: 'done' });
    const own = await scopeOf(rt.engine.ctx, [made, done], campaigns, handled);
    assert.deepEqual([...(own?.gateIds('prompt', 'reco') ?? [])], []);
    assert.deepEqual([...(own?.gateIds('prompt', 'calib') ?? [])], [], 'downstream gated already');

    // Not followed up by the last pass: the downstream is gated.
    const other = await scopeOf(rt.engine.ctx, [done], campaigns);
    assert.deepEqual([...(other?.gateIds('prompt', 'calib') ?? [])], [calib.id]);
    // An operator's reprocess of the same instance is never taken for the engine's own write.
    const reprocess = event({
      entity: 'instance',
      entityId: String(reco.id),
      from: 'done',
      to: 'new',
      by: 'alice',
    });
    const theirs = await scopeOf(rt.engine.ctx, [reprocess], campaigns, handled);
    assert.deepEqual([...(theirs?.gateIds('prompt', 'reco') ?? [])], [reco.id]);
  });
});
