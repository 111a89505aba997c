import { z } from 'zod';
import type { Api } from './route.ts';
import { errorSchema } from './schemas.ts';

type JsonSchema = Record<string, unknown>;

function schemaOf(s: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, {
    io,
    unrepresentable: 'any',
  }) as JsonSchema;
  return rest;
}

/** Path or query parameters of an object schema, each with its own schema. */
function parameters(s: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (s === undefined) return [];
  const obj = schemaOf(s, 'input');
  const props = (obj.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((obj.required ?? []) as string[]);
  return Object.entries(props).map(([name, schema]) => {
    const { description, ...rest } = schema;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description !== undefined ? { description } : {}),
      schema: rest,
    };
  });
}

const REFUSALS = {
  '400': 'bad input: the message names the field',
  '401': 'no token, or one that is nobody’s',
  '403': 'a token that may not do this',
  '404': 'no such record',
};

/** The OpenAPI 3.1 description of every route registered on `api`. */
export function openApiDocument(api: Api, version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const error = { 'application/json': { schema: schemaOf(errorSchema, 'output') } };
  for (const spec of api.specs) {
    const produces = spec.produces ?? 'application/json';
    const ok =
      produces === 'application/json' && spec.response !== undefined
        ? { [produces]: { schema: schemaOf(spec.response, 'output') } }
        : { [produces]: { schema: { type: 'string' } } };
    const responses: Record<string, JsonSchema> = { '200': { description: 'OK', content: ok } };
    for (const [code, description] of Object.entries(REFUSALS)) {
      if (code === '401' || code === '403') {
        if (spec.access === 'open') continue;
      }
      responses[code] = { description, content: error };
    }
    const security =
      spec.access === 'operator' || spec.access === 'job'
        ? [{ bearer: [] }]
        : spec.access === 'read'
          ? [{}, { bearer: [] }]
          : [];
    const item = paths[spec.path] ?? {};
    paths[spec.path] = item;
    item[spec.method] = {
      summary: spec.summary,
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      ...(spec.deprecated ? { deprecated: true } : {}),
      'x-access': spec.access,
      parameters: [...parameters(spec.params, 'path'), ...parameters(spec.query, 'query')],
      ...(spec.body !== undefined
        ? {
            requestBody: {
              required: false,
              content: { 'application/json': { schema: schemaOf(spec.body, 'input') } },
            },
          }
        : {}),
      responses,
      security,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'autoctrl',
      version,
      description:
        'Runs, tasks, the overview grid, instances, jobs and their logs, outputs, plots and the live event stream of an autoctrl deployment. See docs/api.md.',
    },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An operator token (auth.operators in the deployment file) for actions, and for reading when auth.read is token; a job’s own token ($AUTOCTRL_TOKEN) for its report.',
        },
      },
    },
    paths,
  };
}
