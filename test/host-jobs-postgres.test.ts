import { describe } from 'node:test';
import { silentLogger } from '../src/logger.ts';
import { createPostgresStore } from '../src/store/postgres/index.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import { testHostJobs } from './host-jobs.ts';
import { postgresForThisFile } from './services/postgres.ts';

const { skip, server } = postgresForThisFile();
// After the server's own hook: the server is a child process until then.
assertNoLeaksAtEnd();

describe('host-scoped executors on two hosts sharing one PostgreSQL schema', { skip }, () => {
  testHostJobs(
    'postgres',
    async () => {
      const url = server().url();
      return { url, store: await createPostgresStore(url, { logger: silentLogger() }) };
    },
    () => tempDir('autoctrl-host-jobs-'),
    16,
  );
});
