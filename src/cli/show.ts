import type { Command } from 'commander';
import { NotFoundError } from '../errors.ts';
import { requireCampaign } from './campaign.ts';
import {
  type GlobalOptions,
  iso,
  paint,
  parseRunNumber,
  printJson,
  table,
  withRuntime,
} from './common.ts';

export function registerShow(program: Command): void {
  program
    .command('show <task> <run>')
    .description(
      'one instance: status and reason, jobs, history, configuration and its hash, outputs, logs',
    )
    .option('--campaign <name>', 'campaign', 'prompt')
    .option('--json', 'print JSON')
    .action(
      async (
        task: string,
        runText: string,
        opts: { campaign: string; json?: boolean },
        cmd: Command,
      ) => {
        const run = parseRunNumber(runText, 'RUN');
        await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
          await requireCampaign(rt.store, opts.campaign);
          const [instance] = await rt.store.instancesForRuns(opts.campaign, task, [run]);
          if (instance === undefined)
            throw new NotFoundError(`instance of ${task} in ${opts.campaign} for run`, run);
          const jobs = await rt.store.jobsForInstance(instance.id);
          const history = await rt.store.listEvents({ instanceId: instance.id });
          const outputs = await rt.store.outputsForInstances([instance.id]);
          const config =
            instance.configHash === null ? null : await rt.store.getConfig(instance.configHash);
          if (opts.json) return printJson({ instance, jobs, history, config, outputs });
          const out = process.stdout;
          out.write(
            `${instance.task} ${instance.groupKey} (campaign ${instance.campaign}, instance ${instance.id}, attempt ${instance.attempt})\n` +
              `status: ${paint(instance.status, instance.status)}${instance.reason ? ` — ${instance.reason}` : ''}\n` +
              `runs: ${instance.runs.join(', ')}\n` +
              `configuration: ${instance.configHash ?? '(not started)'}\n`,
          );
          if (config !== null) out.write(`${JSON.stringify(config, null, 2)}\n`);
          out.write(
            `\njobs:\n${table(
              ['id', 'job', 'attempt', 'status', 'exit', 'started', 'ended', 'log', 'fields'],
              jobs.map((j) => [
                String(j.id),
                String(j.index),
                String(j.attempt),
                // A submitted job waiting in its batch system says where and why: `idle (held: reason)`.
                j.queueState === null
                  ? paint(j.status, j.status)
                  : `${paint(j.status, j.status)} (${j.queueState}${j.reason ? `: ${j.reason}` : ''})`,
                j.exitCode === null ? '' : String(j.exitCode),
                iso(j.startedAt),
                iso(j.endedAt),
                j.logPath ?? '',
                Object.entries(j.fields)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(' '),
              ]),
            )}\n`,
          );
          out.write(
            `\nhistory:\n${table(
              ['at', 'what', 'from', 'to', 'by', 'reason'],
              history.map((e) => [
                iso(e.at),
                `${e.entity} ${e.entityId}`,
                e.from ?? '',
                e.to ?? '',
                e.by,
                e.reason ?? '',
              ]),
            )}\n`,
          );
          if (outputs.length > 0) {
            out.write(
              `\noutputs:\n${table(
                ['path', 'kind'],
                outputs.map((o) => [o.path, o.kind ?? '']),
              )}\n`,
            );
          }
        });
      },
    );
}
