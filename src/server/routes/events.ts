import { z } from 'zod';
import { InvalidInputError } from '../../errors.ts';
import type { EventRecord } from '../../model/types.ts';
import type { ServerContext } from '../context.ts';
import type { FedEvent, Subscriber } from '../hub.ts';
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
        'Each event as `id: <change-feed position>`, `event: <entity>`, `data: <Event JSON>`. Resumes after `Last-Event-ID` (or `?after=`) with the events missed, in commit order, each once; `: ping` comments keep the connection.',
      access: 'read',
      query: z.object({
        after: z
          .string()
          .max(200)
          .optional()
          .describe('resume after this position (the `id:` of a message, as Last-Event-ID)'),
      }),
      produces: 'text/event-stream',
    },
    async (c, { query }) => {
      const resume = c.req.header('last-event-id') ?? query.after;
      if (resume !== undefined) {
        await store.readFeed(resume, { limit: 1, kinds: ['event'] }).catch((err: unknown) => {
          throw new InvalidInputError(
            'Last-Event-ID',
            `"${resume}" is not a position of this store's feed`,
            {
              cause: err,
            },
          );
        });
      }
      // Event ids are unique: what the backfill sent is not sent again when the live feed overlaps it.
      const sentIds = new Set<number>();
      let backlog: FedEvent[] | null = [];
      const send = (fed: readonly FedEvent[], backfill: boolean) => {
        for (const { event, cursor } of fed) {
          if (sentIds.has(event.id)) continue;
          if (backfill) sentIds.add(event.id);
          stream.send({ id: cursor, event: event.entity, data: jsonOf(event) });
        }
      };
      const sub: Subscriber = {
        // Live events wait while the missed ones are read from the store, so the order holds.
        deliver: (fed) => (backlog === null ? send(fed, false) : backlog.push(...fed)),
        beat: () => stream.comment('ping'),
        close: () => stream.close(),
      };
      const { response, stream } = openSse(() => ctx.hub.unsubscribe(sub));
      stream.comment('connected');
      await ctx.hub.subscribe(sub);
      let cursor = resume ?? null;
      while (cursor !== null && !stream.closed) {
        const page = await store.readFeed(cursor, { limit: BACKFILL_PAGE, kinds: ['event'] });
        send(
          page.items.flatMap((i) =>
            i.kind === 'event' ? [{ event: i.event, cursor: i.cursor }] : [],
          ),
          true,
        );
        cursor = page.items.length < BACKFILL_PAGE ? null : page.cursor;
      }
      const waiting = backlog;
      backlog = null;
      send(waiting, false);
      return response;
    },
  );
}
