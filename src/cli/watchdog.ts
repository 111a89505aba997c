import type { Command } from 'commander';
import { openNotify } from '../notify/open.ts';
import { Watchdog } from '../watchdog/watchdog.ts';
import { cliLogger, type GlobalOptions, printJson, withRuntime } from './common.ts';

/** How long a cron run waits for webhooks before leaving the rest to the next run. */
const NOTIFY_WAIT_MS = 10_000;

export function registerWatchdog(program: Command): void {
  program
    .command('watchdog')
    .description(
      'check once that the controller passes, and for stuck jobs, stuck runs and full output areas; alert through the notifiers (for cron on another host)',
    )
    .option('--json', 'print what this round found as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
        const logger = cliLogger();
        const owner = rt.engine.ctx.controllerId;
        const notify = await openNotify(rt.deployment, rt.store, { logger, owner });
        // Read before the round: a first run's cursor must come before the round's alerts.
        await notify?.tick();
        const watchdog = new Watchdog({
          store: rt.store,
          deployment: rt.deployment,
          logger,
          owner,
        });
        let round: Awaited<ReturnType<Watchdog['round']>>;
        try {
          round = await watchdog.round(true);
          await watchdog.stop();
        } finally {
          // Undelivered alerts stay in the store for the next run or a daemon.
          await notify?.stop(NOTIFY_WAIT_MS);
        }
        if (opts.json) printJson(round);
        else {
          // Quiet when all is well: cron mails whatever a job prints.
          if (round.skipped)
            process.stdout.write('watchdog: another process (a running autoctrl serve) watches\n');
          if (round.controller !== null)
            process.stdout.write(`watchdog: controller ${round.controller}\n`);
          for (const [n, what] of [
            [round.stuckJobs, 'stuck jobs'],
            [round.stuckRuns, 'stuck runs'],
            [round.disk, 'output areas filling up'],
          ] as const)
            if (n > 0) process.stdout.write(`watchdog: ${n} ${what}\n`);
        }
        for (const e of round.errors) process.stderr.write(`autoctrl: watchdog: ${e}\n`);
        if (round.errors.length > 0) process.exitCode = 1;
      });
    });
}
