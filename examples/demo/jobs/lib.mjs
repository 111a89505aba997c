// What every demo job needs: its environment, reporting to autoctrl, its
// inputs and outputs, and seeded randomness (the same run gives the same
// numbers, so a reprocessed run reproduces its result).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const env = process.env;

export const job = {
  id: env.AUTOCTRL_JOB ?? '0',
  task: env.AUTOCTRL_TASK ?? 'unknown',
  campaign: env.AUTOCTRL_CAMPAIGN ?? 'prompt',
  attempt: Number(env.AUTOCTRL_ATTEMPT ?? 1),
  index: Number(env.AUTOCTRL_JOB_INDEX ?? 0),
  count: Number(env.AUTOCTRL_JOB_COUNT ?? 1),
  runs: (env.AUTOCTRL_RUNS ?? '').split(',').filter(Boolean).map(Number),
  outputDir: env.AUTOCTRL_OUTPUT_DIR ?? '.',
};

/** A failure the job explains itself; `main` reports its message as the reason. */
export class JobError extends Error {}

/**
 * Posts a report to autoctrl. Retried briefly: a report lost to a hiccup
 * would leave only the exit code, without fields or outputs.
 */
export async function report(body) {
  if (!env.AUTOCTRL_URL) {
    console.error('AUTOCTRL_URL is not set: not reporting', JSON.stringify(body));
    return;
  }
  const url = `${env.AUTOCTRL_URL}/api/jobs/${job.id}/report`;
  for (let attempt = 1; ; attempt++) {
    let res;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${env.AUTOCTRL_TOKEN ?? ''}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
    } catch (err) {
      if (attempt >= 3) throw err;
      await sleep(200 * attempt);
      continue;
    }
    if (res.ok) return;
    const text = await res.text();
    // A 4xx will not get better by asking again.
    if (res.status < 500 || attempt >= 3) {
      throw new Error(`report refused: HTTP ${res.status} ${text}`);
    }
    await sleep(200 * attempt);
  }
}

/** `{ runs, outputs, input }`: the runs of this instance and the outputs of its upstream instances. */
export function readInputs() {
  if (!env.AUTOCTRL_INPUTS)
    throw new JobError('AUTOCTRL_INPUTS is not set: run me through autoctrl');
  return JSON.parse(readFileSync(env.AUTOCTRL_INPUTS, 'utf8'));
}

export function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** Writes a JSON output file in the job's output area; returns its absolute path. */
export function writeOutput(name, data) {
  const path = resolve(join(job.outputDir, name));
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}

/**
 * Runs a job body: reports `running`, then whatever the body returns
 * (`fields`, `outputs`) with `done`. A thrown error is logged, reported as
 * `failed` with its message when possible, and ends the process with code 1.
 */
export async function main(body) {
  try {
    await report({ status: 'running' });
    const result = await body();
    await report({ status: 'done', ...result });
    console.log(`${job.task}: done`, JSON.stringify(result.fields ?? {}));
  } catch (err) {
    console.error(err instanceof JobError ? `${job.task}: ${err.message}` : err);
    await report({ status: 'failed', reason: err.message }).catch(() => {});
    process.exit(1);
  }
}

export function sleep(ms) {
  return new Promise((done) => setTimeout(done, ms));
}

/** A pause standing for the real work, short enough for a lively demo. */
export function work(minMs = 80, maxMs = 350) {
  const rand = rng('work', job.id, job.attempt);
  return sleep(minMs + (maxMs - minMs) * rand());
}

/** A generator seeded by its keys (mulberry32 over an FNV-1a hash). */
export function rng(...keys) {
  let h = 0x811c9dc5;
  for (const ch of keys.join('/')) {
    h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  }
  let s = h | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box–Muller). */
export function gauss(rand) {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
