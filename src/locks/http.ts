import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { type LockResult, type LockTarget, lockKind } from './contract.ts';
import { formatJsonPath, type JsonPath, parseJsonPath, valueAtPath } from './json-path.ts';
import { errorText, expandFor, lockDuration, lockTemplate } from './options.ts';

const DEFAULT_TIMEOUT_MS = 10_000;

const jsonPath = z.string().transform((text, ctx): JsonPath => {
  const path = parseJsonPath(text);
  if (path === null) {
    ctx.addIssue({
      code: 'custom',
      message: `bad path ${JSON.stringify(text)}: write names separated by dots, e.g. $.stage or runs[0].number`,
    });
    return z.NEVER;
  }
  return path;
});

/**
 * `http`: a GET whose JSON answer satisfies every condition given, at `path`
 * (default the whole answer): `equals` a value, `contains_run` (a list holding
 * every run of the instance), `min` (a number at least this). With no
 * condition, the value must be present and neither null nor false. A non-2xx
 * answer or an answer that is not JSON is a closed lock with that as reason.
 */
export const httpLock = lockKind({
  kind: 'http',
  options: z.strictObject({
    url: lockTemplate.refine(
      (u) => /^https?:\/\//.test(u),
      'url must start with http:// or https://',
    ),
    path: jsonPath.optional(),
    /** Compared as text when both sides are plain values (so `equals: "{run}"` works). */
    equals: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
    contains_run: z.boolean().optional(),
    /** A number, or a placeholder that gives one (`"{run}"`: an IOV list reaching the run). */
    min: z.union([z.number(), lockTemplate]).optional(),
    headers: z.record(z.string(), lockTemplate).optional(),
    timeout: lockDuration().optional(),
  }),
  create(options) {
    const timeoutMs = options.timeout ?? DEFAULT_TIMEOUT_MS;
    const path = options.path ?? [];
    const request = (target: LockTarget) => ({
      url: expandFor(options.url, target),
      headers: Object.fromEntries(
        Object.entries(options.headers ?? {}).map(([k, v]) => [k, expandFor(v, target)]),
      ),
    });
    const expected = (target: LockTarget) => ({
      equals:
        typeof options.equals === 'string' ? expandFor(options.equals, target) : options.equals,
      min: typeof options.min === 'string' ? expandFor(options.min, target) : options.min,
      runs: options.contains_run === true ? target.runs.map((r) => r.run) : null,
    });
    return {
      checkTimeoutMs: timeoutMs,
      key: (target) => JSON.stringify([request(target), expected(target)]),
      async check(target, signal, pass) {
        const req = request(target);
        const answer = await pass.once(JSON.stringify(req), () => getJson(req, signal));
        if (!answer.ok) return { open: false, reason: `GET ${req.url}: ${answer.problem}` };
        return judge(valueAtPath(answer.body, path), formatJsonPath(path), expected(target));
      },
    };
  },
});

type Answer = { ok: true; body: unknown } | { ok: false; problem: string };

async function getJson(
  req: { url: string; headers: Record<string, string> },
  signal: AbortSignal,
): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(req.url, {
      headers: { accept: 'application/json', ...req.headers },
      signal,
      redirect: 'follow',
    });
  } catch (err) {
    // The engine reports its own timeout; anything else is the network's answer.
    if (signal.aborted) throw err;
    return { ok: false, problem: errorText(err) };
  }
  const text = await res.text();
  if (!res.ok) {
    const detail = text.trim().split('\n')[0]?.slice(0, 200) ?? '';
    return { ok: false, problem: `HTTP ${res.status}${detail === '' ? '' : ` ${detail}`}` };
  }
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, problem: `answer is not JSON (${errorText(err)})` };
  }
}

interface Expected {
  equals: string | number | boolean | null | undefined;
  min: string | number | undefined;
  runs: number[] | null;
}

function judge(value: unknown, where: string, want: Expected): LockResult {
  const shown = show(value);
  if (value === undefined) return { open: false, reason: `no ${where} in the answer` };
  if (want.equals !== undefined && !sameValue(value, want.equals)) {
    return { open: false, reason: `${where} is ${shown}, want ${show(want.equals)}` };
  }
  if (want.min !== undefined) {
    const min = Number(want.min);
    if (!Number.isFinite(min))
      return { open: false, reason: `min ${show(want.min)} is not a number` };
    const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
    if (!(n >= min)) return { open: false, reason: `${where} is ${shown}, want at least ${min}` };
  }
  if (want.runs !== null) {
    if (!Array.isArray(value)) return { open: false, reason: `${where} is ${shown}, not a list` };
    const have = new Set(value.map((v) => String(v)));
    const missing = want.runs.filter((r) => !have.has(String(r)));
    if (missing.length > 0) {
      return { open: false, reason: `${where} does not list run ${missing.join(', ')}` };
    }
  }
  const conditions = want.equals !== undefined || want.min !== undefined || want.runs !== null;
  if (!conditions && (value === null || value === false)) {
    return { open: false, reason: `${where} is ${shown}` };
  }
  return { open: true, reason: `${where} is ${shown}` };
}

function sameValue(actual: unknown, want: string | number | boolean | null): boolean {
  const plain = (v: unknown) =>
    typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  if (plain(actual) && plain(want)) return String(actual) === String(want);
  return isDeepStrictEqual(actual, want);
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
