import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { startDaemon } from '../src/daemon.ts';
import { type ExportService, openExportService } from '../src/export/open.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime } from '../src/runtime.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir, until } from './helpers.ts';
import { influxForThisFile } from './services/influx.ts';

const influx = influxForThisFile({ auth: true });
assertNoLeaksAtEnd();

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  delete process.env.TEST_INFLUX_PASSWORD;
});

describe('InfluxDB mirror with authentication', { skip: influx.skip }, () => {
  it('shows refused credentials in /api/health', async () => {
    const server = influx.server();
    process.env.TEST_INFLUX_PASSWORD = 'not-the-password';
    const dep = deployment(tempDir(), [task('reco')], {
      exports: {
        influx: {
          url: server.url,
          database: 'calib',
          username: 'admin',
          password_env: 'TEST_INFLUX_PASSWORD',
        },
      },
    });
    const daemon = await startDaemon(dep, {
      logger: silentLogger(),
      listen: { host: '127.0.0.1', port: 0 },
    });
    cleanups.push(() => daemon.stop());
    const health = await until(
      async () => {
        const h = (await (await fetch(`${daemon.url}/api/health`)).json()) as {
          exports: Record<string, { state: string; error?: string; target?: string }>;
        };
        return h.exports.influx?.state === 'failing' ? h.exports.influx : undefined;
      },
      10_000,
      'health to show the failing mirror',
    );
    assert.match(
      health.error ?? '',
      /^export influx: InfluxDB refused the credentials \(HTTP 401: authorization failed\): check username admin and the variable TEST_INFLUX_PASSWORD/,
    );
    assert.equal(health.target, `${server.url} database calib`);
    assert.doesNotMatch(JSON.stringify(health), /not-the-password/);
  });

  it('raises export_failing after repeated failures and export_recovered once writes succeed', async () => {
    const server = influx.server();
    process.env.TEST_INFLUX_PASSWORD = server.admin.password;
    const database = await server.createDatabase();
    const dep = deployment(tempDir(), [task('reco')], {
      exports: {
        influx: {
          url: server.url,
          database,
          username: 'admin',
          password_env: 'TEST_INFLUX_PASSWORD',
        },
      },
    });
    const rt = await openRuntime(dep, { logger: silentLogger() });
    cleanups.push(() => rt.close());
    const service = (await openExportService(rt, silentLogger(), {
      pollMs: 20,
      backoff: { minMs: 30, maxMs: 60 },
      alertAfter: 3,
    })) as ExportService;
    service.start();
    cleanups.push(() => service.stop());
    await server.pause();
    await rt.store.upsertRuns([{ run: 1 }], 'test');
    await rt.engine.pass();
    const alerts = async (kind: string) =>
      (await rt.store.listEvents({ entity: 'export' })).filter((e) => e.data?.alert === kind);
    const [failing] = await until(
      async () => {
        const a = await alerts('export_failing');
        return a.length > 0 ? a : undefined;
      },
      10_000,
      'export_failing',
    );
    assert.equal(failing?.entityId, 'influx');
    assert.match(
      failing?.reason ?? '',
      /^3 writes in a row failed, the last with: export influx: cannot reach InfluxDB/,
    );
    await server.resume();
    await until(
      async () => (await alerts('export_recovered')).length === 1,
      10_000,
      'export_recovered',
    );
    assert.equal((await alerts('export_failing')).length, 1, 'one alert per outage');
  });
});
