import { execFile } from 'node:child_process';
import { z } from 'zod';
import { type LockTarget, lockKind } from './contract.ts';
import { expandFor, lockDuration, lockTemplate } from './options.ts';

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * `command`: an argv run without a shell, in the deployment's directory;
 * exit status 0 opens. Placeholders are expanded inside each argument, which
 * stays one argument whatever the run's fields hold. The first line of its
 * error output (else of its output) is the reason.
 */
export const commandLock = lockKind({
  kind: 'command',
  options: z.strictObject({
    command: z.array(lockTemplate).min(1),
    timeout: lockDuration().optional(),
  }),
  create(options, ctx) {
    const argv = (target: LockTarget) => options.command.map((a) => expandFor(a, target));
    return {
      checkTimeoutMs: options.timeout ?? DEFAULT_TIMEOUT_MS,
      key: (target) => JSON.stringify(argv(target)),
      async check(target, signal) {
        const [file, ...args] = argv(target) as [string, ...string[]];
        const { code, signalName, stdout, stderr, spawnError } = await run(
          file,
          args,
          ctx.dir,
          signal,
        );
        if (signal.aborted) throw signal.reason;
        if (spawnError !== null) return { open: false, reason: `${file}: ${spawnError}` };
        const line = firstLine(code === 0 ? stdout : stderr) ?? firstLine(stdout) ?? '';
        if (code === 0) return { open: true, reason: line === '' ? 'exit status 0' : line };
        const status = signalName !== null ? `killed by ${signalName}` : `exit status ${code}`;
        return { open: false, reason: line === '' ? status : `${status}: ${line}` };
      },
    };
  },
});

interface Outcome {
  code: number | null;
  signalName: string | null;
  stdout: string;
  stderr: string;
  /** Set when the program could not be started at all (not found, not executable). */
  spawnError: string | null;
}

function run(file: string, args: string[], cwd: string, signal: AbortSignal): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, signal, maxBuffer: 1024 * 1024, encoding: 'utf8', windowsHide: true },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: unknown; signal?: unknown }) | null;
        const spawnError = e === null ? null : startProblem(e.code);
        resolve({
          code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
          signalName: typeof e?.signal === 'string' ? e.signal : null,
          stdout,
          stderr,
          spawnError,
        });
      },
    );
  });
}

function startProblem(code: unknown): string | null {
  if (code === 'ENOENT') return 'no such program (ENOENT): give its path or check PATH';
  if (code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return 'it printed more than 1 MiB';
  // errno codes (EACCES...) mean it never ran; exit statuses are numbers.
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? `cannot run it (${code})` : null;
}

function firstLine(text: string): string | undefined {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  return line === undefined ? undefined : line.slice(0, 300);
}
