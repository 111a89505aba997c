import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ConfigError, type ConfigProblem } from '../config/errors.ts';
import { deploymentOfText, findConfigFile } from '../config/load.ts';
import { unsetSecrets } from '../config/secrets.ts';
import type { Deployment } from '../config/types.ts';
import { type GlobalOptions, printJson } from './common.ts';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description(
      'check the deployment file; prints FILE:LINE:COL: message per problem and exits 1 if any',
    )
    .option('--json', 'print the problems as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const file = findConfigFile({
        ...(g.config ? { file: g.config } : {}),
        env: process.env,
        cwd: process.cwd(),
      });
      const text = await readFile(file, 'utf8');
      // The very checks `serve` makes, so that what this accepts `serve` runs.
      const { deployment, problems } = await deploymentOfText(text, file).then(
        (deployment): { deployment: Deployment | null; problems: ConfigProblem[] } => ({
          deployment,
          problems: [],
        }),
        (err: unknown) => {
          if (err instanceof ConfigError) return { deployment: null, problems: err.problems };
          throw err;
        },
      );
      const warnings = problems.length > 0 ? [] : unsetSecrets(text, file, process.env);
      if (opts.json) printJson({ file, problems, warnings });
      else if (problems.length > 0) {
        process.stderr.write(
          `${problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`).join('\n')}\n`,
        );
      } else {
        process.stdout.write(`${file}: ok (${deployment?.tasks.length ?? 0} tasks)\n`);
        for (const w of warnings)
          process.stderr.write(`${w.file}:${w.line}:${w.col}: warning: ${w.message}\n`);
      }
      if (problems.length > 0) process.exitCode = 1;
    });
}
