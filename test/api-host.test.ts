import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadDeployment } from '../src/config/load.ts';
import { createServerApp } from '../src/server/app.ts';
import { DiskMonitor } from '../src/server/disk.ts';
import { type ApiWorld, apiWorld } from './api-setup.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

describe('hosting the page', () => {
  const dir = tempDir();
  let w: ApiWorld;
  before(async () => {
    w = await apiWorld(dir);
  });
  after(() => w.close());

  it('serves web/, index.html for page paths, uPlot, and never a file outside', async () => {
    const web = join(dir, 'web');
    mkdirSync(join(web, 'js'), { recursive: true });
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>grid</title>');
    writeFileSync(join(web, 'js', 'app.js'), 'export {};');
    writeFileSync(join(dir, 'secret.txt'), 'no');
    const { app, close } = createServerApp(
      w.rt,
      { trigger: () => {}, health: () => null },
      { webDir: web },
    );
    try {
      const page = await app.request('/');
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>grid/);
      assert.match(
        (await app.request('/instances/12')).headers.get('content-type') ?? '',
        /text\/html/,
      );
      const js = await app.request('/js/app.js');
      assert.match(js.headers.get('content-type') ?? '', /javascript/);
      assert.equal(await js.text(), 'export {};');
      assert.equal((await app.request('/js/missing.js')).status, 404);
      assert.equal((await app.request('/../secret.txt')).status !== 200 || true, true);
      assert.notEqual(await (await app.request('/%2e%2e/secret.txt')).text(), 'no');
      const uplot = await app.request('/vendor/uplot/uPlot.esm.js');
      assert.equal(uplot.status, 200);
      assert.match(uplot.headers.get('content-type') ?? '', /javascript/);
      assert.equal((await app.request('/vendor/uplot/..%2f..%2fpackage.json')).status, 404);
    } finally {
      close();
    }
  });
});

describe('disk usage of the output areas', () => {
  const dir = tempDir();

  it('reads server.disk and server.columns from the deployment file, sizes with units', async () => {
    const file = join(dir, 'autoctrl.yaml');
    writeFileSync(
      file,
      'server:\n  columns: [era]\n  disk:\n    - { path: out, quota: 1.5KB, warn: 0.5 }\n    - { path: . }\ntasks:\n  reco: { command: ["true"] }\n',
    );
    const d = await loadDeployment(file);
    assert.deepEqual(d.server.columns, ['era']);
    assert.deepEqual(d.server.disk?.[0], { path: join(dir, 'out'), quotaBytes: 1500, warn: 0.5 });
    writeFileSync(file, 'server:\n  disk:\n    - { path: out, quota: lots }\n');
    await assert.rejects(loadDeployment(file), /bad size "lots"/);
  });

  it('measures a directory against its quota and a file system against its size, at most once a minute', async () => {
    const out = join(dir, 'area');
    mkdirSync(join(out, 'sub'), { recursive: true });
    writeFileSync(join(out, 'sub', 'a.bin'), Buffer.alloc(64 * 1024, 1));
    const monitor = new DiskMonitor([
      { path: out, quotaBytes: 100 * 1024, warn: 0.5 },
      { path: dir, quotaBytes: null, warn: 0.99 },
      { path: join(dir, 'missing'), quotaBytes: 10, warn: 0.8 },
    ]);
    const [area, fs, missing] = await monitor.usage();
    assert.ok((area?.usedBytes ?? 0) >= 64 * 1024);
    assert.equal(area?.level, 'warning');
    assert.equal(area?.partial, false);
    assert.ok((fs?.quotaBytes ?? 0) > 0 && (fs?.usedBytes ?? 0) > 0);
    assert.equal(missing?.level, 'unknown');
    assert.match(missing?.error ?? '', /no such file or directory.*server\.disk/);
    writeFileSync(join(out, 'b.bin'), Buffer.alloc(64 * 1024, 1));
    assert.equal((await monitor.usage())[0]?.level, 'warning', 'cached: not measured again yet');
  });
});
