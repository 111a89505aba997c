import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AutoctrlError } from '../errors.ts';
import { makeDirs } from '../fs-util.ts';

const TEMPLATE = `# autoctrl deployment: the README of the autoctrl package lists every key.
store: sqlite:state.db          # relative to this file
executors:
  local: { type: local, slots: 4 }
engine: { interval: 30s }       # passes also run at once on every new run and job report
tasks:
  reco:
    command: [./reco.sh, "{run}"]   # argv, never a shell; {run} {runs} {fill} {campaign} {task} {job}
    jobs: 1
    retries: 2
    timeout: 1h
  calib:
    after: [reco]                # runs when reco is done for the same runs
    group: { lumi: 500 }         # accumulate runs until 500 /pb
    command: [./calib.sh]
`;

const SCRIPT = `#!/bin/sh
# An autoctrl job: identity and inputs come in AUTOCTRL_* variables.
echo "processing runs $AUTOCTRL_RUNS (job $AUTOCTRL_JOB, attempt $AUTOCTRL_ATTEMPT)"
echo "result" > "$AUTOCTRL_OUTPUT_DIR/result.txt"
exit 0
`;

/** Creates `dir` (and its parents), or says why it cannot. */
async function makeDir(dir: string): Promise<void> {
  try {
    await makeDirs(dir);
    if (!statSync(dir).isDirectory())
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    throw new AutoctrlError(
      'init_failed',
      `cannot create the directory ${dir} (${why}): choose a directory this user may write to`,
      { cause },
    );
  }
}

export function registerInit(program: Command): void {
  program
    .command('init <dir>')
    .description('create a starter deployment (autoctrl.yaml and two job scripts) in DIR')
    .action(async (dirText: string) => {
      const dir = resolve(dirText);
      await makeDir(dir);
      try {
        await writeFile(join(dir, 'autoctrl.yaml'), TEMPLATE, { flag: 'wx' });
      } catch (cause) {
        throw new AutoctrlError(
          'exists',
          `${join(dir, 'autoctrl.yaml')} exists already; choose another DIR`,
          { cause },
        );
      }
      for (const name of ['reco.sh', 'calib.sh']) {
        await writeFile(join(dir, name), SCRIPT, { mode: 0o755, flag: 'wx' }).catch(
          () => undefined,
        );
      }
      process.stdout.write(
        `created ${dir}/autoctrl.yaml\nnext: autoctrl validate -c ${dir}/autoctrl.yaml && autoctrl runs add 1 -c ${dir}/autoctrl.yaml && autoctrl pass -c ${dir}/autoctrl.yaml\n`,
      );
    });
}
