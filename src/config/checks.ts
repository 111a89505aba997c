import type { z } from 'zod';
import { executorKinds } from '../executors/registry.ts';
import { DEFAULT_LIMITS, jobsProblem } from '../limits.ts';
import { lockKinds } from '../locks/registry.ts';
import { mirrorIssues } from '../mirror/checks.ts';
import { notifyIssues } from '../notify/check.ts';
import { sourceKinds } from '../sources/registry.ts';
import { findCycles } from './graph.ts';
import { errorMap, fromZod, type PathIssue } from './issues.ts';
import { isPlainMap } from './schema.ts';
import type { Limits } from './types.ts';

/** Keys of every executor's section, read by the core rather than the backend. */
export const EXECUTOR_COMMON_KEYS = ['type', 'max_jobs', 'poll_interval', 'lost_after'];

/** The executor a deployment gets when its file names none. */
export const DEFAULT_EXECUTORS = { local: { type: 'local' } } as const;

/**
 * Checks that need more than one place of the file: kinds and their options,
 * upstream tasks, executor names, cycles. They read the raw file defensively,
 * so they report alongside shape problems elsewhere instead of after them.
 */
export function crossCheck(raw: Record<string, unknown>): PathIssue[] {
  return [
    ...kindIssues('executor', raw.executors, executorKinds, EXECUTOR_COMMON_KEYS),
    ...kindIssues('source', raw.sources, sourceKinds, ['type', 'interval']),
    ...notifyIssues(raw),
    ...taskIssues(raw),
    ...hostScopeIssues(raw),
    ...chatIssues(raw),
    ...mirrorIssues(raw),
  ];
}

/**
 * With several controllers, a host-scoped executor (local) needs its host:
 * otherwise whichever controller leads would start its jobs, and only that
 * machine could watch them.
 */
function hostScopeIssues(raw: Record<string, unknown>): PathIssue[] {
  const controllers = isPlainMap(raw.engine) ? raw.engine.controllers : undefined;
  if (typeof controllers !== 'number' || controllers <= 1) return [];
  const section = raw.executors ?? DEFAULT_EXECUTORS;
  if (!isPlainMap(section)) return [];
  const out: PathIssue[] = [];
  for (const [name, entry] of Object.entries(section)) {
    if (!isPlainMap(entry) || typeof entry.type !== 'string') continue;
    if (executorKinds[entry.type]?.hostScoped !== true || typeof entry.host === 'string') continue;
    out.push({
      path:
        raw.executors === undefined || raw.executors === null
          ? ['engine', 'controllers']
          : ['executors', name],
      at: 'node',
      message: `executor ${name} runs jobs on the controller's own machine, and engine.controllers is ${controllers}: pin it with host: <hostname>, or use a batch executor`,
    });
  }
  return out;
}

/** A chat user acts as an operator of `auth.operators`: any other name would grant nothing, silently. */
function chatIssues(raw: Record<string, unknown>): PathIssue[] {
  const chat = isPlainMap(raw.chat) ? raw.chat : null;
  if (chat === null || !isPlainMap(chat.operators)) return [];
  const auth = isPlainMap(raw.auth) ? raw.auth : null;
  const known = auth !== null && isPlainMap(auth.operators) ? Object.keys(auth.operators) : [];
  const out: PathIssue[] = [];
  for (const [user, operator] of Object.entries(chat.operators)) {
    if (typeof operator !== 'string' || known.includes(operator)) continue;
    out.push({
      path: ['chat', 'operators', user],
      at: 'node',
      message: `operator '${operator}' is not under auth.operators (${known.length ? known.join(', ') : 'none defined'}): name one of them, or add it there`,
    });
  }
  return out;
}

function kindIssues(
  what: 'executor' | 'source',
  section: unknown,
  kinds: Record<string, { options: z.ZodType<Record<string, unknown>> }>,
  ownKeys: readonly string[],
): PathIssue[] {
  if (!isPlainMap(section)) return [];
  const out: PathIssue[] = [];
  const prefix = `${what}s`;
  for (const [name, entry] of Object.entries(section)) {
    if (!isPlainMap(entry) || typeof entry.type !== 'string') continue;
    const kind = kinds[entry.type];
    if (kind === undefined) {
      const known = Object.keys(kinds).join(', ');
      out.push({
        path: [prefix, name, 'type'],
        at: 'node',
        message: `unknown ${what} type '${entry.type}' (known: ${known})`,
      });
      continue;
    }
    const options = Object.fromEntries(Object.entries(entry).filter(([k]) => !ownKeys.includes(k)));
    const parsed = kind.options.safeParse(options, { error: errorMap });
    if (!parsed.success) {
      out.push(...fromZod(parsed.error.issues, kind.options, options, [prefix, name], ownKeys));
    }
  }
  return out;
}

function taskIssues(raw: Record<string, unknown>): PathIssue[] {
  if (!isPlainMap(raw.tasks)) return [];
  const tasks = raw.tasks;
  const names = Object.keys(tasks);
  const executors =
    raw.executors === undefined || raw.executors === null
      ? Object.keys(DEFAULT_EXECUTORS)
      : isPlainMap(raw.executors)
        ? Object.keys(raw.executors)
        : null;
  const out: PathIssue[] = [];
  const upstreams = new Map<string, string[]>();
  for (const [name, task] of Object.entries(tasks)) {
    if (!isPlainMap(task)) continue;
    if (typeof task.jobs === 'number') {
      const problem = jobsProblem(task.jobs, limitsOf(raw));
      if (problem !== null)
        out.push({ path: ['tasks', name, 'jobs'], at: 'node', message: problem });
    }
    upstreams.set(name, afterIssues(name, task.after, names, out));
    if (executors !== null && executors.length > 0) {
      out.push(...executorIssues(name, task.executor, executors));
    }
    out.push(...lockIssues(name, task.locks));
  }
  for (const { task, upstream, cycle } of findCycles(names, upstreams)) {
    const after = (tasks[task] as { after: unknown[] }).after;
    out.push({
      path: ['tasks', task, 'after', after.indexOf(upstream)],
      at: 'node',
      message: `cycle: ${cycle.join(' → ')}`,
    });
  }
  return out;
}

/** The limits the file sets, read defensively (shape problems are reported elsewhere). */
function limitsOf(raw: Record<string, unknown>): Limits {
  const given = isPlainMap(raw.limits) ? raw.limits.max_jobs_per_instance : undefined;
  return {
    ...DEFAULT_LIMITS,
    ...(typeof given === 'number' && given >= 1 ? { maxJobsPerInstance: given } : {}),
  };
}

/** Reports bad entries of `after` and returns the valid upstream names. */
function afterIssues(name: string, after: unknown, names: string[], out: PathIssue[]): string[] {
  if (!Array.isArray(after)) return [];
  const valid: string[] = [];
  for (const [i, up] of after.entries()) {
    if (typeof up !== 'string') continue;
    const path = ['tasks', name, 'after', i];
    if (up === name) {
      out.push({ path, at: 'node', message: `task '${name}' cannot come after itself` });
    } else if (!names.includes(up)) {
      out.push({ path, at: 'node', message: `unknown task '${up}' (tasks: ${names.join(', ')})` });
    } else if (valid.includes(up)) {
      out.push({ path, at: 'node', message: `'${up}' is listed twice` });
    } else {
      valid.push(up);
    }
  }
  return valid;
}

function executorIssues(name: string, executor: unknown, executors: string[]): PathIssue[] {
  const choices = executors.join(', ');
  if ((executor === undefined || executor === null) && executors.length > 1) {
    return [
      {
        path: ['tasks', name],
        at: 'node',
        message: `no executor given and several are defined: add executor: with one of ${choices}`,
      },
    ];
  }
  if (typeof executor === 'string' && !executors.includes(executor)) {
    return [
      {
        path: ['tasks', name, 'executor'],
        at: 'node',
        message: `unknown executor '${executor}' (executors: ${choices})`,
      },
    ];
  }
  return [];
}

/** Keys of a lock entry read by autoctrl itself; the rest are the kind's options. */
const LOCK_KEYS = ['kind', 'name', 'timeout'];

/**
 * Each lock against its kind's schema, looked up in `lockKinds` at the time of
 * the check, so kinds that plugins registered are known. Names must differ
 * within a task: they prefix reasons and identify alerts.
 */
function lockIssues(task: string, locks: unknown): PathIssue[] {
  if (!Array.isArray(locks)) return [];
  const out: PathIssue[] = [];
  const names = new Map<string, number>();
  for (const [i, entry] of locks.entries()) {
    if (!isPlainMap(entry) || typeof entry.kind !== 'string') continue;
    const path = ['tasks', task, 'locks', i];
    const lockName =
      typeof entry.name === 'string'
        ? entry.name
        : locks.filter((l) => isPlainMap(l) && l.kind === entry.kind).length > 1
          ? `${entry.kind}#${i + 1}`
          : entry.kind;
    const first = names.get(lockName);
    if (first !== undefined) {
      out.push({
        path: [...path, 'name' in entry ? 'name' : 'kind'],
        at: 'node',
        message: `lock name '${lockName}' is already used by locks[${first}] of this task: give each lock its own name`,
      });
    } else {
      names.set(lockName, i);
    }
    const kind = lockKinds.get(entry.kind);
    if (kind === undefined) {
      const known = [...lockKinds.keys()].join(', ');
      out.push({
        path: [...path, 'kind'],
        at: 'node',
        message: `unknown lock kind '${entry.kind}' (known: ${known}); a plugin listed under plugins: can add kinds`,
      });
      continue;
    }
    const options = Object.fromEntries(
      Object.entries(entry).filter(([k]) => !LOCK_KEYS.includes(k)),
    );
    const parsed = kind.options.safeParse(options, { error: errorMap });
    if (!parsed.success)
      out.push(...fromZod(parsed.error.issues, kind.options, options, path, LOCK_KEYS));
  }
  return out;
}
