import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { autoctrl, CLI } from './cli-run.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

describe('autoctrl campaign cancel|extend|delete, reprocess --downstream', () => {
  const dir = tempDir();
  const file = join(dir, 'autoctrl.yaml');
  const run = (...args: string[]) => autoctrl([...args, '-c', file]);
  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm test does)`);
    writeFileSync(
      file,
      [
        'store: sqlite:state.db',
        'server: { port: 1 }',
        'tasks:',
        '  reco: { command: [sh, -c, "exit 0"] }',
        '  calib: { command: [sh, -c, "exit 0"], after: [reco] }',
        '',
      ].join('\n'),
    );
    for (const r of ['7', '8', '9']) assert.equal((await run('runs', 'add', r)).code, 0);
  });

  it('refuses --set reco.jobs=1000000 as a usage error naming the setting that raises the limit', async () => {
    const typo = await run(
      'campaign',
      'create',
      'typo',
      '--runs',
      '7-8',
      '--set',
      'reco.jobs=1000000',
    );
    assert.equal(typo.code, 2);
    assert.match(
      typo.stderr,
      /^autoctrl: --set reco\.jobs=1000000: .*1000000 jobs is more than the 10000 one instance may have: use fewer, or raise limits\.max_jobs_per_instance in the deployment file/,
    );
    assert.equal(typo.stderr.split('\n').filter(Boolean).length, 1, 'one line, no stack');
    const list = JSON.parse((await run('campaign', 'list', '--json')).stdout);
    assert.deepEqual(
      list.campaigns.map((c: { name: string }) => c.name),
      ['prompt'],
    );
  });

  it('extends, cancels and deletes a campaign, with clear refusals', async () => {
    assert.equal((await run('campaign', 'create', 'rr', '--runs', '7-8')).code, 0);
    const ext = await run('campaign', 'extend', 'rr', '--runs', '8-9');
    assert.equal(ext.code, 0, ext.stderr);
    assert.equal(ext.stdout, 'campaign rr extended by 1 run(s), 3 in all\n');
    assert.equal((await run('pass')).code, 0);
    const early = await run('campaign', 'delete', 'rr');
    assert.equal(early.code, 1);
    assert.match(
      early.stderr,
      /^autoctrl: campaign rr is active: .*cancel it first \(`autoctrl campaign cancel rr`\)/,
    );
    const cancel = await run('campaign', 'cancel', 'rr', '--reason', 'wrong GT', '--json');
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(JSON.parse(cancel.stdout).state, 'cancelled');
    const table = (await run('campaign', 'list')).stdout;
    assert.match(table, /\nrr\s+3\s+reco,calib\s+0\.5\s+.*cancell(ed|ing)\n/);
    // The pass stops what executors have; a job ended meanwhile settles as it was.
    for (let i = 0; i < 50; i++) {
      assert.equal((await run('pass')).code, 0);
      const list = JSON.parse((await run('campaign', 'list', '--json')).stdout);
      if (list.campaigns.find((c: { name: string }) => c.name === 'rr')?.complete) break;
    }
    const del = await run('campaign', 'delete', 'rr');
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, /^campaign rr deleted; its history stays/);
    assert.doesNotMatch((await run('campaign', 'list')).stdout, /\nrr /);
    const again = await run('campaign', 'cancel', 'rr');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no campaign rr/);
    const prompt = await run('campaign', 'delete', 'prompt');
    assert.equal(prompt.code, 2);
    assert.match(prompt.stderr, /prompt is the live campaign: it cannot be deleted/);
  });

  it('reprocess --downstream sends the dependent instances back too', async () => {
    for (let i = 0; i < 50; i++) {
      await run('pass');
      const st = JSON.parse((await run('status', '--json')).stdout) as {
        rows: Array<{ status: string }>;
      };
      if (st.rows.length === 3 && st.rows.every((r) => r.status === 'done')) break;
    }
    const res = await run('reprocess', 'reco', '--runs', '7-8', '--downstream');
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, '4 instance(s) of reco and downstream sent back to new\n');
    const json = await run('reprocess', 'calib', '--runs', '9', '--downstream', '--json');
    assert.deepEqual(JSON.parse(json.stdout).reprocessed.length, 1);
  });
});
