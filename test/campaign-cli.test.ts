import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { createCampaign } from '../src/app/campaigns.ts';
import { watchCampaign } from '../src/cli/campaign-watch.ts';
import { withRuns } from './campaign-setup.ts';
import { autoctrl, CLI } from './cli-run.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

describe('campaign watch', () => {
  it('prints a line per change off a terminal and stops when complete', async () => {
    const rt = await withRuns();
    await createCampaign(rt, { name: 'w', runs: '1-3', tasks: ['quick'] }, 'test');
    const lines: string[] = [];
    const out = { write: (t: string) => lines.push(t) };
    const stop = new AbortController();
    const once = await watchCampaign(rt, 'w', {
      once: true,
      intervalMs: 10,
      out,
      signal: stop.signal,
    });
    assert.equal(once, 'once');
    assert.match(
      lines[0] ?? '',
      /^w {2}\[-{24}\] {4}0\.0% {2}0\/0 settled: 0 done, 0 running, 0 failed, 0 waiting {2}ETA --\n$/,
    );

    lines.length = 0;
    let ticks = 0;
    const ended = watchCampaign(rt, 'w', {
      once: false,
      intervalMs: 5,
      out,
      signal: stop.signal,
      now: () => 1_000 * ++ticks,
    });
    await rt.engine.pass(); // intake: 3 new instances, started at once
    const result = await Promise.race([
      ended,
      (async () => {
        for (let i = 0; i < 400; i++) {
          await rt.engine.pass();
          await new Promise((r) => setTimeout(r, 10));
        }
        stop.abort();
        return 'timeout';
      })(),
    ]);
    assert.equal(result, 'done');
    const last = lines.at(-1) ?? '';
    assert.match(
      last,
      /\[#{24}\] {2}100\.0% {2}3\/3 settled: 3 done, 0 running, 0 failed, 0 waiting {2}complete\n$/,
    );
    assert.equal(new Set(lines).size, lines.length, 'a line only when something changed');
    stop.abort();
  });

  it('redraws in place on a terminal and stops on Ctrl-C', async () => {
    const rt = await withRuns();
    await createCampaign(rt, { name: 'w', runs: '1-3', tasks: ['calib'] }, 'test');
    const chunks: string[] = [];
    const stop = new AbortController();
    const watching = watchCampaign(rt, 'w', {
      once: false,
      intervalMs: 5,
      out: { write: (t: string) => chunks.push(t), isTTY: true },
      signal: stop.signal,
    });
    await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    assert.equal(await watching, 'interrupted');
    assert.ok(chunks.length > 2);
    assert.ok(chunks.slice(0, -1).every((c) => c.startsWith('\r\x1b[2Kw  [░')));
    assert.equal(chunks.at(-1), '\n');
  });
});

describe('autoctrl campaign', () => {
  const dir = tempDir();
  const file = join(dir, 'autoctrl.yaml');
  before(() => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm test does)`);
    writeFileSync(
      file,
      [
        'store: sqlite:state.db',
        'server: { port: 1 }',
        'tasks:',
        '  reco:',
        '    command: [sh, -c, "exit 0"]',
        '    env: { GT: prompt_v1 }',
        '',
      ].join('\n'),
    );
  });

  it('creates, lists and watches a campaign; a bad --set is refused by name', async () => {
    for (const r of ['7', '8'])
      assert.equal(
        (await autoctrl(['runs', 'add', r, '--type', 'collisions', '-c', file])).code,
        0,
      );
    const bad = await autoctrl([
      'campaign',
      'create',
      'rr',
      '--runs',
      '7-8',
      '--set',
      'reco.retries=lots',
      '-c',
      file,
    ]);
    assert.equal(bad.code, 2, 'a bad --set is a usage error');
    assert.match(
      bad.stderr,
      /autoctrl: --set reco.retries=lots: retries: the value must be a whole number/,
    );
    const made = await autoctrl([
      'campaign',
      'create',
      'rr',
      '--runs',
      '7-8',
      '--type',
      'collisions',
      '--set',
      'reco.env.GT=130X_dataRun3_v4',
      '--share',
      '0.3',
      '-c',
      file,
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(
      made.stdout,
      /campaign rr created: 2 runs \(--runs 7-8 --type collisions\), tasks reco, share 0.3\n {2}override reco.env.GT=130X_dataRun3_v4\n/,
    );
    const list = JSON.parse((await autoctrl(['campaign', 'list', '--json', '-c', file])).stdout);
    assert.deepEqual(
      list.campaigns.map(
        (c: { name: string; runs: number; share: number | null; complete: boolean }) => [
          c.name,
          c.runs,
          c.share,
          c.complete,
        ],
      ),
      [
        ['prompt', 2, null, false],
        ['rr', 2, 0.3, false],
      ],
    );
    const table = (await autoctrl(['campaign', 'list', '-c', file])).stdout;
    assert.match(
      table,
      /^campaign\s+runs\s+tasks\s+share\s+instances\s+done\s+failed\s+running\s+waiting\s+progress\n/,
    );
    assert.match(table, /\nrr\s+2\s+reco\s+0\.3\s+0\s+0\s+0\s+0\s+0\s+0\.0%\n/);
    const watch = await autoctrl(['campaign', 'watch', 'rr', '--once', '-c', file]);
    assert.equal(watch.code, 0, watch.stderr);
    assert.match(watch.stdout, /^rr {2}\[-+\] +0\.0% {2}0\/0 settled/);
    const unknown = await autoctrl(['campaign', 'watch', 'nope', '--once', '-c', file]);
    assert.match(unknown.stderr, /no campaign nope/);
  });
});
