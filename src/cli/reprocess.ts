import type { Command } from 'commander';
import { StaleStateError } from '../errors.ts';
import { canTransitionInstance } from '../model/transitions.ts';
import { type GlobalOptions, parseRunRange, printJson, withRuntime } from './common.ts';
import { pokeDaemon } from './poke.ts';

export function registerReprocess(program: Command): void {
  program
    .command('reprocess <task>')
    .description('send the instances of TASK covering the runs back to new, as a new attempt')
    .requiredOption('--runs <A-B>', 'run range')
    .option('--campaign <name>', 'campaign', 'prompt')
    .option('--reason <text>', 'why (kept in the history)')
    .option('--json', 'print JSON')
    .action(
      async (
        task: string,
        opts: { runs: string; campaign: string; reason?: string; json?: boolean },
        cmd: Command,
      ) => {
        const range = parseRunRange(opts.runs);
        await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
          const found = await rt.store.findInstances({
            campaign: opts.campaign,
            task,
            runFrom: range.from,
            runTo: range.to,
          });
          const by = `cli:${process.env.USER ?? 'unknown'}`;
          const sent: number[] = [];
          const skipped: Array<{ id: number; status: string }> = [];
          for (const inst of found) {
            if (!canTransitionInstance(inst.status, 'new')) {
              skipped.push({ id: inst.id, status: inst.status });
              continue;
            }
            try {
              await rt.store.transitionInstance(inst.id, {
                from: inst.status,
                to: 'new',
                reason: opts.reason ?? 'reprocess requested',
                by,
                at: Date.now(),
              });
              sent.push(inst.id);
            } catch (err) {
              if (!(err instanceof StaleStateError)) throw err;
              skipped.push({ id: inst.id, status: err.actual ?? 'missing' });
            }
          }
          await pokeDaemon(rt.deployment);
          if (opts.json) return printJson({ reprocessed: sent, skipped });
          process.stdout.write(
            `${sent.length} instance(s) of ${task} sent back to new` +
              (skipped.length
                ? `; ${skipped.length} skipped (still processing or new: wait for them to settle)`
                : '') +
              '\n',
          );
        });
      },
    );
}
