import { InvalidInputError, NotFoundError, StaleStateError } from '../../errors.ts';
import { assertInstanceTransition, canTransitionInstance } from '../../model/transitions.ts';
import type { Instance, InstanceStatus, Job } from '../../model/types.ts';
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
import { instanceAfter, instanceEvent as instanceRecord, instanceStarted } from '../records.ts';
import type { Coordination } from './coordination.ts';
import { INSTANCE_COLUMNS, type InstanceRow, toInstance } from './rows.ts';
import {
  type Db,
  instanceScope,
  jsonList,
  limitOf,
  type NewEvent,
  placeholders,
  StatementCache,
  whereClause,
} from './shared.ts';
import type { jobWriter } from './writers.ts';

/** Instances, their run memberships and the configurations they ran with. */
export function instanceOps(
  db: Db,
  writeEvent: (e: NewEvent) => number,
  writeJob: ReturnType<typeof jobWriter>,
  coord: Coordination,
) {
  const cache = new StatementCache(db);
  const byId = db.prepare<[number], InstanceRow>(
    `SELECT ${INSTANCE_COLUMNS} FROM instances i WHERE i.id = ?`,
  );
  const isMember = db
    .prepare<[string, string, number], 1>(
      'SELECT 1 FROM memberships WHERE campaign = ? AND task = ? AND run = ?',
    )
    .pluck();
  const insert = db.prepare<[string, string, string, string, number, number, number]>(
    `INSERT INTO instances (campaign, task, group_key, runs, first_run, status, attempt, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, 'new', 1, ?, ?) ON CONFLICT (campaign, task, group_key) DO NOTHING`,
  );
  const addMember = db.prepare<[string, string, number, number]>(
    'INSERT INTO memberships (campaign, task, run, instance_id) VALUES (?, ?, ?, ?)',
  );
  const byIds = db.prepare<[string], InstanceRow>(
    `SELECT ${INSTANCE_COLUMNS} FROM instances i WHERE i.id IN (SELECT value FROM json_each(?)) ORDER BY i.id`,
  );
  const forRuns = db.prepare<[string, string, string], InstanceRow>(
    `SELECT ${INSTANCE_COLUMNS} FROM instances i WHERE i.id IN (
       SELECT m.instance_id FROM memberships m
       WHERE m.campaign = ? AND m.task = ? AND m.run IN (SELECT value FROM json_each(?)))
     ORDER BY i.id`,
  );
  // Raw rows: better-sqlite3 builds row objects slowly, and a page of the grid is 3,000 cells.
  // Status from the membership (kept by trigger); a reason only where one can matter.
  const cells = db
    .prepare<[string, string], [number, string, number, InstanceStatus, string | null]>(
      `SELECT m.run, m.task, m.instance_id AS instanceId, m.status,
       CASE WHEN m.status = 'done' THEN NULL
            ELSE (SELECT i.reason FROM instances i WHERE i.id = m.instance_id) END AS reason
     FROM memberships m INDEXED BY memberships_by_run
     WHERE m.campaign = ? AND m.run IN (SELECT value FROM json_each(?))
     ORDER BY m.run, m.task`,
    )
    .raw(true);
  const update = db.prepare<
    [InstanceStatus, string | null, number, string | null, number, number, InstanceStatus]
  >(
    `UPDATE instances SET status = ?, reason = ?, attempt = ?, config_hash = ?, updated_at = ?
     WHERE id = ? AND status = ?`,
  );
  const putConfig = db.prepare<[string, string]>(
    'INSERT INTO configs (hash, json) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING',
  );
  const getConfig = db.prepare<[string], string>('SELECT json FROM configs WHERE hash = ?').pluck();
  // The same attempt started again (after a `waiting` spell) keeps one row: its latest start.
  const putAttempt = db.prepare<[number, number, string, number]>(
    `INSERT INTO instance_attempts (instance_id, attempt, config_hash, started_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (instance_id, attempt) DO UPDATE SET config_hash = excluded.config_hash, started_at = excluded.started_at`,
  );
  const attempts = db.prepare<[string], InstanceAttempt>(
    `SELECT instance_id AS instanceId, attempt, config_hash AS configHash, started_at AS startedAt
     FROM instance_attempts WHERE instance_id IN (SELECT value FROM json_each(?))
     ORDER BY instance_id, attempt`,
  );

  function instanceEvent(
    i: Instance,
    from: InstanceStatus | null,
    by: string,
    data: NewEvent['data'],
  ): void {
    writeEvent(instanceRecord(i, from, by, data));
  }

  /** The current row, checked against the caller's `from` (the compare of compare-and-set). */
  function current(id: number, from: InstanceStatus): InstanceRow {
    const row = byId.get(id);
    if (row === undefined) throw new NotFoundError('instance', id);
    if (row.status !== from) throw new StaleStateError('instance', id, from, row.status);
    return row;
  }

  const create = db.transaction(
    (
      list: readonly NewInstance[],
      by: string,
      opts: { cursor?: CursorWrite; fence?: Fence },
      at: number,
    ) => {
      coord.checkFence(opts.fence);
      coord.writeCursor(opts.cursor);
      const created: Instance[] = [];
      for (const n of list) {
        const runs = [...new Set(n.runs)].sort((a, b) => a - b);
        const first = runs[0];
        if (first === undefined)
          throw new InvalidInputError('runs', `instance ${n.groupKey} covers no run`);
        if (runs.some((r) => isMember.get(n.campaign, n.task, r) !== undefined)) continue;
        const res = insert.run(n.campaign, n.task, n.groupKey, JSON.stringify(runs), first, at, at);
        if (res.changes === 0) continue;
        const id = Number(res.lastInsertRowid);
        for (const r of runs) addMember.run(n.campaign, n.task, r, id);
        const instance: Instance = {
          id,
          campaign: n.campaign,
          task: n.task,
          groupKey: n.groupKey,
          runs,
          status: 'new',
          reason: null,
          attempt: 1,
          configHash: null,
          createdAt: at,
          updatedAt: at,
        };
        instanceEvent(instance, null, by, null);
        created.push(instance);
      }
      return created;
    },
  );

  const transition = db.transaction((id: number, c: InstanceChange): Instance => {
    coord.checkFence(c.fence);
    const row = current(id, c.from);
    const before = toInstance(row);
    const after = instanceAfter(before, c);
    if (after === null) return before;
    update.run(after.status, after.reason, after.attempt, after.configHash, c.at, id, c.from);
    instanceEvent(after, c.from, c.by, c.data ?? null);
    return after;
  });

  const reprocess = db.transaction((ids: readonly number[], c: ReprocessChange) => {
    const reprocessed: Instance[] = [];
    const skipped: Array<{ id: number; status: InstanceStatus | null }> = [];
    for (const id of [...new Set(ids)]) {
      const row = byId.get(id);
      if (row === undefined || !canTransitionInstance(row.status, 'new')) {
        skipped.push({ id, status: row?.status ?? null });
        continue;
      }
      const change = { ...c, from: row.status, to: 'new' as const };
      const after = instanceAfter(toInstance(row), change) as Instance;
      update.run(after.status, after.reason, after.attempt, after.configHash, c.at, id, row.status);
      instanceEvent(after, row.status, c.by, c.data ?? null);
      reprocessed.push(after);
    }
    return { reprocessed, skipped };
  });

  const start = db.transaction((id: number, s: InstanceStart) => {
    coord.checkFence(s.fence);
    const before = toInstance(current(id, s.from));
    putConfig.run(s.configHash, JSON.stringify(s.config ?? null));
    const instance = instanceStarted(before, s);
    update.run('processing', s.reason, instance.attempt, s.configHash, s.at, id, s.from);
    putAttempt.run(id, instance.attempt, s.configHash, s.at);
    instanceEvent(instance, s.from, s.by, { jobs: s.jobs.length });
    const parent = {
      instanceId: id,
      campaign: instance.campaign,
      task: instance.task,
      instanceAttempt: instance.attempt,
      configHash: s.configHash,
    };
    const jobs: Job[] = s.jobs.map((j) => writeJob(parent, j, s.by, s.at));
    return { instance, jobs };
  });

  function find(q: InstanceQuery): Instance[] {
    const { where, params } = instanceScope(q, 'i.id');
    if (q.statuses !== undefined) {
      where.push(`i.status IN (${placeholders(q.statuses.length)})`);
      params.push(...q.statuses);
    }
    const sql = `SELECT ${INSTANCE_COLUMNS} FROM instances i${whereClause(where)}
      ORDER BY i.first_run, i.task, i.id LIMIT ?`;
    return cache
      .get<InstanceRow>(sql)
      .all(...params, limitOf(q.limit))
      .map(toInstance);
  }

  return {
    createInstances: (
      list: readonly NewInstance[],
      by: string,
      opts: { cursor?: CursorWrite; fence?: Fence } = {},
    ) => create.immediate(list, by, opts, Date.now()),
    getInstance: (id: number): Instance | null => {
      const row = byId.get(id);
      return row === undefined ? null : toInstance(row);
    },
    getInstances: (ids: readonly number[]): Instance[] => byIds.all(jsonList(ids)).map(toInstance),
    instancesByStatus: (
      campaign: string,
      task: string,
      statuses: readonly InstanceStatus[],
    ): Instance[] =>
      cache
        .get<InstanceRow>(
          `SELECT ${INSTANCE_COLUMNS} FROM instances i
           WHERE i.campaign = ? AND i.task = ? AND i.status IN (${placeholders(statuses.length)}) ORDER BY i.id`,
        )
        .all(campaign, task, ...statuses)
        .map(toInstance),
    instancesForRuns: (campaign: string, task: string, runs: readonly number[]): Instance[] =>
      forRuns.all(campaign, task, jsonList(runs)).map(toInstance),
    findInstances: find,
    cellsForRuns: (campaign: string, runs: readonly number[]): Cell[] =>
      cells.all(campaign, jsonList(runs)).map(([run, task, instanceId, status, reason]) => ({
        run,
        task,
        instanceId,
        status,
        reason,
      })),
    transitionInstance: (id: number, c: InstanceChange): Instance => {
      assertInstanceTransition(id, c.from, c.to);
      return transition.immediate(id, c);
    },
    reprocessInstances: (ids: readonly number[], c: ReprocessChange) => reprocess.immediate(ids, c),
    startInstance: (id: number, s: InstanceStart) => {
      assertInstanceTransition(id, s.from, 'processing');
      return start.immediate(id, s);
    },
    getConfig: (hash: string): unknown => {
      const json = getConfig.get(hash);
      return json === undefined ? null : (JSON.parse(json) as unknown);
    },
    attemptsForInstances: (ids: readonly number[]): InstanceAttempt[] =>
      attempts.all(jsonList(ids)),
  };
}
