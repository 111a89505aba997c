import type { Command } from 'commander';
import { requireCampaign } from '../app/campaigns.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { parseRunNumber } from '../model/run-numbers.ts';
import { type AttemptDiff, attemptDiff } from '../views/attempt-diff.ts';
import { type GlobalOptions, iso, paint, printJson, table, withRuntime } from './common.ts';

export function registerShow(program: Command): void {
  program
    .command('show <task> <run>')
    .description(
      'one instance: status and reason, jobs, history, configuration and its hash, outputs, logs',
    )
    .option('--campaign <name>', 'campaign', 'prompt')
    .option(
      '--diff <attempts...>',
      'what changed between two attempts (A B): settings, code files, commit, image, autoctrl version',
    )
    .option('--json', 'print JSON')
    .action(
      async (
        task: string,
        runText: string,
        opts: { campaign: string; json?: boolean; diff?: string[] },
        cmd: Command,
      ) => {
        const run = parseRunNumber(runText, 'RUN');
        const diff = opts.diff === undefined ? undefined : attemptPair(opts.diff);
        await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
          await requireCampaign(rt.store, opts.campaign);
          const [instance] = await rt.store.instancesForRuns(opts.campaign, task, [run]);
          if (instance === undefined)
            throw new NotFoundError(`instance of ${task} in ${opts.campaign} for run`, run);
          if (diff !== undefined) {
            const found = await attemptDiff(rt.store, instance, diff[0], diff[1]);
            return opts.json ? printJson(found) : printDiff(found);
          }
          const jobs = await rt.store.jobsForInstance(instance.id);
          const history = await rt.store.listEvents({ instanceId: instance.id });
          const outputs = await rt.store.outputsForInstances([instance.id]);
          const config =
            instance.configHash === null ? null : await rt.store.getConfig(instance.configHash);
          const attempts = await rt.store.attemptsForInstances([instance.id]);
          if (opts.json) return printJson({ instance, jobs, history, config, outputs, attempts });
          const out = process.stdout;
          out.write(
            `${instance.task} ${instance.groupKey} (campaign ${instance.campaign}, instance ${instance.id}, attempt ${instance.attempt})\n` +
              `status: ${paint(instance.status, instance.status)}${instance.reason ? ` — ${instance.reason}` : ''}\n` +
              `runs: ${instance.runs.join(', ')}\n` +
              `configuration: ${instance.configHash ?? '(not started)'}\n`,
          );
          if (config !== null) out.write(`${JSON.stringify(config, null, 2)}\n`);
          if (attempts.length > 1) {
            out.write(
              `\nattempts (compare two with --diff A B):\n${table(
                ['attempt', 'started', 'configuration'],
                attempts.map((a) => [String(a.attempt), iso(a.startedAt), a.configHash]),
              )}\n`,
            );
          }
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

/** `--diff A B`: two attempt numbers. */
function attemptPair(words: string[]): [number, number] {
  const nums = words.map((w) => (/^[1-9]\d{0,6}$/.test(w) ? Number(w) : Number.NaN));
  const [a, b] = nums;
  if (nums.length !== 2 || a === undefined || b === undefined || nums.some(Number.isNaN)) {
    throw new InvalidInputError(
      '--diff',
      `"${words.join(' ')}" is not two attempt numbers: write e.g. --diff 1 2`,
    );
  }
  return [a, b];
}

function printDiff(d: AttemptDiff): void {
  const out = process.stdout;
  out.write(
    `attempt ${d.a.attempt} (${iso(d.a.startedAt)}, configuration ${d.a.configHash}) → attempt ${d.b.attempt} (${iso(d.b.startedAt)}, configuration ${d.b.configHash})\n`,
  );
  if (d.changes.length === 0) {
    out.write('no change: same configuration and code\n');
    return;
  }
  out.write(
    `${table(
      ['what', 'key', 'from', 'to'],
      d.changes.map((c) => [c.what, c.key, c.from ?? '(none)', c.to ?? '(none)']),
    )}\n`,
  );
}
