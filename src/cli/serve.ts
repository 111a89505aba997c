import type { Command } from 'commander';
import type { Deployment } from '../config/types.ts';
import { type Daemon, startDaemon } from '../daemon.ts';
import type { Logger } from '../logger.ts';
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

/**
 * What `autoctrl serve` starts for a loaded deployment, `host` and `port`
 * overriding its server section; a store that cannot be opened is told as such.
 */
export function serveDeployment(
  deployment: Deployment,
  opts: { logger: Logger; host?: string; port?: number },
): Promise<Daemon> {
  return openingStore(
    deployment.store,
    startDaemon(deployment, {
      logger: opts.logger,
      listen: {
        host: opts.host ?? deployment.server.host,
        port: opts.port ?? deployment.server.port,
      },
    }),
  );
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
      const daemon = await serveDeployment(deployment, { logger: cliLogger(), ...opts });
      process.stdout.write(`autoctrl serving ${deployment.file} at ${daemon.url}\n`);
      stopOnSignals(daemon.stop);
    });
}
