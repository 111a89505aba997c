import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { hostLeaseName } from '../src/engine/host-jobs.ts';
import {
  eventSchema,
  instanceSchema,
  jobSchema,
  outputSchema,
  overviewRowSchema,
  runSchema,
} from '../src/server/schemas.ts';
import { type ApiWorld, apiWorld, settle } from './api-setup.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

describe('the REST API: reading', () => {
  const dir = tempDir();
  let w: ApiWorld;
  before(async () => {
    w = await apiWorld(dir);
    await settle(w);
  });
  after(() => w.close());

  const bad = async (path: string, field: RegExp) => {
    const res = await w.req(path);
    assert.equal(res.status, 400, `${path} answers 400`);
    const body = (await res.json()) as { error: string; message: string };
    assert.equal(body.error, 'invalid_input');
    assert.match(body.message, field);
  };

  it('gives the overview grid with cells, global status and a cursor', async () => {
    const page = await w.json<{ rows: unknown[]; next: string | null }>('/api/overview');
    const rows = z.array(overviewRowSchema).parse(page.rows);
    assert.deepEqual(
      rows.map((r) => [r.run, r.status]),
      [
        [2, 'failed'],
        [1, 'processing'],
      ],
      'run 1 waits for its fill to end (the slow task groups by fill)',
    );
    assert.equal(rows[1]?.tasks.reco?.status, 'done');
    assert.equal(rows[0]?.tasks.calib?.status, 'failed');
    assert.equal(rows[0]?.end, new Date(4_000).toISOString());
    assert.equal(page.next, null);
    const first = await w.json<{ rows: Array<{ run: number }>; next: string }>(
      '/api/overview?limit=1&sort=run_asc',
    );
    assert.deepEqual(
      first.rows.map((r) => r.run),
      [1],
    );
    const second = await w.json<{ rows: Array<{ run: number }>; next: string | null }>(
      `/api/overview?limit=1&sort=run_asc&cursor=${first.next}`,
    );
    assert.deepEqual(
      second.rows.map((r) => r.run),
      [2],
    );
    assert.equal(second.next, null);
  });

  it('filters the grid by status, task status, fill, range and text', async () => {
    const runsOf = async (q: string) =>
      (await w.json<{ rows: Array<{ run: number }> }>(`/api/overview?${q}`)).rows.map((r) => r.run);
    assert.deepEqual(await runsOf('status=failed'), [2]);
    assert.deepEqual(await runsOf('status=done'), []);
    assert.deepEqual(await runsOf('task=calib&task_status=done'), [1]);
    assert.deepEqual(await runsOf('task=reco&task_status=done'), [2, 1]);
    assert.deepEqual(await runsOf('fill=10&status=processing'), [1]);
    assert.deepEqual(await runsOf('from=2&to=5'), [2]);
    assert.deepEqual(await runsOf('q=gt_b'), [2]);
    assert.deepEqual(await runsOf('q=collisions&sort=run_asc'), [1, 2]);
    assert.deepEqual(await runsOf('q=1'), [1]);
    assert.deepEqual(await runsOf('campaign=nope'), []);
  });

  it('refuses bad queries with 400 naming the field', async () => {
    await bad('/api/overview?limit=0', /^query\.limit:/);
    await bad('/api/overview?limit=501', /^query\.limit:/);
    await bad('/api/overview?status=stuck', /^query\.status:/);
    await bad('/api/overview?task=reco', /^query\.task_status:/);
    await bad('/api/overview?task=nope&task_status=done', /^query\.task: no task nope/);
    await bad('/api/overview?from=9&to=3', /^query\.to:/);
    await bad('/api/overview?cursor=garbage', /^query\.cursor:/);
    await bad('/api/overview?q=ab', /^query\.q:/);
    await bad('/api/overview?sort=sideways', /^query\.sort:/);
    await bad('/api/instances/abc', /^path\.id:/);
    await bad('/api/jobs/0', /^path\.id:/);
    await bad('/api/fields?task=reco', /^query\.field:/);
    await bad('/api/stats/throughput?bucket=2h', /^query\.bucket:/);
    await bad('/api/events?after=x', /^query\.after:/);
    const cursor = (await w.json<{ next: string }>('/api/overview?limit=1')).next;
    await bad(`/api/overview?limit=1&sort=run_asc&cursor=${cursor}`, /other sort order/);
  });

  it('lists runs, tasks, campaigns and health', async () => {
    const runs = await w.json<{ runs: unknown[] }>('/api/runs?sort=run_asc');
    assert.deepEqual(
      z
        .array(runSchema)
        .parse(runs.runs)
        .map((r) => r.run),
      [1, 2],
    );
    const tasks = await w.json<{
      tasks: Array<{ name: string; group: string }>;
      workflows: Array<{ name: string; tasks: string[] }>;
      metaColumns: string[];
    }>('/api/tasks');
    assert.deepEqual(
      tasks.tasks.map((t) => t.name),
      ['reco', 'calib', 'slow'],
    );
    assert.deepEqual(tasks.workflows[0], { name: 'ecal', tasks: ['reco', 'calib'] });
    assert.deepEqual(tasks.metaColumns, ['global_tag']);
    const { campaigns } = await w.json<{
      campaigns: Array<{ name: string; runs: number; counts: Record<string, number> }>;
    }>('/api/campaigns');
    assert.equal(campaigns[0]?.name, 'prompt');
    assert.equal(campaigns[0]?.runs, 2);
    assert.equal(campaigns[0]?.counts.failed, 1);
    const health = await w.json<{
      controller: string;
      jobs: Record<string, { queued: number; running: number }>;
      disk: unknown[];
      stale: boolean;
    }>('/api/health');
    assert.equal(health.controller, 'test');
    assert.equal(health.stale, false);
    assert.ok(health.jobs.local, 'every executor is listed');
    assert.deepEqual(health.disk, []);
  });

  it('shows an instance with runs, jobs, history, configuration, outputs and locks', async () => {
    const inst = await w.instance('calib', 2);
    const body = await w.json<Record<string, unknown>>(`/api/instances/${inst.id}`);
    const parsed = z
      .object({
        instance: instanceSchema,
        runs: z.array(runSchema),
        jobs: z.array(jobSchema),
        history: z.array(eventSchema),
        config: z.unknown(),
        outputs: z.array(outputSchema),
        locks: z.array(z.unknown()),
      })
      .parse(body);
    assert.equal(parsed.instance.status, 'failed');
    assert.deepEqual(
      parsed.runs.map((r) => r.run),
      [2],
    );
    assert.equal(parsed.jobs[0]?.exitCode, 1);
    assert.ok((parsed.jobs[0]?.durationMs ?? -1) >= 0);
    const steps = parsed.history.filter((e) => e.entity === 'instance').map((e) => e.to);
    assert.deepEqual([steps[0], steps.at(-2), steps.at(-1)], ['new', 'processing', 'failed']);
    assert.ok(
      parsed.history.some((e) => e.entity === 'job'),
      'its jobs are in its history',
    );
    assert.ok(parsed.config !== null, 'the configuration it ran with');
    assert.equal((await w.req('/api/instances/999999')).status, 404);
    const list = await w.json<{ instances: unknown[] }>('/api/instances?task=reco&run=2');
    assert.equal(z.array(instanceSchema).parse(list.instances).length, 1);
    const job = await w.json<{ job: unknown }>(`/api/jobs/${parsed.jobs[0]?.id}`);
    assert.equal(jobSchema.parse(job.job).status, 'failed');
  });

  it('gives fields, durations, throughput, outputs and events', async () => {
    const reco = await w.instance('reco', 1);
    const [job] = await w.rt.store.jobsForInstance(reco.id);
    assert.ok(job);
    await w.rt.store.recordJobData(job.id, {
      fields: { response: 0.97, tag: 'x' },
      outputs: [{ path: '/eos/reco/1.root', kind: 'root' }],
      at: Date.now(),
    });
    const names = await w.json<{ fields: string[] }>('/api/fields/names?task=reco');
    assert.deepEqual(names.fields, ['response']);
    const series = await w.json<{
      points: Array<{ run: number; value: number; fill: number; time: string }>;
    }>('/api/fields?task=reco&field=response');
    assert.deepEqual(
      series.points.map((p) => [p.run, p.value, p.fill]),
      [[1, 0.97, 10]],
    );
    assert.equal(series.points[0]?.time, new Date(2_000).toISOString());
    const durations = await w.json<{ points: Array<{ run: number; runMs: number }> }>(
      '/api/stats/durations?task=reco',
    );
    assert.deepEqual(
      durations.points.map((p) => p.run),
      [1, 2],
    );
    const tp = await w.json<{
      buckets: Array<{ done: Record<string, number>; failed: Record<string, number> }>;
    }>('/api/stats/throughput?bucket=1h');
    const total = (k: 'done' | 'failed', t: string) =>
      tp.buckets.reduce((n, b) => n + (b[k][t] ?? 0), 0);
    assert.equal(total('done', 'reco'), 2);
    assert.equal(total('failed', 'calib'), 1);
    const outputs = await w.json<{ outputs: unknown[] }>('/api/outputs?task=reco&from=1&to=1');
    assert.equal(z.array(outputSchema).parse(outputs.outputs)[0]?.path, '/eos/reco/1.root');
    const events = await w.json<{ events: Array<{ id: number }> }>('/api/events?limit=3');
    assert.equal(z.array(eventSchema).parse(events.events).length, 3);
    const later = await w.json<{ events: Array<{ id: number }> }>(
      `/api/events?after=${events.events[2]?.id}&limit=1`,
    );
    assert.ok((later.events[0]?.id ?? 0) > (events.events[2]?.id ?? 0));
  });

  it('describes every route in OpenAPI 3.1', async () => {
    const doc = await w.json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
      '/api/openapi.json',
    );
    assert.equal(doc.openapi, '3.1.0');
    for (const [method, path] of [
      ['get', '/api/health'],
      ['get', '/api/tasks'],
      ['get', '/api/campaigns'],
      ['post', '/api/campaigns'],
      ['get', '/api/overview'],
      ['get', '/api/runs'],
      ['get', '/api/instances'],
      ['get', '/api/instances/{id}'],
      ['post', '/api/instances/{id}/reprocess'],
      ['post', '/api/instances/{id}/resubmit'],
      ['get', '/api/jobs/{id}'],
      ['get', '/api/jobs/{id}/log'],
      ['post', '/api/jobs/{id}/report'],
      ['get', '/api/outputs'],
      ['get', '/api/fields'],
      ['get', '/api/fields/names'],
      ['get', '/api/stats/durations'],
      ['get', '/api/stats/throughput'],
      ['get', '/api/samples'],
      ['get', '/api/events'],
      ['get', '/api/events/stream'],
      ['post', '/api/trigger'],
    ] as const) {
      assert.ok(doc.paths[path]?.[method], `${method} ${path} is described`);
    }
    const overview = doc.paths['/api/overview']?.get as { parameters: Array<{ name: string }> };
    assert.ok(overview.parameters.some((p) => p.name === 'task_status'));
  });

  it('answers unknown API paths with a JSON 404', async () => {
    const res = await w.req('/api/nothing');
    assert.equal(res.status, 404);
    assert.match(((await res.json()) as { message: string }).message, /openapi\.json/);
  });

  // Last: it takes the executor's lease from the engine of this world.
  it("says in health which controller runs each executor's jobs, and when none does", async () => {
    type Holder = { controller: string; thisController: boolean } | null;
    type Health = { leader: Holder; executors: Record<string, { scope: string; runBy: Holder }> };
    await w.rt.engine.pass();
    const me = w.rt.engine.ctx.controllerId;
    const held = await w.json<Health>('/api/health');
    assert.equal(held.leader?.controller, me);
    assert.equal(held.executors.local?.scope, 'host');
    assert.equal(held.executors.local?.runBy?.controller, me);
    // This API plays controller "test", not the engine's.
    assert.equal(held.executors.local?.runBy?.thisController, false);
    const lease = await w.rt.store.getLease(hostLeaseName('local'));
    assert.ok(lease, "the engine holds the host's lease");
    await w.rt.store.releaseLease(lease);
    const released = await w.json<Health>('/api/health');
    assert.equal(released.executors.local?.runBy, null);
    assert.equal(released.leader?.controller, me);
  });
});
