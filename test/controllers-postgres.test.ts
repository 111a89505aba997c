import { describe } from 'node:test';
import { silentLogger } from '../src/logger.ts';
import { createPostgresStore } from '../src/store/postgres/index.ts';
import { testControllers } from './controllers.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import { postgresForThisFile } from './services/postgres.ts';

const { skip, server } = postgresForThisFile();
// After the server's own hook: the server is a child process until then.
assertNoLeaksAtEnd();

describe('several controllers on one PostgreSQL schema', { skip }, () => {
  testControllers(
    'postgres',
    async () => {
      const url = server().url();
      return { url, store: await createPostgresStore(url, { logger: silentLogger() }) };
    },
    () => tempDir('autoctrl-controllers-'),
    // Each store call is a few network round trips here: 500 runs outlast the test's
    // budget on a loaded 2-core host, while 200 still see every takeover.
    200,
  );
});
