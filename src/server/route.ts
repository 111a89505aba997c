import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { AuthConfig } from '../config/types.ts';
import { InvalidInputError } from '../errors.ts';
import { MAX_JSON_DEPTH, tooDeepAt } from '../limits.ts';
import { type Access, authorize, type Principal } from './auth.ts';
import { invalidInput } from './errors.ts';

const EMPTY = z.object({});
type Empty = typeof EMPTY;

/** One route: what it takes and gives (validated, and described in the OpenAPI document). */
export interface RouteSpec<
  P extends z.ZodType = Empty,
  Q extends z.ZodType = Empty,
  B extends z.ZodType = Empty,
> {
  method: 'get' | 'post' | 'delete';
  /** OpenAPI style: `/api/jobs/{id}`. */
  path: string;
  summary: string;
  description?: string;
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  /** The JSON answer, for the description. */
  response?: z.ZodType;
  produces?: 'application/json' | 'text/plain' | 'text/event-stream' | 'text/html';
  deprecated?: boolean;
}

export interface Input<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
  who: Principal;
}

function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw invalidInput(where, r.error);
  return r.data;
}

async function readBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch (cause) {
    throw new InvalidInputError('body', 'not valid JSON; send a JSON object', { cause });
  }
  // Deeper values would overflow the stack of whatever walks them next (zod, the store's JSON).
  const deep = tooDeepAt(body, 2 * MAX_JSON_DEPTH);
  if (deep !== null) {
    const field = ['body', ...deep.slice(0, 4)].join('.');
    throw new InvalidInputError(
      field,
      `nested more than ${MAX_JSON_DEPTH} levels deep: flatten it`,
    );
  }
  return body;
}

/**
 * Routes registered with their spec: requests are checked (access, then
 * path, query and body by zod, a failure naming the field) before the
 * handler runs, and every spec feeds `/api/openapi.json`, so the description
 * cannot drift from what is served.
 */
export class Api {
  readonly specs: RouteSpec<z.ZodType, z.ZodType, z.ZodType>[] = [];

  constructor(
    readonly app: Hono,
    private readonly auth: AuthConfig,
    private readonly jobSecret: Buffer,
  ) {}

  route<P extends z.ZodType = Empty, Q extends z.ZodType = Empty, B extends z.ZodType = Empty>(
    spec: RouteSpec<P, Q, B>,
    handler: (c: Context, input: Input<P, Q, B>) => Response | Promise<Response>,
  ): void {
    this.specs.push(spec as unknown as RouteSpec<z.ZodType, z.ZodType, z.ZodType>);
    const honoPath = spec.path.replace(/\{(\w+)\}/g, ':$1');
    this.app.on(spec.method.toUpperCase(), honoPath, async (c) => {
      const params = parse(spec.params ?? EMPTY, c.req.param(), 'path') as z.output<P>;
      const id = (params as { id?: unknown }).id;
      // EventSource cannot send headers: a read may carry its token as `access_token`.
      const viaQuery = spec.access === 'read' ? c.req.query('access_token') : undefined;
      const who = authorize(
        this.auth,
        spec.access,
        c.req.header('authorization') ?? (viaQuery ? `Bearer ${viaQuery}` : undefined),
        spec.access === 'job' && typeof id === 'number'
          ? { secret: this.jobSecret, id }
          : undefined,
      );
      const query = parse(spec.query ?? EMPTY, c.req.query(), 'query') as z.output<Q>;
      const body = (
        spec.body === undefined ? {} : parse(spec.body, await readBody(c), 'body')
      ) as z.output<B>;
      return handler(c, { params, query, body, who });
    });
  }
}

/** A positive whole number from a path or query string. */
export const idParam = z
  .string()
  .regex(/^[1-9]\d{0,15}$/, 'must be a positive whole number')
  .transform(Number);

export const intParam = z
  .string()
  .regex(/^-?\d{1,16}$/, 'must be a whole number')
  .transform(Number);

export const runParam = z
  .string()
  .regex(/^\d{1,16}$/, 'must be a run number')
  .transform(Number);

export function limitParam(max: number, dflt: number) {
  return z
    .string()
    .regex(/^\d{1,7}$/, `must be a whole number from 1 to ${max}`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= max, `must be from 1 to ${max}`)
    .optional()
    .transform((n) => n ?? dflt);
}

/** Who did it, as events record it. */
export function actor(who: Principal): string {
  if (who.kind === 'operator') return `operator:${who.name}`;
  return who.kind === 'job' ? `job:${who.jobId}` : 'anonymous';
}
