import type { Command } from 'commander';
import { startDaemon } from '../daemon.ts';
import { cliLogger, deploymentFrom, type GlobalOptions, portArg } from './common.ts';
import { openingStore } from './failures.ts';

/** Stops the daemon cleanly on SIGINT/SIGTERM; jobs keep running and are adopted at the next start. */
export function stopOnSignals(stop: () => Promise<void>): void {
  const handler = () => {
    void stop().then(() => process.exit(0));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'run the daemon: passes on a timer and on every trigger, sources, the API and the page',
    )
    .option('--host <host>', 'listen address (default: server.host)')
    .option('--port <port>', 'listen port (default: server.port; 0 picks a free one)', portArg)
    .action(async (opts: { host?: string; port?: number }, cmd: Command) => {
      const deployment = await deploymentFrom(cmd.optsWithGlobals<GlobalOptions>());
      const logger = cliLogger();
      const daemon = await openingStore(
        deployment.store,
        startDaemon(deployment, {
          logger,
          listen: {
            host: opts.host ?? deployment.server.host,
            port: opts.port ?? deployment.server.port,
          },
        }),
      );
      process.stdout.write(`autoctrl serving ${deployment.file} at ${daemon.url}\n`);
      stopOnSignals(daemon.stop);
    });
}
