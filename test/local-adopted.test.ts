import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { CLI, killHard, startController } from './chain-world.ts';
import { assertNoLeaksAtEnd, sleep, tempDir, until } from './helpers.ts';

assertNoLeaksAtEnd();
const exec = promisify(execFile);

it('a controller that replaced a killed one settles the local jobs it adopted as they end, not at its next timer pass', async () => {
  const dir = tempDir();
  const [started, go, next] = ['started', 'go', 'next'].map((f) => join(dir, f)) as [
    string,
    string,
    string,
  ];
  const file = join(dir, 'autoctrl.yaml');
  // An hour between timer passes: only being told of the end can settle the job within the test.
  writeFileSync(
    file,
    `store: sqlite:${join(dir, 'state.db')}
executors:
  local: { type: local, slots: 1 }
engine: { interval: 1h }
tasks:
  wait:
    command: [sh, -c, 'touch "$STARTED"; until [ -e "$GO" ]; do sleep 0.05; done']
    env: { STARTED: "${started}", GO: "${go}" }
  after:
    after: [wait]
    command: [sh, -c, 'touch "$NEXT"']
    env: { NEXT: "${next}" }
`,
  );
  const first = startController(file);
  let second: ReturnType<typeof startController> | null = null;
  try {
    await exec(process.execPath, [CLI, '-c', file, 'runs', 'add', '1']);
    await until(async () => existsSync(started), 20_000, 'the job started');
    await killHard(first);
    second = startController(file, 'info');
    let log = '';
    second.stdout?.on('data', (c: Buffer) => {
      log += c.toString('utf8');
    });
    await until(
      async () => log.includes('leads the engine'),
      20_000,
      'the second controller leads',
    );
    // Its first (full) pass adopts the running job; only then does the job end.
    await sleep(1000);
    writeFileSync(go, '');
    await until(async () => existsSync(next), 10_000, 'the downstream job ran');
  } finally {
    await killHard(first);
    if (second !== null) await killHard(second);
    writeFileSync(go, '');
  }
});
