import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateDeploymentText } from '../src/config/load.ts';
import { silentLogger } from '../src/logger.ts';
import { SamplePruner } from '../src/retention/samples.ts';
import type { StateStore } from '../src/store/contract.ts';
import { createPostgresStore } from '../src/store/postgres/index.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import { postgresForThisFile } from './services/postgres.ts';

const pg = postgresForThisFile();
assertNoLeaksAtEnd();

const DAY = 86_400_000;

/** One job of run 1 with `old` samples 100 days old and 3 from today. */
async function filled(store: StateStore, old: number): Promise<void> {
  await store.upsertRuns([{ run: 1 }], 'test');
  const [inst] = await store.createInstances(
    [{ campaign: 'prompt', task: 'reco', groupKey: 'run:1', runs: [1] }],
    'engine',
  );
  assert.ok(inst);
  const { jobs } = await store.startInstance(inst.id, {
    from: 'new',
    configHash: 'cfg',
    config: {},
    jobs: [{ index: 0, attempt: 1, executor: 'local', input: null, notBefore: null }],
    reason: null,
    by: 'engine',
    at: Date.now(),
  });
  const id = jobs[0]?.id ?? 0;
  const now = Date.now();
  for (let i = 0; i < old; i++)
    await store.recordJobData(id, { fields: { gain: i }, at: now - 100 * DAY + i });
  for (let i = 0; i < 3; i++) await store.recordJobData(id, { fields: { gain: -i }, at: now - i });
}

const left = async (store: StateStore) =>
  (await store.listSamples({ campaign: 'prompt', task: 'reco', key: 'gain', limit: 1000 })).samples
    .length;

function checks(open: () => Promise<StateStore>): void {
  it('deletes samples older than the retention in batches, on the leader only', async () => {
    const store = await open();
    try {
      await filled(store, 25);
      let leading = false;
      const pruner = new SamplePruner({
        store,
        logger: silentLogger(),
        retentionMs: 90 * DAY,
        leading: () => leading,
        batch: 4,
      });
      assert.equal(await pruner.round(), 0, 'a standby deletes nothing');
      assert.equal(await left(store), 28);
      leading = true;
      assert.equal(await pruner.round(), 25, 'seven batches, one round');
      assert.equal(await left(store), 3);
      assert.equal(await pruner.round(), 0);
      await pruner.stop();
    } finally {
      await store.close();
    }
  });

  it('works a backlog off over several rounds when a round runs out of time', async () => {
    const store = await open();
    try {
      await filled(store, 10);
      const pruner = new SamplePruner({
        store,
        logger: silentLogger(),
        retentionMs: 90 * DAY,
        leading: () => true,
        batch: 4,
        roundBudgetMs: 0,
      });
      assert.deepEqual(
        [await pruner.round(), await pruner.round(), await pruner.round()],
        [4, 4, 2],
      );
      await pruner.stop();
    } finally {
      await store.close();
    }
  });
}

describe('sample retention', () => {
  it('is read from the deployment file', () => {
    const text = `store: sqlite:state.db\nretention: { samples: 90d }\ntasks: {}\n`;
    const { deployment, problems } = validateDeploymentText(text, '/x/autoctrl.yaml');
    assert.deepEqual(problems, []);
    assert.deepEqual(deployment?.retention, { samplesMs: 90 * DAY });
    const bad = validateDeploymentText(`${text}`.replace('90d', 'soon'), '/x/autoctrl.yaml');
    assert.match(bad.problems[0]?.message ?? '', /retention\.samples/);
  });
  describe('on SQLite', () => checks(() => createSqliteStore(join(tempDir(), 'state.db'))));
  describe('on PostgreSQL', { skip: pg.skip }, () =>
    checks(() => createPostgresStore(pg.server().url())),
  );
});
