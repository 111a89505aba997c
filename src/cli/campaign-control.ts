import type { Command } from 'commander';
import { cancelCampaign, deleteCampaign, extendCampaign } from '../app/campaign-control.ts';
import { type GlobalOptions, printJson, withRuntime } from './common.ts';

const by = () => `cli:${process.env.USER ?? 'unknown'}`;

/** `campaign cancel|extend|delete`: what is done to a campaign once created. */
export function registerCampaignControl(campaign: Command): void {
  campaign
    .command('cancel <name>')
    .description(
      'stop a campaign: nothing more starts, its queued and running jobs are cancelled through their executor',
    )
    .option('--reason <text>', 'why (kept in the history)')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { reason?: string; json?: boolean }, cmd: Command) => {
      await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
        const { campaign, failedJobs } = await cancelCampaign(rt, name, {
          by: by(),
          reason: opts.reason,
        });
        if (opts.json)
          return printJson({ campaign: campaign.name, state: campaign.state, failedJobs });
        process.stdout.write(
          `campaign ${name} cancelled: ${failedJobs.length} job(s) not handed to an executor failed at once; ` +
            'the controller cancels the queued and running ones at its next pass (`autoctrl pass` without a daemon)\n',
        );
      });
    });

  campaign
    .command('extend <name>')
    .description('add the ended runs of a range to an active campaign')
    .requiredOption('--runs <A-B>', 'run range')
    .option('--reason <text>', 'why (kept in the history)')
    .option('--json', 'print JSON')
    .action(
      async (
        name: string,
        opts: { runs: string; reason?: string; json?: boolean },
        cmd: Command,
      ) => {
        await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
          const { campaign, added } = await extendCampaign(rt, name, opts.runs, {
            by: by(),
            reason: opts.reason,
          });
          if (opts.json)
            return printJson({ campaign: campaign.name, added, runs: campaign.runs.length });
          process.stdout.write(
            `campaign ${name} extended by ${added.length} run(s), ${campaign.runs.length} in all\n`,
          );
        });
      },
    );

  campaign
    .command('delete <name>')
    .description(
      'remove a settled campaign from the lists; its instances, events and outputs stay in the history',
    )
    .option('--reason <text>', 'why (kept in the history)')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { reason?: string; json?: boolean }, cmd: Command) => {
      await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
        const c = await deleteCampaign(rt, name, { by: by(), reason: opts.reason });
        if (opts.json) return printJson({ campaign: c.name, state: c.state });
        process.stdout.write(
          `campaign ${name} deleted; its history stays (\`autoctrl outputs --campaign ${name}\`)\n`,
        );
      });
    });
}
