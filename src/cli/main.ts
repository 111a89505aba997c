#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerCampaign } from './campaign.ts';
import { registerDemo } from './demo.ts';
import { registerDiffEnv } from './diff-env.ts';
import { registerExport } from './export.ts';
import { describeFailure } from './failures.ts';
import { registerInit } from './init.ts';
import { registerJobReport } from './job-report.ts';
import { registerMigrate } from './migrate.ts';
import { registerOutputs } from './outputs.ts';
import { registerPass } from './pass.ts';
import { registerRelease } from './release.ts';
import { registerReprocess } from './reprocess.ts';
import { registerRuns } from './runs.ts';
import { registerServe } from './serve.ts';
import { registerShow } from './show.ts';
import { registerStatus } from './status.ts';
import { registerTrace } from './trace.ts';
import { registerValidate } from './validate.ts';
import { registerWatchdog } from './watchdog.ts';

const program = new Command('autoctrl')
  .description('continuous, automatic data processing for detector calibration')
  .option(
    '-c, --config <file>',
    'deployment file (default: $AUTOCTRL_CONFIG, else ./autoctrl.yaml)',
  )
  .option('--debug', 'print the stack trace of a failure')
  .showHelpAfterError()
  .exitOverride();

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
  registerTrace,
  registerReprocess,
  registerRelease,
  registerCampaign,
  registerOutputs,
  registerJobReport,
  registerExport,
  registerWatchdog,
  registerDiffEnv,
]) {
  register(program);
}

// `autoctrl status | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const debug = process.argv.includes('--debug');

/** One line saying what went wrong and how to fix it; the stack only with --debug. */
function fail(err: unknown): never {
  // Commander printed its own message (an unknown option, a missing argument) or the help.
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  const { message, exitCode } = describeFailure(err);
  process.stderr.write(`autoctrl: ${message}\n`);
  if (debug) process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(exitCode);
}

// Also what fails after a command returned (a daemon's background work).
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  fail(err);
}
