import type { Command } from 'commander';
import { createCampaign, describeSelection } from '../app/campaigns.ts';
import { overrideText } from '../app/overrides.ts';
import { InvalidInputError } from '../errors.ts';
import { allCampaignProgress } from '../views/campaign-progress.ts';
import { registerCampaignControl } from './campaign-control.ts';
import { campaignTable } from './campaign-render.ts';
import { watchCampaign } from './campaign-watch.ts';
import { durationArg, type GlobalOptions, printJson, withRuntime } from './common.ts';

interface CreateOptions {
  runs?: string;
  fill?: string;
  since?: string;
  type?: string;
  tasks?: string;
  set?: Record<string, string>;
  share?: string;
  json?: boolean;
}

/** `--set task.key=value`, repeatable, kept in the order given (later overrides apply over earlier ones). */
function collectSetting(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0 || !value.slice(0, eq).includes('.'))
    throw new InvalidInputError(
      `--set ${value}`,
      'write TASK.KEY=VALUE, e.g. --set reco.env.GT=130X_dataRun3_v4',
    );
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export function registerCampaign(program: Command): void {
  const campaign = program
    .command('campaign')
    .description('reprocessing campaigns: create, list, watch, extend, cancel, delete');
  registerCampaignControl(campaign);

  campaign
    .command('create <name>')
    .description(
      'reprocess a selection of runs beside prompt: its own instances, overrides and share of job slots',
    )
    .option('--runs <A-B>', 'runs in this range')
    .option('--fill <fill>', 'runs of this LHC fill')
    .option('--since <iso>', 'runs started at or after this date-time')
    .option('--type <type>', 'only runs of this type (with one of the above)')
    .option(
      '--tasks <a,b>',
      'tasks to run (default all); upstream tasks not listed are taken from prompt',
    )
    .option(
      '--set <task.key=value>',
      "override a task's setting in this campaign, repeatable (env.NAME, command.N, retries, ...)",
      collectSetting,
    )
    .option('--share <x>', 'fraction (0-1] of the job slots it may hold; prompt keeps the rest')
    .option('--json', 'print the campaign as JSON')
    .action(async (name: string, opts: CreateOptions, cmd: Command) => {
      await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
        const created = await createCampaign(
          rt,
          {
            name,
            ...(opts.runs !== undefined ? { runs: opts.runs } : {}),
            ...(opts.fill !== undefined ? { fill: opts.fill } : {}),
            ...(opts.since !== undefined ? { since: opts.since } : {}),
            ...(opts.type !== undefined ? { type: opts.type } : {}),
            ...(opts.tasks !== undefined
              ? { tasks: opts.tasks.split(',').map((t) => t.trim()) }
              : {}),
            ...(opts.set !== undefined ? { set: opts.set } : {}),
            ...(opts.share !== undefined ? { share: opts.share } : {}),
          },
          `cli:${process.env.USER ?? 'unknown'}`,
        );
        if (opts.json) return printJson(created);
        const out = [
          `campaign ${created.name} created: ${created.runs.length} runs (${describeSelection(created.selection)}), ` +
            `tasks ${created.tasks.join(', ')}, share ${created.share}`,
          ...created.overrides.map((o) => `  override ${overrideText(o)}`),
          `follow it: autoctrl campaign watch ${created.name}`,
        ];
        process.stdout.write(`${out.join('\n')}\n`);
      });
    });

  campaign
    .command('list')
    .description('every campaign with its progress (prompt first)')
    .option('--json', 'print {"campaigns": [...]} as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
        const list = await allCampaignProgress(rt);
        if (opts.json) return printJson({ campaigns: list });
        process.stdout.write(`${campaignTable(list)}\n`);
      });
    });

  campaign
    .command('watch <name>')
    .description(
      'a live progress bar (done, running, failed, ETA) until the campaign completes or Ctrl-C',
    )
    .option('--once', 'print the progress once and exit (for scripts)')
    .option(
      '--interval <duration>',
      'time between updates (500ms, 2s...)',
      durationArg('--interval'),
      1000,
    )
    .action(async (name: string, opts: { once?: boolean; interval: number }, cmd: Command) => {
      await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
        const stop = new AbortController();
        const onInt = () => stop.abort();
        process.once('SIGINT', onInt);
        try {
          const end = await watchCampaign(rt, name, {
            once: opts.once === true,
            intervalMs: opts.interval,
            out: process.stdout,
            signal: stop.signal,
          });
          if (end === 'interrupted') process.exitCode = 130;
          else if (end === 'failed') {
            process.stderr.write(
              `autoctrl: campaign ${name} completed with failed instances: \`autoctrl status --campaign ${name}\` lists them\n`,
            );
            process.exitCode = 1;
          }
        } finally {
          process.off('SIGINT', onInt);
        }
      });
    });
}
