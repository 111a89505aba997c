import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { feedLagReaders } from '../src/export/metrics-hooks.ts';
import { type ExportService, openExportService } from '../src/export/open.ts';
import { cursorKey } from '../src/export/status.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import type { FieldSample } from '../src/store/contract.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir, until } from './helpers.ts';
import { type InfluxServer, influxForThisFile } from './services/influx.ts';

const influx = influxForThisFile();
assertNoLeaksAtEnd();

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const FAST = { pollMs: 20, backoff: { minMs: 50, maxMs: 200 }, batch: 200 };

async function mirrored(
  server: InfluxServer,
  tasks = [task('reco'), task('calib', { after: ['reco'] })],
) {
  const database = await server.createDatabase();
  const dep = deployment(tempDir(), tasks, {
    exports: { influx: { url: server.url, database } },
  });
  const rt = await openRuntime(dep, { logger: silentLogger() });
  cleanups.push(() => rt.close());
  const service = (await openExportService(rt, silentLogger(), FAST)) as ExportService;
  service.start();
  cleanups.push(() => service.stop());
  return { rt, service, database };
}

/** Every item of the store's feed, by kind. */
async function feedOf(rt: Runtime) {
  const events: number[] = [];
  const samples: FieldSample[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page = await rt.store.readFeed(cursor, { limit: 1000, kinds: ['event', 'sample'] });
    for (const i of page.items) {
      if (i.kind === 'event') events.push(i.event.id);
      if (i.kind === 'sample') samples.push(i.sample);
    }
    cursor = page.cursor;
    if (page.items.length < 1000) return { events, samples, head: cursor };
  }
}

async function caughtUp(rt: Runtime, service: ExportService) {
  await until(
    async () => {
      const head = (await feedOf(rt)).head;
      return (
        (await rt.store.getCursor(cursorKey('influx'))) === head &&
        service.mirrors[0]?.status.state === 'ok'
      );
    },
    20_000,
    'the mirror to reach the feed head',
  );
}

async function eventIds(server: InfluxServer, db: string): Promise<number[]> {
  const ids: number[] = [];
  for (const m of ['instance', 'job', 'event']) {
    for (const s of await server.query(`SELECT "event_id" FROM "${m}"`, { db }))
      for (const v of s.values) ids.push(Number(v[1]));
  }
  return ids.sort((a, b) => a - b);
}

describe('InfluxDB mirror', { skip: influx.skip }, () => {
  it('writes every event and sample one to one, across an influxd outage', async () => {
    const server = influx.server();
    const { rt, service, database } = await mirrored(server);
    const addRuns = (from: number, n: number) =>
      rt.store.upsertRuns(
        Array.from({ length: n }, (_, i) => ({
          run: from + i,
          fill: 7,
          lumi: 12.5,
          start: 1_700_000_000_000 + i,
          end: 1_700_000_100_000 + i,
          type: 'collisions',
          meta: { era: 'Run3' },
        })),
        'test',
      );
    const settle = async (runs: number) =>
      until(
        async () => {
          await rt.engine.pass();
          const done = await rt.store.findInstances({ task: 'calib', statuses: ['done'] });
          return done.length === runs;
        },
        20_000,
        `${runs} runs through the chain`,
      );
    await addRuns(355100, 5);
    await settle(5);
    await caughtUp(rt, service);

    await server.pause();
    await addRuns(355105, 5);
    await settle(10);
    // Samples of two jobs of one task, same key, same millisecond: neither may overwrite the other.
    const jobs = (await rt.store.findInstances({ task: 'reco' })).slice(0, 2);
    const at = Date.now();
    for (const inst of jobs) {
      const [job] = await rt.store.jobsForInstance(inst.id);
      assert.ok(job);
      await rt.store.recordJobData(job.id, { fields: { ic_spread: 0.012, tag: 'GT-1' }, at });
      await rt.store.recordJobData(job.id, { fields: { ic_spread: 0.013 }, at });
    }
    await until(
      async () => (service.mirrors[0]?.status.failures ?? 0) >= 2,
      10_000,
      'failed writes',
    );
    assert.equal(service.mirrors[0]?.status.state, 'failing');
    // /metrics sees the mirror falling behind while it cannot write.
    const lag = feedLagReaders().get(service.mirrors[0]?.name ?? '');
    assert.ok(lag, 'the mirror registered its feed lag');
    const behind = await lag();
    await until(async () => (await lag()) > behind, 5_000, 'a growing feed lag');
    assert.match(
      service.mirrors[0]?.status.error ?? '',
      /cannot reach InfluxDB at http:\/\/127\.0\.0\.1:\d+/,
    );
    await server.resume();
    await caughtUp(rt, service);

    const feed = await feedOf(rt);
    assert.deepEqual(
      await eventIds(server, database),
      [...feed.events].sort((a, b) => a - b),
    );
    const [count] = await server.query(
      'SELECT count("value") AS n, count("text") AS t FROM "field"',
      { db: database },
    );
    assert.equal(
      count?.values[0]?.[1],
      feed.samples.filter((s) => typeof s.value === 'number').length,
    );
    assert.equal(
      count?.values[0]?.[2],
      feed.samples.filter((s) => typeof s.value === 'string').length,
    );
    const runs = await server.query('SELECT "run", "lumi", "meta_era" FROM "run"', {
      db: database,
    });
    assert.equal(runs[0]?.values.length, 10);
    assert.deepEqual(runs[0]?.values[0]?.slice(1), [355100, 12.5, 'Run3']);
    // The series carry what Grafana groups by.
    const tags = await server.query('SHOW TAG KEYS FROM "job"', { db: database });
    assert.deepEqual(tags[0]?.values.flat().sort(), [
      'campaign',
      'executor',
      'status',
      'task',
      'workflow',
    ]);
    const passes = await server.query('SELECT count("duration_ms") FROM "pass"', { db: database });
    assert.ok(Number(passes[0]?.values[0]?.[1]) > 0, 'pass figures are written');
  });

  it('keeps events of one series in the same millisecond apart', async () => {
    const server = influx.server();
    const { rt, service, database } = await mirrored(server, [task('reco')]);
    const at = 1_750_000_000_000;
    for (let i = 0; i < 5; i++) {
      await rt.store.appendEvent({
        at,
        entity: 'source',
        entityId: 'oms',
        campaign: null,
        task: null,
        instanceId: null,
        from: null,
        to: null,
        reason: `poll ${i} failed`,
        by: 'test',
        configHash: null,
        data: null,
      });
    }
    await rt.engine.pass();
    await caughtUp(rt, service);
    const [s] = await server.query(`SELECT "reason" FROM "event" WHERE "entity" = 'source'`, {
      db: database,
    });
    assert.deepEqual(
      s?.values.map((v) => v[1]),
      [0, 1, 2, 3, 4].map((i) => `poll ${i} failed`),
    );
  });
});
