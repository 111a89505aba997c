import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../src/logger.ts';
import { openRuntime } from '../src/runtime.ts';
import { createServerApp } from '../src/server/app.ts';
import { sha256 } from './api-setup.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir, until } from './helpers.ts';
import { postgresForThisFile } from './services/postgres.ts';

const { skip, server } = postgresForThisFile();
assertNoLeaksAtEnd();

const hooks = { trigger: () => {}, health: () => null };

describe('probes for Kubernetes: /api/health/live and /api/health/ready', () => {
  it('answer without a token where reading needs one, and /api/health does not', async () => {
    const dir = tempDir();
    const rt = await openRuntime(
      deployment(dir, [task('reco')], {
        auth: { readOpen: false, operators: [{ name: 'alice', tokenSha256: sha256('t') }] },
      }),
      { logger: silentLogger() },
    );
    const { app, close } = createServerApp(rt, hooks);
    try {
      assert.equal((await app.request('/api/health')).status, 401);
      const live = await app.request('/api/health/live');
      assert.equal(live.status, 200);
      assert.deepEqual(await live.json(), { live: true });
      const ready = await app.request('/api/health/ready');
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { ready: true });
    } finally {
      close();
      await rt.close();
    }
  });

  it('readiness follows PostgreSQL going away and coming back; liveness does not', {
    skip,
    timeout: 120_000,
  }, async () => {
    const dir = tempDir();
    const rt = await openRuntime(deployment(dir, [task('reco')], { store: server().url() }), {
      logger: silentLogger(),
    });
    const { app, close } = createServerApp(rt, hooks);
    try {
      assert.equal((await app.request('/api/health/ready')).status, 200);
      await server().pause();
      const down = await until(
        async () => {
          const res = await app.request('/api/health/ready');
          return res.status === 503 ? res : undefined;
        },
        30_000,
        'readiness to fail while PostgreSQL is down',
      );
      assert.equal(((await down.json()) as { ready: boolean }).ready, false);
      assert.equal((await app.request('/api/health/live')).status, 200);
      await server().resume();
      await until(
        async () => (await app.request('/api/health/ready')).status === 200,
        30_000,
        'readiness to come back with PostgreSQL',
      );
    } finally {
      close();
      await rt.close();
    }
  });
});
