import { z } from 'zod';
import { durationOption, envName, LUMI_UNITS, type LumiUnit } from '../fields.ts';

const path = z.string().min(1);
const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** Options of the `http` source, as written under `sources.<name>`. */
export const httpOptions = z
  .object({
    /** The JSON endpoint (http:// or https://). */
    url: z.string().regex(/^https?:\/\/.+/, 'url must start with http:// or https://'),
    /** Dotted path to the array of records in the answer (default: the answer is the array). */
    records: z.string().optional(),
    /** Where each run field is in a record; a field not given is looked up under its own name. */
    fields: z
      .object({
        run: path.optional(),
        fill: path.optional(),
        start: path.optional(),
        end: path.optional(),
        lumi: path.optional(),
        type: path.optional(),
      })
      .strict()
      .optional(),
    /** Run metadata: name → dotted path in the record. */
    meta: z.record(z.string().min(1), path).optional(),
    /** Only records whose field (dotted path) equals the value, or one of the values, are runs. */
    filter: z.record(path, z.union([scalar, z.array(scalar).min(1)])).optional(),
    /** Unit of the luminosity field (default pb): converted to /pb. */
    lumi_unit: z.enum(Object.keys(LUMI_UNITS) as [LumiUnit, ...LumiUnit[]]).optional(),
    /** Query parameter set to the lowest run wanted, so the endpoint sends only new and open runs. */
    since_param: z.string().min(1).optional(),
    /** Lowest run number to take on the first poll (default: everything the endpoint lists). */
    first_run: z.number().int().positive().optional(),
    /** Dotted path to the next page's URL in an answer (e.g. links.next); absent or null ends the pages. */
    next: path.optional(),
    /**
     * Offset paging, for endpoints that give a page at a time: the query
     * parameters for the offset and the page size (e.g. page[offset], page[limit]).
     * Pages are asked until one comes back short.
     */
    paging: z
      .object({
        offset: z.string().min(1),
        limit: z.string().min(1),
        /** Records per page (default 100). */
        size: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    /** Pages read per poll at most (default 100). */
    max_pages: z.number().int().positive().optional(),
    /** Time allowed for each request (default 30s). */
    timeout: durationOption('timeout').optional(),
    /** Keep asking for a run this long after it ended, for its final luminosity (default 1h). */
    recheck: durationOption('recheck').optional(),
    /** Stop asking for a run that has not ended after this long (default 2d). */
    open_for: durationOption('open_for').optional(),
    headers: z.record(z.string().min(1), z.string()).optional(),
    /** Headers whose values come from environment variables (tokens stay out of the file). */
    headers_env: z.record(z.string().min(1), envName).optional(),
    /** PEM files (relative to the deployment file) for X.509 client authentication or a private CA. */
    cert: path.optional(),
    key: path.optional(),
    ca: path.optional(),
  })
  .strict()
  .refine((o) => o.paging === undefined || o.next === undefined, {
    message: 'give paging: or next:, not both',
    path: ['next'],
  });

export type HttpOptions = z.output<typeof httpOptions>;
