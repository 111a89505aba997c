import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer } from '../src/server/serve.ts';
import { type ApiWorld, apiWorld, settle } from './api-setup.ts';
import { assertNoLeaksAtEnd, tempDir, until } from './helpers.ts';

assertNoLeaksAtEnd();

interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

/** Reads Server-Sent Events from a response body until `enough` says stop; then cancels the body. */
async function readSse(
  res: Response,
  enough: (msgs: SseMessage[]) => boolean,
  timeoutMs = 10_000,
): Promise<SseMessage[]> {
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const msgs: SseMessage[] = [];
  let buf = '';
  const deadline = Date.now() + timeoutMs;
  try {
    while (!enough(msgs)) {
      if (Date.now() > deadline) assert.fail(`timed out; got ${JSON.stringify(msgs)}`);
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const m: SseMessage = { data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const [k, ...rest] = line.split(': ');
          const v = rest.join(': ');
          if (k === 'data') data.push(v);
          else if (k === 'id') m.id = v;
          else if (k === 'event') m.event = v;
        }
        if (data.length === 0 && m.id === undefined) continue;
        m.data = data.join('\n');
        msgs.push(m);
      }
    }
  } finally {
    await reader.cancel();
  }
  return msgs;
}

describe('live streams', () => {
  const dir = tempDir();
  let w: ApiWorld;
  before(async () => {
    w = await apiWorld(dir);
    await settle(w);
  });
  after(() => w.close());

  it('pushes new events, resumes after Last-Event-ID, and stops when the client goes', async () => {
    const res = await w.req('/api/events/stream');
    const inst = await w.instance('reco', 2);
    const t0 = Date.now();
    const pushed = readSse(res, (m) =>
      m.some((e) => e.event === 'instance' && JSON.parse(e.data).to === 'new'),
    );
    await until(async () => w.server.hub.listeners > 0, 5000, 'the stream to subscribe');
    await w.rt.store.transitionInstance(inst.id, {
      from: 'done',
      to: 'new',
      reason: 'live',
      by: 'test',
      at: Date.now(),
    });
    const msgs = await pushed;
    assert.ok(Date.now() - t0 < 5000);
    const last = msgs.at(-1);
    assert.ok(last?.id);
    const event = JSON.parse(last.data) as {
      entity: string;
      entityId: string;
      by: string;
      at: string;
    };
    assert.deepEqual(
      [event.entity, event.entityId, event.by],
      ['instance', String(inst.id), 'test'],
    );
    assert.match(event.at, /^\d{4}-\d\d-\d\dT/);
    await until(async () => w.server.hub.listeners === 0, 5000, 'the hub to drop the client');

    const all = await w.rt.store.readFeed(null, { limit: 100_000, kinds: ['event'] });
    const fourthLast = all.items.at(-4);
    assert.ok(fourthLast);
    const resumed = await readSse(
      await w.req('/api/events/stream', { headers: { 'last-event-id': fourthLast.cursor } }),
      (m) => m.length >= 3,
    );
    assert.deepEqual(
      resumed.map((m) => m.id),
      all.items.slice(-3).map((i) => i.cursor),
      'the missed events, in order, once',
    );
    assert.equal(resumed.at(-1)?.id, last.id);
    const bad = await w.req('/api/events/stream', { headers: { 'last-event-id': 'x:y' } });
    assert.equal(bad.status, 400);
  });

  it('drops a client that goes away, and leaves nothing open when the server closes', async () => {
    const server = await startServer(
      w.rt,
      { trigger: () => {}, health: () => null },
      { host: '127.0.0.1', port: 0 },
    );
    const gone = new AbortController();
    const res = await fetch(`${server.url}/api/events/stream`, { signal: gone.signal });
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    gone.abort();
    await reader.cancel().catch(() => {});
    // A second client stays connected while the server closes.
    const kept = await fetch(`${server.url}/api/events/stream`);
    const keptReader = (kept.body as ReadableStream<Uint8Array>).getReader();
    await keptReader.read();
    await server.close();
    await keptReader.cancel().catch(() => {});
  });

  it('streams a whole log, its tail, and follows a running job until it ends', async () => {
    const reco = await w.instance('reco', 1);
    const [job] = await w.rt.store.jobsForInstance(reco.id);
    assert.ok(job);
    const whole = await w.req(`/api/jobs/${job.id}/log`);
    assert.equal(whole.status, 200);
    assert.match(whole.headers.get('content-type') ?? '', /text\/plain/);
    const text = await whole.text();
    assert.match(text, /start 1\nline2\n/);
    const tail = await (await w.req(`/api/jobs/${job.id}/log?tail=1`)).text();
    assert.equal(tail.trim().split('\n').at(-1), text.trim().split('\n').at(-1));
    assert.ok(tail.split('\n').length < text.split('\n').length);
    assert.equal((await w.req('/api/jobs/999999/log')).status, 404);
    assert.equal((await w.req(`/api/jobs/${job.id}/log?tail=x`)).status, 400);

    // A fill-grouped task starts once its fill ended: a run of the next fill ends fill 10.
    await w.rt.store.upsertRuns([{ run: 3, fill: 11, start: 5_000, end: 6_000, lumi: 1 }], 'test');
    const slow = await until(
      async () => {
        await w.rt.engine.pass();
        const [inst] = await w.rt.store.instancesForRuns('prompt', 'slow', [1]);
        const [j] = inst ? await w.rt.store.jobsForInstance(inst.id) : [];
        return j?.logPath ? j : undefined;
      },
      15_000,
      'the slow job to run',
    );
    const followed = w
      .req(`/api/jobs/${slow.id}/log?follow=1`)
      .then((res) => readSse(res, (m) => m.some((e) => e.event === 'end'), 20_000));
    await until(
      async () => {
        const path = slow.logPath ?? '';
        const { readFile } = await import('node:fs/promises');
        return (await readFile(path, 'utf8').catch(() => '')).includes('first');
      },
      10_000,
      'the first line',
    );
    writeFileSync(join(dir, 'go'), '');
    await until(
      async () => {
        await w.rt.engine.pass();
        return (await w.rt.store.getJob(slow.id))?.status === 'done';
      },
      15_000,
      'the slow job to end',
    );
    const msgs = await followed;
    const chunks = msgs
      .filter((m) => m.event === undefined)
      .map((m) => JSON.parse(m.data) as string);
    assert.match(chunks.join(''), /first\n[\s\S]*last\n/);
    const end = msgs.find((m) => m.event === 'end');
    assert.deepEqual(JSON.parse(end?.data ?? '{}'), { status: 'done', exitCode: 0 });
  });
});
