import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiWorld, apiWorld, OPERATOR_TOKEN, settle } from './api-setup.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

describe('API: reprocess downstream, campaign control, limits', () => {
  let w: ApiWorld;
  before(async () => {
    w = await apiWorld(tempDir());
    await settle(w);
  });
  after(async () => {
    await w.close();
  });
  const send = (method: string, path: string, body?: unknown, token?: string) =>
    w.req(path, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(token !== undefined ? { token } : {}),
    });
  const post = (path: string, body: unknown, token?: string) => send('POST', path, body, token);
  const message = async (res: Response) => ((await res.json()) as { message: string }).message;

  it('reprocesses an instance with its downstream in one call', async () => {
    const reco = await w.instance('reco', 1);
    const calib = await w.instance('calib', 1);
    const res = await post(
      `/api/instances/${reco.id}/reprocess`,
      { downstream: true, reason: 'new GT' },
      OPERATOR_TOKEN,
    );
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as {
      instance: { id: number; status: string };
      downstream: { reprocessed: number[]; skipped: unknown[] };
    };
    assert.deepEqual([body.instance.id, body.instance.status], [reco.id, 'new']);
    assert.deepEqual(body.downstream, { reprocessed: [reco.id, calib.id], skipped: [] });
    assert.equal((await w.instance('calib', 1)).status, 'new');
    const plain = await post(
      `/api/instances/${(await w.instance('reco', 2)).id}/reprocess`,
      {},
      OPERATOR_TOKEN,
    );
    assert.equal(plain.status, 200);
    assert.equal(((await plain.json()) as { downstream?: unknown }).downstream, undefined);
    assert.equal(
      (await w.instance('calib', 2)).status,
      'failed',
      'without downstream, only the one',
    );
  });

  it('cancels, refuses to delete an unsettled campaign, then deletes it; the list shows states', async () => {
    assert.equal(
      (await post('/api/campaigns', { name: 'rr', runs: '1-2', tasks: ['reco'] }, OPERATOR_TOKEN))
        .status,
      201,
    );
    // Its instances exist but have not started: deleting now would drop work asked for.
    await w.rt.store.createInstances(
      [1, 2].map((r) => ({ campaign: 'rr', task: 'reco', groupKey: `run:${r}`, runs: [r] })),
      'engine',
    );
    assert.equal((await send('DELETE', '/api/campaigns/rr')).status, 401);
    const early = await send('DELETE', '/api/campaigns/rr', undefined, OPERATOR_TOKEN);
    assert.equal(early.status, 409);
    assert.match(
      await message(early),
      /^campaign rr is active: 2 instance\(s\) not started yet: cancel it first \(`autoctrl campaign cancel rr`\), then delete it$/,
    );
    const more = await post('/api/campaigns/rr/extend', { runs: '1-2' }, OPERATOR_TOKEN);
    assert.equal(more.status, 400);
    assert.match(await message(more), /no ended run matches --runs 1-2 that rr lacks/);
    assert.equal((await post('/api/campaigns/rr/cancel', {})).status, 401);
    const triggers = w.triggers.n;
    const cancelled = await post('/api/campaigns/rr/cancel', { reason: 'typo' }, OPERATOR_TOKEN);
    assert.equal(cancelled.status, 200, await cancelled.clone().text());
    assert.deepEqual(await cancelled.json(), {
      campaign: { name: 'rr', state: 'cancelled', runs: 2 },
      failedJobs: [],
    });
    assert.ok(w.triggers.n > triggers, 'the leader is woken to stop its jobs');
    const list = async () =>
      (
        await w.json<{ campaigns: Array<{ name: string; state: string; complete: boolean }> }>(
          '/api/campaigns',
        )
      ).campaigns.map((c) => [c.name, c.state, c.complete]);
    assert.deepEqual(await list(), [
      ['prompt', 'active', false],
      ['rr', 'cancelled', true],
    ]);
    const refused = await post('/api/campaigns/rr/extend', { runs: '1-2' }, OPERATOR_TOKEN);
    assert.equal(refused.status, 409);
    assert.match(await message(refused), /campaign rr is cancelled: create a new campaign/);
    const deleted = await send('DELETE', '/api/campaigns/rr', undefined, OPERATOR_TOKEN);
    assert.equal(deleted.status, 200);
    assert.deepEqual(await list(), [['prompt', 'active', false]]);
    assert.equal(
      (await send('DELETE', '/api/campaigns/rr', undefined, OPERATOR_TOKEN)).status,
      404,
    );
    const events = await w.rt.store.listEvents({ entity: 'campaign', entityId: 'rr' });
    assert.deepEqual(
      events.map((e) => [e.to, e.by]),
      [
        ['created', 'operator:alice'],
        ['cancelled', 'operator:alice'],
        ['deleted', 'operator:alice'],
      ],
    );
    const prompt = await post('/api/campaigns/prompt/cancel', {}, OPERATOR_TOKEN);
    assert.equal(prompt.status, 400);
  });

  it('refuses a million jobs per instance, naming the setting, and keeps answering', async () => {
    const res = await post(
      '/api/campaigns',
      { name: 'typo', runs: '1-2', set: { 'reco.jobs': 1_000_000 } },
      OPERATOR_TOKEN,
    );
    assert.equal(res.status, 400);
    assert.match(
      await message(res),
      /1000000 jobs is more than the 10000 one instance may have: use fewer, or raise limits\.max_jobs_per_instance in the deployment file/,
    );
    assert.equal(await w.rt.store.getCampaign('typo'), null);
    const health = await w.req('/api/health');
    assert.equal(health.status, 200);
    assert.equal((await w.req('/api/campaigns')).status, 200);
  });

  it('describes the new routes in OpenAPI', async () => {
    const doc = await w.json<{ paths: Record<string, Record<string, unknown>> }>(
      '/api/openapi.json',
    );
    assert.ok(doc.paths['/api/campaigns/{name}/cancel']?.post);
    assert.ok(doc.paths['/api/campaigns/{name}/extend']?.post);
    assert.ok(doc.paths['/api/campaigns/{name}']?.delete);
  });
});
