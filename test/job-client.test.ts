import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collectSpool } from '../src/app/spool.ts';
import { jobWorkDir } from '../src/engine/launch.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import {
  CLIENT,
  CLIENT_TOOLS,
  programMissing,
  runClient,
  scriptedServer,
  toolDir,
  type WorkerWorld,
  which,
  workerWorld,
} from './worker-world.ts';

assertNoLeaksAtEnd();

/** Values a job might send that would break a naive client: each must arrive as it is. */
const NASTY = {
  quote: 'say "hi"',
  slash: 'C:\\dir\\',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion the client must not do
  subst: '$(touch /tmp/pwned) `id` ${HOME}',
  lines: 'one\ntwo\r\n\ttab\u0001\u001f',
  unicode: 'ΔE/E ≈ 1 % ✓ 日本',
  json: '{"a":[1,2]}',
  percent: '%s %d %%',
  spaces: '  padded  ',
  number_like: '0x10',
};

// Outside the suite, so it is removed after the suite's own hooks have stopped the jobs.
const dir = tempDir();

describe('bin/autoctrl-job against a real server', () => {
  let w: WorkerWorld;
  before(async () => {
    w = await workerWorld(dir);
  });
  after(() => w.close());

  const noBusybox = programMissing('busybox', 'busybox-static');
  // Each shell the client must run under: dash (Debian's sh), busybox's, bash.
  const shells = noBusybox ? [['dash'], ['bash']] : [['dash'], ['busybox', 'sh'], ['bash']];

  for (const shell of shells) {
    it(`reports every verb with curl under ${shell.join(' ')}`, async () => {
      const job = await w.runningJob();
      const env = w.jobEnv(job);
      const run = (...args: string[]) => runClient(shell, args, env);
      assert.equal((await run('running')).code, 0);
      assert.equal((await run('field', 'nevents=1061', 'gt=GT_A', 'ratio=-1.5e-3')).code, 0);
      assert.equal((await run('output', '/eos/cms/f.root', 'rel/g.root')).code, 0);
      assert.equal((await run('output', '--kind', 'constants', '/eos/cms/c.db')).code, 0);
      const fields = (await w.rt.store.getJob(job.id))?.fields;
      assert.deepEqual(fields, { nevents: 1061, gt: 'GT_A', ratio: -1.5e-3 });
      const outputs = await w.rt.store.listOutputs({ task: 'hold' });
      const mine = outputs.filter((o) => o.jobId === job.id).map((o) => [o.path, o.kind]);
      assert.deepEqual(mine.sort(), [
        ['/eos/cms/c.db', 'constants'],
        ['/eos/cms/f.root', null],
        [join(jobWorkDir(w.rt.engine.ctx, job), 'out', 'rel/g.root'), null],
      ]);
      assert.equal((await run('done', 'all', 'good')).code, 0);
      assert.equal((await w.rt.store.getJob(job.id))?.status, 'done');
      await w.release(job);
    });
  }

  it('sends quotes, $(...), newlines, control characters and unicode verbatim', async () => {
    const job = await w.runningJob();
    const args = Object.entries(NASTY).map(([k, v]) => `${k}=${v}`);
    const r = await runClient(['dash'], ['field', ...args, 'eq=a=b'], w.jobEnv(job));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await w.rt.store.getJob(job.id))?.fields, { ...NASTY, eq: 'a=b' });
    assert.equal(existsSync('/tmp/pwned'), false);
    const why = 'it said "no"; $(rm -rf /)\nsecond line';
    assert.equal((await runClient(['dash'], ['failed', why], w.jobEnv(job))).code, 0);
    const events = await w.rt.store.listEvents({ entity: 'job', entityId: String(job.id) });
    assert.equal(events.find((e) => e.to === 'failed')?.reason, why);
    await w.release(job);
  });

  it('reports through busybox wget, and through GNU wget, when there is no curl', {
    skip: noBusybox,
  }, async () => {
    const job = await w.runningJob();
    const tools = [...CLIENT_TOOLS, 'sh', 'wget'];
    const bb = toolDir(join(dir, 'bb'), tools, () => which('busybox') ?? '');
    const gnu = toolDir(join(dir, 'gnu'), tools, (t) => which(t) ?? '');
    const viaBusybox = await runClient(
      [join(bb, 'sh')],
      ['field', 'by=busybox', `v=${NASTY.lines}`],
      w.jobEnv(job, { PATH: bb }),
    );
    assert.equal(viaBusybox.code, 0, viaBusybox.stderr);
    const viaGnu = await runClient(
      [join(gnu, 'sh')],
      ['field', 'by=gnu'],
      w.jobEnv(job, { PATH: gnu }),
    );
    assert.equal(viaGnu.code, 0, viaGnu.stderr);
    assert.deepEqual((await w.rt.store.getJob(job.id))?.fields, { by: 'gnu', v: NASTY.lines });
    assert.equal(
      (await runClient([join(gnu, 'sh')], ['done'], w.jobEnv(job, { PATH: gnu }))).code,
      0,
    );
    // The attempt is over: each HTTP client says so once and stops, spooling nothing.
    for (const path of [bb, gnu]) {
      const before = w.requests.n;
      const late = await runClient(
        [join(path, 'sh')],
        ['field', 'x=1'],
        w.jobEnv(job, { PATH: path }),
      );
      assert.equal(late.code, 1, late.stderr);
      assert.match(late.stderr, /\(409: this attempt of the job has ended/);
      assert.equal(w.requests.n - before, 1);
    }
    assert.equal(existsSync(join(jobWorkDir(w.rt.engine.ctx, job), 'reports.jsonl')), false);
    await w.release(job);
  });

  it('answers 409 for an ended attempt once, without retrying or spooling', async () => {
    const job = await w.runningJob();
    const env = w.jobEnv(job, { AUTOCTRL_REPORT_TRIES: '50', AUTOCTRL_REPORT_BACKOFF: '5' });
    assert.equal((await runClient(['dash'], ['done'], env)).code, 0);
    const before = w.requests.n;
    const late = await runClient(['dash'], ['output', '/eos/late.root'], env);
    assert.equal(late.code, 1);
    assert.match(late.stderr, /refused the report \(409: this attempt of the job has ended/);
    assert.match(late.stderr, /attempt 1 has ended \(done\)/, "the server's own words");
    assert.equal(w.requests.n - before, 1);
    assert.equal(existsSync(join(jobWorkDir(w.rt.engine.ctx, job), 'reports.jsonl')), false);
    await w.release(job);
  });

  it('spools when the server is down, and collection applies the reports once', async () => {
    const job = await w.runningJob();
    const spool = join(jobWorkDir(w.rt.engine.ctx, job), 'reports.jsonl');
    const env = w.jobEnv(job, { AUTOCTRL_URL: 'http://127.0.0.1:9' });
    const r = await runClient(['dash'], ['field', 'nevents=7', `note=${NASTY.subst}`], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /did not take the report after 2 tries .*spooled to/);
    // `autoctrl pass` mode: no server at all.
    const cron = w.jobEnv(job, { AUTOCTRL_URL: '' });
    assert.equal((await runClient(['dash'], ['output', '/eos/x.root'], cron)).code, 0);
    assert.equal((await runClient(['dash'], ['done', 'from the spool'], cron)).code, 0);
    assert.equal(readFileSync(spool, 'utf8').split('\n').length, 4);
    assert.equal((await w.rt.store.getJob(job.id))?.status, 'running', 'nothing sent');

    const first = await collectSpool(w.rt.engine.ctx, job);
    assert.deepEqual(first, { applied: 3, refused: [], torn: false });
    const now = await w.rt.store.getJob(job.id);
    assert.equal(now?.status, 'done');
    assert.deepEqual(now?.fields, { nevents: 7, note: NASTY.subst });
    const again = await collectSpool(w.rt.engine.ctx, job);
    assert.deepEqual(again, { applied: 0, refused: [], torn: false });
    const outputs = await w.rt.store.listOutputs({ task: 'hold' });
    assert.equal(outputs.filter((o) => o.jobId === job.id).length, 1);
    await w.release(job);
  });

  it('retries a busy server with backoff, then gives up and spools', async () => {
    const job = await w.runningJob();
    const busy = await scriptedServer([503, 502]);
    try {
      const env = w.jobEnv(job, { AUTOCTRL_URL: busy.url, AUTOCTRL_REPORT_TRIES: '3' });
      const ok = await runClient(['dash'], ['running'], env);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(busy.requests.n, 3, 'two refusals, then the report');
      const down = await scriptedServer([503, 503, 503]);
      try {
        const env = w.jobEnv(job, { AUTOCTRL_URL: down.url, AUTOCTRL_REPORT_TRIES: '3' });
        const spooled = await runClient(['dash'], ['running'], env);
        assert.equal(spooled.code, 0, spooled.stderr);
        assert.equal(down.requests.n, 3);
        assert.match(spooled.stderr, /after 3 tries \(503.*spooled/);
      } finally {
        await down.close();
      }
    } finally {
      await busy.close();
    }
    await collectSpool(w.rt.engine.ctx, job);
    await w.release(job);
  });

  it('refuses bad usage with status 2 and sends nothing', async () => {
    const job = await w.runningJob();
    const before = w.requests.n;
    for (const args of [
      [],
      ['bogus'],
      ['field'],
      ['field', 'novalue'],
      ['field', '=x'],
      ['running', 'x'],
    ]) {
      const r = await runClient(['dash'], args, w.jobEnv(job));
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
    const noJob = await runClient(['dash'], ['running'], { PATH: process.env.PATH ?? '' });
    assert.equal(noJob.code, 2);
    assert.match(noJob.stderr, /AUTOCTRL_JOB is not set/);
    const bad = await runClient(['dash'], ['field', 'x=1e999'], w.jobEnv(job));
    assert.equal(bad.code, 2, 'a report the server calls malformed');
    assert.equal(w.requests.n - before, 1);
    await w.release(job);
  });

  it('passes shellcheck', { skip: programMissing('shellcheck', 'shellcheck') }, () => {
    execFileSync('shellcheck', ['-s', 'sh', CLIENT]);
  });
});
