import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Deployment, NotifierConfig } from '../src/config/types.ts';
import { silentLogger } from '../src/logger.ts';
import type { Instance, Job } from '../src/model/types.ts';
import type { NotifyDispatcher } from '../src/notify/dispatcher.ts';
import { openNotify } from '../src/notify/open.ts';
import type { StateStore } from '../src/store/contract.ts';

export interface Received {
  body: Record<string, unknown>;
  at: number;
  status: number;
}

export interface FakeHook {
  url: string;
  /** Every request, answered or not, in arrival order. */
  requests: Received[];
  /** The bodies of the requests answered 2xx. */
  accepted(): Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * A local server posing as a Mattermost (or any) incoming webhook. `answer`
 * gives the status of the n-th request (1-based), or `hang` to never answer.
 */
export async function fakeHook(
  answer: (n: number) => number | 'hang' = () => 200,
): Promise<FakeHook> {
  const requests: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString();
    });
    req.on('end', () => {
      const status = answer(requests.length + 1);
      const body = JSON.parse(text) as Record<string, unknown>;
      requests.push({ body, at: Date.now(), status: status === 'hang' ? 0 : status });
      if (status === 'hang') hanging.push(res);
      else res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/s3cr3t`,
    requests,
    accepted: () => requests.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.body),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export function notifier(
  type: string,
  options: Record<string, unknown>,
  events: string[] = [],
): NotifierConfig {
  return { type, events, options };
}

/** A dispatcher over `dep`'s notifiers, reading the log every 20 ms, retrying fast. */
export async function dispatcherFor(
  dep: Deployment,
  store: StateStore,
  over: { retryDelayMs?: number; owner?: string; now?: () => number } = {},
): Promise<NotifyDispatcher> {
  const d = await openNotify(dep, store, {
    logger: silentLogger(),
    owner: over.owner ?? 'test',
    pollMs: 20,
    retry: { attempts: 4, firstDelayMs: over.retryDelayMs ?? 50 },
    ...(over.now ? { now: over.now } : {}),
  });
  if (d === null) throw new Error('the deployment has no notifiers');
  return d;
}

/** A `new` instance of `task` over `runs` in `prompt`, made through the store as the engine does it. */
export async function newInstance(
  store: StateStore,
  task: string,
  runs: number[],
): Promise<Instance> {
  const [inst] = await store.createInstances(
    [{ campaign: 'prompt', task, groupKey: `test:${runs.join(',')}`, runs }],
    'test',
  );
  if (inst === undefined) throw new Error('instance not created');
  return inst;
}

/** A `newInstance` started at `at` with one idle job on `local`, not handed to it. */
export async function startedInstance(
  store: StateStore,
  task: string,
  runs: number[],
  at = Date.now(),
): Promise<{ instance: Instance; job: Job }> {
  const inst = await newInstance(store, task, runs);
  const { instance, jobs } = await store.startInstance(inst.id, {
    from: 'new',
    configHash: 'h',
    config: {},
    jobs: [{ index: 0, attempt: 1, executor: 'local', input: null, notBefore: null }],
    reason: null,
    by: 'test',
    at,
  });
  const job = jobs[0];
  if (job === undefined) throw new Error('job not created');
  return { instance, job };
}

/**
 * An instance of `task` over `runs` that ran one job and failed for good,
 * made through the store as the engine does it (no executor involved).
 */
export async function failedInstance(
  store: StateStore,
  task: string,
  runs: number[],
  exitCode = 1,
): Promise<Instance> {
  const at = Date.now();
  const { instance: inst, job } = await startedInstance(store, task, runs, at);
  await store.claimJobs([job.id], { owner: 'test', ttlMs: 60_000 });
  await store.setJobSubmitted(job.id, {
    owner: 'test',
    executorId: '1',
    logPath: `/data/${task}/${job.id}.log`,
  });
  const reason = `exit code ${exitCode}`;
  await store.transitionJob(job.id, {
    from: 'idle',
    to: 'failed',
    reason,
    by: 'test',
    at,
    exitCode,
  });
  return store.transitionInstance(inst.id, {
    from: 'processing',
    to: 'failed',
    reason: `job 0 failed after 1 attempt: ${reason}`,
    by: 'engine',
    at,
  });
}
