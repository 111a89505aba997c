import type { Command } from 'commander';
import { requireCampaign } from '../app/campaigns.ts';
import { parseRunRange } from '../model/run-numbers.ts';
import { outputsWithMeta } from '../views/output-filter.ts';
import {
  collectPair,
  countArg,
  type GlobalOptions,
  iso,
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
    .option('--era <era>', "only outputs of this era (the output's or its runs' `era` metadata)")
    .option(
      '--meta <key=value>',
      "only outputs with this metadata (the output's, else its runs'), repeatable",
      collectPair,
    )
    .option('--limit <n>', 'at most this many', countArg('--limit'), 1000)
    .option('--json', 'print JSON')
    .action(
      async (
        opts: {
          task?: string;
          runs?: string;
          campaign: string;
          era?: string;
          meta?: Record<string, string>;
          limit: number;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const range = opts.runs ? parseRunRange(opts.runs) : undefined;
        const meta = { ...opts.meta, ...(opts.era === undefined ? {} : { era: opts.era }) };
        const filtered = Object.keys(meta).length > 0;
        await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
          await requireCampaign(rt.store, opts.campaign);
          // A metadata filter is applied here, so the limit counts what it kept.
          const listed = await rt.store.listOutputs({
            campaign: opts.campaign,
            ...(filtered ? {} : { limit: opts.limit }),
            ...(opts.task ? { task: opts.task } : {}),
            ...(range ? { runFrom: range.from, runTo: range.to } : {}),
          });
          const outputs = filtered
            ? (await outputsWithMeta(rt.store, listed, meta)).slice(0, opts.limit)
            : listed;
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
