import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { claimDataDir, STORE_ID_FILE, StoreMismatchError } from '../src/data-dir.ts';
import { LocalExecutor } from '../src/executors/local/index.ts';
import { silentLogger } from '../src/logger.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { autoctrl, oneLine } from './cli-run.ts';
import { LAUNCH_DEFAULTS, submitOne } from './executor-util.ts';
import { assertNoLeaksAtEnd, deployment, sleep, tempDir, until } from './helpers.ts';

assertNoLeaksAtEnd();

function writeDeployment(dir: string, extra = ''): string {
  const file = join(dir, 'autoctrl.yaml');
  writeFileSync(
    file,
    `store: sqlite:state.db\n${extra}tasks:\n  reco: { command: ["sh", "-c", "echo $AUTOCTRL_JOB >> ${join(dir, 'ran.txt')}"] }\n`,
  );
  return file;
}

describe('a store and its data directory belong together', () => {
  it('the first start claims the data directory; the same store starts again', async () => {
    const dir = tempDir();
    const d = deployment(dir, []);
    const store = await createSqliteStore(join(dir, 'state.db'));
    try {
      const id = await claimDataDir(store, d);
      assert.equal(JSON.parse(readFileSync(join(d.dataDir, STORE_ID_FILE), 'utf8')).id, id);
      assert.equal(await claimDataDir(store, d), id);
    } finally {
      await store.close();
    }
  });

  it('a deleted state.db next to the old data/ is refused by pass and serve, naming both (exit 2)', async () => {
    const dir = tempDir();
    const file = writeDeployment(dir);
    assert.equal((await autoctrl(['runs', 'add', '100', '-c', file])).code, 0);
    const first = await autoctrl(['pass', '-c', file]);
    assert.equal(first.code, 0, first.stderr);
    await until(async () => existsSync(join(dir, 'ran.txt')));
    rmSync(join(dir, 'state.db'));
    for (const cmd of [['pass'], ['serve', '--port', '0']]) {
      const r = await autoctrl([...cmd, '-c', file]);
      assert.equal(r.code, 2, `${cmd.join(' ')}: ${r.stderr}`);
      oneLine(
        r,
        new RegExp(
          `store sqlite:${dir}/state\\.db does not belong with data directory ${dir}/data: .* move ${dir}/data aside`,
        ),
      );
    }
  });

  it("a store pointed at another deployment's data directory is refused, naming the other store", async () => {
    const a = tempDir();
    const b = tempDir();
    const fileA = writeDeployment(a);
    assert.equal((await autoctrl(['pass', '-c', fileA])).code, 0);
    const fileB = writeDeployment(b, `data_dir: ${join(a, 'data')}\n`);
    const r = await autoctrl(['pass', '-c', fileB]);
    assert.equal(r.code, 2, r.stderr);
    oneLine(r, new RegExp(`made by store sqlite:${a}/state\\.db \\(id [0-9a-f-]+\\)`));
  });

  it('a store with history but no id yet (an upgrade) adopts its data directory', async () => {
    const dir = tempDir();
    const file = writeDeployment(dir);
    assert.equal((await autoctrl(['runs', 'add', '100', '-c', file])).code, 0);
    assert.equal((await autoctrl(['pass', '-c', file])).code, 0);
    // As before ids were kept: the store has no id, the directory none.
    const db = new Database(join(dir, 'state.db'));
    db.prepare("DELETE FROM cursors WHERE key = 'store:id'").run();
    db.close();
    rmSync(join(dir, 'data', STORE_ID_FILE));
    const r = await autoctrl(['pass', '-c', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(dir, 'data', STORE_ID_FILE)));
  });

  it('a data directory that is a file, or under /proc, is one line, not a hang', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'plain'), '');
    for (const dataDir of [join(dir, 'plain'), '/proc/autoctrl-x/data']) {
      const file = writeDeployment(dir, `data_dir: ${dataDir}\n`);
      const r = await autoctrl(['pass', '-c', file]);
      assert.ok(r.code === 1 || r.code === 2, `${dataDir}: ${r.code} ${r.stderr}`);
      oneLine(r, /data_dir|data directory/);
    }
  });

  it('a SQLite store under /proc is one line, not a hang', async () => {
    const dir = tempDir();
    const file = join(dir, 'autoctrl.yaml');
    writeFileSync(
      file,
      'store: sqlite:/proc/autoctrl-x/state.db\ntasks:\n  reco: { command: ["true"] }\n',
    );
    for (const cmd of [['status'], ['pass']]) {
      const r = await autoctrl([...cmd, '-c', file]);
      assert.equal(r.code, 2, `${cmd.join(' ')}: ${r.stderr}`);
      oneLine(
        r,
        /cannot open the store sqlite:\/proc\/autoctrl-x\/state\.db: .*\/proc\/autoctrl-x/,
      );
    }
  });

  it('StoreMismatchError names both paths', () => {
    const e = new StoreMismatchError('sqlite:/a/state.db', '/b/data', 'why');
    assert.match(e.message, /sqlite:\/a\/state\.db .* \/b\/data: why; /);
  });
});

describe("the local executor never takes another store's marker for its own", () => {
  async function executor(storeId: string | null) {
    return new LocalExecutor('local', {
      slots: 2,
      logger: silentLogger(),
      cgroupRoot: null,
      storeId,
    });
  }
  async function launch(dir: string, jobId: number) {
    const workDir = join(dir, 'jobs', String(jobId));
    await mkdir(workDir, { recursive: true });
    const out = join(dir, `ran-${jobId}.txt`);
    return {
      launch: {
        ...LAUNCH_DEFAULTS,
        jobId,
        instanceId: jobId,
        name: `autoctrl-${jobId}`,
        argv: ['sh', '-c', `echo ran >> ${out}`],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        cwd: dir,
        workDir,
        logPath: join(workDir, 'log.txt'),
        timeoutMs: null,
      },
      ref: {
        jobId,
        attempt: 1,
        name: `autoctrl-${jobId}`,
        executorId: null,
        workDir,
        logPath: join(workDir, 'log.txt'),
        submittedAt: null,
        timeoutMs: null,
      },
      out,
    };
  }

  it("another store's ended job of the same id: unknown to this store, then submitted afresh", async () => {
    const dir = tempDir();
    const old = await executor('store-a');
    const mine = await executor('store-b');
    try {
      const j = await launch(dir, 1);
      await submitOne(old, j.launch);
      await until(async () => (await old.status([j.ref])).get(1)?.state === 'exited');
      assert.deepEqual((await mine.status([j.ref])).get(1), { state: 'never-submitted' });
      await submitOne(mine, j.launch);
      await until(async () => (await mine.status([j.ref])).get(1)?.state === 'exited');
      assert.equal(readFileSync(j.out, 'utf8'), 'ran\nran\n');
      // Its own marker is its own: submitted already.
      await assert.rejects(submitOne(mine, j.launch), /submitted already/);
    } finally {
      await old.close();
      await mine.close();
    }
  });

  it('a marker from before stores had ids is not this store’s; an unreadable one is (the safe side)', async () => {
    const dir = tempDir();
    const mine = await executor('store-b');
    try {
      const j = await launch(dir, 2);
      await writeFile(join(j.launch.workDir, 'submitted'), '{"jobId":2,"at":1}\n');
      await writeFile(join(j.launch.workDir, 'exit'), '1\n');
      assert.deepEqual((await mine.status([j.ref])).get(2), { state: 'never-submitted' });
      const k = await launch(dir, 3);
      await writeFile(join(k.launch.workDir, 'submitted'), '');
      await assert.rejects(submitOne(mine, k.launch), /submitted already/);
      await submitOne(mine, j.launch);
      await until(async () => (await mine.status([j.ref])).get(2)?.state === 'exited');
      const state = (await mine.status([j.ref])).get(2);
      assert.equal(state?.state === 'exited' && state.exitCode, 0);
    } finally {
      await mine.close();
    }
  });

  it("another store's job still running in the work directory is left alone, and the submission refused", async () => {
    const dir = tempDir();
    const old = await executor('store-a');
    const mine = await executor('store-b');
    try {
      const j = await launch(dir, 4);
      await submitOne(old, { ...j.launch, argv: ['sleep', '30'] });
      await until(async () => (await old.status([j.ref])).get(4)?.state === 'running');
      await assert.rejects(submitOne(mine, j.launch), /in use by a job of another store/);
      await old.cancel({ ...j.ref }, 'test over');
      await sleep(50);
    } finally {
      await old.close();
      await mine.close();
    }
  });
});
