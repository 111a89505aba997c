import { TASK_NAME } from '../config/schema.ts';
import type { Deployment } from '../config/types.ts';
import { campaignView } from '../engine/campaign-book.ts';
import { CampaignExistsError, InvalidInputError } from '../errors.ts';
import {
  type Campaign,
  type CampaignOverride,
  type CampaignSelection,
  DEFAULT_SHARE,
  PROMPT,
  type RunSelection,
} from '../model/campaign.ts';
import type { StateStore } from '../store/contract.ts';
import { UnknownCampaignError } from '../views/campaign-progress.ts';
import { parseOverride } from './overrides.ts';

export type {
  Campaign,
  CampaignCounts,
  CampaignOverride,
  CampaignSelection,
} from '../model/campaign.ts';
export { DEFAULT_SHARE } from '../model/campaign.ts';
export { UnknownCampaignError } from '../views/campaign-progress.ts';
export { OverrideError } from './overrides.ts';

/**
 * What a person (`autoctrl campaign create`) or the API (`POST /api/campaigns`)
 * asks for. At least one of `runs`, `fill`, `since` selects the runs; every
 * condition given must hold. Values may be strings as typed on a command line.
 */
export interface CampaignRequest {
  name: string;
  /** `A-B` or `A`. */
  runs?: string;
  fill?: number | string;
  /** ISO date-time: runs started at or after it. */
  since?: string;
  type?: string;
  /** Tasks to run, default all; exactly these, upstream tasks not listed are taken from `prompt`. */
  tasks?: readonly string[];
  /** `{"task.key": value}`, applied in the order given. */
  set?: Readonly<Record<string, unknown>>;
  /** Fraction (0, 1] of each executor's slots; default `DEFAULT_SHARE`. */
  share?: number | string;
}

export interface CampaignDeps {
  store: StateStore;
  deployment: Deployment;
  now?: () => number;
}

/**
 * Creates a reprocessing campaign: checks the request against the
 * deployment, resolves the selection into its run list now (later runs never
 * join it), and stores it with a `campaign` event. The engine picks it up at
 * its next pass. Throws `InvalidInputError` (an `OverrideError` for a
 * `--set`) naming what to fix, `CampaignExistsError` for a taken name.
 */
export async function createCampaign(
  deps: CampaignDeps,
  req: CampaignRequest,
  by: string,
): Promise<Campaign> {
  const { store, deployment } = deps;
  const name = checkName(req.name);
  const { selection, query } = parseSelection(req);
  const tasks = parseTasks(req.tasks, deployment);
  const overrides = Object.entries(req.set ?? {}).map(
    ([key, value]): CampaignOverride => parseOverride(key, value, deployment, tasks),
  );
  const share = parseShare(req.share);
  if ((await store.getCampaign(name)) !== null) throw new CampaignExistsError(name);
  const runs = (await store.selectRuns(query)).map((r) => r.run);
  if (runs.length === 0)
    throw new InvalidInputError(
      'selection',
      `no ended run matches ${describeSelection(selection)}: \`autoctrl runs list\` shows the runs the store has`,
    );
  const campaign: Campaign = {
    name,
    selection,
    runs,
    tasks,
    overrides,
    share,
    createdAt: (deps.now ?? Date.now)(),
    createdBy: by,
  };
  // Overrides that parse may still not fit the task (an argument index past the command's end).
  campaignView(deployment, campaign);
  return store.createCampaign(campaign);
}

/** `--runs 1-5 --type cosmics`, as a person would have typed the selection. */
export function describeSelection(s: CampaignSelection): string {
  const parts: string[] = [];
  if (s.runs !== undefined)
    parts.push(`--runs ${s.runs.from === s.runs.to ? s.runs.from : `${s.runs.from}-${s.runs.to}`}`);
  if (s.fill !== undefined) parts.push(`--fill ${s.fill}`);
  if (s.since !== undefined) parts.push(`--since ${s.since}`);
  if (s.type !== undefined) parts.push(`--type ${s.type}`);
  return parts.join(' ');
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !TASK_NAME.test(name) || name.length > 64)
    throw new InvalidInputError(
      'name',
      `${JSON.stringify(name)}: a campaign name is up to 64 lower-case letters, digits, - and _ (e.g. rereco-2024-gt130)`,
    );
  if (name === PROMPT)
    throw new InvalidInputError(
      'name',
      `${PROMPT} is the live campaign and always exists; choose another name`,
    );
  return name;
}

function positiveInt(value: number | string, field: string, what: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0)
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not ${what}`);
  return n;
}

/** `A-B` or `A`, as people type a run range (`--runs`, `runs` in the API). */
export function parseRuns(text: unknown): { from: number; to: number } {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(String(text));
  const from = Number(m?.[1]);
  const to = m?.[2] === undefined ? from : Number(m[2]);
  if (m === null || to < from)
    throw new InvalidInputError(
      '--runs',
      `"${text}" is not a run range: write A-B with A ≤ B, or A (e.g. 355100-355120)`,
    );
  return { from, to };
}

function parseSelection(req: CampaignRequest): {
  selection: CampaignSelection;
  query: RunSelection;
} {
  const selection: CampaignSelection = {};
  const query: RunSelection = {};
  if (req.runs !== undefined) {
    const { from, to } = parseRuns(req.runs);
    selection.runs = { from, to };
    Object.assign(query, { from, to });
  }
  if (req.fill !== undefined) {
    selection.fill = positiveInt(req.fill, '--fill', 'a fill number');
    query.fill = selection.fill;
  }
  if (req.since !== undefined) {
    const at = Date.parse(req.since);
    if (Number.isNaN(at))
      throw new InvalidInputError(
        '--since',
        `"${req.since}" is not an ISO date-time (e.g. 2026-05-01 or 2026-05-01T08:00:00Z)`,
      );
    selection.since = new Date(at).toISOString();
    query.since = at;
  }
  if (req.type !== undefined) {
    if (typeof req.type !== 'string' || req.type === '')
      throw new InvalidInputError('--type', 'give a run type such as collisions or cosmics');
    selection.type = req.type;
    query.type = req.type;
  }
  if (selection.runs === undefined && selection.fill === undefined && selection.since === undefined)
    throw new InvalidInputError(
      'selection',
      'say which runs to reprocess: --runs A-B, --fill F or --since ISO (and optionally --type T)',
    );
  return { selection, query };
}

function parseTasks(asked: readonly string[] | undefined, deployment: Deployment): string[] {
  const known = deployment.tasks.map((t) => t.name);
  if (asked === undefined) return known;
  if (asked.length === 0)
    throw new InvalidInputError('--tasks', `name at least one task (tasks: ${known.join(', ')})`);
  for (const t of asked) {
    if (!known.includes(t))
      throw new InvalidInputError('--tasks', `unknown task '${t}' (tasks: ${known.join(', ')})`);
  }
  // Topological order, as the engine walks them.
  return known.filter((t) => asked.includes(t));
}

function parseShare(value: number | string | undefined): number {
  if (value === undefined) return DEFAULT_SHARE;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0 || n > 1)
    throw new InvalidInputError(
      '--share',
      `${JSON.stringify(value)} is not a fraction of the job slots: give a number in (0, 1], e.g. 0.3`,
    );
  return n;
}

/** Refuses a `--campaign` that names nothing, instead of showing an empty grid. */
export async function requireCampaign(store: StateStore, name: string): Promise<void> {
  if (name !== PROMPT && (await store.getCampaign(name)) === null)
    throw new UnknownCampaignError(name);
}
