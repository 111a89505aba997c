import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { autoctrl, CLI } from './cli-run.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

describe('the CLI', () => {
  const dir = tempDir();
  const file = join(dir, 'autoctrl.yaml');
  before(() => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm test does)`);
    writeFileSync(
      file,
      [
        'store: sqlite:state.db',
        'server: { port: 1 }', // nothing listens there: pokes fail fast and are ignored
        'tasks:',
        '  reco:',
        '    command: [sh, -c, "echo reco $AUTOCTRL_RUNS; exit 0"]',
        '  calib:',
        '    after: [reco]',
        // The job reports as a job does where no server runs: `autoctrl job report` writes to the store.
        `    command: ${JSON.stringify([process.execPath, CLI, 'job', 'report', '--field', 'ic_spread=0.012', '--field', 'note=ok', '--output', 'ic.txt', '--kind', 'ic'])}`,
        '',
      ].join('\n'),
    );
  });

  it('validate prints FILE:LINE:COL for each problem and exits 1', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'tasks:\n  a:\n    command: [x]\n    after: [nope]\n    timeout: soon\n    colour: red\n',
    );
    const r = await autoctrl(['validate', '-c', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${bad}:4:13: .*nope`));
    assert.match(r.stderr, new RegExp(`${bad}:5:14: .*duration`));
    assert.match(r.stderr, new RegExp(`${bad}:6:5: .*colour`));
    const ok = await autoctrl(['validate', '-c', file]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('validate warns of the secrets the file names that are not set here, and still exits 0', async () => {
    const secrets = join(dir, 'secrets.yaml');
    writeFileSync(
      secrets,
      [
        'store: sqlite:state.db',
        'export:',
        '  influx: { url: "http://127.0.0.1:1", database: autoctrl, token_env: AUTOCTRL_UNSET_X }',
        'tasks:',
        '  a: { command: [x] }',
        '',
      ].join('\n'),
    );
    const r = await autoctrl(['validate', '-c', secrets]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /: ok \(1 tasks\)/);
    assert.match(
      r.stderr,
      new RegExp(`${secrets}:3:\\d+: warning: token_env names AUTOCTRL_UNSET_X, which is not set`),
    );
  });

  it('adds runs, runs passes and shows the grid, the instance and the outputs', async () => {
    assert.equal(
      (
        await autoctrl([
          'runs',
          'add',
          '355100',
          '--fill',
          '8222',
          '--lumi',
          '78.6',
          '--meta',
          'gt=130X',
          '-c',
          file,
        ])
      ).code,
      0,
    );
    const list = JSON.parse((await autoctrl(['runs', 'list', '--json', '-c', file])).stdout);
    assert.deepEqual(list.runs[0].meta, { gt: '130X' });
    for (let i = 0; i < 40; i++) {
      await autoctrl(['pass', '-c', file]);
      const status = JSON.parse((await autoctrl(['status', '--json', '-c', file])).stdout);
      if (status.rows[0]?.status === 'done') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const status = JSON.parse((await autoctrl(['status', '--json', '-c', file])).stdout);
    assert.deepEqual(status.rows[0], {
      campaign: 'prompt',
      run: 355100,
      fill: 8222,
      lumi: 78.6,
      end: status.rows[0].end,
      status: 'done',
      tasks: { reco: 'done', calib: 'done' },
    });
    const text = (await autoctrl(['status', '-c', file])).stdout;
    assert.match(text, /355100\s+8222\s+78\.6\s+\S+ \S+\s+done\s+D\s+D/);
    const show = JSON.parse(
      (await autoctrl(['show', 'reco', '355100', '--json', '-c', file])).stdout,
    );
    assert.equal(show.instance.status, 'done');
    assert.match(show.instance.configHash, /^[0-9a-f]{16}$/);
    assert.deepEqual(show.config.command, ['sh', '-c', 'echo reco $AUTOCTRL_RUNS; exit 0']);
    assert.ok(show.jobs[0].logPath.endsWith('log.txt'));
    assert.ok(show.history.some((e: { to: string }) => e.to === 'processing'));
    const missing = await autoctrl(['show', 'reco', '1', '-c', file]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no instance of reco/);
  });

  it('job report writes to the store from a job environment when no server runs', async () => {
    const show = JSON.parse(
      (await autoctrl(['show', 'calib', '355100', '--json', '-c', file])).stdout,
    );
    const job = show.jobs[0];
    assert.deepEqual(job.fields, { ic_spread: 0.012, note: 'ok' });
    const outputs = JSON.parse(
      (await autoctrl(['outputs', '--task', 'calib', '--json', '-c', file])).stdout,
    );
    assert.equal(
      outputs.outputs[0].path,
      join(dir, 'data/jobs/prompt/calib', String(job.id), 'out/ic.txt'),
    );
    assert.equal(outputs.outputs[0].kind, 'ic');
    const env = {
      AUTOCTRL_JOB: String(job.id),
      AUTOCTRL_URL: '',
      AUTOCTRL_STORE: `sqlite:${join(dir, 'state.db')}`,
      AUTOCTRL_CONFIG: file,
    };
    const late = await autoctrl(['job', 'report', '--field', 'x=1'], env);
    assert.equal(late.code, 1);
    assert.match(late.stderr, /attempt 1 has ended \(done\), so it may no longer report/);
    const bad = await autoctrl(['job', 'report', '--status', 'finished'], { AUTOCTRL_JOB: '1' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /status/);
  });

  it('reprocess sends instances back to new as a new attempt', async () => {
    const r = JSON.parse(
      (await autoctrl(['reprocess', 'reco', '--runs', '355000-355200', '--json', '-c', file]))
        .stdout,
    );
    assert.equal(r.reprocessed.length, 1);
    const show = JSON.parse(
      (await autoctrl(['show', 'reco', '355100', '--json', '-c', file])).stdout,
    );
    assert.equal(show.instance.status, 'new');
    assert.equal(show.instance.attempt, 2);
    const bad = await autoctrl(['reprocess', 'reco', '--runs', 'last-week', '-c', file]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--runs: "last-week" is not a run range/);
  });

  it('init writes a deployment that validates', async () => {
    const target = join(dir, 'fresh');
    assert.equal((await autoctrl(['init', target])).code, 0);
    const v = await autoctrl(['validate', '-c', join(target, 'autoctrl.yaml')]);
    assert.equal(v.code, 0, v.stderr);
  });
});
