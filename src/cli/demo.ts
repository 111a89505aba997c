import { cp, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadDeployment } from '../config/load.ts';
import { startDaemon } from '../daemon.ts';
import { InvalidInputError } from '../errors.ts';
import { influxOptions } from '../export/influx/options.ts';
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

async function listen(deploymentFile: string, port: number, influx: InfluxTarget | null) {
  const loaded = await loadDeployment(deploymentFile);
  const deployment =
    influx === null ? loaded : { ...loaded, exports: { ...loaded.exports, influx } };
  const logger = cliLogger();
  try {
    return await startDaemon(deployment, { logger, listen: { host: '127.0.0.1', port } });
  } catch (err) {
    if (!(err instanceof ListenError && err.reason === 'EADDRINUSE')) throw err;
    return startDaemon(deployment, { logger, listen: { host: '127.0.0.1', port: 0 } });
  }
}

type InfluxTarget = {
  url: string;
  database: string;
};

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
    .option(
      '--influx <url>',
      'also mirror everything to this InfluxDB 1.x (e.g. http://localhost:8086), for the dashboards in grafana/',
    )
    .option(
      '--influx-database <name>',
      'database for --influx (created if missing)',
      'autoctrl_demo',
    )
    .action(
      async (opts: { dir?: string; port: number; influx?: string; influxDatabase: string }) => {
        const influx =
          opts.influx === undefined ? null : influxTarget(opts.influx, opts.influxDatabase);
        const dir = opts.dir ? resolve(opts.dir) : await mkdtemp(join(tmpdir(), 'autoctrl-demo-'));
        const file = join(dir, 'autoctrl.yaml');
        if (!(await exists(file))) await cp(join(examplesDir, 'demo'), dir, { recursive: true });
        const daemon = await listen(file, opts.port, influx);
        const c = `-c ${file}`;
        process.stdout.write(
          [
            `autoctrl demo running in ${dir}`,
            '',
            `  the overview page:  ${daemon.url}/`,
            `  the deployment:     ${file}`,
            ...(influx === null
              ? []
              : [
                  `  InfluxDB mirror:    ${influx.url} database ${influx.database} (dashboards: grafana/)`,
                ]),
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
      },
    );
}

function influxTarget(url: string, database: string): InfluxTarget {
  const parsed = influxOptions.safeParse({ url, database });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const option = issue?.path[0] === 'database' ? '--influx-database' : '--influx';
    throw new InvalidInputError(option, issue?.message ?? 'not usable');
  }
  return { url, database };
}
