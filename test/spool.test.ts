import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collectSpool, SpoolCollectError, spoolPath } from '../src/app/spool.ts';
import { jobToken } from '../src/app/tokens.ts';
import { jobWorkDir } from '../src/engine/launch.ts';
import type { Job } from '../src/model/types.ts';
import { captureLogger } from './fixtures/json-server.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import { runClient, type WorkerWorld, workerWorld } from './worker-world.ts';

assertNoLeaksAtEnd();

const dir = tempDir();

describe('collecting a spool', () => {
  let w: WorkerWorld;
  before(async () => {
    w = await workerWorld(dir);
  });
  after(() => w.close());

  /** Spools one report the way a job does in `autoctrl pass` mode (no server). */
  const spool = async (job: Job, ...args: string[]) => {
    const r = await runClient(['sh'], args, w.jobEnv(job, { AUTOCTRL_URL: '' }));
    assert.equal(r.code, 0, r.stderr);
  };
  const pathOf = (job: Job) => spoolPath(jobWorkDir(w.rt.engine.ctx, job));
  const fields = async (job: Job) => (await w.rt.store.getJob(job.id))?.fields;

  it('leaves a torn last line for later, and takes it once it is whole', async () => {
    const job = await w.runningJob();
    await spool(job, 'field', 'a=1');
    await spool(job, 'field', 'b=2');
    const path = pathOf(job);
    const text = readFileSync(path, 'utf8');
    const second = text.slice(text.indexOf('\n') + 1);
    truncateSync(path, text.length - 10);
    assert.deepEqual(await collectSpool(w.rt.engine.ctx, job), {
      applied: 1,
      refused: [],
      torn: true,
    });
    assert.deepEqual(await fields(job), { a: 1 });
    appendFileSync(path, second.slice(second.length - 10));
    assert.deepEqual(await collectSpool(w.rt.engine.ctx, job), {
      applied: 1,
      refused: [],
      torn: false,
    });
    assert.deepEqual(await fields(job), { a: 1, b: 2 });
    await w.release(job);
  });

  it('applies nothing twice after a collector died while applying a line', async () => {
    const job = await w.runningJob();
    await spool(job, 'output', '/eos/one.root');
    await spool(job, 'output', '/eos/two.root');
    const path = pathOf(job);
    const firstEnd = readFileSync(path, 'utf8').indexOf('\n') + 1;
    // As a collector leaves it when killed after claiming the first line.
    writeFileSync(`${path}.collected`, `${firstEnd} 0\n`);
    const { logger, lines } = captureLogger();
    const got = await collectSpool({ ...w.rt.engine.ctx, logger }, job);
    assert.deepEqual(got, { applied: 1, refused: [], torn: false });
    assert.match(lines.join('\n'), /was being applied when the collector stopped/);
    const paths = (await w.rt.store.listOutputs({ task: 'hold' }))
      .filter((o) => o.jobId === job.id)
      .map((o) => o.path);
    assert.deepEqual(paths, ['/eos/two.root']);
    assert.equal(readFileSync(`${path}.collected`, 'utf8'), `${readFileSync(path).length}\n`);
    await w.release(job);
  });

  it("refuses foreign, forged and torn lines, and reports after the attempt's end", async () => {
    const job = await w.runningJob();
    const path = pathOf(job);
    const secret = w.rt.engine.ctx.tokenSecret;
    const line = (o: object) => `${JSON.stringify(o)}\n`;
    const report = { fields: { forged: 1 } };
    appendFileSync(
      path,
      line({ job: job.id + 1, attempt: 1, token: jobToken(secret, job.id + 1, 1), report }) +
        line({ job: job.id, attempt: 1, token: jobToken(secret, job.id, 2), report }) +
        line({ job: job.id, attempt: 1, token: 'x', report }) +
        line({ job: job.id, attempt: 1, token: jobToken(secret, job.id), report }) +
        line({ job: job.id, attempt: 1, token: jobToken(secret, job.id, 1), report: { x: 1 } }) +
        // A writer killed mid-line: the next one closes it before writing its own.
        '{"job":1,"att',
    );
    await spool(job, 'field', 'ok=yes');
    await spool(job, 'done');
    await spool(job, 'field', 'late=1');
    const { logger, lines } = captureLogger();
    const got = await collectSpool({ ...w.rt.engine.ctx, logger }, job);
    assert.equal(got.applied, 2);
    assert.deepEqual(
      got.refused.map((r) => r.why.replace(/ \d+/g, ' N').slice(0, 40)),
      [
        'a report of job N, not of this job',
        'its token is not this job attempt’s',
        'its token is not this job attempt’s',
        'its token is not this job attempt’s',
        'body: Unrecognized key: "x"',
        'not a JSON line (torn by a writer that w',
        'job N: attempt N has ended (done), so it',
      ],
    );
    assert.equal(lines.length, 7, 'each refusal is logged');
    const now = await w.rt.store.getJob(job.id);
    assert.deepEqual([now?.status, now?.fields], ['done', { ok: 'yes' }]);
    await w.release(job);
  });

  it('keeps the lines of reporters writing at once whole', async () => {
    const job = await w.runningJob();
    const n = 20;
    await Promise.all(
      Array.from({ length: n }, (_, i) => spool(job, 'field', `f${i}=${'x'.repeat(5000)}${i}`)),
    );
    const got = await collectSpool(w.rt.engine.ctx, job);
    assert.deepEqual(got, { applied: n, refused: [], torn: false });
    assert.equal(Object.keys((await fields(job)) ?? {}).length, n);
    await w.release(job);
  });

  it('collects nothing from a spool that was replaced by a shorter one', async () => {
    const job = await w.runningJob();
    await spool(job, 'field', 'a=1');
    await collectSpool(w.rt.engine.ctx, job);
    writeFileSync(pathOf(job), '');
    const { logger, lines } = captureLogger();
    const got = await collectSpool({ ...w.rt.engine.ctx, logger }, job);
    assert.deepEqual(got, { applied: 0, refused: [], torn: false });
    assert.match(lines.join('\n'), /shorter than what was collected/);
    await w.release(job);
  });

  it('stops at a store failure, naming the report it may have lost', async () => {
    const job = await w.runningJob();
    await spool(job, 'field', 'a=1');
    await spool(job, 'field', 'b=2');
    const store = w.rt.engine.ctx.store;
    const broken = new Proxy(store, {
      get(target, key) {
        if (key === 'recordJobData') return () => Promise.reject(new Error('disk I/O error'));
        const v: unknown = Reflect.get(target, key, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    await assert.rejects(
      collectSpool({ ...w.rt.engine.ctx, store: broken }, job),
      (err: unknown) =>
        err instanceof SpoolCollectError && err.offset === 0 && /disk I\/O error/.test(err.message),
    );
    const got = await collectSpool(w.rt.engine.ctx, job);
    assert.deepEqual(got, { applied: 1, refused: [], torn: false }, 'the next line, once');
    assert.deepEqual(await fields(job), { b: 2 });
    await w.release(job);
  });

  it('finds no spool where a job never spooled', async () => {
    const job = await w.runningJob();
    const got = await collectSpool(w.rt.engine.ctx, job, { path: join(dir, 'nothing.jsonl') });
    assert.deepEqual(got, { applied: 0, refused: [], torn: false });
    await w.release(job);
  });
});
