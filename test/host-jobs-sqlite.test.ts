import { join } from 'node:path';
import { describe } from 'node:test';
import { silentLogger } from '../src/logger.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import { testHostJobs } from './host-jobs.ts';

assertNoLeaksAtEnd();

describe('host-scoped executors on two hosts sharing one SQLite file', () => {
  testHostJobs(
    'sqlite',
    async (dir) => {
      const file = join(dir, 'state.db');
      return {
        url: `sqlite:${file}`,
        store: await createSqliteStore(file, { logger: silentLogger() }),
      };
    },
    () => tempDir('autoctrl-host-jobs-'),
    24,
  );
});
