import type { FeedItem } from '../store/contract.ts';
import type { CampaignView } from './campaign-book.ts';
import type { EngineContext } from './context.ts';

/** Past this many changes since the last pass, a full pass is cheaper than following each. */
const FOLLOW_AT_MOST = 5_000;

/**
 * What one pass looks at. A full pass (the timer's safety net, a new leader,
 * a backlog of changes) examines every active instance; a triggered pass
 * only the instances the changes since the last pass touch: those whose
 * jobs moved, those that came back `new`, and the downstream instances of
 * the runs whose instances settled.
 */
export class PassScope {
  readonly full: boolean;
  /**
   * Whether runs arrived or changed: only then can intake find anything, so a
   * pass triggered by a job's exit does not read every task's intake cursor.
   */
  runsChanged: boolean;
  /** The runs written since the last pass (new or changed): a lock may answer otherwise for them. */
  readonly runs = new Set<number>();
  /** Per `campaign\0task`, instances whose jobs changed: settle them. */
  readonly #settle = new Map<string, Set<number>>();
  /** Per `campaign\0task`, instances to gate. */
  readonly #gate = new Map<string, Set<number>>();

  constructor(full: boolean) {
    this.full = full;
    this.runsChanged = full;
  }

  settleIds(campaign: string, task: string): ReadonlySet<number> {
    return this.#settle.get(`${campaign}\0${task}`) ?? NONE;
  }

  addSettle(campaign: string, task: string, id: number): void {
    add(this.#settle, campaign, task, [id]);
  }

  gateIds(campaign: string, task: string): ReadonlySet<number> {
    return this.#gate.get(`${campaign}\0${task}`) ?? NONE;
  }

  addGate(campaign: string, task: string, ids: Iterable<number>): void {
    add(this.#gate, campaign, task, ids);
  }
}

const NONE: ReadonlySet<number> = new Set();

function add(
  sets: Map<string, Set<number>>,
  campaign: string,
  task: string,
  ids: Iterable<number>,
): void {
  const key = `${campaign}\0${task}`;
  let set = sets.get(key);
  if (set === undefined) {
    set = new Set();
    sets.set(key, set);
  }
  for (const id of ids) set.add(id);
}

/** A job's statuses after which its instance may be settled; its other moves change no verdict. */
const ENDED = new Set(['done', 'failed']);

/**
 * Turns the change-feed items since the last pass into a scope. Returns null
 * when the changes are too many (or of a kind, such as a new campaign, that
 * only a full pass handles well). `handled`: instances whose engine-written
 * `new` or `done` event the last pass followed up already (it reads its own
 * writes back).
 */
export async function scopeOf(
  ctx: EngineContext,
  items: readonly FeedItem[],
  campaigns: readonly CampaignView[],
  handled: ReadonlySet<number> = NONE,
): Promise<PassScope | null> {
  if (items.length >= FOLLOW_AT_MOST) return null;
  const scope = new PassScope(false);
  const done: number[] = [];
  for (const item of items) {
    if (item.kind === 'run') {
      scope.runsChanged = true;
      scope.runs.add(item.run.run);
    }
    if (item.kind !== 'event') continue;
    const e = item.event;
    if (e.entity === 'campaign') return null;
    const ended = e.to !== null && ENDED.has(e.to);
    if (
      e.entity === 'job' &&
      ended &&
      e.instanceId !== null &&
      e.campaign !== null &&
      e.task !== null
    )
      scope.addSettle(e.campaign, e.task, e.instanceId);
    if (e.entity !== 'instance' || e.campaign === null || e.task === null) continue;
    const id = Number(e.entityId);
    if (e.by === 'engine' && handled.has(id)) continue;
    if (e.to === 'new') scope.addGate(e.campaign, e.task, [id]);
    if (e.to === 'done') done.push(id);
  }
  if (done.length > 0)
    await gateDownstream(ctx, await ctx.store.getInstances(done), campaigns, scope);
  return scope;
}

/**
 * Adds to `scope` the instances downstream of `done` ones, for the same runs,
 * in every campaign they feed: one read per downstream task, whatever the
 * number of instances done upstream.
 */
export async function gateDownstream(
  ctx: EngineContext,
  done: readonly { campaign: string; task: string; runs: number[] }[],
  campaigns: readonly CampaignView[],
  scope: PassScope,
): Promise<void> {
  const runsOf = new Map<string, { campaign: string; task: string; runs: Set<number> }>();
  for (const up of done) {
    const key = `${up.campaign}\0${up.task}`;
    const seen = runsOf.get(key) ?? { campaign: up.campaign, task: up.task, runs: new Set() };
    for (const r of up.runs) seen.runs.add(r);
    runsOf.set(key, seen);
  }
  for (const up of runsOf.values()) {
    for (const view of campaigns) {
      for (const down of view.tasks) {
        if (!down.after.includes(up.task)) continue;
        if (view.upstreamCampaign(up.task) !== up.campaign) continue;
        const found = await ctx.store.instancesForRuns(view.name, down.name, [...up.runs]);
        scope.addGate(
          view.name,
          down.name,
          found.map((i) => i.id),
        );
      }
    }
  }
}
