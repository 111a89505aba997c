import { FencedError, InvalidInputError, NotFoundError, StaleStateError } from '../../errors.ts';
import { assertInstanceTransition, canTransitionInstance } from '../../model/transitions.ts';
import type { Instance, InstanceStatus } from '../../model/types.ts';
import type {
  Cell,
  CursorWrite,
  Fence,
  InstanceAttempt,
  InstanceChange,
  InstanceQuery,
  InstanceStart,
  NewInstance,
  ReprocessChange,
} from '../contract.ts';
import { instanceAfter, instanceEvent, instanceStarted, type NewEvent } from '../records.ts';
import { instanceColumns, limitOf } from './columns.ts';
import { checkFence, writeCursor } from './coordination.ts';
import { type Db, named, RetryTransaction, type Sql } from './db.ts';
import { writeEvents, writeJobs } from './writers.ts';

const INSTANCES = `SELECT ${instanceColumns('i')} FROM instances i`;

/**
 * New instances (`$1`, a JSON list) none of whose runs a (campaign, task)
 * has yet, their memberships, and how many memberships were added: fewer
 * than their runs when a concurrent writer took one since the check.
 */
const CREATE = `
WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(campaign text, task text, group_key text, runs bigint[])),
i AS (INSERT INTO instances AS i (campaign, task, group_key, runs, first_run, status, attempt, created_at, updated_at)
  SELECT x.campaign, x.task, x.group_key, x.runs, x.runs[1], 'new', 1, $2, $2 FROM x
  WHERE NOT EXISTS (SELECT 1 FROM memberships m
    WHERE m.campaign = x.campaign AND m.task = x.task AND m.run = ANY (x.runs))
  ON CONFLICT (campaign, task, group_key) DO NOTHING
  RETURNING ${instanceColumns('i')}),
m AS (INSERT INTO memberships (campaign, task, run, instance_id, status)
  SELECT i.campaign, i.task, unnest(i.runs), i.id, 'new' FROM i
  ON CONFLICT DO NOTHING RETURNING 1)
SELECT i.*, (SELECT count(*) FROM m) AS added FROM i`;

/**
 * The locked current row, checked against the caller's `from` (the compare of
 * compare-and-set), and the fence in the same round trip: the lease row is
 * share-locked until the transaction ends.
 */
async function current(
  sql: Sql,
  id: number,
  from: InstanceStatus,
  fence: Fence | undefined,
): Promise<Instance> {
  const res = await sql.query<Instance & { fenceEpoch: number | null }>(
    named(
      'currentInstance',
      `SELECT ${instanceColumns('i')}, (SELECT l.epoch FROM leases l WHERE l.name = $2 FOR SHARE) AS "fenceEpoch"
       FROM instances i WHERE i.id = $1 FOR UPDATE OF i`,
      [id, fence?.lease ?? null],
    ),
  );
  const found = res.rows[0];
  if (found === undefined) {
    await checkFence(sql, fence);
    throw new NotFoundError('instance', id);
  }
  const { fenceEpoch, ...row } = found;
  if (fence !== undefined && fenceEpoch !== fence.epoch)
    throw new FencedError(fence.lease, fence.epoch, fenceEpoch);
  if (row.status !== from) throw new StaleStateError('instance', id, from, row.status);
  return row;
}

/** Writes the instance's new state and its event in one statement. */
function update(sql: Sql, i: Instance, event: NewEvent): Promise<number[]> {
  return writeEvents(sql, [event], {
    name: 'updateInstance',
    sql: 'UPDATE instances SET status = $3, reason = $4, attempt = $5, config_hash = $6, updated_at = $7 WHERE id = $2',
    params: [i.id, i.status, i.reason, i.attempt, i.configHash, i.updatedAt],
  });
}

/**
 * The new instances of `list` a store may create, in order: within one call,
 * as between calls, a (campaign, task) group key or run is taken by the first.
 */
function candidates(list: readonly NewInstance[]): NewInstance[] {
  const taken = new Set<string>();
  const out: NewInstance[] = [];
  for (const n of list) {
    const runs = [...new Set(n.runs)].sort((a, b) => a - b);
    if (runs.length === 0)
      throw new InvalidInputError('runs', `instance ${n.groupKey} covers no run`);
    const keys = [
      `g\0${n.campaign}\0${n.task}\0${n.groupKey}`,
      ...runs.map((r) => `r\0${n.campaign}\0${n.task}\0${r}`),
    ];
    if (keys.some((k) => taken.has(k))) continue;
    for (const k of keys) taken.add(k);
    out.push({ ...n, runs });
  }
  return out;
}

/** Instances, their run memberships and the configurations they ran with. */
export function instanceOps(db: Db) {
  return {
    createInstances: async (
      list: readonly NewInstance[],
      by: string,
      opts: { cursor?: CursorWrite; fence?: Fence } = {},
    ): Promise<Instance[]> => {
      const wanted = candidates(list);
      if (wanted.length === 0) {
        if (opts.fence === undefined && opts.cursor === undefined) return [];
        return db.tx('createInstances', async (sql) => {
          await Promise.all([checkFence(sql, opts.fence), writeCursor(sql, opts.cursor)]);
          return [];
        });
      }
      const rows = JSON.stringify(
        wanted.map((n) => ({
          campaign: n.campaign,
          task: n.task,
          group_key: n.groupKey,
          runs: n.runs,
        })),
      );
      return db.tx('createInstances', async (sql, commit) => {
        // One round trip: the checks, and the instances none of whose runs is taken yet with their
        // memberships; a failed check rolls them back.
        const [, , res] = await Promise.all([
          checkFence(sql, opts.fence),
          writeCursor(sql, opts.cursor),
          sql.query<Instance & { added: number }>(
            named('createInstances', CREATE, [rows, Date.now()]),
          ),
        ]);
        const created = res.rows
          .map(({ added: _, ...i }) => i as Instance)
          .sort((a, b) => a.id - b.id);
        // A concurrent writer took one of these runs under another group key since the check.
        const added = res.rows[0]?.added ?? 0;
        if (added !== created.reduce((n, i) => n + i.runs.length, 0)) throw new RetryTransaction();
        if (created.length === 0) return [];
        await commit(
          writeEvents(
            sql,
            created.map((i) => instanceEvent(i, null, by, null)),
          ),
        );
        return created;
      });
    },
    getInstance: async (id: number): Promise<Instance | null> =>
      (await db.prepared<Instance>('getInstance', `${INSTANCES} WHERE i.id = $1`, [id]))[0] ?? null,
    getInstances: (ids: readonly number[]): Promise<Instance[]> =>
      db.prepared<Instance>('getInstances', `${INSTANCES} WHERE i.id = ANY($1) ORDER BY i.id`, [
        ids,
      ]),
    instancesByStatus: (campaign: string, task: string, statuses: readonly InstanceStatus[]) =>
      db.prepared<Instance>(
        'instancesByStatus',
        `${INSTANCES} WHERE i.campaign = $1 AND i.task = $2 AND i.status = ANY($3) ORDER BY i.id`,
        [campaign, task, statuses],
      ),
    instancesForRuns: (campaign: string, task: string, runs: readonly number[]) =>
      db.prepared<Instance>(
        'instancesForRuns',
        `${INSTANCES} WHERE i.id IN (SELECT m.instance_id FROM memberships m
           WHERE m.campaign = $1 AND m.task = $2 AND m.run = ANY($3)) ORDER BY i.id`,
        [campaign, task, runs],
      ),
    findInstances: (q: InstanceQuery): Promise<Instance[]> => {
      // A NULL parameter switches its condition off; a run range goes through memberships.
      const ranged = q.runFrom !== undefined || q.runTo !== undefined;
      return db.query<Instance>(
        'findInstances',
        `${INSTANCES} WHERE ($1::text IS NULL OR i.campaign = $1) AND ($2::text IS NULL OR i.task = $2)
           AND ($3::text[] IS NULL OR i.status = ANY($3))
           AND (NOT $4 OR i.id IN (SELECT m.instance_id FROM memberships m WHERE m.run >= $5 AND m.run <= $6
             AND ($1::text IS NULL OR m.campaign = $1) AND ($2::text IS NULL OR m.task = $2)))
         ORDER BY i.first_run, i.task, i.id LIMIT $7`,
        [
          q.campaign ?? null,
          q.task ?? null,
          q.statuses ?? null,
          ranged,
          q.runFrom ?? Number.MIN_SAFE_INTEGER,
          q.runTo ?? Number.MAX_SAFE_INTEGER,
          limitOf(q.limit),
        ],
      );
    },
    cellsForRuns: (campaign: string, runs: readonly number[]): Promise<Cell[]> =>
      // Status from the membership (kept by trigger); a reason only where one can matter.
      db.query<Cell>(
        'cellsForRuns',
        `SELECT m.run, m.task, m.instance_id AS "instanceId", m.status,
           CASE WHEN m.status = 'done' THEN NULL
                ELSE (SELECT i.reason FROM instances i WHERE i.id = m.instance_id) END AS reason
         FROM memberships m WHERE m.campaign = $1 AND m.run = ANY($2) ORDER BY m.run, m.task`,
        [campaign, runs],
      ),
    transitionInstance: async (id: number, c: InstanceChange): Promise<Instance> => {
      assertInstanceTransition(id, c.from, c.to);
      return db.tx('transitionInstance', async (sql, commit) => {
        const before = await current(sql, id, c.from, c.fence);
        const after = instanceAfter(before, c);
        if (after === null) return before;
        await commit(update(sql, after, instanceEvent(after, c.from, c.by, c.data ?? null)));
        return after;
      });
    },
    reprocessInstances: (ids: readonly number[], c: ReprocessChange) =>
      db.tx('reprocessInstances', async (sql) => {
        // Locked in id order, as every writer of several instances takes them: no deadlock.
        const rows = (
          await sql.query<Instance>(
            `${INSTANCES} WHERE i.id = ANY($1) ORDER BY i.id FOR UPDATE OF i`,
            [[...new Set(ids)]],
          )
        ).rows;
        const byId = new Map(rows.map((r) => [r.id, r]));
        const reprocessed: Instance[] = [];
        const skipped: Array<{ id: number; status: InstanceStatus | null }> = [];
        for (const id of [...new Set(ids)]) {
          const row = byId.get(id);
          if (row === undefined || !canTransitionInstance(row.status, 'new')) {
            skipped.push({ id, status: row?.status ?? null });
            continue;
          }
          const after = instanceAfter(row, { ...c, from: row.status, to: 'new' }) as Instance;
          await update(sql, after, instanceEvent(after, row.status, c.by, c.data ?? null));
          reprocessed.push(after);
        }
        return { reprocessed, skipped };
      }),
    startInstance: async (id: number, s: InstanceStart) => {
      assertInstanceTransition(id, s.from, 'processing');
      return db.tx('startInstance', async (sql, commit) => {
        const before = await current(sql, id, s.from, s.fence);
        const instance = instanceStarted(before, s);
        const parent = {
          instanceId: id,
          campaign: instance.campaign,
          task: instance.task,
          instanceAttempt: instance.attempt,
          configHash: s.configHash,
        };
        // Independent writes, sent together; the jobs' events and the COMMIT follow the jobs.
        const [jobs] = await Promise.all([
          writeJobs(sql, parent, s.jobs, s.by, s.at, { commit }),
          sql.query(
            'INSERT INTO configs (hash, json) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING',
            [s.configHash, JSON.stringify(s.config ?? null)],
          ),
          update(sql, instance, instanceEvent(instance, s.from, s.by, { jobs: s.jobs.length })),
          // The same attempt started again (after a `waiting` spell) keeps one row: its latest start.
          sql.query(
            `INSERT INTO instance_attempts (instance_id, attempt, config_hash, started_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (instance_id, attempt) DO UPDATE SET config_hash = excluded.config_hash, started_at = excluded.started_at`,
            [id, instance.attempt, s.configHash, s.at],
          ),
        ]);
        return { instance, jobs };
      });
    },
    getConfig: async (hash: string): Promise<unknown | null> =>
      (
        await db.query<{ json: unknown }>('getConfig', 'SELECT json FROM configs WHERE hash = $1', [
          hash,
        ])
      )[0]?.json ?? null,
    attemptsForInstances: (ids: readonly number[]): Promise<InstanceAttempt[]> =>
      db.query<InstanceAttempt>(
        'attemptsForInstances',
        `SELECT instance_id AS "instanceId", attempt, config_hash AS "configHash", started_at AS "startedAt"
         FROM instance_attempts WHERE instance_id = ANY($1) ORDER BY instance_id, attempt`,
        [ids],
      ),
  };
}
