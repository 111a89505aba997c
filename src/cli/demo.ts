import { cp, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadDeployment } from '../config/load.ts';
import { startDaemon } from '../daemon.ts';
import { ListenError } from '../server/serve.ts';
import { cliLogger, portArg } from './common.ts';
import { stopOnSignals } from './serve.ts';

/** The package's `examples/`, the same from `src/` (tests) and `dist/` (installed). */
export const examplesDir = fileURLToPath(new URL('../../examples/', import.meta.url));

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function listen(deploymentFile: string, port: number) {
  const deployment = await loadDeployment(deploymentFile);
  const logger = cliLogger();
  try {
    return await startDaemon(deployment, { logger, listen: { host: '127.0.0.1', port } });
  } catch (err) {
    if (!(err instanceof ListenError && err.reason === 'EADDRINUSE')) throw err;
    return startDaemon(deployment, { logger, listen: { host: '127.0.0.1', port: 0 } });
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'start the embedded demo: simulated LHC runs through an ECAL-like calibration chain',
    )
    .option(
      '--dir <dir>',
      'where to put the demo deployment (default: a new temporary directory; reused if it exists)',
    )
    .option('--port <port>', 'port for the page and API (a free one if taken)', portArg, 8080)
    .action(async (opts: { dir?: string; port: number }) => {
      const dir = opts.dir ? resolve(opts.dir) : await mkdtemp(join(tmpdir(), 'autoctrl-demo-'));
      const file = join(dir, 'autoctrl.yaml');
      if (!(await exists(file))) await cp(join(examplesDir, 'demo'), dir, { recursive: true });
      const daemon = await listen(file, opts.port);
      const c = `-c ${file}`;
      process.stdout.write(
        [
          `autoctrl demo running in ${dir}`,
          '',
          `  the overview page:  ${daemon.url}/`,
          `  the deployment:     ${file}`,
          '',
          'Simulated runs end every few seconds and flow through reco → pi0-reco → pi0-calib (joined with laser) → validation → upload.',
          'In another terminal, try:',
          `  npx autoctrl status ${c}`,
          `  npx autoctrl show reco <run> ${c}`,
          `  npx autoctrl outputs --task pi0-calib ${c}`,
          `  npx autoctrl reprocess reco --runs <A-B> ${c}`,
          '',
          'Ctrl-C stops it; `--dir` keeps the state to continue later.',
          '',
        ].join('\n'),
      );
      stopOnSignals(daemon.stop);
    });
}
