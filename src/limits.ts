import type { Limits } from './config/types.ts';

/*
 * Hard limits on what people and jobs may hand autoctrl. The ones a site may
 * need to raise are set under `limits:` in the deployment file; the others
 * are fixed, with a message that says how to stay under them.
 */

/** Limits when the deployment file's `limits:` leaves them out. */
export const DEFAULT_LIMITS: Limits = {
  maxJobsPerInstance: 10_000,
  maxRequestBytes: 16 * 2 ** 20,
};

/** The most `limits.max_request_body` may be: a JavaScript string holds at most about 512 MB. */
export const MAX_REQUEST_BYTES = 256 * 2 ** 20;

/** Nesting a JSON value (`meta`, a request body) may have. */
export const MAX_JSON_DEPTH = 32;
/** Outputs one job report may register: more are sent in several reports. */
export const MAX_OUTPUTS_PER_REPORT = 10_000;
/** Characters of a field name, a field value, an output path, an output's `meta` as JSON. */
export const MAX_FIELD_NAME = 200;
export const MAX_FIELD_VALUE = 10_000;
export const MAX_PATH = 4096;
export const MAX_META_JSON = 65_536;

/** Why `jobs` is too many for one instance, or null when it fits. */
export function jobsProblem(jobs: number, limits: Limits): string | null {
  if (jobs <= limits.maxJobsPerInstance) return null;
  return `${jobs} jobs is more than the ${limits.maxJobsPerInstance} one instance may have: use fewer, or raise limits.max_jobs_per_instance in the deployment file if the machine and the store can hold them`;
}

/**
 * The path (below `value`) at which a JSON value nests deeper than
 * `maxDepth`, or null. Iterative, so a hostile 100,000-deep value does not
 * overflow the stack that checks it.
 */
export function tooDeepAt(value: unknown, maxDepth = MAX_JSON_DEPTH): (string | number)[] | null {
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: value, path: [] }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { v, path } = item;
    if (typeof v !== 'object' || v === null) continue;
    if (path.length >= maxDepth) return path;
    const entries: [string | number, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [i, x])
      : Object.entries(v);
    for (const [k, x] of entries) stack.push({ v: x, path: [...path, k] });
  }
  return null;
}
