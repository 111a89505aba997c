import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jobWorkDir } from '../src/engine/launch.ts';
import { jobRef } from '../src/engine/submit.ts';
import { jobToken } from '../src/engine/tokens.ts';
import { silentLogger } from '../src/logger.ts';
import type { Job } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { createApp } from '../src/server/app.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

describe('a job token is good while its attempt is queued or running', () => {
  const dir = tempDir();
  let rt: Runtime;
  let app: ReturnType<typeof createApp>;
  let job: Job;

  before(async () => {
    rt = await openRuntime(deployment(dir, [task('reco', { command: ['sleep', '5'] })]), {
      logger: silentLogger(),
    });
    app = createApp(rt, { trigger: () => {}, health: () => null });
    await rt.store.upsertRuns([{ run: 1, end: 1 }], 'test');
    await rt.engine.pass();
    const [inst] = await rt.store.instancesForRuns('prompt', 'reco', [1]);
    const [first] = await rt.store.jobsForInstance(inst?.id ?? 0);
    assert.ok(first);
    job = first;
  });
  after(async () => {
    for (const j of await rt.store.activeJobs()) {
      await rt.executors.get(j.executor)?.cancel(jobRef(rt.engine.ctx, j), 'test over');
    }
    await rt.close();
  });

  const post = async (body: unknown, token = jobToken(rt.engine.ctx.tokenSecret, job.id)) => {
    const res = await app.request(`/api/jobs/${job.id}/report`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { message?: string } };
  };
  const outputs = async () =>
    (await rt.store.outputsForInstances([job.instanceId])).map((o) => o.path);

  it('normalizes output paths, places relative ones in the output directory, refuses climbing out', async () => {
    const ok = await post({
      outputs: [
        { path: 'sub/./a.root' },
        { path: '/eos/x/../y.root' },
        { path: 'root://eos//a/../b' },
      ],
    });
    assert.equal(ok.status, 200, ok.body.message);
    const out = join(jobWorkDir(rt.engine.ctx, job), 'out');
    assert.deepEqual(await outputs(), [
      join(out, 'sub/a.root'),
      '/eos/y.root',
      'root://eos//a/../b',
    ]);
    for (const path of ['../../../../etc/shadow', 'a/../../b', '..']) {
      const bad = await post({ outputs: [{ path: '/ok' }, { path }] });
      assert.equal(bad.status, 400, path);
      assert.match(
        bad.body.message ?? '',
        /^body\.outputs\.1\.path: .* climbs out of the job's output directory/,
      );
    }
    assert.equal((await outputs()).length, 3, 'nothing of a refused report is stored');
  });

  it('an attempt token reports for its attempt only', async () => {
    const secret = rt.engine.ctx.tokenSecret;
    assert.equal(
      (await post({ fields: { n: 1 } }, jobToken(secret, job.id, job.attempt))).status,
      200,
    );
    const old = await post({ fields: { n: 2 } }, jobToken(secret, job.id, job.attempt - 1));
    assert.equal(old.status, 409);
    assert.match(
      old.body.message ?? '',
      new RegExp(
        `attempt ${job.attempt - 1} has ended \\(superseded\\).*attempt ${job.attempt} reports with its own token`,
      ),
    );
    assert.equal((await post({}, `${job.attempt}.forged`)).status, 401);
  });

  it('after the end: 409 saying the attempt ended, nothing recorded; repeating the final status is a no-op', async () => {
    assert.equal((await post({ status: 'done' })).status, 200);
    for (const late of [
      { fields: { n: 3 } },
      { outputs: [{ path: '/eos/late.root' }] },
      { status: 'failed' },
      { status: 'done', fields: { n: 4 } },
    ]) {
      const res = await post(late);
      assert.equal(res.status, 409, JSON.stringify(late));
      assert.match(
        res.body.message ?? '',
        new RegExp(
          `^job ${job.id}: attempt ${job.attempt} has ended \\(done\\), so it may no longer report`,
        ),
      );
    }
    assert.equal((await post({ status: 'done' })).status, 200);
    const now = await rt.store.getJob(job.id);
    assert.deepEqual([now?.status, now?.fields], ['done', { n: 1 }]);
    assert.equal((await outputs()).length, 3);
  });
});
