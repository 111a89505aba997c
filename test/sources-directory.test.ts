import assert from 'node:assert/strict';
import { mkdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { Controller } from '../src/engine/controller.ts';
import type { Logger } from '../src/logger.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { createDirectorySource } from '../src/sources/directory/index.ts';
import { openSources } from '../src/sources/open.ts';
import { captureLogger } from './fixtures/json-server.ts';
import { assertNoLeaksAtEnd, deployment, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

const T = Date.UTC(2023, 5, 1, 8);

/** A file written a while ago: complete, not still being written. */
function drop(dir: string, name: string, content = ''): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  const past = new Date(Date.now() - 60_000);
  utimesSync(file, past, past);
  return file;
}

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await rt.close();
});

async function runtimeIn(dir: string, options: Record<string, unknown>): Promise<Runtime> {
  const d = deployment(dir, [], {
    sources: { drops: { type: 'directory', intervalMs: 60_000, options } },
  });
  const rt = await openRuntime(d, { logger: silentLogger() });
  open.push(rt);
  return rt;
}

async function poll(rt: Runtime, logger: Logger = silentLogger()): Promise<number> {
  const sources = await openSources(rt.deployment, logger);
  const source = sources.get('drops');
  assert.ok(source);
  return new Controller(rt, sources).pollSource('drops', source);
}

const added = async (rt: Runtime) =>
  (await rt.store.listEvents({ entity: 'run' })).map((e) => `${e.entityId}:${e.to}`);

describe('directory source', () => {
  it('takes one run per file by name, across a restart, each file once', async () => {
    const dir = tempDir();
    const inbox = join(dir, 'inbox');
    mkdirSync(inbox);
    const options = { path: 'inbox', pattern: '^run(?<run>\\d+)_fill(?<fill>\\d+)\\.done$' };
    const f100 = drop(inbox, 'run100_fill8000.done');
    drop(inbox, 'run101_fill8000.done');
    drop(inbox, 'notes.txt');
    drop(inbox, '.run102_fill8001.done');
    // Just written: left for a later poll, in case it is not complete yet.
    writeFileSync(join(inbox, 'run103_fill8001.done'), '');

    let rt = await runtimeIn(dir, options);
    assert.equal(await poll(rt), 2);
    assert.deepEqual(await rt.store.getRun(100), {
      run: 100,
      fill: 8000,
      start: null,
      end: null,
      lumi: null,
      type: null,
      meta: { file: f100 },
      seq: 1,
    });

    await rt.close();
    open.splice(0);
    rt = await runtimeIn(dir, options);
    assert.equal(await poll(rt), 0, 'a restart takes nothing twice');
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(inbox, 'run103_fill8001.done'), past, past);
    // A writer's atomic rename: the hidden file appears under its real name.
    renameSync(join(inbox, '.run102_fill8001.done'), join(inbox, 'run102_fill8001.done'));
    assert.equal(await poll(rt), 2);
    assert.equal(await poll(rt), 0);
    assert.deepEqual(await added(rt), ['100:added', '101:added', '102:added', '103:added']);
    const cursor = JSON.parse((await rt.store.getCursor('source:drops')) ?? '{}');
    assert.deepEqual(Object.keys(cursor.taken).sort(), [
      'run100_fill8000.done',
      'run101_fill8000.done',
      'run102_fill8001.done',
      'run103_fill8001.done',
    ]);
  });

  it('reads JSON manifests, reports bad ones, and reads a manifest again when it changes', async () => {
    const dir = tempDir();
    const { logger, lines } = captureLogger();
    const rt = await runtimeIn(dir, { path: '.', manifest: true });
    drop(
      dir,
      'fill8100.json',
      JSON.stringify([
        { run: 200, fill: 8100, start: '2023-06-01T08:00:00Z', end: null, type: 'collisions' },
        { run: 201, fill: 8100, luminosity: 3 },
      ]),
    );
    drop(dir, 'run202.json', JSON.stringify({ run: 202, end: T / 1000, lumi: 1.5 }));
    drop(dir, 'half-written.json', '{"run": 2');
    assert.equal(await poll(rt, logger), 2);
    assert.deepEqual(lines.sort(), [
      "skipped fill8100.json[1]: unknown key 'luminosity' (known: run, fill, start, end, lumi, type, meta)",
      `skipped half-written.json: ${jsonError('{"run": 2')}; it is read again when it changes`,
    ]);
    assert.equal((await rt.store.getRun(202))?.end, T);

    // The run ended: the registry rewrites its manifest.
    drop(
      dir,
      'fill8100.json',
      JSON.stringify([{ run: 200, fill: 8100, end: '2023-06-01T09:00:00Z', lumi: 40 }]),
    );
    assert.equal(await poll(rt, logger), 1);
    assert.equal((await rt.store.getRun(200))?.end, Date.UTC(2023, 5, 1, 9));
    assert.deepEqual(await added(rt), ['200:added', '202:added', '200:changed']);
  });

  it('fails the poll for a missing directory and refuses a pattern without a run group', async () => {
    const ctx = { logger: silentLogger(), dir: tempDir() };
    const source = await createDirectorySource('d', { path: 'nope', pattern: '(\\d+)' }, ctx);
    await assert.rejects(source.poll(null, T), /source d: directory .*nope: it does not exist/);
    await assert.rejects(
      createDirectorySource('d', { path: '.', pattern: 'run\\d+' }, ctx),
      /sources\.d\.pattern: needs a group for the run number/,
    );
    await assert.rejects(
      createDirectorySource('d', { path: '.' }, ctx),
      /give pattern: with a group for the run number .* or manifest: true/,
    );
  });
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}
