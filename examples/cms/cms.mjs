// CMS plugin for autoctrl: the run registry (OMS), the conditions database
// (global-tag lock) and the Tier-0 Data Service (dataset-stage lock) of the
// CMS ECAL prompt-calibration system. Written against the public JSON shapes
// of those services and tested against local fixtures of them
// (test/cms.test.ts): see README.md for what is assumed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHttpSource, defineLock, defineSource, durationOption, getJson, z } from 'autoctrl';

const TIMEOUT_MS = 30_000;

/** How the CERN services are reached: an SSO/OIDC bearer token or an X.509 grid certificate. */
const auth = {
  /** Environment variable holding a bearer token (OMS behind CERN SSO). */
  token_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .optional(),
  /** PEM certificate, key and CA files, relative to the deployment file (cmsweb wants X.509). */
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  ca: z.string().min(1).optional(),
  timeout: durationOption('timeout').optional(),
};

function tokenHeaders(options) {
  if (options.token_env === undefined) return {};
  const token = process.env[options.token_env];
  if (!token)
    throw new Error(`environment variable ${options.token_env} is empty: export the token`);
  return { authorization: `Bearer ${token}` };
}

function request(options, dir) {
  const tls = {};
  for (const k of ['cert', 'key', 'ca']) {
    if (options[k] !== undefined) tls[k] = readFileSync(path.resolve(dir, options[k]));
  }
  return { timeoutMs: options.timeout ?? TIMEOUT_MS, headers: tokenHeaders(options), tls };
}

const trim = (url) => url.replace(/\/+$/, '');

// ---------------------------------------------------------------------------
// Runs from OMS: GET {url}/runs?filter[run_number][GE]=N&sort=run_number&page[offset]=…&page[limit]=…
// → { data: [{ id, type: "runs", attributes: { run_number, fill_number, start_time, end_time,
//      recorded_lumi, l1_hlt_mode, sequence, … } }], links: {…}, meta: {…} }

const OMS_FIELDS = [
  'run_number',
  'fill_number',
  'start_time',
  'end_time',
  'recorded_lumi',
  'l1_hlt_mode',
  'hlt_key',
  'sequence',
  'fill_type_runtime',
  'b_field',
  'energy',
  'cmssw_version',
];

export const omsRuns = defineSource({
  type: 'cms-oms',
  options: z.strictObject({
    /** The OMS aggregation API (default https://cmsoms.cern.ch/agg/api/v1). */
    url: z
      .string()
      .regex(/^https?:\/\//)
      .optional(),
    /** Lowest run to take on a fresh start (OMS holds every run since 2009). */
    first_run: z.number().int().positive(),
    /** Only runs of this DAQ sequence (default GLOBAL-RUN: no local or test runs). */
    sequence: z.string().min(1).optional(),
    /** Run type → regular expression on l1_hlt_mode (default collisions, cosmics, circulating). */
    types: z.record(z.string().min(1), z.string().min(1)).optional(),
    /** The prompt global tag, copied into every run's metadata for the global-tag lock. */
    global_tag: z.string().min(1).optional(),
    /** Era → its first run (`Run2023C: 367080`): each run's metadata gets the era it falls in, for `outputs --era`. */
    eras: z.record(z.string().min(1), z.number().int().positive()).optional(),
    page_size: z.number().int().positive().max(10_000).optional(),
    /** OMS gives recorded_lumi in /pb; change if your endpoint says otherwise. */
    lumi_unit: z.enum(['pb', 'fb', 'nb', 'ub']).optional(),
    recheck: durationOption('recheck').optional(),
    ...auth,
  }),
  async create(name, options, ctx) {
    const base = trim(options.url ?? 'https://cmsoms.cern.ch/agg/api/v1');
    const query = new URLSearchParams({ fields: OMS_FIELDS.join(','), sort: 'run_number' });
    query.set('filter[sequence][EQ]', options.sequence ?? 'GLOBAL-RUN');
    const attr = (f) => `attributes.${f}`;
    // The generic http source does the cursor, the paging and the field mapping.
    const http = await createHttpSource(
      name,
      {
        url: `${base}/runs?${query}`,
        records: 'data',
        fields: {
          run: attr('run_number'),
          fill: attr('fill_number'),
          start: attr('start_time'),
          end: attr('end_time'),
          lumi: attr('recorded_lumi'),
          type: attr('l1_hlt_mode'),
        },
        meta: Object.fromEntries(
          ['l1_hlt_mode', 'hlt_key', 'fill_type_runtime', 'b_field', 'energy', 'cmssw_version'].map(
            (f) => [f, attr(f)],
          ),
        ),
        lumi_unit: options.lumi_unit ?? 'pb',
        since_param: 'filter[run_number][GE]',
        first_run: options.first_run,
        paging: { offset: 'page[offset]', limit: 'page[limit]', size: options.page_size ?? 100 },
        headers: tokenHeaders(options),
        timeout: `${options.timeout ?? TIMEOUT_MS}ms`,
        ...(options.recheck === undefined ? {} : { recheck: `${options.recheck}ms` }),
        ...Object.fromEntries(
          ['cert', 'key', 'ca'].flatMap((k) => (options[k] ? [[k, options[k]]] : [])),
        ),
      },
      ctx,
    );
    const types = Object.entries(
      options.types ?? { collisions: '^collisions', cosmics: '^cosmic', circulating: '^circulat' },
    ).map(([type, re]) => [type, new RegExp(re, 'i')]);
    const classify = (mode) => types.find(([, re]) => re.test(mode))?.[0] ?? mode;
    // Latest-starting era first, so the first one at or below a run is its era.
    const eras = Object.entries(options.eras ?? {}).sort(([, a], [, b]) => b - a);
    const eraOf = (run) => eras.find(([, first]) => first <= run)?.[0];
    return {
      name,
      async poll(cursor, now) {
        const { runs, cursor: next } = await http.poll(cursor, now);
        for (const run of runs) {
          if (typeof run.type === 'string') run.type = classify(run.type);
          if (options.global_tag !== undefined) {
            run.meta = { ...run.meta, global_tag: options.global_tag };
          }
          const era = eraOf(run.run);
          if (era !== undefined) run.meta = { ...run.meta, era };
        }
        return { runs, cursor: next };
      },
    };
  },
});

// ---------------------------------------------------------------------------
// Conditions: a global tag maps records to tags; a tag is a list of IOVs.
//   GET {url}/{gt_path}   → [{ record, label, tag_name }]   (or { data: [...] })
//   GET {url}/{iovs_path} → [{ since, payload_hash, insertion_time }] (or { data: [...] })

const listOf = (body) =>
  Array.isArray(body) ? body : Array.isArray(body?.data) ? body.data : null;

/** The run an IOV starts at: `run` IOVs are run numbers; `lumi` IOVs pack run << 32 | lumisection. */
function sinceRun(since, iovType) {
  const n = BigInt(since);
  return Number(iovType === 'lumi' ? n >> 32n : n);
}

export const globalTagLock = defineLock({
  kind: 'cms-condb-gt',
  options: z.strictObject({
    /** The conditions browser (default https://cms-conddb.cern.ch/cmsDbBrowser). */
    url: z
      .string()
      .regex(/^https?:\/\//)
      .optional(),
    /** Records whose tags must cover the instance's last run, e.g. EcalPedestalsRcd; `Rcd/label` for a labelled one. */
    records: z.array(z.string().min(1)).min(1),
    /** The global tag; default the run's `global_tag` metadata (set by the source). */
    global_tag: z.string().min(1).optional(),
    /** Record → tag, to skip reading the global tag (a tag being tested before it is in one). */
    tags: z.record(z.string(), z.string()).optional(),
    iov_type: z.enum(['run', 'lumi']).optional(),
    gt_path: z.string().min(1).optional(),
    iovs_path: z.string().min(1).optional(),
    ...auth,
  }),
  create(options, ctx) {
    const base = trim(options.url ?? 'https://cms-conddb.cern.ch/cmsDbBrowser');
    const gtPath = options.gt_path ?? '/list/Prod/gts/{global_tag}';
    const iovsPath = options.iovs_path ?? '/list/Prod/iovs?tag={tag}';
    const req = request(options, ctx.dir);
    const iovType = options.iov_type ?? 'run';
    const get = (p, values, signal) =>
      getJson(base + p.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(values[k])), {
        ...req,
        signal,
      });
    const gtOf = (target) =>
      options.global_tag ?? target.runs.at(-1)?.meta.global_tag ?? target.runs[0]?.meta.global_tag;

    async function tagsOf(gt, signal, pass) {
      if (options.tags) return options.tags;
      const rows = listOf(
        await pass.once(`gt:${gt}`, () => get(gtPath, { global_tag: gt }, signal)),
      );
      if (rows === null) throw new Error(`global tag ${gt}: the answer is not a list of records`);
      return Object.fromEntries(
        rows.map((r) => [r.label ? `${r.record}/${r.label}` : r.record, r.tag_name ?? r.tag]),
      );
    }

    return {
      checkTimeoutMs: req.timeoutMs * 2,
      key: (target) => `${gtOf(target)}|${target.runs.at(-1)?.run}`,
      async check(target, signal, pass) {
        const gt = gtOf(target);
        const run = target.runs.at(-1)?.run;
        if (gt === undefined) {
          return {
            open: false,
            reason: 'no global tag: set global_tag: on the lock or on the source',
          };
        }
        const tags = await tagsOf(String(gt), signal, pass);
        const missing = [];
        for (const record of options.records) {
          const tag = tags[record];
          if (tag === undefined)
            return { open: false, reason: `${record} is not in global tag ${gt}` };
          const iovs = listOf(await pass.once(`iovs:${tag}`, () => get(iovsPath, { tag }, signal)));
          if (iovs === null) throw new Error(`tag ${tag}: the answer is not a list of IOVs`);
          const last = iovs.reduce((m, i) => Math.max(m, sinceRun(i.since, iovType)), 0);
          if (last < run) missing.push(`${record} (${tag}: last IOV at run ${last || 'none'})`);
        }
        return missing.length === 0
          ? { open: true, reason: `global tag ${gt} covers run ${run}` }
          : {
              open: false,
              reason: `global tag ${gt} does not cover run ${run} yet: ${missing.join(', ')}`,
            };
      },
    };
  },
});

// ---------------------------------------------------------------------------
// Tier-0 (dmwm/t0wmadatasvc):
//   GET {url}/run_stream_done?run=R&stream=S            → { "result": [ true ] }  repack + express of S done
//   GET {url}/run_dataset_done?run=R&primary_dataset=D  → { "result": [ true ] }  PromptReco of D done
// Tier-0 repacks streams, not datasets: stage Repack of a dataset asks its stream
// (the AlCa convention: /AlCaP0 is in stream ALCAP0; `stream:` when it is another).

export const tier0Lock = defineLock({
  kind: 'cms-t0-stage',
  options: z
    .strictObject({
      /** The Tier-0 Data Service (default https://cmsweb.cern.ch/t0wmadatasvc/prod). */
      url: z
        .string()
        .regex(/^https?:\/\//)
        .optional(),
      /** A stream whose repacking and express processing must be done (e.g. Express, ALCAP0). */
      stream: z.string().min(1).optional(),
      /** A primary dataset whose processing must be done, e.g. /AlCaP0 or AlCaP0. */
      dataset: z.string().min(1).optional(),
      /** The Tier-0 stage that must be done: Repack (the dataset's stream) or PromptReco (default for a dataset). */
      stage: z.enum(['Repack', 'PromptReco']).optional(),
      ...auth,
    })
    .refine((o) => o.stream !== undefined || o.dataset !== undefined, {
      message: 'give stream: or dataset:',
    })
    .refine((o) => o.stream === undefined || o.dataset === undefined || o.stage === 'Repack', {
      message: 'give either stream: or dataset: (both only with stage: Repack, naming the stream)',
    })
    .refine((o) => o.stream === undefined || o.stage !== 'PromptReco', {
      message: 'stage: PromptReco is per dataset: give dataset:, not stream:',
    }),
  create(options, ctx) {
    const base = trim(options.url ?? 'https://cmsweb.cern.ch/t0wmadatasvc/prod');
    const req = request(options, ctx.dir);
    const primary = options.dataset?.split('/').filter(Boolean)[0];
    const stream =
      options.stream ?? (options.stage === 'Repack' ? primary?.toUpperCase() : undefined);
    const [endpoint, param, value, what] =
      stream !== undefined
        ? [
            'run_stream_done',
            'stream',
            stream,
            options.dataset === undefined
              ? `stream ${stream}`
              : `the repacking of ${options.dataset} (stream ${stream})`,
          ]
        : ['run_dataset_done', 'primary_dataset', primary, `dataset ${options.dataset}`];
    const url = (run) => `${base}/${endpoint}?run=${run}&${param}=${encodeURIComponent(value)}`;
    return {
      checkTimeoutMs: req.timeoutMs * 2,
      key: (target) => target.runs.map((r) => r.run).join(','),
      async check(target, signal, pass) {
        for (const { run } of target.runs) {
          const body = await pass.once(url(run), () => getJson(url(run), { ...req, signal }));
          const done = Array.isArray(body?.result) ? body.result[0] : undefined;
          if (done === undefined)
            return { open: false, reason: `Tier-0 knows nothing of run ${run} (${what}) yet` };
          if (done !== true)
            return { open: false, reason: `Tier-0 has not finished ${what} for run ${run}` };
        }
        const runs = target.runs.map((r) => r.run);
        const span = runs.length > 1 ? `runs ${runs[0]}-${runs.at(-1)}` : `run ${runs[0]}`;
        return { open: true, reason: `Tier-0 finished ${what} for ${span}` };
      },
    };
  },
});

// ---------------------------------------------------------------------------
// DBS (dmwm/dbs2go): the run's files, for one job per file (the seed's HTCHandlerByRunDBS).
//   GET {url}/datasets?dataset=/AlCaP0/*/RAW&run_num=R → [{ "dataset": "/AlCaP0/Run2023C-v1/RAW" }]
//   GET {url}/files?dataset=D&run_num=R&validFileOnly=1 → [{ "logical_file_name": "/store/…", … }]
// `files` with run_num answers a row per file and lumisection when detailed: rows are deduplicated.

const DATASET = /^\/[^/]+\/[^/]+\/[^/]+$/;

export const dbsFilesLock = defineLock({
  kind: 'cms-dbs',
  options: z.strictObject({
    /** The DBS reader (default https://cmsweb.cern.ch/dbs/prod/global/DBSReader). */
    url: z
      .string()
      .regex(/^https?:\/\//)
      .optional(),
    // The dataset path; `*` in it matches any name, e.g. /AlCaP0/*/RAW.
    dataset: z.string().regex(DATASET, 'a dataset is /PRIMARY/PROCESSED/TIER, e.g. /AlCaP0/*/RAW'),
    /** Put before each logical file name, e.g. root://cms-xrd-global.cern.ch/ (default: the LFN as it is). */
    prefix: z.string().optional(),
    ...auth,
  }),
  create(options, ctx) {
    const base = trim(options.url ?? 'https://cmsweb.cern.ch/dbs/prod/global/DBSReader');
    const req = request(options, ctx.dir);
    const get = (api, query, signal, pass) => {
      const url = `${base}/${api}?${new URLSearchParams(query)}`;
      return pass.once(url, () => getJson(url, { ...req, signal }));
    };
    const rows = (body, what) => {
      if (!Array.isArray(body)) throw new Error(`DBS ${what}: the answer is not a list`);
      return body;
    };
    async function datasetsOf(run, signal, pass) {
      if (!options.dataset.includes('*')) return [options.dataset];
      const body = await get('datasets', { dataset: options.dataset, run_num: run }, signal, pass);
      return rows(body, 'datasets').map((d) => d.dataset);
    }
    return {
      checkTimeoutMs: req.timeoutMs * 4,
      key: (target) => target.runs.map((r) => r.run).join(','),
      async check(target, signal, pass) {
        const files = new Set();
        for (const { run } of target.runs) {
          const before = files.size;
          for (const dataset of await datasetsOf(run, signal, pass)) {
            const query = { dataset, run_num: run, validFileOnly: 1 };
            for (const f of rows(await get('files', query, signal, pass), 'files')) {
              if (f.is_file_valid === 0 || typeof f.logical_file_name !== 'string') continue;
              files.add((options.prefix ?? '') + f.logical_file_name);
            }
          }
          if (files.size === before)
            return {
              open: false,
              reason: `DBS has no files of ${options.dataset} for run ${run} yet`,
            };
        }
        const runs = target.runs.map((r) => r.run);
        const span = runs.length > 1 ? `runs ${runs[0]}-${runs.at(-1)}` : `run ${runs[0]}`;
        return {
          open: true,
          reason: `DBS lists ${files.size} files of ${options.dataset} for ${span}`,
          inputs: [...files],
        };
      },
    };
  },
});
