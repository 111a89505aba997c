import { join } from 'node:path';
import { describe } from 'node:test';
import { silentLogger } from '../src/logger.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { testControllers } from './controllers.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

describe('several controllers on one SQLite file', () => {
  testControllers(
    'sqlite',
    async (dir) => {
      const file = join(dir, 'state.db');
      return {
        url: `sqlite:${file}`,
        store: await createSqliteStore(file, { logger: silentLogger() }),
      };
    },
    () => tempDir('autoctrl-controllers-'),
  );
});
