import type { Command } from 'commander';
import { requireCampaign } from '../app/campaigns.ts';
import { parseRunRange } from '../model/run-numbers.ts';
import { overview } from '../views/overview.ts';
import { countArg, type GlobalOptions, paint, printJson, table, withRuntime } from './common.ts';

const LETTER = { new: 'N', waiting: 'W', processing: 'P', done: 'D', failed: 'F' } as const;

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description(
      'the runs × tasks grid, newest runs first (N new, W waiting, P processing, D done, F failed)',
    )
    .option('--campaign <name>', 'campaign', 'prompt')
    .option('--runs <A-B>', 'only runs in this range')
    .option('--limit <n>', 'at most this many runs', countArg('--limit'), 30)
    .option('--json', 'print {"rows": [...]} as JSON')
    .action(
      async (
        opts: { campaign: string; runs?: string; limit: number; json?: boolean },
        cmd: Command,
      ) => {
        const range = opts.runs ? parseRunRange(opts.runs) : undefined;
        await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
          await requireCampaign(rt.store, opts.campaign);
          const { rows } = await overview(rt.store, rt.deployment, {
            campaign: opts.campaign,
            limit: opts.limit,
            ...(range ?? {}),
          });
          if (opts.json) {
            return printJson({
              rows: rows.map((r) => ({
                campaign: r.campaign,
                run: r.run,
                fill: r.fill,
                lumi: r.lumi,
                end: r.end,
                status: r.status,
                tasks: r.tasks,
              })),
            });
          }
          const tasks = rt.deployment.tasks.map((t) => t.name);
          process.stdout.write(
            `${table(
              ['run', 'fill', 'lumi', 'end', 'status', ...tasks],
              rows.map((r) => [
                String(r.run),
                String(r.fill ?? ''),
                r.lumi === null ? '' : r.lumi.toFixed(1),
                r.end?.slice(0, 19).replace('T', ' ') ?? 'running',
                paint(r.status, r.status),
                ...tasks.map((t) => {
                  const s = r.tasks[t];
                  return s === undefined ? '.' : paint(s, LETTER[s]);
                }),
              ]),
            )}\n`,
          );
        });
      },
    );
}
