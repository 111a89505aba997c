import { styleText } from 'node:util';
import { checkDuration } from '../config/duration.ts';
import { findConfigFile, loadDeployment } from '../config/load.ts';
import type { Deployment } from '../config/types.ts';
import { InvalidInputError } from '../errors.ts';
import { createLogger, type Logger } from '../logger.ts';
import type { InstanceStatus, JobStatus, RunStatus } from '../model/types.ts';
import { openRuntime, type Runtime, type RuntimeOptions } from '../runtime.ts';
import { openingStore } from './failures.ts';

export interface GlobalOptions {
  config?: string;
}

export function cliLogger(): Logger {
  return createLogger({ level: process.env.AUTOCTRL_LOG_LEVEL ?? 'warn' });
}

export async function deploymentFrom(opts: GlobalOptions): Promise<Deployment> {
  return loadDeployment(
    findConfigFile({
      ...(opts.config ? { file: opts.config } : {}),
      env: process.env,
      cwd: process.cwd(),
    }),
  );
}

/** Opens the deployment's runtime for one command and always closes it. */
export async function withRuntime<T>(
  opts: GlobalOptions,
  ...args:
    | [fn: (rt: Runtime) => Promise<T>]
    | [extra: Partial<RuntimeOptions>, fn: (rt: Runtime) => Promise<T>]
): Promise<T> {
  const [extra, fn] = args.length === 1 ? [{}, args[0]] : args;
  const deployment = await deploymentFrom(opts);
  const rt = await openingStore(
    deployment.store,
    openRuntime(deployment, { ...extra, logger: cliLogger() }),
  );
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

/** A commander parser for a count such as `--limit`: a whole number from 1 to 1,000,000. */
export function countArg(option: string) {
  return (text: string): number => {
    const n = /^\d{1,7}$/.test(text) ? Number(text) : 0;
    if (n < 1 || n > 1_000_000)
      throw new InvalidInputError(
        option,
        `"${text}" is not a count: give a whole number from 1 to 1000000`,
      );
    return n;
  };
}

/** A commander parser for `--port`: a whole number from 0 (a free port) to 65535. */
export function portArg(text: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n <= 65_535))
    throw new InvalidInputError(
      '--port',
      `"${text}" is not a port: give a number from 0 (any free port) to 65535`,
    );
  return n;
}

/** A commander parser for a duration option (`500ms`, `2s`; a plain number is seconds), in ms. */
export function durationArg(option: string, min: 'zero' | 'positive' = 'positive') {
  return (text: string): number => {
    const checked = checkDuration(text, min);
    if (!checked.ok) throw new InvalidInputError(option, checked.problem);
    return checked.ms;
  };
}

/** `KEY=VALUE` options, repeatable. */
export function collectPair(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidInputError(value, 'expected KEY=VALUE');
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

type Status = InstanceStatus | RunStatus | JobStatus;

const COLOURS: Record<Status, Parameters<typeof styleText>[0]> = {
  new: 'gray',
  idle: 'gray',
  running: 'blue',
  waiting: 'yellow',
  processing: 'blue',
  done: 'green',
  failed: 'red',
};

export function useColour(): boolean {
  return process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
}

export function paint(status: Status, text: string): string {
  return useColour() ? styleText(COLOURS[status], text) : text;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function iso(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Left-aligned text table. */
export function table(head: string[], rows: string[][]): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes do not take width
  const width = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = head.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - width(c))))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}
