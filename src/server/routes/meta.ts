import { z } from 'zod';
import { createCampaign } from '../../app/campaigns.ts';
import { ENGINE_LEASE } from '../../engine/engine.ts';
import { hostLeaseName } from '../../engine/host-jobs.ts';
import { exportHealth } from '../../export/status.ts';
import { CampaignCache } from '../../store/campaign-cache.ts';
import type { Lease } from '../../store/contract.ts';
import { allCampaignProgress, type CampaignProgress } from '../../views/campaign-progress.ts';
import { stallState } from '../../watchdog/heartbeat.ts';
import type { ServerContext } from '../context.ts';
import { RateLimit } from '../rate-limit.ts';
import { type Api, actor } from '../route.ts';
import { counts } from '../schemas.ts';

const COLUMNS_TTL_MS = 60_000;
/** Triggers taken from callers without an operator token: each may cost a pass. */
const TRIGGERS_PER_WINDOW = 10;
const TRIGGER_WINDOW_MS = 10_000;

const campaignSchema = z.object({
  name: z.string(),
  state: z.enum(['active', 'cancelled']).describe('deleted campaigns are not listed'),
  created: z.string().nullable(),
  runs: z.number().int(),
  counts,
  tasks: z.array(z.string()),
  share: z.number().nullable(),
  percent: z.number(),
  complete: z.boolean(),
});

export function metaRoutes(api: Api, ctx: ServerContext): void {
  const { store, deployment } = ctx.rt;
  let columns: { at: number; keys: string[] } | null = null;
  const anonymousTriggers = new RateLimit(TRIGGERS_PER_WINDOW, TRIGGER_WINDOW_MS);
  const campaigns = new CampaignCache();

  /** `server.columns`, or the metadata keys of the newest runs. */
  async function metaColumns(): Promise<string[]> {
    if (deployment.server.columns !== undefined) return deployment.server.columns;
    if (columns !== null && Date.now() - columns.at < COLUMNS_TTL_MS) return columns.keys;
    const keys = new Set<string>();
    for (const r of await store.listRuns({ limit: 100 }))
      for (const k of Object.keys(r.meta)) keys.add(k);
    columns = { at: Date.now(), keys: [...keys].sort() };
    return columns.keys;
  }

  api.route(
    {
      method: 'get',
      path: '/api/health',
      summary:
        'Controller heartbeat and last pass, the leader, jobs per executor and which controller runs them, disk usage of the output areas',
      access: 'read',
    },
    async (c) => {
      const controller = ctx.hooks.health();
      const jobs: Record<string, { queued: number; running: number }> = {};
      for (const name of Object.keys(deployment.executors)) jobs[name] = { queued: 0, running: 0 };
      for (const n of await store.activeJobCounts()) {
        const e = jobs[n.executor] ?? { queued: 0, running: 0 };
        jobs[n.executor] = e;
        if (n.status === 'running') e.running += n.count;
        else e.queued += n.count;
      }
      const lease = await store.getLease(ENGINE_LEASE);
      const clock = await store.clock();
      const holderOf = (l: Lease | null) =>
        l === null || l.expiresAt < clock
          ? null
          : {
              controller: l.owner,
              epoch: l.epoch,
              since: new Date(l.since).toISOString(),
              thisController: l.owner === controller?.controller,
            };
      // Who runs each executor's jobs: the leader, or for a host-scoped one (local processes) its own lease's holder.
      const executors: Record<string, { scope: string; runBy: ReturnType<typeof holderOf> }> = {};
      for (const [name, executor] of ctx.rt.executors) {
        const own = executor.scope === 'host' ? await store.getLease(hostLeaseName(name)) : lease;
        executors[name] = { scope: executor.scope, runBy: holderOf(own) };
      }
      // Judged from the leader's heartbeat in the store: a leader that renews its lease but passes no work is stalled too.
      const work = await stallState(store, deployment);
      // A standby's heartbeat is the leader's: its last lease renewal.
      const heartbeatAt =
        controller === null || controller.leading || lease === null
          ? (controller?.heartbeatAt ?? null)
          : new Date(lease.expiresAt - controller.leaseTtlMs).toISOString();
      const beat = heartbeatAt === null ? null : Date.parse(heartbeatAt);
      const stale =
        controller === null || beat === null
          ? null
          : Date.now() - beat > 3 * controller.intervalMs + 5_000 ||
            (lease !== null && lease.expiresAt < clock);
      return c.json({
        controller: controller?.controller ?? null,
        upSince: controller?.upSince ?? null,
        heartbeatAt,
        stale,
        leader: holderOf(lease),
        intervalMs: controller?.intervalMs ?? null,
        lastPass: controller?.lastPass ?? null,
        stalled: work.stalled,
        work: {
          at: work.heartbeat === null ? null : new Date(work.heartbeat.at).toISOString(),
          controller: work.heartbeat?.controller ?? null,
          ageMs: work.ageMs,
          stalledAfterMs: work.stalledAfterMs,
        },
        jobs,
        executors,
        disk: await ctx.disk.usage(),
        exports: await exportHealth(store, Object.keys(deployment.exports)),
        now: new Date().toISOString(),
      });
    },
  );
  api.route(
    {
      method: 'get',
      path: '/api/tasks',
      summary: 'Tasks (upstream first), workflows, and the metadata columns of the grid',
      access: 'read',
      response: z.object({
        tasks: z.array(
          z.object({
            name: z.string(),
            workflow: z.string(),
            after: z.array(z.string()),
            group: z.string().describe('run, fill or lumi:<pb>'),
            executor: z.string(),
            locks: z.array(z.string()),
          }),
        ),
        workflows: z.array(z.object({ name: z.string(), tasks: z.array(z.string()) })),
        metaColumns: z.array(z.string()),
      }),
    },
    async (c) => {
      const workflows = new Map<string, string[]>();
      for (const t of deployment.tasks)
        workflows.set(t.workflow, [...(workflows.get(t.workflow) ?? []), t.name]);
      return c.json({
        tasks: deployment.tasks.map((t) => ({
          name: t.name,
          workflow: t.workflow,
          after: t.after,
          group: t.group.by === 'lumi' ? `lumi:${t.group.lumi}` : t.group.by,
          executor: t.executor,
          locks: t.locks.map((l) => l.name),
        })),
        workflows: [...workflows].map(([name, tasks]) => ({ name, tasks })),
        metaColumns: await metaColumns(),
      });
    },
  );
  api.route(
    {
      method: 'get',
      path: '/api/campaigns',
      summary: 'Campaigns (prompt first) with their progress',
      description:
        'Counts are kept by the store as instances and jobs change: this costs a few rows per campaign at any store size.',
      access: 'read',
      response: z.object({ campaigns: z.array(campaignSchema) }),
    },
    async (c) => {
      const list: CampaignProgress[] = await allCampaignProgress({
        store,
        deployment,
        cache: campaigns,
      });
      return c.json({
        campaigns: list.map((p) => ({
          name: p.name,
          state: p.state === 'deleted' ? 'cancelled' : p.state,
          created: p.createdAt === null ? null : new Date(p.createdAt).toISOString(),
          runs: p.runs,
          counts: p.instances,
          jobs: p.jobs,
          tasks: p.tasks,
          share: p.share,
          percent: p.percent,
          complete: p.complete,
        })),
      });
    },
  );
  api.route(
    {
      method: 'post',
      path: '/api/campaigns',
      summary: 'Creates a reprocessing campaign (operator)',
      access: 'operator',
      body: z
        .object({
          name: z.string().min(1).max(100),
          runs: z.string().max(100).optional().describe('A-B or A'),
          fill: z.number().int().positive().optional(),
          since: z.string().max(100).optional().describe('ISO date-time'),
          type: z.string().min(1).max(100).optional(),
          tasks: z.array(z.string().min(1)).max(1000).optional(),
          set: z.record(z.string(), z.unknown()).optional().describe('{"task.key": value}'),
          share: z.number().gt(0).max(1).optional(),
        })
        .strict(),
      response: z.object({ campaign: z.record(z.string(), z.unknown()) }),
    },
    async (c, { body, who }) => {
      const campaign = await createCampaign({ store, deployment }, body, actor(who));
      ctx.hooks.trigger();
      return c.json(
        { campaign: { ...campaign, createdAt: new Date(campaign.createdAt).toISOString() } },
        201,
      );
    },
  );
  api.route(
    {
      method: 'post',
      path: '/api/trigger',
      summary: 'Asks for a pass now (idempotent)',
      description: `Open, so that the CLI can poke the daemon; without an operator token at most ${TRIGGERS_PER_WINDOW} requests per ${TRIGGER_WINDOW_MS / 1000} s are taken (429 beyond, with Retry-After).`,
      access: 'open',
      response: z.object({ ok: z.boolean() }),
    },
    (c, { who }) => {
      const now = Date.now();
      if (who.kind !== 'operator' && !anonymousTriggers.take(now)) {
        c.header('retry-after', String(anonymousTriggers.retryAfterS(now)));
        return c.json(
          {
            error: 'rate_limited',
            message: `trigger: more than ${TRIGGERS_PER_WINDOW} requests without a token in ${TRIGGER_WINDOW_MS / 1000} s: wait (a pass is coming anyway), or send an operator token`,
          },
          429,
        );
      }
      // Asked from outside (a lock's service, Jenkins): every waiting instance is looked at again.
      ctx.hooks.trigger({ full: true });
      return c.json({ ok: true });
    },
  );
}
