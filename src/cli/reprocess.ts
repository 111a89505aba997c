import type { Command } from 'commander';
import { reprocessRange } from '../app/actions.ts';
import { requireCampaign } from './campaign.ts';
import { type GlobalOptions, parseRunRange, printJson, withRuntime } from './common.ts';

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
          await requireCampaign(rt.store, opts.campaign);
          const { reprocessed: sent, skipped } = await reprocessRange(
            rt.store,
            { campaign: opts.campaign, task, from: range.from, to: range.to },
            { by: `cli:${process.env.USER ?? 'unknown'}`, reason: opts.reason },
          );
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
