import type { Command } from 'commander';
import { createLogger } from '../logger.ts';
import { openStore } from '../store/open.ts';
import { redactStoreUrl } from '../store/url.ts';
import { deploymentFrom, type GlobalOptions, printJson } from './common.ts';

/**
 * `autoctrl migrate`: brings the store's schema to this version and exits,
 * for upgrades done on purpose before the controllers restart (`serve` does
 * the same when it starts, under the store's migration lock).
 */
export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description("apply the store's pending schema migrations and exit")
    .option('--json', 'print the versions as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const deployment = await deploymentFrom(cmd.optsWithGlobals<GlobalOptions>());
      // Each migration applied is logged as it happens.
      const logger = createLogger({ level: 'info', fd: 2 });
      const store = await openStore(deployment.store, logger);
      try {
        const { to } = await store.migrate();
        if (opts.json) printJson({ store: redactStoreUrl(deployment.store), version: to });
        else
          process.stdout.write(
            `store ${redactStoreUrl(deployment.store)}: schema version ${to}, up to date\n`,
          );
      } finally {
        await store.close();
      }
    });
}
