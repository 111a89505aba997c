import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../src/logger.ts';
import type { StateStore } from '../../src/store/contract.ts';
import { createSqliteStore } from '../../src/store/sqlite/index.ts';
import {
  auditChain,
  chainDone,
  endedRuns,
  killHard,
  startController,
  writeChainWorld,
} from '../chain-world.ts';
import { sleep } from '../helpers.ts';
import { Tally } from './rows.ts';

/**
 * Why a full disk cannot be made here, or null: it takes a tmpfs with a size
 * limit, which only root may mount. Where the torture must run in full
 * (`AUTOCTRL_REQUIRE_SERVICES=1`, CI) that is a failure, not a skip.
 */
export function fullDiskMissing(): string | null {
  if (process.getuid?.() === 0) return null;
  const why = 'a full disk needs a size-limited tmpfs, which only root may mount: run as root';
  if (process.env.AUTOCTRL_REQUIRE_SERVICES === '1') throw new Error(why);
  return why;
}

/** A tmpfs of `size` mounted at `dir` (created), and its unmounting. */
export function mountTmpfs(dir: string, size: string): () => void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return () => execFileSync('umount', ['-l', dir]);
}

/** Fills the file system of `dir` to the last byte with `filler` (ENOSPC ends it); its path. */
export async function fillDisk(dir: string): Promise<string> {
  const path = join(dir, 'filler');
  const f = await open(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (let size = chunk.length; size >= 1; ) {
      try {
        await f.write(chunk, 0, size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        size = Math.floor(size / 2);
      }
    }
  } finally {
    await f.close();
  }
  return path;
}

/** Which disk fills: the data directory's alone (job work areas), or the one under the store too. */
export type FullWhat = 'data' | 'store';

/**
 * A real `autoctrl serve` whose data directory (`data`), or whose store and
 * data directory (`store`), are on a small tmpfs, filled to the last byte
 * while `runs` runs go through the 3-task chain of `chain-world.ts`; held
 * full for `fullMs`, then freed. What must hold: the daemon stays up and
 * says so in its log, nothing is marked failed for good, everything
 * finishes after space is freed, every job attempt ran exactly once.
 * Bounded: `budgetMs` for the whole.
 */
export async function fullDisk(
  what: FullWhat,
  runs: number,
  dir: string,
  opts: { fullMs?: number; budgetMs?: number } = {},
): Promise<Tally> {
  const tally = new Tally();
  const fs = join(dir, 'fs');
  // Room for SQLite's write-ahead log, which grows to ~40 MB between checkpoints.
  const unmount = mountTmpfs(fs, '96m');
  const storePath = join(what === 'store' ? fs : dir, 'state.db');
  const world = writeChainWorld(dir, {
    store: `sqlite:${storePath}`,
    dataDir: join(fs, 'data'),
    engine: '{ interval: 200ms }',
    // A slot free for every job: the jobs in flight, whose ends wait for the disk too, hold theirs.
    slots: runs * 3,
  });
  const label = what === 'store' ? 'the disk of the store and the jobs' : "the jobs' disk";
  const deadline = Date.now() + (opts.budgetMs ?? 180_000);
  let store: StateStore | null = null;
  const daemon = startController(world.file, 'warn');
  const log: string[] = [];
  daemon.stdout?.on('data', (b: Buffer) => log.push(b.toString()));
  try {
    store = await createSqliteStore(storePath, { logger: silentLogger() });
    // With the jobs' disk full, the last runs arrive: their first jobs are submitted then, and held
    // back, whatever became of the jobs in flight (their ends wait for the disk).
    const late = what === 'data' ? Math.min(3, runs - 1) : 0;
    const all = endedRuns(runs);
    await store.upsertRuns(all.slice(0, runs - late), 'torture');
    // Full once some of the chain has run: mid-processing, jobs queued and running.
    while (ledgerLines(world.ledger) < runs / 2 && Date.now() < deadline) await sleep(50);
    const filler = await fillDisk(fs);
    if (late > 0) await store.upsertRuns(all.slice(runs - late), 'torture');
    const full = `${label} full while jobs are submitted, run and recorded`;
    await sleep(opts.fullMs ?? 5_000);
    tally.count(full, daemon.exitCode === null ? null : `the daemon exited (${daemon.exitCode})`);
    const failedForGood = await store
      .findInstances({ statuses: ['failed'] })
      .catch((err: Error) => [{ groupKey: `the store cannot be read: ${err.message}` }]);
    tally.count(
      `${label} full: nothing failed for good`,
      failedForGood.length === 0 ? null : failedForGood.map((i) => i.groupKey).join(', '),
    );
    if (what === 'data') {
      // The store is writable: the held-back jobs are told of as an alert.
      const events = await store.listEvents({ limit: 100_000 });
      const alerts = events.filter((e) => e.data?.alert === 'submission_blocked').length;
      tally.count(
        `${label} full: a submission_blocked alert`,
        alerts > 0 ? null : 'no submission_blocked alert',
      );
    } else {
      const said = log.join('');
      tally.count(
        `${label} full: the daemon says so (a warning in its log)`,
        /disk is full|SQLITE_FULL|ENOSPC/.test(said) ? null : 'no warning about the full disk',
      );
    }
    rmSync(filler);
    // A run failed for good never finishes: no use waiting for it.
    const settled = async (s: StateStore) =>
      (await chainDone(s, runs)) ||
      (await s.findInstances({ statuses: ['failed'], limit: 1 })).length > 0;
    while (!(await settled(store)) && Date.now() < deadline) await sleep(200);
    tally.count(
      `${label} full: the daemon survived`,
      daemon.exitCode === null ? null : `the daemon exited (${daemon.exitCode})`,
    );
    const audit = await auditChain(store, world.ledger);
    tally.count(
      `${label} freed: ${runs} runs × 3 tasks done, every job attempt once`,
      [
        ...audit.unfinished,
        ...audit.twice.map((l) => `${l} ran twice`),
        ...audit.lost.map((l) => `${l} lost`),
      ]
        .slice(0, 5)
        .join(', ') || null,
    );
  } finally {
    await killHard(daemon);
    await store?.close();
    unmount();
  }
  return tally;
}

function ledgerLines(ledger: string): number {
  return readFileSync(ledger, 'utf8').split('\n').length - 1;
}
