import type { Meta, Run } from '../model/types.ts';
import { getJson, HttpGetError } from '../sources/http/get-json.ts';
import { MirrorReadError } from './errors.ts';
import {
  currentResult,
  type DeploymentReader,
  type InstanceHead,
  type InstanceResult,
  type JobResult,
  type OutputResult,
  type ResultQuery,
} from './reader.ts';

const TIMEOUT_MS = 30_000;
/** The API's largest pages (`/api/runs`, `/api/instances`). */
const RUN_PAGE = 500;
const INSTANCE_PAGE = 5000;
/** Instance details fetched at once: enough to hide latency, few enough not to load prod's server. */
const PARALLEL = 4;

/**
 * Reads a deployment through its REST API (docs/api.md), with an operator
 * token when its `auth.read` is `token`. Only GET requests are ever sent.
 *
 * The API has no change feed for runs, so the cursor is the first run not
 * ended yet (`{"from": N}`): each poll reads from there on, which takes the
 * runs added since and those whose end or luminosity came in later.
 */
export function openApiReader(url: string, token: string | null): DeploymentReader {
  return new ApiReader(url.replace(/\/+$/, ''), token);
}

class ApiReader implements DeploymentReader {
  constructor(
    readonly label: string,
    private readonly token: string | null,
  ) {}

  async #get<T>(path: string, params: Record<string, string | number | undefined>): Promise<T> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
    try {
      return (await getJson(`${this.label}${path}?${q}`, {
        timeoutMs: TIMEOUT_MS,
        ...(this.token !== null ? { headers: { authorization: `Bearer ${this.token}` } } : {}),
      })) as T;
    } catch (err) {
      if (err instanceof HttpGetError && err.status === 401) {
        throw new MirrorReadError(
          this.label,
          `GET ${path} needs a token (its auth.read is token): set mirror.token_env to a variable holding one of its operator tokens`,
          { cause: err },
        );
      }
      throw new MirrorReadError(this.label, err instanceof Error ? err.message : String(err), {
        cause: err,
      });
    }
  }

  async runsSince(cursor: string | null, limit: number) {
    const from = cursor === null ? undefined : parseCursor(this.label, cursor);
    const runs: Run[] = [];
    let page: string | undefined;
    let firstOpen: number | null = null;
    do {
      const got = await this.#get<{ runs: ApiRun[]; next: string | null }>('/api/runs', {
        sort: 'run_asc',
        limit: RUN_PAGE,
        from,
        cursor: page,
      });
      for (const r of got.runs) {
        const run = runOf(r);
        if (run.end === null && firstOpen === null) firstOpen = run.run;
        runs.push(run);
      }
      page = got.next ?? undefined;
    } while (page !== undefined && runs.length < limit);
    const last = runs.at(-1);
    const next = firstOpen ?? (last === undefined ? (from ?? null) : last.run + 1);
    return { runs, cursor: next === null ? cursor : JSON.stringify({ from: next }) };
  }

  async results(q: ResultQuery): Promise<InstanceResult[]> {
    const { instances } = await this.#get<{ instances: InstanceHead[] }>('/api/instances', {
      campaign: q.campaign,
      task: q.task,
      from: q.from,
      to: q.to,
      limit: INSTANCE_PAGE,
    });
    const out: InstanceResult[] = new Array(instances.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < instances.length; i = next++) {
        const head = instances[i] as InstanceHead;
        const d = await this.#get<{ jobs: JobResult[]; outputs: OutputResult[] }>(
          `/api/instances/${head.id}`,
          {},
        );
        out[i] = currentResult(head, d.jobs, d.outputs);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, instances.length) }, worker));
    return out;
  }

  async close(): Promise<void> {}
}

interface ApiRun {
  run: number;
  fill: number | null;
  start: string | null;
  end: string | null;
  lumi: number | null;
  type: string | null;
  meta: Meta;
  seq: number;
}

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

function runOf(r: ApiRun): Run {
  return { ...r, start: ms(r.start), end: ms(r.end) };
}

function parseCursor(label: string, cursor: string): number {
  const from = (JSON.parse(cursor) as { from?: unknown }).from;
  if (typeof from !== 'number') {
    throw new MirrorReadError(label, `the mirror's cursor ${cursor} is not one it wrote`);
  }
  return from;
}
