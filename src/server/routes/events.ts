import { z } from 'zod';
import type { EventRecord } from '../../model/types.ts';
import type { ServerContext } from '../context.ts';
import type { Subscriber } from '../hub.ts';
import { presentEvent } from '../present.ts';
import { type Api, intParam, limitParam } from '../route.ts';
import { eventSchema } from '../schemas.ts';
import { openSse } from '../sse.ts';

const BACKFILL_PAGE = 1000;

/** Every client gets the same events from the hub: each is turned into JSON once, not once per client. */
const serialized = new WeakMap<EventRecord, string>();
function jsonOf(e: EventRecord): string {
  let text = serialized.get(e);
  if (text === undefined) {
    text = JSON.stringify(presentEvent(e));
    serialized.set(e, text);
  }
  return text;
}

export function eventRoutes(api: Api, ctx: ServerContext): void {
  const { store } = ctx.rt;
  api.route(
    {
      method: 'get',
      path: '/api/events',
      summary: 'The event log, ascending by id',
      access: 'read',
      query: z.object({
        after: intParam.optional().describe('only events with a larger id'),
        instance: intParam
          .optional()
          .describe('only the history of this instance (its jobs included)'),
        limit: limitParam(5000, 500),
      }),
      response: z.object({ events: z.array(eventSchema) }),
    },
    async (c, { query }) => {
      const events = await store.listEvents({
        ...(query.after !== undefined ? { afterId: query.after } : {}),
        ...(query.instance !== undefined ? { instanceId: query.instance } : {}),
        limit: query.limit,
      });
      return c.json({ events: events.map(presentEvent) });
    },
  );
  api.route(
    {
      method: 'get',
      path: '/api/events/stream',
      summary: 'Every new event, live, as Server-Sent Events',
      description:
        'Each event as `id: <event id>`, `event: <entity>`, `data: <Event JSON>`. Resumes after `Last-Event-ID` (or `?after=`) with the events missed; `: ping` comments keep the connection.',
      access: 'read',
      query: z.object({
        after: intParam.optional().describe('resume after this event id (as Last-Event-ID)'),
      }),
      produces: 'text/event-stream',
    },
    async (c, { query }) => {
      const header = c.req.header('last-event-id');
      const resume = header !== undefined && /^\d+$/.test(header) ? Number(header) : query.after;
      let sent = resume ?? Number.POSITIVE_INFINITY;
      let backlog: EventRecord[] | null = [];
      const send = (events: readonly EventRecord[]) => {
        for (const e of events) {
          if (e.id <= sent) continue;
          stream.send({ id: e.id, event: e.entity, data: jsonOf(e) });
          sent = e.id;
        }
      };
      const sub: Subscriber = {
        // Live events wait while the missed ones are read from the store, so the order holds.
        deliver: (events) => (backlog === null ? send(events) : backlog.push(...events)),
        beat: () => stream.comment('ping'),
        close: () => stream.close(),
      };
      const { response, stream } = openSse(() => ctx.hub.unsubscribe(sub));
      stream.comment('connected');
      const head = await ctx.hub.subscribe(sub);
      if (sent === Number.POSITIVE_INFINITY) sent = head;
      while (sent < head && !stream.closed) {
        const page = await store.listEvents({ afterId: sent, limit: BACKFILL_PAGE });
        const upTo = page.filter((e) => e.id <= head);
        send(upTo);
        if (page.length < BACKFILL_PAGE || upTo.length < page.length) break;
      }
      const waiting = backlog;
      backlog = null;
      send(waiting);
      return response;
    },
  );
}
