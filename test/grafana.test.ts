import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { type ExportService, openExportService } from '../src/export/open.ts';
import { cursorKey } from '../src/export/status.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime } from '../src/runtime.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir, until } from './helpers.ts';
import { type InfluxSeries, influxForThisFile } from './services/influx.ts';

const influx = influxForThisFile();
assertNoLeaksAtEnd();

const GRAFANA = fileURLToPath(new URL('../grafana/', import.meta.url));

interface Target {
  refId: string;
  query: string;
  rawQuery: boolean;
  resultFormat: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  targets: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: {
    list: Array<{ name: string; query: string; datasource: { uid: string }; allValue: string }>;
  };
}

const dashboards = readdirSync(join(GRAFANA, 'dashboards'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({
    file: f,
    d: JSON.parse(readFileSync(join(GRAFANA, 'dashboards', f), 'utf8')) as Dashboard,
  }));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** What Grafana puts in place of its macros and variables (each variable at "All"). */
function expand(query: string, d: Dashboard, from: number, to: number): string {
  let q = query
    .replaceAll('$timeFilter', `time >= ${from}ms and time <= ${to}ms`)
    .replaceAll('$__interval', '10s');
  for (const v of d.templating.list) q = q.replaceAll(`$${v.name}`, v.allValue);
  return q;
}

/** The tags a query groups by: each series it returns must carry them. */
function groupTags(query: string): string[] {
  // The outer query's, when there is a subquery.
  const by =
    /GROUP BY ([^()]*?)(?: fill\(\w+\))?$/.exec(query.slice(query.lastIndexOf('GROUP BY')))?.[1] ??
    '';
  return [...by.matchAll(/"(\w+)"/g)].flatMap((m) => (m[1] === undefined ? [] : [m[1]]));
}

describe('Grafana dashboards', () => {
  it('are valid dashboards on the provisioned datasource', () => {
    const provisioned = parse(
      readFileSync(join(GRAFANA, 'provisioning/datasources/autoctrl.yaml'), 'utf8'),
    ) as { datasources: Array<{ uid: string; type: string }> };
    const ds = provisioned.datasources[0];
    assert.equal(ds?.type, 'influxdb');
    const providers = parse(
      readFileSync(join(GRAFANA, 'provisioning/dashboards/autoctrl.yaml'), 'utf8'),
    ) as { providers: Array<{ type: string; options: { path: string } }> };
    assert.equal(providers.providers[0]?.type, 'file');
    assert.ok(dashboards.length >= 2);
    const uids = new Set<string>();
    for (const { file, d } of dashboards) {
      assert.ok(d.schemaVersion >= 36, `${file}: schemaVersion`);
      assert.ok(d.uid && !uids.has(d.uid), `${file}: a unique uid`);
      uids.add(d.uid);
      const ids = d.panels.map((p) => p.id);
      assert.deepEqual([...new Set(ids)], ids, `${file}: panel ids are unique`);
      for (const p of d.panels) {
        assert.equal(p.datasource.uid, ds?.uid, `${file}: panel ${p.title}`);
        assert.ok(p.targets.length > 0, `${file}: panel ${p.title} has queries`);
        for (const t of p.targets) {
          assert.equal(t.datasource.uid, ds?.uid, `${file}: ${p.title} ${t.refId}`);
          assert.equal(t.rawQuery, true);
        }
      }
      for (const v of d.templating.list) assert.equal(v.datasource.uid, ds?.uid);
    }
  });

  it('every query returns its series from a mirrored engine run', {
    skip: influx.skip,
    timeout: 90_000,
  }, async () => {
    const server = influx.server();
    const database = await server.createDatabase();
    const dir = tempDir();
    const lock = {
      kind: 'file',
      name: 'pedestals',
      timeoutMs: null,
      options: { path: 'ped-{run}' },
    };
    const dep = deployment(
      dir,
      [
        task('reco', { jobs: 2, workflow: 'reconstruction', command: ['sleep', '0.3'] }),
        // Fails its first attempt: failures, then a retry that succeeds.
        task('calib', {
          after: ['reco'],
          command: ['sh', '-c', 'test "$AUTOCTRL_ATTEMPT" -gt 1'],
          retries: 1,
        }),
        task('upload', { after: ['calib'], locks: [lock] }),
        // Fails for good.
        task('check', { after: ['reco'], command: ['false'] }),
      ],
      { exports: { influx: { url: server.url, database } } },
    );
    const rt = await openRuntime(dep, { logger: silentLogger() });
    cleanups.push(() => rt.close());
    const service = (await openExportService(rt, silentLogger(), {
      pollMs: 20,
      gaugeEveryMs: 0,
    })) as ExportService;
    service.start();
    cleanups.push(() => service.stop());
    const from = Date.now() - 60_000;
    const runs = [355100, 355101, 355102];
    await rt.store.upsertRuns(
      runs.map((run) => ({
        run,
        fill: 9,
        lumi: 50,
        start: Date.now(),
        end: Date.now(),
        type: 'collisions',
      })),
      'test',
    );
    await until(
      async () => {
        await rt.engine.pass();
        const waiting = await rt.store.findInstances({ task: 'upload', statuses: ['waiting'] });
        return waiting.filter((i) => i.reason?.startsWith('lock ')).length === 3;
      },
      30_000,
      'uploads waiting on their lock',
    );
    for (const run of runs) writeFileSync(join(dir, `ped-${run}`), 'x');
    for (const inst of await rt.store.findInstances({ task: 'calib' })) {
      for (const job of await rt.store.jobsForInstance(inst.id)) {
        await rt.store.recordJobData(job.id, {
          fields: { ic_spread: 0.01 + (inst.runs[0] ?? 0) / 1e9 },
          at: Date.now(),
        });
      }
    }
    await until(
      async () => {
        await rt.engine.pass({ full: true });
        return (await rt.store.findInstances({ task: 'upload', statuses: ['done'] })).length === 3;
      },
      30_000,
      'the chain to finish',
    );
    await until(
      async () =>
        (await rt.store.getCursor(cursorKey('influx'))) ===
        (await rt.store.readFeed(null, { limit: 100_000 })).cursor,
      20_000,
      'the mirror to catch up',
    );
    await until(
      async () => (await server.query('SELECT count(*) FROM "pass"', { db: database })).length > 0,
      10_000,
      'pass figures',
    );
    const to = Date.now() + 60_000;

    for (const { file, d } of dashboards) {
      for (const v of d.templating.list) {
        const values = await server.query(expand(v.query, d, from, to), { db: database });
        assert.ok((values[0]?.values.length ?? 0) > 0, `${file}: variable ${v.name} has values`);
      }
      for (const p of d.panels) {
        for (const t of p.targets) {
          const q = expand(t.query, d, from, to);
          let series: InfluxSeries[];
          try {
            series = await server.query(q, { db: database });
          } catch (err) {
            assert.fail(`${file}: ${p.title} ${t.refId} does not run: ${(err as Error).message}`);
          }
          const what = `${file}: "${p.title}" ${t.refId} (${q})`;
          assert.ok(series.length > 0, `${what} returns no series`);
          const nonEmpty = series.filter((s) =>
            s.values.some((row) => row.slice(1).some((v) => v !== null && v !== 0)),
          );
          assert.ok(nonEmpty.length > 0, `${what} returns only empty series`);
          for (const tag of groupTags(t.query)) {
            for (const s of series)
              assert.ok(s.tags?.[tag] !== undefined, `${what}: series without tag ${tag}`);
          }
          if (p.type === 'table' && t.query.includes('"status" FROM "instance"')) {
            assert.deepEqual(series[0]?.columns, ['time', 'run', 'task', 'status']);
            const cells = new Set(series[0]?.values.map((v) => `${v[1]}/${v[2]}`));
            assert.equal(cells.size, runs.length * 4, 'a cell for each run and task');
          }
        }
      }
    }
  });
});
