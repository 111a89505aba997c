import type { Command } from 'commander';
import { reprocessRange } from '../app/actions.ts';
import { requireCampaign } from '../app/campaigns.ts';
import { parseRunRange } from '../model/run-numbers.ts';
import { type GlobalOptions, printJson, withRuntime } from './common.ts';

export function registerReprocess(program: Command): void {
  program
    .command('reprocess <task>')
    .description('send the instances of TASK covering the runs back to new, as a new attempt')
    .requiredOption('--runs <A-B>', 'run range')
    .option('--campaign <name>', 'campaign', 'prompt')
    .option(
      '--downstream',
      'also send back every instance depending on them in the campaign (transitively), in one transaction',
    )
    .option('--reason <text>', 'why (kept in the history)')
    .option('--json', 'print JSON')
    .action(
      async (
        task: string,
        opts: {
          runs: string;
          campaign: string;
          reason?: string;
          json?: boolean;
          downstream?: boolean;
        },
        cmd: Command,
      ) => {
        const range = parseRunRange(opts.runs);
        await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
          await requireCampaign(rt.store, opts.campaign);
          const { reprocessed: sent, skipped } = await reprocessRange(
            rt.store,
            { campaign: opts.campaign, task, from: range.from, to: range.to },
            { by: `cli:${process.env.USER ?? 'unknown'}`, reason: opts.reason },
            opts.downstream ? { deployment: rt.deployment } : undefined,
          );
          if (opts.json) return printJson({ reprocessed: sent, skipped });
          const busy = skipped.filter((s) => s.status === 'processing').length;
          process.stdout.write(
            `${sent.length} instance(s) ${opts.downstream ? `of ${task} and downstream ` : `of ${task} `}sent back to new` +
              (skipped.length
                ? `; ${skipped.length} skipped (${busy} still processing: reprocess them once they settle; the others are new already)`
                : '') +
              '\n',
          );
        });
      },
    );
}
