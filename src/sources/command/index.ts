import { spawn } from 'node:child_process';
import path from 'node:path';
import { AutoctrlError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { RunInput } from '../../model/types.ts';
import { setLongTimeout } from '../../timers.ts';
import type { Source, SourceFactory } from '../contract.ts';
import { parseRunObject, parseSourceOptions } from '../fields.ts';
import { type CommandOptions, commandOptions } from './options.ts';

const DEFAULT_TIMEOUT_MS = 60_000;
/** Enough of stderr to say why a command failed, not enough to flood the log. */
const STDERR_KEEP = 2000;

/** The command could not run, failed, or took too long. */
export class CommandSourceError extends AutoctrlError {
  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('source_command_failed', `source ${source}: ${message}`, options);
  }
}

/**
 * Runs a command that prints runs as JSON lines, one `RunInput`-like object
 * per line. It gets the cursor in `AUTOCTRL_CURSOR` (empty the first time) and
 * may print `{"cursor": "..."}` to set the next one. A bad line is reported
 * with its number and skipped; a failing command fails the poll, so its runs
 * and cursor are taken at the next successful one.
 */
export const createCommandSource: SourceFactory = async (name, options, ctx) => {
  const opts = parseSourceOptions(commandOptions, name, options);
  const cwd = path.resolve(ctx.dir, opts.cwd ?? '.');
  const running = new Set<Running>();
  const source: Source = {
    name,
    async poll(cursor) {
      const out = await run(name, opts, cwd, cursor, running);
      return readLines(name, out, ctx.logger);
    },
    // A command under way would outlive the daemon (its own process group) and keep it from exiting.
    async close() {
      await Promise.all([...running].map((r) => r.stop()));
    },
  };
  return source;
};

/** A command under way: `stop` kills its process group and resolves once it is gone. */
interface Running {
  stop(): Promise<void>;
}

function run(
  name: string,
  opts: CommandOptions,
  cwd: string,
  cursor: string | null,
  running: Set<Running>,
): Promise<string> {
  const [program, ...args] = opts.command as [string, ...string[]];
  const timeoutMs = opts.timeout ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd,
      env: { ...process.env, ...opts.env, AUTOCTRL_CURSOR: cursor ?? '', AUTOCTRL_SOURCE: name },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout also stops what it started.
      detached: true,
    });
    const stdout: Buffer[] = [];
    let stderr = '';
    let timedOut = false;
    let stopped = false;
    const killGroup = () => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const ended = new Promise<void>((r) => child.once('close', () => r()));
    const me: Running = {
      stop() {
        stopped = true;
        killGroup();
        return ended;
      },
    };
    running.add(me);
    void ended.then(() => running.delete(me));
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-STDERR_KEEP);
    });
    const timer = setLongTimeout(
      () => {
        timedOut = true;
        killGroup();
      },
      timeoutMs,
      { ref: true },
    );
    child.on('error', (cause) => {
      timer.clear();
      reject(
        new CommandSourceError(
          name,
          `cannot run ${program}: ${cause.message}; check the command's path and permissions`,
          { cause },
        ),
      );
    });
    child.on('close', (code, signal) => {
      timer.clear();
      if (stopped) {
        reject(new CommandSourceError(name, `${program} was stopped: autoctrl is stopping`));
      } else if (timedOut) {
        reject(
          new CommandSourceError(
            name,
            `${program} took longer than ${timeoutMs} ms and was killed; raise timeout: or make it faster`,
          ),
        );
      } else if (code !== 0) {
        const how = code === null ? `was killed by ${signal}` : `exited with status ${code}`;
        const tail = stderr.trim() === '' ? '' : `: ${stderr.trim()}`;
        reject(new CommandSourceError(name, `${program} ${how}${tail}`));
      } else {
        resolve(Buffer.concat(stdout).toString('utf8'));
      }
    });
  });
}

function readLines(
  name: string,
  out: string,
  logger: Logger,
): { runs: RunInput[]; cursor: string | null } {
  const runs: RunInput[] = [];
  let cursor: string | null = null;
  for (const [i, raw] of out.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    try {
      const value: unknown = JSON.parse(line);
      if (isCursorLine(value)) {
        cursor = typeof value.cursor === 'string' ? value.cursor : JSON.stringify(value.cursor);
      } else {
        runs.push(parseRunObject(value));
      }
    } catch (err) {
      const why = err instanceof SyntaxError ? `not JSON (${err.message})` : (err as Error).message;
      logger.warn(
        { source: name, line: i + 1 },
        `line ${i + 1} skipped: ${why}: ${line.slice(0, 120)}`,
      );
    }
  }
  return { runs, cursor };
}

function isCursorLine(value: unknown): value is { cursor: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length === 1 &&
    'cursor' in value
  );
}
