import type { Command } from 'commander';
import { checkDuration } from '../config/duration.ts';
import { InvalidInputError } from '../errors.ts';
import { influxOptions } from '../export/influx/options.ts';
import { FeedMirror } from '../export/mirror.ts';
import { openExporters } from '../export/open.ts';
import { cliLogger, type GlobalOptions, printJson, withRuntime } from './common.ts';

/** `--since`: a date (`2026-05-01`, ISO time) or a duration back from now (`7d`). */
export function parseSince(text: string, now = Date.now()): number {
  const duration = checkDuration(text, 'zero');
  if (duration.ok) return now - duration.ms;
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at))
    throw new InvalidInputError(
      '--since',
      `"${text}" is neither a date (2026-05-01, 2026-05-01T12:00Z) nor a duration back from now (7d, 12h)`,
    );
  return at;
}

export function registerExport(program: Command): void {
  const exp = program.command('export').description('copy what autoctrl recorded elsewhere');
  exp
    .command('influx')
    .description(
      'replay the history (runs, events, job-field samples) into InfluxDB, e.g. a fresh database; the daemon mirrors what comes next by itself',
    )
    .option(
      '--since <when>',
      'only what happened since a date (2026-05-01) or for a duration back (30d); default: everything',
    )
    .option(
      '--url <url>',
      "InfluxDB to write to (default: the deployment file's export.influx.url)",
    )
    .option('--database <name>', 'database (default: export.influx.database; created if missing)')
    .option('--json', 'print JSON')
    .action(
      async (
        opts: { since?: string; url?: string; database?: string; json?: boolean },
        cmd: Command,
      ) => {
        const since = opts.since === undefined ? undefined : parseSince(opts.since);
        await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
          const configured = rt.deployment.exports.influx ?? {};
          const url = opts.url ?? configured.url;
          const database = opts.database ?? configured.database;
          if (url === undefined || database === undefined)
            throw new InvalidInputError(
              '--url',
              'no InfluxDB given: pass --url and --database, or configure export.influx in the deployment file',
            );
          const options = influxOptions.safeParse({ ...configured, url, database });
          if (!options.success) {
            const issue = options.error.issues[0];
            throw new InvalidInputError(
              `--${String(issue?.path[0] ?? 'url')}`,
              issue?.message ?? 'not usable',
            );
          }
          const [exporter] = await openExporters({ influx: options.data }, cliLogger());
          if (exporter === undefined) return;
          const mirror = new FeedMirror({
            store: rt.store,
            deployment: rt.deployment,
            exporter,
            logger: cliLogger(),
            controllerId: 'cli',
            cursorKey: null,
            ...(since === undefined ? {} : { since }),
          });
          const started = Date.now();
          const written = await mirror.drain();
          await exporter.close();
          const result = { written, database, url, seconds: (Date.now() - started) / 1000 };
          if (opts.json) return printJson(result);
          process.stdout.write(
            `wrote ${written} items to ${database} at ${url} in ${result.seconds.toFixed(1)} s\n`,
          );
        });
      },
    );
}
