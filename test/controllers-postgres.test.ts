import { after, before, describe } from 'node:test';
import { silentLogger } from '../src/logger.ts';
import { createPostgresStore } from '../src/store/postgres/index.ts';
import { testControllers } from './controllers.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import { PostgresServer, postgresMissing } from './services/postgres.ts';

const skip = postgresMissing() ?? false;
let server: PostgresServer | undefined;
before(
  async () => {
    if (skip === false) server = await PostgresServer.start();
  },
  { timeout: 60_000 },
);
after(async () => {
  await server?.stop();
});
// After the server's own hook: the server is a child process until then.
assertNoLeaksAtEnd();

describe('several controllers on one PostgreSQL schema', { skip }, () => {
  testControllers(
    'postgres',
    async () => {
      if (server === undefined) throw new Error('the PostgreSQL server of this file did not start');
      const url = server.url();
      return { url, store: await createPostgresStore(url, { logger: silentLogger() }) };
    },
    () => tempDir('autoctrl-controllers-'),
    // Each store call is a few network round trips here: 500 runs outlast the test's
    // budget on a loaded 2-core host, while 200 still see every takeover.
    200,
  );
});
