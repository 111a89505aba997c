import type { Command } from 'commander';
import { requireCampaign } from '../app/campaigns.ts';
import { releaseHeldJobs } from '../app/release.ts';
import { NotFoundError } from '../errors.ts';
import { parseRunNumber } from '../model/run-numbers.ts';
import { type GlobalOptions, printJson, withRuntime } from './common.ts';

export function registerRelease(program: Command): void {
  program
    .command('release <task> <run>')
    .description(
      'release the held jobs of the instance of TASK covering RUN (HTCondor condor_release)',
    )
    .option('--campaign <name>', 'campaign', 'prompt')
    .option('--reason <text>', 'why (kept in the history)')
    .option('--json', 'print JSON')
    .action(
      async (
        task: string,
        runText: string,
        opts: { campaign: string; reason?: string; json?: boolean },
        cmd: Command,
      ) => {
        const run = parseRunNumber(runText, 'RUN');
        await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
          await requireCampaign(rt.store, opts.campaign);
          const [inst] = await rt.store.instancesForRuns(opts.campaign, task, [run]);
          if (inst === undefined) throw new NotFoundError(`instance of ${task} for run`, run);
          const { released } = await releaseHeldJobs(rt.engine.ctx, inst.id, {
            by: `cli:${process.env.USER ?? 'unknown'}`,
            reason: opts.reason,
          });
          if (opts.json) return printJson({ instance: inst.id, released });
          process.stdout.write(
            `${released.length} held job(s) of ${task} run ${run} released: ${released.join(', ')}\n`,
          );
        });
      },
    );
}
