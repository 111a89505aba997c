import type { Command } from 'commander';
import { requireCampaign } from './campaign.ts';
import {
  countArg,
  type GlobalOptions,
  iso,
  parseRunRange,
  printJson,
  table,
  withRuntime,
} from './common.ts';

export function registerOutputs(program: Command): void {
  program
    .command('outputs')
    .description('every registered output (calibration products) by task and run')
    .option('--task <task>', 'only this task')
    .option('--runs <A-B>', 'only outputs covering these runs')
    .option('--campaign <name>', 'campaign', 'prompt')
    .option('--limit <n>', 'at most this many', countArg('--limit'), 1000)
    .option('--json', 'print JSON')
    .action(
      async (
        opts: { task?: string; runs?: string; campaign: string; limit: number; json?: boolean },
        cmd: Command,
      ) => {
        const range = opts.runs ? parseRunRange(opts.runs) : undefined;
        await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
          await requireCampaign(rt.store, opts.campaign);
          const outputs = await rt.store.listOutputs({
            campaign: opts.campaign,
            limit: opts.limit,
            ...(opts.task ? { task: opts.task } : {}),
            ...(range ? { runFrom: range.from, runTo: range.to } : {}),
          });
          if (opts.json) return printJson({ outputs });
          process.stdout.write(
            `${table(
              ['task', 'runs', 'kind', 'path', 'job', 'at'],
              outputs.map((o) => [
                o.task,
                o.runs.length > 1 ? `${o.runs[0]}-${o.runs.at(-1)}` : String(o.runs[0] ?? ''),
                o.kind ?? '',
                o.path,
                String(o.jobId),
                iso(o.createdAt),
              ]),
            )}\n`,
          );
        });
      },
    );
}
