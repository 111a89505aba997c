import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ApiWorld, apiWorld } from './api-setup.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import { postgresForThisFile } from './services/postgres.ts';

const pg = postgresForThisFile();
assertNoLeaksAtEnd();

const T0 = Date.UTC(2024, 4, 1);

interface Page {
  task: string;
  key: string;
  samples: Array<{ at: string; value: number | string; runs: number[]; attempt: number }>;
  next: string | null;
}

/** reco instances of runs 1..3, one job each, each reporting `gain` twice (run r: r and r + 0.5). */
async function withSamples(w: ApiWorld): Promise<void> {
  const { store } = w.rt;
  await store.upsertRuns(
    [1, 2, 3].map((run) => ({ run, fill: 10, start: T0, end: T0 })),
    'test',
  );
  const instances = await store.createInstances(
    [1, 2, 3].map((r) => ({ campaign: 'prompt', task: 'reco', groupKey: `run:${r}`, runs: [r] })),
    'engine',
  );
  for (const inst of instances) {
    const run = inst.runs[0] ?? 0;
    const { jobs } = await store.startInstance(inst.id, {
      from: 'new',
      configHash: 'cfg',
      config: {},
      jobs: [{ index: 0, attempt: 1, executor: 'local', input: null, notBefore: null }],
      reason: null,
      by: 'engine',
      at: T0,
    });
    const id = jobs[0]?.id ?? 0;
    await store.recordJobData(id, { fields: { gain: run }, at: T0 + run * 1000 });
    await store.recordJobData(id, { fields: { gain: run + 0.5 }, at: T0 + 10_000 + run * 1000 });
  }
}

async function pages(w: ApiWorld, query: string): Promise<Page['samples']> {
  const out: Page['samples'] = [];
  let cursor = '';
  for (let i = 0; i < 50; i++) {
    const page = await w.json<Page>(`/api/samples?${query}${cursor}`);
    out.push(...page.samples);
    if (page.next === null) return out;
    cursor = `&cursor=${encodeURIComponent(page.next)}`;
  }
  throw new Error('paging did not end');
}

function checks(open: (dir: string) => Promise<ApiWorld>): void {
  it('gives every sample of a field in time order, paged, by time and by run range', async () => {
    const w = await open(tempDir());
    try {
      await withSamples(w);
      const all = await pages(w, 'task=reco&key=gain');
      assert.deepEqual(
        all.map((s) => s.value),
        [1, 2, 3, 1.5, 2.5, 3.5],
      );
      assert.deepEqual(all[0], {
        ...all[0],
        at: new Date(T0 + 1000).toISOString(),
        runs: [1],
        attempt: 1,
      });
      assert.deepEqual(await pages(w, 'task=reco&key=gain&limit=4'), all, 'pages of 4');
      assert.deepEqual(await pages(w, 'task=reco&key=gain&limit=1'), all, 'pages of 1');
      const since = new Date(T0 + 3000).toISOString();
      const until = new Date(T0 + 12_000).toISOString();
      assert.deepEqual(
        (await pages(w, `task=reco&key=gain&since=${since}&until=${until}`)).map((s) => s.value),
        [3, 1.5],
      );
      assert.deepEqual(
        (await pages(w, 'task=reco&key=gain&from=2&to=2')).map((s) => s.value),
        [2, 2.5],
      );
      assert.deepEqual(await pages(w, 'task=reco&key=other'), []);
      assert.deepEqual(await pages(w, 'task=reco&key=gain&campaign=nope'), []);
    } finally {
      await w.close();
    }
  });

  it('names the bad parameter in one line', async () => {
    const w = await open(tempDir());
    try {
      const bad = async (query: string, message: RegExp) => {
        const res = await w.req(`/api/samples?${query}`);
        assert.equal(res.status, 400, query);
        assert.match(((await res.json()) as { message: string }).message, message);
      };
      await bad('task=nope&key=gain', /^query\.task: no task nope/);
      await bad('task=reco', /^query\.key/);
      await bad('task=reco&key=gain&cursor=abc', /^query\.cursor: must be the `next`/);
      await bad('task=reco&key=gain&since=yesterday', /^query\.since/);
      await bad('task=reco&key=gain&limit=0', /^query\.limit/);
    } finally {
      await w.close();
    }
  });
}

describe('GET /api/samples on SQLite', () => {
  checks((dir) => apiWorld(dir));
});

describe('GET /api/samples on PostgreSQL', { skip: pg.skip }, () => {
  checks((dir) => apiWorld(dir, { store: pg.server().url() }));
});
