import type { z } from 'zod';
import { executorKinds } from '../executors/registry.ts';
import { sourceKinds } from '../sources/registry.ts';
import { findCycles } from './graph.ts';
import { errorMap, fromZod, type PathIssue } from './issues.ts';
import { isPlainMap } from './schema.ts';

/** The executor a deployment gets when its file names none. */
export const DEFAULT_EXECUTORS = { local: { type: 'local' } } as const;

/**
 * Checks that need more than one place of the file: kinds and their options,
 * upstream tasks, executor names, cycles. They read the raw file defensively,
 * so they report alongside shape problems elsewhere instead of after them.
 */
export function crossCheck(raw: Record<string, unknown>): PathIssue[] {
  return [
    ...kindIssues('executor', raw.executors, executorKinds, ['type']),
    ...kindIssues('source', raw.sources, sourceKinds, ['type', 'interval']),
    ...taskIssues(raw),
  ];
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
    upstreams.set(name, afterIssues(name, task.after, names, out));
    if (executors !== null && executors.length > 0) {
      out.push(...executorIssues(name, task.executor, executors));
    }
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
