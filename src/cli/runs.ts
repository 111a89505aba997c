import type { Command } from 'commander';
import { InvalidInputError } from '../errors.ts';
import { parseRunNumber, parseRunRange } from '../model/run-numbers.ts';
import type { Run, RunInput } from '../model/types.ts';
import {
  collectPair,
  countArg,
  type GlobalOptions,
  iso,
  printJson,
  table,
  withRuntime,
} from './common.ts';

interface AddOptions {
  fill?: string;
  lumi?: string;
  start?: string;
  end?: string;
  type?: string;
  meta?: Record<string, string>;
}

function parseTime(text: string, field: string): number {
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new InvalidInputError(
      field,
      `"${text}" is not an ISO date-time (e.g. 2026-10-03T14:52:08Z)`,
    );
  return t;
}

function parseNumber(text: string, field: string): number {
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(n))
    throw new InvalidInputError(field, `"${text}" is not a non-negative number`);
  return n;
}

/**
 * The run `autoctrl runs add` writes: the options given, over what the store
 * has of the run already (`existing`), so re-adding a run to set one value
 * keeps the others; metadata keys merge.
 */
export function runFromOptions(
  runText: string,
  opts: AddOptions,
  existing: Run | null = null,
): RunInput {
  return {
    run: parseRunNumber(runText, 'RUN'),
    fill: opts.fill === undefined ? (existing?.fill ?? null) : parseRunNumber(opts.fill, '--fill'),
    lumi: opts.lumi === undefined ? (existing?.lumi ?? null) : parseNumber(opts.lumi, '--lumi'),
    start: opts.start === undefined ? (existing?.start ?? null) : parseTime(opts.start, '--start'),
    // A run added by hand has ended unless told otherwise: that is what makes it eligible for processing.
    end: opts.end === undefined ? (existing?.end ?? Date.now()) : parseTime(opts.end, '--end'),
    type: opts.type ?? existing?.type ?? null,
    meta: { ...existing?.meta, ...opts.meta },
  };
}

export function registerRuns(program: Command): void {
  const runs = program.command('runs').description('add or list runs');
  runs
    .command('add <run>')
    .description('add a run by hand (or update it): it flows through the tasks at the next pass')
    .option('--fill <fill>', 'LHC fill number')
    .option('--lumi <pb>', 'recorded luminosity in /pb')
    .option('--start <iso>', 'start time')
    .option('--end <iso>', 'end time (default: now)')
    .option('--type <type>', 'run type (collisions, cosmics...)')
    .option('--meta <key=value>', 'metadata, repeatable', collectPair)
    .action(async (runText: string, opts: AddOptions, cmd: Command) => {
      // Checked before the store is opened: a bad number is a usage error, whatever the store holds.
      const number = runFromOptions(runText, opts).run;
      await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
        const run = runFromOptions(runText, opts, await rt.store.getRun(number));
        const { added, changed } = await rt.store.upsertRuns(
          [run],
          `cli:${process.env.USER ?? 'unknown'}`,
        );
        const what = added.length ? 'added' : changed.length ? 'updated' : 'unchanged';
        process.stdout.write(`run ${run.run} ${what}\n`);
      });
    });
  runs
    .command('list')
    .description('list runs, newest first')
    .option('--runs <A-B>', 'only runs in this range')
    .option('--limit <n>', 'at most this many', countArg('--limit'), 50)
    .option('--json', 'print JSON')
    .action(async (opts: { runs?: string; limit: number; json?: boolean }, cmd: Command) => {
      const range = opts.runs ? parseRunRange(opts.runs) : undefined;
      await withRuntime(cmd.optsWithGlobals<GlobalOptions>(), async (rt) => {
        const list = await rt.store.listRuns({ limit: opts.limit, ...(range ?? {}) });
        if (opts.json) return printJson({ runs: list.map(({ seq: _seq, ...r }) => r) });
        process.stdout.write(
          `${table(
            ['run', 'fill', 'type', 'lumi /pb', 'start', 'end'],
            list.map((r) => [
              String(r.run),
              String(r.fill ?? ''),
              r.type ?? '',
              r.lumi === null ? '' : r.lumi.toFixed(1),
              iso(r.start),
              r.end === null ? 'running' : iso(r.end),
            ]),
          )}\n`,
        );
      });
    });
}
