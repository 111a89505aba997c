import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadDeployment } from '../src/config/load.ts';
import { silentLogger } from '../src/logger.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { overview } from '../src/views/overview.ts';
import { assertNoLeaksAtEnd, sleep, tempDir, until } from './helpers.ts';

assertNoLeaksAtEnd();

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

describe('the demo', () => {
  // How fast is for bench and the newcomer script to say; on a shared CI machine only that it gets there.
  it('starts with one command and brings its first runs to done', {
    timeout: 200_000,
  }, async (t) => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm test does)`);
    const dir = join(tempDir('autoctrl-demo-test-'), 'demo');
    const child = spawn(process.execPath, [CLI, 'demo', '--dir', dir, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const started = Date.now();
    try {
      const url = await until(
        async () => /overview page:\s+(\S+)/.exec(out)?.[1],
        20_000,
        'the demo to print its address',
      );
      const page = await fetch(url);
      assert.equal(page.status, 200);
      const deployment = await loadDeployment(join(dir, 'autoctrl.yaml'));
      const store = await createSqliteStore(join(dir, 'state.db'), { logger: silentLogger() });
      try {
        const done = await until(
          async () => {
            const { rows } = await overview(store, deployment, { campaign: 'prompt', limit: 50 });
            const d = rows.filter((r) => r.status === 'done');
            return d.length > 0 ? d : undefined;
          },
          150_000,
          'a demo run to be done',
        );
        const elapsed = (Date.now() - started) / 1000;
        t.diagnostic(`first run done after ${elapsed} s`);
        const { rows } = await overview(store, deployment, { campaign: 'prompt', limit: 50 });
        const ended = rows.filter((r) => r.end !== null);
        assert.ok(ended.length >= done.length);
        const api = (await (await fetch(new URL('/api/overview', url))).json()) as {
          rows: Array<{ status: string }>;
        };
        assert.ok(api.rows.some((r) => r.status === 'done'));
      } finally {
        await store.close();
      }
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await sleep(1500); // let the last detached demo jobs (well under a second each) finish
    }
  });
});
