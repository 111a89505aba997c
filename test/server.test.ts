import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jobToken } from '../src/app/tokens.ts';
import { jobRef } from '../src/engine/submit.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { createApp } from '../src/server/app.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

describe('the job reporting endpoint', () => {
  const dir = tempDir();
  let rt: Runtime;
  let app: ReturnType<typeof createApp>;
  let jobId: number;
  let triggers = 0;

  before(async () => {
    rt = await openRuntime(deployment(dir, [task('reco', { command: ['sleep', '5'] })]), {
      logger: silentLogger(),
    });
    app = createApp(rt, { trigger: () => triggers++, health: () => null });
    await rt.store.upsertRuns([{ run: 1, end: 1 }], 'test');
    await rt.engine.pass();
    const [inst] = await rt.store.instancesForRuns('prompt', 'reco', [1]);
    const [job] = await rt.store.jobsForInstance(inst?.id ?? 0);
    jobId = job?.id ?? 0;
  });
  after(async () => {
    for (const job of await rt.store.activeJobs()) {
      const ex = rt.executors.get(job.executor);
      await ex?.cancel(jobRef(rt.engine.ctx, job), 'test over');
    }
    await rt.close();
  });

  const post = (
    id: number,
    body: unknown,
    token: string | null = jobToken(rt.engine.ctx.tokenSecret, id),
  ) =>
    app.request(`/api/jobs/${id}/report`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('accepts a report with the job token: fields, outputs, status', async () => {
    const res = await post(jobId, {
      status: 'running',
      fields: { n_events: 1200, gt: '130X' },
      outputs: [{ path: '/eos/a.root', kind: 'root' }],
    });
    assert.equal(res.status, 200);
    const job = await rt.store.getJob(jobId);
    assert.equal(job?.status, 'running');
    assert.deepEqual(job?.fields, { n_events: 1200, gt: '130X' });
    assert.ok(triggers > 0, 'a report triggers a pass');
  });

  it('refuses a missing or foreign token with 401', async () => {
    assert.equal((await post(jobId, { status: 'done' }, null)).status, 401);
    assert.equal(
      (await post(jobId, { status: 'done' }, jobToken(rt.engine.ctx.tokenSecret, jobId + 1)))
        .status,
      401,
    );
    assert.equal((await rt.store.getJob(jobId))?.status, 'running');
  });

  it('refuses bad input with 400 naming the field', async () => {
    const res = await post(jobId, { status: 'finished' });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { message: string }).message, /^body\.status:/);
    const field = await post(jobId, { fields: { x: { nested: true } } });
    assert.match(((await field.json()) as { message: string }).message, /^body\.fields\.x:/);
    assert.equal((await post(jobId, '{not json')).status, 400);
    assert.equal((await post(jobId, { unknown: 1 })).status, 400);
  });

  it('settles the job on done and refuses a contradicting report with 409', async () => {
    assert.equal((await post(jobId, { status: 'done' })).status, 200);
    assert.equal((await rt.store.getJob(jobId))?.status, 'done');
    assert.equal(
      (await post(jobId, { status: 'done' })).status,
      200,
      'repeating the final status is fine',
    );
    assert.equal((await post(jobId, { status: 'failed' })).status, 409);
  });

  it('answers 404 for a job that does not exist', async () => {
    assert.equal((await post(999_999, { status: 'done' })).status, 404);
  });
});
