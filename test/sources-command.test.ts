import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { Controller } from '../src/engine/controller.ts';
import type { Logger } from '../src/logger.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { createCommandSource } from '../src/sources/command/index.ts';
import { openSources } from '../src/sources/open.ts';
import { captureLogger } from './fixtures/json-server.ts';
import { assertNoLeaksAtEnd, deployment, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

const CLIENT = join(import.meta.dirname, 'fixtures', 'runs-command.mjs');
const T = Date.UTC(2023, 5, 1, 8);

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await rt.close();
});

async function runtimeIn(dir: string, registry: string): Promise<Runtime> {
  const command = [process.execPath, CLIENT, registry];
  const d = deployment(dir, [], {
    sources: { cmd: { type: 'command', intervalMs: 60_000, options: { command } } },
  });
  const rt = await openRuntime(d, { logger: silentLogger() });
  open.push(rt);
  return rt;
}

async function poll(rt: Runtime, logger: Logger = silentLogger()): Promise<number> {
  const sources = await openSources(rt.deployment, logger);
  const source = sources.get('cmd');
  assert.ok(source);
  return new Controller(rt, sources).pollSource('cmd', source);
}

describe('command source', () => {
  it('takes the runs a command prints, skips bad lines by number, and keeps its cursor', async () => {
    const dir = tempDir();
    const registry = join(dir, 'registry.json');
    const runs = [
      {
        run: 1,
        fill: 10,
        start: T / 1000,
        end: new Date(T + 3_600_000).toISOString(),
        lumi: 12.5,
        type: 'collisions',
        meta: { global_tag: 'GT_v1' },
      },
      { run: 2, fill: 10, start: T + 3_600_000, end: null, type: 'collisions' },
    ];
    writeFileSync(registry, JSON.stringify(runs));
    let rt = await runtimeIn(dir, registry);
    const { logger, lines } = captureLogger();
    assert.equal(await poll(rt, logger), 2);
    assert.deepEqual(
      lines
        .filter((l) => l.startsWith('line'))
        .map((l) => l.replace(/not JSON \(.*?\)/, 'not JSON (…)')),
      [
        'line 2 skipped: not JSON (…): this is not json',
        `line 3 skipped: no run number at 'run' (found "x"): {"run":"x","lumi":3}`,
      ],
    );
    const r1 = await rt.store.getRun(1);
    assert.deepEqual(
      { ...r1, seq: 0 },
      {
        run: 1,
        fill: 10,
        start: T,
        end: T + 3_600_000,
        lumi: 12.5,
        type: 'collisions',
        meta: { global_tag: 'GT_v1' },
        seq: 0,
      },
    );
    assert.equal(await rt.store.getCursor('source:cmd'), '2');

    // Restarted: the command gets the stored cursor and prints only what is newer.
    await rt.close();
    open.splice(0);
    rt = await runtimeIn(dir, registry);
    runs.push({ run: 3, fill: 11, start: T + 7_200_000, end: null, type: 'cosmics' });
    writeFileSync(registry, JSON.stringify(runs));
    assert.equal(await poll(rt), 1);
    assert.equal(await rt.store.getCursor('source:cmd'), '3');
    const added = (await rt.store.listEvents({ entity: 'run' })).map(
      (e) => `${e.entityId}:${e.to}`,
    );
    assert.deepEqual(added, ['1:added', '2:added', '3:added']);
  });

  it('fails the poll when the command fails or hangs, with its stderr', async () => {
    const ctx = { logger: silentLogger(), dir: tempDir() };
    const failing = await createCommandSource(
      'cmd',
      { command: [process.execPath, CLIENT, 'x', 'fail'] },
      ctx,
    );
    await assert.rejects(failing.poll(null, T), (err: Error) => {
      assert.equal(err.name, 'CommandSourceError');
      assert.match(err.message, /source cmd: .* exited with status 3: registry unreachable/);
      return true;
    });
    const hanging = await createCommandSource(
      'cmd',
      { command: [process.execPath, CLIENT, 'x', 'hang'], timeout: '300ms' },
      ctx,
    );
    await assert.rejects(hanging.poll(null, T), /took longer than 300 ms and was killed/);
    const missing = await createCommandSource(
      'cmd',
      { command: ['/no/such/registry-client'] },
      ctx,
    );
    await assert.rejects(missing.poll(null, T), /cannot run \/no\/such\/registry-client: .*ENOENT/);
  });

  it('close() stops a command under way: a poll in flight does not outlive the daemon', async () => {
    const ctx = { logger: silentLogger(), dir: tempDir() };
    const hanging = await createCommandSource(
      'cmd',
      { command: [process.execPath, CLIENT, 'x', 'hang'], timeout: '1h' },
      ctx,
    );
    const polling = hanging.poll(null, T);
    // Spawned, not yet done: what `serve` stopping meets.
    await new Promise((r) => setTimeout(r, 200));
    await hanging.close?.();
    await assert.rejects(polling, /source cmd: .* was stopped: autoctrl is stopping/);
    const missing = await createCommandSource('cmd', { command: ['/no/such/client'] }, ctx);
    await assert.rejects(missing.poll(null, T), /ENOENT/);
    await missing.close?.();
  });

  it('passes the cursor in AUTOCTRL_CURSOR without a shell', async () => {
    const ctx = { logger: silentLogger(), dir: tempDir() };
    const script =
      'process.stdout.write(JSON.stringify({ run: 7, meta: { cursor: process.env.AUTOCTRL_CURSOR, arg: process.argv[1] } }) + "\\n")';
    const source = await createCommandSource(
      'cmd',
      { command: [process.execPath, '-e', script, '$(touch pwned); *'] },
      ctx,
    );
    const { runs, cursor } = await source.poll('a b "c"', T);
    assert.deepEqual(runs, [{ run: 7, meta: { cursor: 'a b "c"', arg: '$(touch pwned); *' } }]);
    assert.equal(cursor, null, 'no cursor line: the stored one is kept');
  });
});
