import type { Command } from 'commander';
import { requireCampaign } from '../app/campaigns.ts';
import { parseRunNumber } from '../model/run-numbers.ts';
import { commitLabel } from '../views/attempt-diff.ts';
import { traceRun } from '../views/trace.ts';
import { type GlobalOptions, paint, printJson, table, withRuntime } from './common.ts';

/** Outputs listed under the table before `--json` is the way to see them all: one screen. */
const OUTPUTS_SHOWN = 20;

export function registerTrace(program: Command): void {
  program
    .command('trace <run>')
    .description(
      'which configuration and code produced each output of a run: per task its attempt, configuration hash, commit, image and changed files',
    )
    .option('--campaign <name>', 'campaign', 'prompt')
    .option('--json', 'print JSON')
    .action(async (runText: string, opts: { campaign: string; json?: boolean }, cmd: Command) => {
      const run = parseRunNumber(runText, 'RUN');
      await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
        await requireCampaign(rt.store, opts.campaign);
        const order = rt.deployment.tasks.map((t) => t.name);
        const trace = await traceRun(rt.store, run, opts.campaign, order);
        if (opts.json) return printJson(trace);
        const out = process.stdout;
        if (trace.tasks.length === 0) {
          out.write(`run ${run}: no instance in campaign ${opts.campaign}\n`);
          return;
        }
        out.write(
          `run ${run} (campaign ${opts.campaign})\n${table(
            [
              'task',
              'instance',
              'attempt',
              'status',
              'config',
              'commit',
              'image',
              'changed',
              'outputs',
            ],
            trace.tasks.map((t) => [
              t.task,
              String(t.instanceId),
              String(t.attempt),
              paint(t.status, t.status),
              t.configHash ?? '',
              t.git.map(commitLabel).join(' '),
              t.image === null ? '' : t.image.replace(/^sha256:/, '').slice(0, 12),
              t.changedFiles.join(' '),
              String(t.outputs.length),
            ]),
          )}\n`,
        );
        const outputs = trace.tasks.flatMap((t) => t.outputs.map((o) => ({ task: t.task, ...o })));
        if (outputs.length === 0) return;
        out.write(
          `\n${table(
            ['output', 'task', 'attempt', 'config'],
            outputs
              .slice(0, OUTPUTS_SHOWN)
              .map((o) => [o.path, o.task, String(o.attempt), o.configHash ?? '']),
          )}\n`,
        );
        if (outputs.length > OUTPUTS_SHOWN)
          out.write(
            `… and ${outputs.length - OUTPUTS_SHOWN} more outputs (--json lists them all)\n`,
          );
      });
    });
}
