import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jobToken } from '../src/app/tokens.ts';
import { jobWorkDir } from '../src/engine/launch.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { createApp } from '../src/server/app.ts';
import { assertNoLeaksAtEnd, closeRuntime, deployment, task, tempDir } from './helpers.ts';

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
    await closeRuntime(rt);
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

  /** A report for the job, as `{status, body}`. */
  const report = async (body: unknown, token?: string) => {
    const res = await post(jobId, body, token);
    return { status: res.status, body: (await res.json()) as { message?: string } };
  };
  const outputs = async () =>
    (await rt.store.outputsForInstances([(await job()).instanceId])).map((o) => o.path);
  const job = async () => {
    const j = await rt.store.getJob(jobId);
    assert.ok(j);
    return j;
  };

  it('normalizes output paths, places relative ones in the output directory, refuses climbing out', async () => {
    const earlier = (await outputs()).length;
    const ok = await report({
      outputs: [
        { path: 'sub/./a.root' },
        { path: '/eos/x/../y.root' },
        { path: 'root://eos//a/../b' },
      ],
    });
    assert.equal(ok.status, 200, ok.body.message);
    const out = join(jobWorkDir(rt.engine.ctx, await job()), 'out');
    assert.deepEqual((await outputs()).slice(earlier), [
      join(out, 'sub/a.root'),
      '/eos/y.root',
      'root://eos//a/../b',
    ]);
    for (const path of ['../../../../etc/shadow', 'a/../../b', '..']) {
      const bad = await report({ outputs: [{ path: '/ok' }, { path }] });
      assert.equal(bad.status, 400, path);
      assert.match(
        bad.body.message ?? '',
        /^body\.outputs\.1\.path: .* climbs out of the job's output directory/,
      );
    }
    assert.equal((await outputs()).length, earlier + 3, 'nothing of a refused report is stored');
  });

  it('an attempt token reports for its attempt only', async () => {
    const secret = rt.engine.ctx.tokenSecret;
    const { attempt } = await job();
    assert.equal(
      (await report({ fields: { n: 1 } }, jobToken(secret, jobId, attempt))).status,
      200,
    );
    const old = await report({ fields: { n: 2 } }, jobToken(secret, jobId, attempt - 1));
    assert.equal(old.status, 409);
    assert.match(
      old.body.message ?? '',
      new RegExp(
        `attempt ${attempt - 1} has ended \\(superseded\\).*attempt ${attempt} reports with its own token`,
      ),
    );
    assert.equal((await report({}, `${attempt}.forged`)).status, 401);
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

  it('after the end: 409 saying the attempt ended, nothing recorded; repeating the final status is a no-op', async () => {
    const before = await outputs();
    for (const late of [
      { fields: { n: 3 } },
      { outputs: [{ path: '/eos/late.root' }] },
      { status: 'failed' },
      { status: 'done', fields: { n: 4 } },
    ]) {
      const res = await report(late);
      assert.equal(res.status, 409, JSON.stringify(late));
      assert.match(
        res.body.message ?? '',
        new RegExp(
          `^job ${jobId}: attempt ${(await job()).attempt} has ended \\(done\\), so it may no longer report`,
        ),
      );
    }
    assert.equal((await report({ status: 'done' })).status, 200);
    const now = await rt.store.getJob(jobId);
    assert.deepEqual([now?.status, now?.fields.n], ['done', 1]);
    assert.deepEqual(await outputs(), before);
  });

  it('answers 404 for a job that does not exist', async () => {
    assert.equal((await post(999_999, { status: 'done' })).status, 404);
  });
});
