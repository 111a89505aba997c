import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { Controller } from '../src/engine/controller.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { DEFAULT_FIELDS, mapRecord, parseRunObject, toEpochMs } from '../src/sources/fields.ts';
import { createHttpSource } from '../src/sources/http/index.ts';
import { openSources } from '../src/sources/open.ts';
import { captureLogger, reply, startJsonServer } from './fixtures/json-server.ts';
import { assertNoLeaksAtEnd, deployment, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

const HOUR = 3_600_000;
const NOW = Date.now();

/** A run registry's record, in its own field names (mapped by the source's `fields:`). */
interface Rec {
  runnumber: number | string;
  lhcfill: number;
  start_time: string;
  end_time: number | null;
  recorded_lumi: number | null;
  run_class: string;
  gt: string;
}

function rec(run: number, over: Partial<Rec> = {}): Rec {
  return {
    runnumber: run,
    lhcfill: 8200,
    start_time: new Date(NOW - 5 * HOUR + (run % 100) * 600_000).toISOString(),
    // Epoch seconds, as some registries send them.
    end_time: Math.floor((NOW - 4 * HOUR + (run % 100) * 600_000) / 1000),
    recorded_lumi: 0.05,
    run_class: 'Collisions',
    gt: '130X_dataRun3_Prompt_v3',
    ...over,
  };
}

/** A registry that honours `min_run` and is changed by the test between polls. */
async function registry(records: Rec[]) {
  const server = await startJsonServer((url) => {
    const min = Number(url.searchParams.get('min_run') ?? 0);
    return { data: { runs: records.filter((r) => Number(r.runnumber) >= min) } };
  });
  after(() => server.close());
  return server;
}

const options = (url: string) => ({
  url: `${url}/api/runs`,
  records: 'data.runs',
  fields: {
    run: 'runnumber',
    fill: 'lhcfill',
    start: 'start_time',
    end: 'end_time',
    lumi: 'recorded_lumi',
    type: 'run_class',
  },
  meta: { global_tag: 'gt' },
  filter: { run_class: ['Collisions', 'Special'] },
  lumi_unit: 'fb',
  since_param: 'min_run',
  timeout: '2s',
});

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await rt.close();
});

async function runtimeWith(url: string, dir = tempDir()): Promise<Runtime> {
  const d = deployment(dir, [], {
    sources: { registry: { type: 'http', intervalMs: 60_000, options: options(url) } },
  });
  const rt = await openRuntime(d, { logger: silentLogger() });
  open.push(rt);
  return rt;
}

/** One poll as the daemon does it: runs and cursor into the store. */
async function poll(rt: Runtime): Promise<number> {
  const sources = await openSources(rt.deployment, silentLogger());
  const source = sources.get('registry');
  assert.ok(source);
  return new Controller(rt, sources).pollSource('registry', source);
}

describe('http source', () => {
  it('takes new runs, updates a run that changes upstream, and resumes after a restart', async () => {
    const records = [
      rec(100),
      rec(101, { end_time: null, recorded_lumi: null }),
      rec(102, { run_class: 'Cosmics' }),
    ];
    const server = await registry(records);
    const dir = tempDir();
    let rt = await runtimeWith(server.url, dir);

    assert.equal(await poll(rt), 2);
    assert.equal(server.requests.at(-1), '/api/runs');
    const r100 = await rt.store.getRun(100);
    assert.deepEqual(
      { ...r100, seq: 0 },
      {
        run: 100,
        fill: 8200,
        start: Date.parse(records[0]?.start_time ?? ''),
        end: Math.floor((NOW - 4 * HOUR) / 1000) * 1000,
        lumi: r100?.lumi,
        type: 'Collisions',
        meta: { global_tag: '130X_dataRun3_Prompt_v3' },
        seq: 0,
      },
    );
    assert.ok(Math.abs((r100?.lumi ?? 0) - 50) < 1e-9, '0.05 /fb is 50 /pb');
    assert.equal((await rt.store.getRun(101))?.end, null);
    assert.equal(await rt.store.getRun(102), null, 'the filter leaves cosmics out');

    // Upstream: run 101 ends and gets its luminosity; run 103 starts.
    Object.assign(records[1] as Rec, { end_time: Math.floor(NOW / 1000), recorded_lumi: 0.12 });
    records.push(rec(103, { end_time: null, recorded_lumi: null }));
    assert.equal(await poll(rt), 2);
    // The lowest run still open, not the whole history, nor only what is after the newest.
    assert.equal(server.requests.at(-1), '/api/runs?min_run=101');
    const r101 = await rt.store.getRun(101);
    assert.equal(r101?.end, Math.floor(NOW / 1000) * 1000);
    assert.ok(Math.abs((r101?.lumi ?? 0) - 120) < 1e-9);
    const events = await rt.store.listEvents({ entity: 'run' });
    const changed = events.filter((e) => e.to === 'changed');
    assert.deepEqual(
      changed.map((e) => e.entityId),
      ['101'],
    );
    assert.deepEqual(Object.keys(changed[0]?.data ?? {}).sort(), ['end', 'lumi']);

    // A restart: a new runtime and new source objects over the same store and its cursor.
    await rt.close();
    open.splice(open.indexOf(rt), 1);
    rt = await runtimeWith(server.url, dir);
    records.push(rec(104));
    assert.equal(await poll(rt), 1, 'only run 104 is news');
    assert.equal(server.requests.at(-1), '/api/runs?min_run=101');
    assert.equal(await poll(rt), 0);

    const all = await rt.store.listEvents({ entity: 'run' });
    const added = all.filter((e) => e.to === 'added').map((e) => e.entityId);
    assert.deepEqual(added, ['100', '101', '103', '104'], 'each run taken once');
  });

  it('stops re-asking a run once it ended long enough ago', async () => {
    const server = await registry([rec(200), rec(201, { end_time: Math.floor(NOW / 1000) })]);
    const source = await createHttpSource('r', options(server.url), {
      logger: silentLogger(),
      dir: '.',
    });
    const first = await source.poll(null, NOW);
    assert.deepEqual(
      first.runs.map((r) => r.run),
      [200, 201],
    );
    // 201 ended just now: its luminosity may still be corrected for an hour.
    const soon = await source.poll(first.cursor, NOW + 10_000);
    assert.equal(server.requests.at(-1), '/api/runs?min_run=201');
    assert.deepEqual(
      soon.runs.map((r) => r.run),
      [201],
    );
    const later = await source.poll(first.cursor, NOW + 2 * HOUR);
    assert.equal(server.requests.at(-1), '/api/runs?min_run=202');
    assert.deepEqual(later.runs, []);
  });

  it('skips a bad record with a warning and takes the others', async () => {
    const server = await registry([rec(300), rec(301, { start_time: 'yesterday-ish' }), rec(302)]);
    const { logger, lines } = captureLogger();
    const source = await createHttpSource('r', options(server.url), { logger, dir: '.' });
    const { runs, cursor } = await source.poll(null, NOW);
    assert.deepEqual(
      runs.map((r) => r.run),
      [300, 302],
    );
    assert.match(lines.join('\n'), /skipped record: "yesterday-ish" is not a time/);
    // The bad one is asked for again: fixed upstream, it is taken then.
    await source.poll(cursor, NOW + 1000);
    assert.equal(server.requests.at(-1), '/api/runs?min_run=301');
  });

  it('follows pages and reads runs without a since parameter', async () => {
    const pages: Record<string, unknown> = {
      '/p1': { items: [{ run: 1, end: '2023-06-01T10:00:00Z' }], links: { next: '/p2' } },
      '/p2': { items: [{ run: 2, end: '2023-06-01 12:00:00' }], links: { next: null } },
    };
    const server = await startJsonServer((url) => pages[url.pathname] ?? reply(404, {}));
    after(() => server.close());
    const source = await createHttpSource(
      'r',
      { url: `${server.url}/p1`, records: 'items', next: 'links.next' },
      { logger: silentLogger(), dir: '.' },
    );
    const { runs } = await source.poll(null, NOW);
    assert.deepEqual(runs, [
      { run: 1, end: Date.UTC(2023, 5, 1, 10) },
      { run: 2, end: Date.UTC(2023, 5, 1, 12) },
    ]);
  });

  it('throws on an error answer, a non-JSON answer and a timeout, naming the URL', async () => {
    let mode = 'error';
    const server = await startJsonServer(async (_url, req) => {
      if (mode === 'error') return reply(503, { error: 'maintenance' });
      if (mode === 'html') return '<html>login</html>';
      // Never answers: holds on until the client gives up.
      await new Promise((r) => req.on('close', r));
      return [];
    });
    after(() => server.close());
    // A patient source for the answers, a 100 ms one for the timeout: a loaded machine can take 100 ms to answer.
    const sourceWithin = (timeout: string) =>
      createHttpSource(
        'r',
        { url: `${server.url}/runs?token=secret`, timeout },
        { logger: silentLogger(), dir: '.' },
      );
    const source = await sourceWithin('30s');
    await assert.rejects(source.poll(null, NOW), (err: Error) => {
      assert.equal(err.name, 'HttpGetError');
      assert.match(err.message, /GET http:\/\/127\.0\.0\.1:\d+\/runs\?…: HTTP 503/);
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
    mode = 'html';
    await assert.rejects(source.poll(null, NOW), /answer is not JSON/);
    mode = 'slow';
    await assert.rejects((await sourceWithin('100ms')).poll(null, NOW), /no answer within 100 ms/);
  });

  it('refuses options that cannot work, saying which', async () => {
    await assert.rejects(
      createHttpSource('r', { url: 'ftp://x' }, { logger: silentLogger(), dir: '.' }),
      /sources\.r\.url: url must start with http/,
    );
    await assert.rejects(
      createHttpSource(
        'r',
        { url: 'http://x', headers_env: { Authorization: 'AUTOCTRL_TEST_UNSET_TOKEN' } },
        { logger: silentLogger(), dir: '.' },
      ),
      /AUTOCTRL_TEST_UNSET_TOKEN is not set/,
    );
  });
});

describe('run fields from JSON records', () => {
  it('reads times as ISO strings (zone-less is UTC) or epoch seconds or milliseconds', () => {
    const t = Date.UTC(2023, 5, 1, 8, 30);
    for (const v of [
      '2023-06-01T08:30:00Z',
      '2023-06-01T10:30:00+02:00',
      '2023-06-01 08:30:00',
      t / 1000,
      t,
      String(t / 1000),
    ]) {
      assert.equal(toEpochMs(v), t, JSON.stringify(v));
    }
    assert.equal(toEpochMs(null), null);
    assert.equal(toEpochMs(undefined), undefined);
    assert.throws(() => toEpochMs('soon'), /"soon" is not a time/);
  });

  it('maps nested fields and metadata, converts luminosity, keeps null and absent apart', () => {
    const mapping = {
      fields: { ...DEFAULT_FIELDS, run: 'a.run', lumi: 'a.lumi_ub' },
      meta: { gt: 'conditions.gt', keys: 'keys' },
      lumiUnit: 'ub' as const,
    };
    const record = {
      a: { run: '355100', lumi_ub: 2_500_000 },
      end: null,
      conditions: { gt: 'GT' },
      keys: [1],
    };
    assert.deepEqual(mapRecord(record, mapping), {
      run: 355100,
      end: null,
      lumi: 2.5,
      meta: { gt: 'GT', keys: '[1]' },
    });
    assert.throws(() => mapRecord({ a: { run: -3 } }, mapping), /no run number at 'a\.run'/);
    assert.throws(() => parseRunObject({ run: 1, lumi_pb: 3 }), /unknown key 'lumi_pb'/);
  });
});
