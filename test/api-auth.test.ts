import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jobToken } from '../src/app/tokens.ts';
import { type ApiWorld, apiWorld, OPERATOR_TOKEN, settle } from './api-setup.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

describe('who may do what', () => {
  const dir = tempDir();
  let w: ApiWorld;
  before(async () => {
    w = await apiWorld(dir);
    await settle(w);
  });
  after(() => w.close());

  const post = (path: string, body: unknown, token?: string) =>
    w.req(path, {
      method: 'POST',
      body: JSON.stringify(body),
      ...(token !== undefined ? { token } : {}),
    });

  it('refuses actions without a token, with a bad one, and with a job token', async () => {
    const inst = await w.instance('calib', 2);
    const [job] = await w.rt.store.jobsForInstance(inst.id);
    assert.ok(job);
    const path = `/api/instances/${inst.id}/reprocess`;
    const none = await post(path, {});
    assert.equal(none.status, 401);
    assert.match(((await none.json()) as { message: string }).message, /operator token/);
    assert.equal((await post(path, {}, 'wrong')).status, 401);
    assert.equal((await post(path, {}, jobToken(w.rt.engine.ctx.tokenSecret, job.id))).status, 401);
    assert.equal((await post(`/api/instances/${inst.id}/resubmit`, {})).status, 401);
    assert.equal((await post('/api/campaigns', { name: 'x', runs: '1-2' })).status, 401);
    assert.equal((await w.instance('calib', 2)).status, 'failed', 'nothing changed');
  });

  it('refuses an operator token on a job report (403), and a job token on another job (401)', async () => {
    const inst = await w.instance('reco', 1);
    const [job] = await w.rt.store.jobsForInstance(inst.id);
    assert.ok(job);
    const path = `/api/jobs/${job.id}/report`;
    const op = await post(path, { fields: { x: 1 } }, OPERATOR_TOKEN);
    assert.equal(op.status, 403);
    assert.equal(
      (await post(path, { fields: { x: 1 } }, jobToken(w.rt.engine.ctx.tokenSecret, job.id + 1)))
        .status,
      401,
    );
    const own = await post(
      path,
      { fields: { x: 1 } },
      jobToken(w.rt.engine.ctx.tokenSecret, job.id),
    );
    // The token is the job's, but this attempt is over (reco is done): it may no longer report.
    assert.equal(own.status, 409);
    assert.match(((await own.json()) as { message: string }).message, /has ended \(done\)/);
    const bad = await post(
      path,
      { fields: { x: [] } },
      jobToken(w.rt.engine.ctx.tokenSecret, job.id),
    );
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /^body\.fields\.x:/);
  });

  it('lets an operator reprocess and resubmit, recording who did it', async () => {
    const before = w.triggers.n;
    const done = await w.instance('reco', 1);
    const res = await post(
      `/api/instances/${done.id}/reprocess`,
      { reason: 'new GT' },
      OPERATOR_TOKEN,
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { instance: { status: string; attempt: number } };
    assert.deepEqual([body.instance.status, body.instance.attempt], ['new', 2]);
    assert.ok(w.triggers.n > before, 'an action asks for a pass');
    const [event] = (await w.rt.store.listEvents({ instanceId: done.id }))
      .filter((e) => e.to === 'new')
      .slice(-1);
    assert.deepEqual(
      [event?.by, event?.reason, event?.data?.action],
      ['operator:alice', 'new GT', 'reprocess'],
    );

    const again = await post(`/api/instances/${done.id}/reprocess`, {}, OPERATOR_TOKEN);
    assert.equal(again.status, 409, 'a new instance is not reprocessed again');

    const failed = await w.instance('calib', 2);
    const notFailed = await post(`/api/instances/${done.id}/resubmit`, {}, OPERATOR_TOKEN);
    assert.equal(notFailed.status, 409);
    const resubmitted = await post(`/api/instances/${failed.id}/resubmit`, {}, OPERATOR_TOKEN);
    assert.equal(resubmitted.status, 200);
    const last = (await w.rt.store.listEvents({ instanceId: failed.id })).at(-1);
    assert.equal(last?.by, 'operator:alice');
    assert.equal(last?.data?.action, 'resubmit');
    assert.deepEqual((last?.data?.failedJobs as number[] | undefined)?.length, 1);
    assert.equal((await post('/api/instances/424242/reprocess', {}, OPERATOR_TOKEN)).status, 404);
    const badBody = await post(`/api/instances/${failed.id}/reprocess`, { why: 1 }, OPERATOR_TOKEN);
    assert.equal(badBody.status, 400);
  });

  it('lets an operator create a campaign, named in its event', async () => {
    const res = await post(
      '/api/campaigns',
      { name: 'rereco-a', runs: '1-2', tasks: ['reco'] },
      OPERATOR_TOKEN,
    );
    assert.equal(res.status, 201, await res.clone().text());
    const events = await w.rt.store.listEvents({ entity: 'campaign' });
    assert.equal(events.at(-1)?.by, 'operator:alice');
    const dup = await post('/api/campaigns', { name: 'rereco-a', runs: '1-2' }, OPERATOR_TOKEN);
    assert.equal(dup.status, 409);
    const bad = await post('/api/campaigns', { name: 'x', runs: 5 }, OPERATOR_TOKEN);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /^body\.runs:/);
    const rows = await w.json<{ rows: Array<{ run: number; status: string }> }>(
      '/api/overview?campaign=rereco-a',
    );
    assert.deepEqual(
      rows.rows.map((r) => [r.run, r.status]),
      [
        [2, 'processing'],
        [1, 'processing'],
      ],
    );
  });

  it('keeps the trigger open to the CLI, rate-limited without a token, unlimited with one', async () => {
    const trigger = (token?: string) =>
      w.req('/api/trigger', { method: 'POST', ...(token ? { token } : {}) });
    const before = w.triggers.n;
    for (let i = 0; i < 10; i++) assert.equal((await trigger()).status, 200);
    const limited = await trigger();
    assert.equal(limited.status, 429);
    assert.match(limited.headers.get('retry-after') ?? '', /^\d+$/);
    const body = (await limited.json()) as { error: string; message: string };
    assert.equal(body.error, 'rate_limited');
    assert.match(body.message, /send an operator token/);
    assert.equal((await trigger('not-a-token')).status, 429, 'a wrong token is no token');
    for (let i = 0; i < 20; i++) assert.equal((await trigger(OPERATOR_TOKEN)).status, 200);
    assert.equal(w.triggers.n - before, 30, 'refused triggers ask for no pass');
  });
});

describe('closed reading (auth.read: token)', () => {
  const dir = tempDir();
  let w: ApiWorld;
  before(async () => {
    w = await apiWorld(dir, { readOpen: false });
  });
  after(() => w.close());

  it('needs an operator token for every GET but the description', async () => {
    assert.equal((await w.req('/api/overview')).status, 401);
    assert.equal((await w.req('/api/events/stream')).status, 401);
    assert.equal((await w.req('/api/health', { token: 'nope' })).status, 401);
    assert.equal((await w.req('/api/overview', { token: OPERATOR_TOKEN })).status, 200);
    assert.equal((await w.req('/api/openapi.json')).status, 200);
    // EventSource cannot send headers: the token may come as a query parameter on reads.
    assert.equal((await w.req(`/api/overview?access_token=${OPERATOR_TOKEN}`)).status, 200);
    assert.equal((await w.req('/api/overview?access_token=nope')).status, 401);
    const action = await w.req(`/api/instances/1/reprocess?access_token=${OPERATOR_TOKEN}`, {
      method: 'POST',
    });
    assert.equal(action.status, 401, 'never for actions');
  });
});
