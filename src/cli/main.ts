#!/usr/bin/env node
import { Command } from 'commander';
import { AutoctrlError } from '../errors.ts';
import { registerCampaign } from './campaign.ts';
import { registerDemo } from './demo.ts';
import { registerInit } from './init.ts';
import { registerJobReport } from './job-report.ts';
import { registerMigrate } from './migrate.ts';
import { registerOutputs } from './outputs.ts';
import { registerPass } from './pass.ts';
import { registerReprocess } from './reprocess.ts';
import { registerRuns } from './runs.ts';
import { registerServe } from './serve.ts';
import { registerShow } from './show.ts';
import { registerStatus } from './status.ts';
import { registerValidate } from './validate.ts';

const program = new Command('autoctrl')
  .description('continuous, automatic data processing for detector calibration')
  .option(
    '-c, --config <file>',
    'deployment file (default: $AUTOCTRL_CONFIG, else ./autoctrl.yaml)',
  )
  .showHelpAfterError();

for (const register of [
  registerDemo,
  registerInit,
  registerValidate,
  registerServe,
  registerMigrate,
  registerPass,
  registerRuns,
  registerStatus,
  registerShow,
  registerReprocess,
  registerCampaign,
  registerOutputs,
  registerJobReport,
]) {
  register(program);
}

// `autoctrl status | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const STORE_UNUSABLE = new Set(['store_schema_newer', 'store_unavailable', 'unknown_store']);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof AutoctrlError) {
    process.stderr.write(`autoctrl: ${err.message}\n`);
    // A store that cannot be used is the deployment's problem, not a runtime failure.
    process.exit(STORE_UNUSABLE.has(err.code) ? 2 : 1);
  }
  throw err;
}
