import { isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import { applyJobReport, type JobReport, parseJobReport } from '../app/report.ts';
import { loadDeployment } from '../config/load.ts';
import { AutoctrlError, InvalidInputError } from '../errors.ts';
import { openStore } from '../store/open.ts';
import { cliLogger, collectList, collectPair } from './common.ts';

interface ReportOptions {
  status?: string;
  field?: Record<string, string>;
  output?: string[];
  kind?: string;
  reason?: string;
}

function requireEnv(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') {
    throw new InvalidInputError(
      name,
      'not set: `autoctrl job report` runs inside a job, which autoctrl gives this variable',
    );
  }
  return v;
}

/** Numbers stay numbers so that fields plot as time series. */
function fieldValue(v: string): number | string {
  const n = Number(v);
  return v.trim() !== '' && Number.isFinite(n) ? n : v;
}

export function reportFromOptions(opts: ReportOptions): JobReport {
  const outputDir = process.env.AUTOCTRL_OUTPUT_DIR ?? process.cwd();
  return parseJobReport({
    ...(opts.status ? { status: opts.status } : {}),
    ...(opts.field
      ? {
          fields: Object.fromEntries(
            Object.entries(opts.field).map(([k, v]) => [k, fieldValue(v)]),
          ),
        }
      : {}),
    ...(opts.output
      ? {
          outputs: opts.output.map((p) => ({
            path: isAbsolute(p) || /^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? p : resolve(outputDir, p),
            ...(opts.kind ? { kind: opts.kind } : {}),
          })),
        }
      : {}),
    ...(opts.reason ? { reason: opts.reason } : {}),
  });
}

export function registerJobReport(program: Command): void {
  const job = program.command('job').description('commands for jobs');
  job
    .command('report')
    .description(
      "report the current job's status, fields and outputs (identity from the job's environment)",
    )
    .option('--status <status>', 'running | done | failed')
    .option('--field <key=value>', 'a custom field, repeatable', collectPair)
    .option(
      '--output <path>',
      'an output file (relative to $AUTOCTRL_OUTPUT_DIR) or URI, repeatable',
      collectList,
    )
    .option('--kind <kind>', 'kind of the outputs given')
    .option('--reason <text>', 'why (for failed)')
    .action(async (opts: ReportOptions) => {
      const jobId = Number(requireEnv('AUTOCTRL_JOB'));
      const report = reportFromOptions(opts);
      const url = process.env.AUTOCTRL_URL;
      if (url) {
        const res = await fetch(new URL(`/api/jobs/${jobId}/report`, url), {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${requireEnv('AUTOCTRL_TOKEN')}`,
          },
          body: JSON.stringify(report),
          signal: AbortSignal.timeout(30_000),
        });
        if (!res.ok) {
          const why = `the server refused it (${res.status}): ${await res.text()}`;
          // A bad report is the caller's mistake (exit 2); an ended attempt or a wrong token is not.
          if (res.status === 400) throw new InvalidInputError('report', why);
          throw new AutoctrlError('report_refused', `report: ${why}`);
        }
        return;
      }
      // No server (`autoctrl pass` mode): write to the store named in the job's environment.
      const deployment = await loadDeployment(requireEnv('AUTOCTRL_CONFIG'));
      const store = await openStore(requireEnv('AUTOCTRL_STORE'), cliLogger());
      try {
        await applyJobReport({ store, deployment, now: Date.now }, jobId, report, `job:${jobId}`);
      } finally {
        await store.close();
      }
    });
}
