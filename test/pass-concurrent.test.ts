import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { autoctrl } from './cli-run.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import { postgresForThisFile } from './services/postgres.ts';

/*
 * `autoctrl pass` from cron or Jenkins on rotating hosts: two passes may
 * overlap. Whoever does not get the engine lease exits 2 and does nothing;
 * nothing is ever done twice.
 */

const { skip, server } = postgresForThisFile();
assertNoLeaksAtEnd();

const RUNS = [101, 102, 103, 104];
const JOBS = 3;

function writeWorld(dir: string, store: string): string {
  const file = join(dir, 'autoctrl.yaml');
  writeFileSync(
    file,
    [
      `store: ${JSON.stringify(store)}`,
      'engine: { lease_ttl: 3s }',
      'tasks:',
      '  reco:',
      `    jobs: ${JOBS}`,
      `    command: [sh, -c, 'echo "$1 $2 $3" >> ledger', sh, "{run}", "{index}", "{attempt}"]`,
      '  calib:',
      '    after: [reco]',
      `    command: [sh, -c, 'echo "calib $1" >> ledger', sh, "{run}"]`,
      '',
    ].join('\n'),
  );
  return file;
}

async function overlappingPasses(
  file: string,
  dir: string,
): Promise<{ skipped: number; rounds: number }> {
  for (const run of RUNS) {
    assert.equal((await autoctrl(['runs', 'add', String(run), '-c', file])).code, 0);
  }
  const want = [
    ...RUNS.flatMap((run) => Array.from({ length: JOBS }, (_, i) => `${run} ${i} 1`)),
    ...RUNS.map((run) => `calib ${run}`),
  ];
  const ledgerFile = join(dir, 'ledger');
  const ledger = () =>
    existsSync(ledgerFile) ? readFileSync(ledgerFile, 'utf8').trim().split('\n') : [];
  let skipped = 0;
  let rounds = 0;
  const pass = async () => {
    // Two hosts' cron lines firing at once.
    const results = await Promise.all([
      autoctrl(['pass', '-c', file]),
      autoctrl(['pass', '-c', file]),
    ]);
    for (const r of results) {
      assert.ok(r.code === 0 || r.code === 2, `pass exit ${r.code}: ${r.stderr}`);
      if (r.code === 2) {
        skipped++;
        assert.match(r.stderr, /holds the engine lease/);
      }
    }
  };
  for (; rounds < 60 && ledger().length < want.length; rounds++) await pass();
  // The last jobs settle at a later pass; nothing may run again meanwhile.
  const statuses = async () =>
    (
      JSON.parse((await autoctrl(['status', '--json', '-c', file])).stdout) as {
        rows: Array<{ status: string }>;
      }
    ).rows.map((r) => r.status);
  for (let i = 0; i < 10 && (await statuses()).some((s) => s !== 'done'); i++) await pass();
  assert.deepEqual(
    await statuses(),
    RUNS.map(() => 'done'),
  );
  assert.deepEqual(ledger().sort(), want.sort(), 'every job ran, and once');
  return { skipped, rounds };
}

describe('autoctrl pass, overlapping as cron on several hosts would run it', () => {
  it('on one SQLite file: every job once', { timeout: 300_000 }, async (t) => {
    const dir = tempDir();
    const { skipped, rounds } = await overlappingPasses(writeWorld(dir, 'sqlite:state.db'), dir);
    t.diagnostic(`${rounds + 1} rounds; ${skipped} pass(es) found the lease taken and exited 2`);
  });

  it('on one PostgreSQL store: every job once', { skip, timeout: 300_000 }, async (t) => {
    const dir = tempDir();
    const pg = server();
    const { skipped, rounds } = await overlappingPasses(writeWorld(dir, pg.url()), dir);
    t.diagnostic(`${rounds + 1} rounds; ${skipped} pass(es) found the lease taken and exited 2`);
  });
});
