import { join } from 'node:path';
import { silentLogger } from '../../src/logger.ts';
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
import { rng, Tally } from './rows.ts';

/**
 * `kills` SIGKILLs of a real `autoctrl serve`, each at a random moment of its
 * life and restarted at once, while `runs` runs go through the 3-task chain
 * of `chain-world.ts` (with retries and a ledger), then the audit: every job
 * attempt ran exactly once, none lost. Bounded: a chain not done within
 * `budgetMs` is a failure, not a hang.
 */
export async function killChain(
  runs: number,
  kills: number,
  dir: string,
  seed: number,
  budgetMs = 300_000,
): Promise<Tally> {
  const tally = new Tally();
  const world = writeChainWorld(dir, { store: 'sqlite:state.db', engine: '{ interval: 200ms }' });
  const store = await createSqliteStore(join(dir, 'state.db'), { logger: silentLogger() });
  const random = rng(seed);
  const deadline = Date.now() + budgetMs;
  const killWhat = 'SIGKILL of `autoctrl serve` at a random moment, restarted at once';
  try {
    await store.upsertRuns(endedRuns(runs), 'torture');
    let done = false;
    for (let k = 0; k < kills && !done && Date.now() < deadline; k++) {
      const daemon = startController(world.file);
      // Between 0.2 and 1.5 s: past its start, and mid-pass more often than not.
      await sleep(200 + random.next() * 1300);
      const early = daemon.exitCode !== null;
      await killHard(daemon);
      tally.count(killWhat, early ? `run ${k}: the controller exited by itself` : null);
      done = await chainDone(store, runs);
    }
    const last = startController(world.file);
    try {
      while (!(await chainDone(store, runs)) && Date.now() < deadline) await sleep(200);
    } finally {
      await killHard(last);
    }
    const audit = await auditChain(store, world.ledger);
    const attempts = `job attempts of ${runs} runs × 3 tasks (${audit.retries} retries): each ran exactly once`;
    const problems = audit.twice.length + audit.lost.length;
    for (let i = 0; i < Math.max(0, audit.attempts - problems); i++) tally.count(attempts);
    for (const l of audit.twice) tally.count(attempts, `${l} ran twice`);
    for (const l of audit.lost) tally.count(attempts, `${l} lost`);
    for (let i = 0; i < audit.strangers; i++)
      tally.count(attempts, 'a ledger line of a job the store does not know');
    const finished = 'instances and jobs settled: every run through the chain';
    tally.count(finished, audit.unfinished.length === 0 ? null : audit.unfinished.join(', '));
    if (audit.retries === 0) tally.count(attempts, 'no retries happened: the audit saw none');
  } finally {
    await store.close();
  }
  return tally;
}
