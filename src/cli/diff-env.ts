import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILE_NAME, loadDeployment } from '../config/load.ts';
import { InvalidInputError } from '../errors.ts';
import { type DiffRow, diffResults } from '../mirror/diff.ts';
import { openReader } from '../mirror/open.ts';
import type { DeploymentReader } from '../mirror/reader.ts';
import { PROMPT } from '../model/campaign.ts';
import { parseRunRange } from '../model/run-numbers.ts';
import { redactStoreUrl } from '../store/url.ts';
import { cliLogger, printJson, table } from './common.ts';

const URL_FORM = /^(https?:\/\/|sqlite:|postgres(ql)?:\/\/)/;
const WHAT =
  'give a deployment directory, its autoctrl.yaml, an API URL (http://HOST:PORT) or a store URL (sqlite:PATH, postgres://USER@HOST/DB)';

interface Side {
  label: string;
  reader: DeploymentReader;
  tasks: string[];
  /** A mirror's `from`, to compare with when only one side is given. */
  mirror?: { from: string; tokenEnv: string | null };
}

interface DiffOptions {
  runs: string;
  campaign: string;
  task?: string;
  tokenEnv?: string;
  all?: boolean;
  json?: boolean;
}

export function registerDiffEnv(program: Command): void {
  program
    .command('diff-env')
    .description(
      'compare two deployments (dev and prod) run by run: statuses, job fields and outputs; read-only on both',
    )
    .argument('<a>', 'a deployment directory or file, an API URL or a store URL (e.g. dev)')
    .argument('[b]', 'the same for the other side (default: what A mirrors, its mirror.from)')
    .requiredOption('--runs <A-B>', 'the runs to compare')
    .option('--campaign <name>', 'campaign', PROMPT)
    .option('--task <task>', 'only this task')
    .option('--token-env <VAR>', 'a variable holding a read token, for an API that needs one')
    .option('--all', 'list identical (run, task) pairs too')
    .option('--json', 'print JSON')
    .action(async (a: string, b: string | undefined, opts: DiffOptions) => {
      const range = parseRunRange(opts.runs);
      const sides: Side[] = [];
      try {
        const first = await openSide(a, 'A', opts.tokenEnv);
        sides.push(first);
        const second =
          b !== undefined ? await openSide(b, 'B', opts.tokenEnv) : await mirroredSide(first, a);
        sides.push(second);
        const [sa, sb] = sides as [Side, Side];
        if (sa.label === sb.label) {
          sa.label = a;
          sb.label = b ?? 'prod';
        }
        const q = {
          campaign: opts.campaign,
          ...(opts.task !== undefined ? { task: opts.task } : {}),
          ...range,
        };
        const [ra, rb] = await Promise.all([sa.reader.results(q), sb.reader.results(q)]);
        const rows = await diffResults(ra, rb, range, [...new Set([...sa.tasks, ...sb.tasks])]);
        const differ = rows.filter((r) => !r.same).length;
        if (opts.json === true) {
          printJson({ a: sa.label, b: sb.label, runs: range, compared: rows.length, differ, rows });
          return;
        }
        process.stdout.write(render(rows, sa.label, sb.label, opts.all === true));
      } finally {
        for (const s of sides) await s.reader.close();
      }
    });
}

async function openSide(arg: string, which: string, tokenEnv: string | undefined): Promise<Side> {
  if (URL_FORM.test(arg)) {
    const reader = await openReader({ from: arg, tokenEnv: tokenEnv ?? null }, cliLogger());
    return { label: redactStoreUrl(arg), reader, tasks: [] };
  }
  if (!existsSync(arg)) throw new InvalidInputError(which, `no deployment at ${arg}: ${WHAT}`);
  const file = statSync(arg).isDirectory() ? join(arg, CONFIG_FILE_NAME) : arg;
  const d = await loadDeployment(file);
  // Never the deployment's runtime: its store is only read, as a mirror reads prod's.
  const reader = await openReader({ from: d.store }, cliLogger());
  return {
    label: d.environment,
    reader,
    tasks: d.tasks.map((t) => t.name),
    ...(d.mirror ? { mirror: { from: d.mirror.from, tokenEnv: d.mirror.tokenEnv } } : {}),
  };
}

async function mirroredSide(a: Side, arg: string): Promise<Side> {
  if (a.mirror === undefined) {
    throw new InvalidInputError(
      'B',
      `${arg} mirrors nothing (no mirror: section), so there is nothing to compare it with by default: ${WHAT} as the second argument`,
    );
  }
  return { label: 'prod', reader: await openReader(a.mirror, cliLogger()), tasks: [] };
}

function render(rows: DiffRow[], la: string, lb: string, all: boolean): string {
  const shown = all ? rows : rows.filter((r) => !r.same);
  const runs = (r: number[]) => (r.length > 1 ? `${r[0]}-${r.at(-1)}` : String(r[0] ?? ''));
  const body = shown.map((r) => [
    runs(r.runs),
    r.task,
    r.a?.status ?? '-',
    r.b?.status ?? '-',
    r.same ? '=' : differences(r, la, lb),
  ]);
  const differ = rows.filter((r) => !r.same).length;
  const summary = `${differ} of ${rows.length} (run, task) pairs differ between ${la} and ${lb}\n`;
  return shown.length === 0
    ? summary
    : `${table(['runs', 'task', la, lb, 'differences'], body)}\n${summary}`;
}

function differences(r: DiffRow, la: string, lb: string): string {
  const parts: string[] = [];
  if (r.a === null) parts.push(`only in ${lb}`);
  else if (r.b === null) parts.push(`only in ${la}`);
  const v = (x: number | string | null) => (x === null ? '(none)' : String(x));
  for (const f of r.fields) parts.push(`${f.name}: ${v(f.a)} ≠ ${v(f.b)}`);
  for (const o of r.outputs) {
    parts.push(
      o.what === 'missing'
        ? `${o.name}: only in ${o.a === null ? lb : la}`
        : o.what === 'unreadable'
          ? `${o.name}: not readable here, not compared`
          : `${o.name}: ${o.what} differs`,
    );
  }
  return parts.length > 0 ? parts.join('; ') : 'status';
}
