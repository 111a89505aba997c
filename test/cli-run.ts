import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The built CLI: tests run what a user runs (`npm test` builds it first). */
export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

const run = promisify(execFile);

/** Runs `autoctrl ARGS` without colour; never throws, the exit code is in the result. */
export async function autoctrl(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** One line on stderr, `autoctrl: ...`, and no stack trace. */
export function oneLine(r: { stderr: string }, pattern: RegExp): void {
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] ?? '', /^autoctrl: /);
  assert.match(lines[0] ?? '', pattern);
}
