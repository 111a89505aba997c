import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The Node launcher (see `launcher.ts`), for machines without python3: starts
 * each job wrapper it is asked for, detached, with its output appended to the
 * job's log, and tells the controller the pid and, later, the end, in the
 * JSON lines of `bin/autoctrl-launcher.py`. It holds no state a restart
 * needs: everything about a job is in its work directory.
 */
interface Request {
  id: number;
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  logPath: string;
}

/** The job's log, its directory made on first use (the data directory is checked at start). */
function openLog(path: string): number {
  try {
    return openSync(path, 'a');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dirname(path), { recursive: true });
    return openSync(path, 'a');
  }
}

function send(message: object): void {
  // A controller killed meanwhile: nobody to tell, the jobs live on.
  process.stdout.write(`${JSON.stringify(message)}\n`);
}
process.stdout.on('error', () => process.exit(0));

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line.trim() === '') return;
    const m = JSON.parse(line) as Request;
    let fd: number | null = null;
    try {
      fd = openLog(m.logPath);
      const child = spawn(m.file, m.args, {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: m.env,
        cwd: m.cwd,
      });
      child.once('error', (err) =>
        send({ id: m.id, error: err.message, code: (err as NodeJS.ErrnoException).code }),
      );
      child.once('spawn', () => send({ id: m.id, pid: child.pid }));
      child.once('exit', (_code, signal) => send({ id: m.id, exit: signal }));
      child.unref();
    } catch (err) {
      send({ id: m.id, error: (err as Error).message, code: (err as NodeJS.ErrnoException).code });
    } finally {
      if (fd !== null) closeSync(fd);
    }
  })
  // The controller went away (stopped or killed): the jobs are detached and live on.
  .on('close', () => process.exit(0));
