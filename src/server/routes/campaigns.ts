import { z } from 'zod';
import { cancelCampaign, deleteCampaign, extendCampaign } from '../../app/campaign-control.ts';
import type { ServerContext } from '../context.ts';
import { type Api, actor } from '../route.ts';

const namePath = z.object({ name: z.string().min(1).max(100) });
const reason = z.string().min(1).max(2000).optional().describe('why (kept in the history)');
const state = z.object({
  name: z.string(),
  state: z.enum(['active', 'cancelled', 'deleted']),
  runs: z.number().int(),
});

/** What operators do to a campaign once created: cancel, extend, delete. */
export function campaignRoutes(api: Api, ctx: ServerContext): void {
  const deps = { store: ctx.rt.store, deployment: ctx.rt.deployment };
  const present = (c: { name: string; state?: string; runs: number[] }) =>
    ({ name: c.name, state: c.state ?? 'active', runs: c.runs.length }) as z.infer<typeof state>;
  api.route(
    {
      method: 'post',
      path: '/api/campaigns/{name}/cancel',
      summary:
        'Cancels a campaign: nothing more starts, its queued and running jobs are cancelled through their executor (operator)',
      access: 'operator',
      params: namePath,
      body: z.object({ reason }).strict(),
      response: z.object({ campaign: state, failedJobs: z.array(z.number().int()) }),
    },
    async (c, { params, body, who }) => {
      const got = await cancelCampaign(deps, params.name, { by: actor(who), reason: body.reason });
      // The leader stops the jobs executors have at its next pass: now.
      ctx.hooks.trigger();
      return c.json({ campaign: present(got.campaign), failedJobs: got.failedJobs });
    },
  );
  api.route(
    {
      method: 'post',
      path: '/api/campaigns/{name}/extend',
      summary: 'Adds the ended runs of a range to an active campaign (operator)',
      access: 'operator',
      params: namePath,
      body: z.object({ runs: z.string().min(1).max(100).describe('A-B or A'), reason }).strict(),
      response: z.object({ campaign: state, added: z.array(z.number().int()) }),
    },
    async (c, { params, body, who }) => {
      const got = await extendCampaign(deps, params.name, body.runs, {
        by: actor(who),
        reason: body.reason,
      });
      ctx.hooks.trigger();
      return c.json({ campaign: present(got.campaign), added: got.added });
    },
  );
  api.route(
    {
      method: 'delete',
      path: '/api/campaigns/{name}',
      summary:
        'Deletes a settled campaign: off the lists, its instances, events and outputs kept (operator)',
      access: 'operator',
      params: namePath,
      response: z.object({ campaign: state }),
    },
    async (c, { params, who }) => {
      const got = await deleteCampaign(deps, params.name, { by: actor(who) });
      return c.json({ campaign: present(got) });
    },
  );
}
