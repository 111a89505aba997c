import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { FeedCursor, FeedItem, FeedKind } from '../contract.ts';
import { type Fixture, runs, T0 } from './fixture.ts';

function label(i: FeedItem): string {
  if (i.kind === 'run') return `run ${i.run.run}`;
  if (i.kind === 'event') return `event ${i.event.entity} ${i.event.to}`;
  return `sample ${i.sample.key}=${i.sample.value}`;
}

/** The change feed: one order over runs, events and field samples that never skips an item. */
export function testFeed(f: Fixture): void {
  async function drain(after: FeedCursor | null, limit: number, kinds?: readonly FeedKind[]) {
    const items: FeedItem[] = [];
    let cursor = after;
    for (let i = 0; i < 1_000; i++) {
      const page = await f.store.readFeed(cursor, { limit, ...(kinds ? { kinds } : {}) });
      items.push(...page.items);
      if (page.cursor === cursor && page.items.length === 0) break;
      cursor = page.cursor;
      if (page.items.length < limit) break;
    }
    return { items, cursor: cursor ?? '' };
  }

  it('orders runs, events and samples in one feed, paged without loss', async () => {
    const head = await f.store.feedHead();
    const { jobs } = await f.started(1);
    const job = jobs[0];
    assert.ok(job);
    await f.store.recordJobData(job.id, { fields: { nevents: 12, tag: 'v1' }, at: T0 + 20 });
    await f.store.upsertRuns(runs(200), 'test');
    const all = await drain(head, 1_000);
    const labels = all.items.map(label);
    assert.deepEqual(labels, [
      'run 100',
      'event run added',
      'event instance new',
      'event instance processing',
      'event job idle',
      'sample nevents=12',
      'sample tag=v1',
      'run 200',
      'event run added',
    ]);
    const sample = all.items.find((i) => i.kind === 'sample');
    assert.deepEqual(sample?.kind === 'sample' && { ...sample.sample }, {
      jobId: job.id,
      instanceId: job.instanceId,
      campaign: 'prompt',
      task: 'reco',
      key: 'nevents',
      value: 12,
      at: T0 + 20,
    });
    for (const size of [1, 2, 3]) {
      assert.deepEqual((await drain(head, size)).items.map(label), labels, `pages of ${size}`);
    }
    const onlyRuns = await drain(head, 1, ['run']);
    assert.deepEqual(onlyRuns.items.map(label), ['run 100', 'run 200']);
    assert.deepEqual((await drain(onlyRuns.cursor, 10)).items, [], 'the cursor passed the rest');
    assert.deepEqual(
      (await drain(await f.store.feedHead(), 10)).items,
      [],
      'nothing after the head',
    );
  });

  it('gives a run again, at its new position, when it changes', async () => {
    await f.store.upsertRuns(runs(1, 2), 'test');
    const { cursor } = await f.store.readFeed(null, { limit: 100, kinds: ['run'] });
    await f.store.upsertRuns([{ run: 1, end: T0 + 5 }], 'test');
    const page = await f.store.readFeed(cursor, { limit: 100, kinds: ['run'] });
    assert.deepEqual(
      page.items.map((i) => (i.kind === 'run' ? [i.run.run, i.run.end] : null)),
      [[1, T0 + 5]],
    );
  });

  it('keeps every item once when many writers interleave', async () => {
    const other = await f.another();
    const head = await f.store.feedHead();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? f.store : other).upsertRuns(runs(1_000 + i), `w${i % 2}`),
      ),
    );
    const got = (await drain(head, 7, ['run'])).items.map(label).sort();
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `run ${1_000 + i}`).sort());
  });
}
