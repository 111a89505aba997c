import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { autoctrl, oneLine } from './cli-run.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

describe('failures a user can cause give one line and exit 2 (usage) or 1', () => {
  const dir = tempDir();
  const file = join(dir, 'autoctrl.yaml');
  let busy: Server;
  let busyPort = 0;
  before(async () => {
    writeFileSync(
      file,
      'store: sqlite:state.db\nserver: { port: 1 }\ntasks:\n  reco: { command: ["true"] }\n',
    );
    busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    busyPort = (busy.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => busy.close(() => r())));

  it('a port in use, a bad --port or --host', async () => {
    const inUse = await autoctrl(['serve', '--port', String(busyPort), '-c', file]);
    assert.equal(inUse.code, 1);
    oneLine(
      inUse,
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busyPort}: the port is in use .*--port`),
    );
    for (const port of ['abc', '70000', '-1', '80.5']) {
      const bad = await autoctrl(['serve', '--port', port, '-c', file]);
      assert.equal(bad.code, 2, port);
      oneLine(bad, /--port: .* is not a port: give a number from 0/);
    }
    const host = await autoctrl([
      'serve',
      '--host',
      'no-such-host.invalid',
      '--port',
      '0',
      '-c',
      file,
    ]);
    assert.equal(host.code, 1);
    oneLine(host, /cannot listen on no-such-host\.invalid:0: .*--host or server\.host/);
  });

  it('a store that is not SQLite, for serve and status (a store it cannot use: 2); --debug adds the stack', async () => {
    const other = join(dir, 'other');
    const bad = join(other, 'autoctrl.yaml');
    mkdirSync(other);
    writeFileSync(join(other, 'state.db'), 'this is not a database, only text\n'.repeat(10));
    writeFileSync(bad, 'store: sqlite:state.db\ntasks:\n  reco: { command: ["true"] }\n');
    for (const cmd of [['status'], ['serve', '--port', '0']]) {
      const r = await autoctrl([...cmd, '-c', bad]);
      assert.equal(r.code, 2, cmd.join(' '));
      oneLine(r, /cannot open the store sqlite:.*state\.db: file is not a database: point store: /);
    }
    const debug = await autoctrl(['status', '--debug', '-c', bad]);
    assert.match(debug.stderr, /\n\s+at /);
  });

  it('init under /proc fails at once instead of hanging', async () => {
    const started = Date.now();
    const r = await autoctrl(['init', '/proc/autoctrl-x']);
    assert.equal(r.code, 1);
    oneLine(r, /cannot create the directory \/proc\/autoctrl-x .*choose a directory/);
    assert.ok(Date.now() - started < 10_000);
  });

  it('runs add 0x10 is refused and run 16 keeps its fields; re-adding a run keeps what is not given', async () => {
    const add = (...args: string[]) => autoctrl(['runs', 'add', ...args, '-c', file]);
    assert.equal(
      (await add('16', '--fill', '5', '--lumi', '3.5', '--type', 'collisions', '--meta', 'gt=A'))
        .code,
      0,
    );
    for (const bad of ['0x10', '1e1', '16.0', '+16', '0']) {
      const r = await add(bad);
      assert.equal(r.code, 2, bad);
      oneLine(r, /RUN: .* is not a run number: write it in decimal digits/);
    }
    const lumi = await add('16', '--lumi', '0x10');
    assert.equal(lumi.code, 2);
    assert.equal((await add('16', '--meta', 'era=B')).code, 0);
    const list = JSON.parse((await autoctrl(['runs', 'list', '--json', '-c', file])).stdout);
    const { end, start, ...rest } = list.runs[0];
    assert.deepEqual(rest, {
      run: 16,
      fill: 5,
      lumi: 3.5,
      type: 'collisions',
      meta: { gt: 'A', era: 'B' },
    });
    assert.equal(list.runs.length, 1);
  });

  it('an unknown command or option is a usage error', async () => {
    assert.equal((await autoctrl(['frobnicate'])).code, 2);
    assert.equal((await autoctrl(['status', '--colour', '-c', file])).code, 2);
    assert.equal((await autoctrl(['--help'])).code, 0);
  });
});
