import type { Command } from 'commander';
import { Controller } from '../engine/controller.ts';
import type { PassResult } from '../engine/engine.ts';
import { openNotify } from '../notify/open.ts';
import { openSources } from '../sources/open.ts';
import { HeartbeatWriter } from '../watchdog/heartbeat.ts';
import { cliLogger, type GlobalOptions, printJson, withRuntime } from './common.ts';

/** How long `autoctrl pass` waits for webhooks before leaving the rest to the next pass. */
const PASS_NOTIFY_WAIT_MS = 10_000;

export function registerPass(program: Command): void {
  program
    .command('pass')
    .description('poll the sources once, run one pass and exit (for cron or Jenkins as the clock)')
    .option('--json', 'print the pass summary as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
        const sources = await openSources(rt.deployment, cliLogger());
        const controller = new Controller(rt, sources);
        const notify = await openNotify(rt.deployment, rt.store, {
          logger: cliLogger(),
          owner: rt.engine.ctx.controllerId,
        });
        // Read before the pass: a first run's cursor must come before the pass's events.
        await notify?.tick();
        let r: PassResult;
        try {
          // Sources are polled by the engine's leader only: this takes the lease if it is free.
          for (const [name, source] of sources) await controller.pollSource(name, source);
          r = await rt.engine.pass();
          // Cron as the clock is watched like a daemon: its passes are the heartbeat.
          if (!r.skipped) {
            const beat = new HeartbeatWriter(rt.store, cliLogger(), 0);
            beat.beat(rt.engine.ctx.controllerId, rt.engine.ctx.fence, r.durationMs);
            await beat.settle();
          }
          await controller.stop();
        } finally {
          // What accumulated goes out now, folded summaries included; what cannot be
          // delivered in time is kept in the store for the next pass or the daemon.
          await notify?.stop(PASS_NOTIFY_WAIT_MS);
        }
        if (r.skipped) {
          process.stderr.write(
            'autoctrl: another controller (a running `autoctrl serve`) holds the engine lease; it does the passes\n',
          );
          process.exitCode = 2;
          return;
        }
        const summary = {
          durationMs: r.durationMs,
          created: r.created,
          started: r.started,
          settled: r.settled.length,
          submitted: r.submitted,
        };
        if (opts.json) printJson(summary);
        else
          process.stdout.write(
            `pass: ${summary.created} new instances, ${summary.started} started, ${summary.settled} settled, ${summary.submitted} jobs submitted (${summary.durationMs} ms)\n`,
          );
      });
    });
}
