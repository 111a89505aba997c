import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import pg from 'pg';
import { FencedError, StoreUnavailableError } from '../src/errors.ts';
import { silentLogger } from '../src/logger.ts';
import { runStoreConformance } from '../src/store/conformance.ts';
import type { FeedCursor, StateStore } from '../src/store/contract.ts';
import { openStore } from '../src/store/open.ts';
import { createPostgresStore } from '../src/store/postgres/index.ts';
import { MIGRATIONS } from '../src/store/postgres/migrations.ts';
import { autoctrl } from './cli-run.ts';
import { assertNoLeaksAtEnd, sleep, tempDir } from './helpers.ts';
import { postgresForThisFile } from './services/postgres.ts';
import { oneOfTwoHandlesWins, raceFourProcesses } from './store-race.ts';

const T0 = 1_700_000_000_000;
const { skip, server: pgServer } = postgresForThisFile();
// After the server's own hook: the server is a child process until then.
assertNoLeaksAtEnd();

async function dropSchema(url: string): Promise<void> {
  const schema = new URL(url).searchParams.get('schema');
  await pgServer().sql(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema ?? '')} CASCADE`);
}

describe('PostgreSQL store', { skip }, () => {
  runStoreConformance('postgres', async () => {
    const url = pgServer().url();
    const store = await createPostgresStore(url);
    return {
      store,
      another: () => createPostgresStore(url),
      cleanup: async () => {
        await store.close();
        await dropSchema(url);
      },
    };
  });

  describe('several handles on one schema', () => {
    let url: string;
    const opened: StateStore[] = [];
    const openOne = async () => {
      const s = await createPostgresStore(url);
      opened.push(s);
      return s;
    };
    const fresh = () => {
      url = pgServer().url();
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await dropSchema(url);
    });

    it('opens through openStore under both URL schemes', async () => {
      fresh();
      for (const u of [url, url.replace(/^postgres:/, 'postgresql:')]) {
        const s = await openStore(u, silentLogger());
        opened.push(s);
        assert.equal(await s.countRuns(), 0);
      }
    });

    it('migrates once when handles open together, and refuses a newer schema', async () => {
      fresh();
      const [a] = await Promise.all([openOne(), openOne(), openOne()]);
      const known = Math.max(...MIGRATIONS.map((m) => m.version));
      assert.deepEqual(await a?.migrate(), { from: known, to: known });
      const schema = new URL(url).searchParams.get('schema') ?? '';
      await pgServer().sql(
        `INSERT INTO ${pg.escapeIdentifier(schema)}.schema_migrations VALUES (99, 'future', 0)`,
      );
      await assert.rejects(createPostgresStore(url), { code: 'store_schema_newer' });
    });

    it('lets one of two handles win each transition and each claim', async () => {
      fresh();
      await oneOfTwoHandlesWins(await openOne(), await openOne());
    });

    it('never skips a feed item committed after a later-numbered one', async () => {
      fresh();
      const store = await openOne();
      const start = await store.feedHead();
      const schema = new URL(url).searchParams.get('schema') ?? '';
      const cfg = { ...pgServer().clientConfig(), options: `-c search_path=${schema}` };
      const [ta, tb] = [new pg.Client(cfg), new pg.Client(cfg)];
      await Promise.all([ta.connect(), tb.connect()]);
      try {
        const insert = (c: pg.Client, entityId: string) =>
          c.query(
            `INSERT INTO events (at, entity, entity_id, actor) VALUES (${T0}, 'source', '${entityId}', 'test')`,
          );
        await ta.query('BEGIN');
        await insert(ta, 'A');
        await tb.query('BEGIN');
        await insert(tb, 'B');
        await tb.query('COMMIT');
        const seen: string[] = [];
        const read = async (cursor: FeedCursor) => {
          const page = await store.readFeed(cursor, { limit: 100 });
          for (const i of page.items) if (i.kind === 'event') seen.push(i.event.entityId);
          return page.cursor;
        };
        let cursor = await read(start);
        assert.deepEqual(seen, [], 'B waits behind the still-open A');
        await ta.query('COMMIT');
        cursor = await read(cursor);
        await read(cursor);
        assert.deepEqual(seen, ['A', 'B']);
      } finally {
        await Promise.all([ta.end(), tb.end()]);
      }
    });

    it('hands an expired lease over with a new epoch and fences the old holder', async () => {
      fresh();
      const [a, b] = [await openOne(), await openOne()];
      const first = await a.acquireLease('engine', 'a', 200);
      assert.ok(first);
      assert.equal(await b.acquireLease('engine', 'b', 200), null);
      await sleep(250);
      const second = await b.acquireLease('engine', 'b', 10_000);
      assert.equal(second?.epoch, first.epoch + 1);
      assert.equal(await a.renewLease(first, 1_000), null);
      await assert.rejects(
        a.setCursor('k', 'old leader', { lease: 'engine', epoch: first.epoch }),
        (err: unknown) => err instanceof FencedError && err.current === first.epoch + 1,
      );
      assert.equal(await b.getCursor('k'), null, 'the fenced write changed nothing');
      await b.setCursor('k', 'new leader', { lease: 'engine', epoch: first.epoch + 1 });
      assert.equal(await a.getCursor('k'), 'new leader');
    });

    it('outlives its connections being cut: queries retry and the listener listens again', async () => {
      fresh();
      const [a, b] = [await openOne(), await openOne()];
      let woke = 0;
      const stop = a.watch(() => {
        woke += 1;
      });
      try {
        await a.upsertRuns([{ run: 1 }], 'test');
        const listening = Date.now() + 5_000;
        while (woke === 0 && Date.now() < listening) await sleep(5);
        await pgServer().sql(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'autoctrl'",
        );
        assert.equal((await a.getRun(1))?.run, 1);
        await a.upsertRuns([{ run: 2 }], 'test');
        // Wait for the reconnection's own call, then a commit must wake it again.
        const back = Date.now() + 5_000;
        const before = woke;
        while (woke === before && Date.now() < back) await sleep(5);
        const reconnected = woke;
        await b.upsertRuns([{ run: 3 }], 'test');
        const deadline = Date.now() + 2_000;
        while (woke === reconnected && Date.now() < deadline) await sleep(5);
        assert.ok(woke > reconnected, 'woken after listening again');
      } finally {
        stop();
      }
    });
  });

  describe('racing processes on one schema', () => {
    it('keeps every transition and claim single across four processes', {
      timeout: 60_000,
    }, async () => {
      const url = pgServer().url();
      try {
        // The schema first, so the racers only race on data.
        await (await createPostgresStore(url)).close();
        await raceFourProcesses(
          {
            module: new URL('../src/store/postgres/index.ts', import.meta.url).href,
            factory: 'createPostgresStore',
            target: url,
          },
          join(tempDir(), 'go'),
          () => createPostgresStore(url),
        );
      } finally {
        await dropSchema(url);
      }
    });
  });

  describe('failures', () => {
    it('names host, port and database on one line when the server is unreachable', async () => {
      const port = pgServer().port + 1;
      const err = await createPostgresStore(`postgres://someone@127.0.0.1:${port}/calib`).then(
        () => assert.fail('opened'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StoreUnavailableError);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}, database calib`));
      assert.doesNotMatch(err.message, /\n/);
    });

    it('serves autoctrl migrate and status, and an unreachable server is one line with status 2', async () => {
      const dir = tempDir();
      const deployment = (name: string, store: string) => {
        const file = join(dir, name);
        writeFileSync(file, `store: "${store}"\ntasks:\n  reco: { command: [sh, -c, 'true'] }\n`);
        return file;
      };
      const url = pgServer().url();
      try {
        const file = deployment('ok.yaml', url);
        const migrated = await autoctrl(['migrate', '-c', file]);
        assert.equal(migrated.code, 0, migrated.stderr);
        const known = Math.max(...MIGRATIONS.map((m) => m.version));
        assert.match(migrated.stdout, new RegExp(`schema version ${known}, up to date`));
        const status = await autoctrl(['status', '-c', file]);
        assert.equal(status.code, 0, status.stderr);
      } finally {
        await dropSchema(url);
      }
      const port = pgServer().port + 1;
      const gone = deployment('gone.yaml', `postgres://someone@127.0.0.1:${port}/calib`);
      const r = await autoctrl(['status', '-c', gone]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
      assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}, database calib`));
    });

    it('names a missing database and never shows the password', async () => {
      const s = pgServer();
      const wrong = `postgres://${s.user}@127.0.0.1:${s.port}/nosuchdb?password_file=${s.passwordFile}`;
      const missing = await createPostgresStore(wrong).then(
        () => assert.fail('opened'),
        (e: unknown) => e as Error,
      );
      assert.match(missing.message, /database nosuchdb: .*nosuchdb.* does not exist/);
      const badPassword = await createPostgresStore(
        `postgres://${s.user}@127.0.0.1:${s.port}/${s.database}`,
        { env: { PGPASSWORD: 'not-the-password' } },
      ).then(
        () => assert.fail('opened'),
        (e: unknown) => e as Error,
      );
      assert.match(badPassword.message, /password authentication failed/);
      const inUrl = await createPostgresStore(
        `postgres://${s.user}:${s.password}@127.0.0.1:${s.port}/${s.database}`,
      ).then(
        () => assert.fail('opened'),
        (e: unknown) => e as Error,
      );
      for (const e of [missing, badPassword, inUrl]) {
        assert.ok(!e.message.includes(s.password), e.message);
        assert.ok(!e.message.includes('not-the-password'), e.message);
        assert.doesNotMatch(e.message, /\n/);
      }
      assert.match(inUrl.message, /postgres:\/\/postgres:\*\*\*@/);
    });
  });
});
