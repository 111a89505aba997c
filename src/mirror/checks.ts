import type { PathIssue } from '../config/issues.ts';
import { isPlainMap } from '../config/schema.ts';
import { MIRROR } from './config.ts';

/**
 * What a `mirror:` section must satisfy beyond its shape: a non-prod
 * environment, known tasks, and no task taken from prod downstream of one
 * dev runs (prod's result would not follow from dev's input).
 */
export function mirrorIssues(raw: Record<string, unknown>): PathIssue[] {
  const m = raw.mirror;
  if (!isPlainMap(m)) return [];
  const out: PathIssue[] = [];
  const env = typeof raw.environment === 'string' ? raw.environment : 'prod';
  if (env === 'prod') {
    out.push({
      path: raw.environment === undefined ? ['mirror'] : ['environment'],
      at: 'node',
      message:
        'a mirror is not prod: set environment: dev (or another name) so that its job names and chat channel are its own',
    });
  }
  for (const section of ['executors', 'sources'] as const) {
    const s = raw[section];
    if (isPlainMap(s) && MIRROR in s) {
      out.push({
        path: [section, MIRROR],
        at: 'key',
        message: `the name ${MIRROR} is taken by the mirror: section; rename this one`,
      });
    }
  }
  if (typeof m.from === 'string' && m.from === (raw.store ?? 'sqlite:state.db')) {
    out.push({
      path: ['mirror', 'from'],
      at: 'node',
      message: 'from is this deployment’s own store: give prod’s API URL or prod’s store',
    });
  }
  const tasks = isPlainMap(raw.tasks) ? raw.tasks : {};
  const names = Object.keys(tasks);
  const listed = Array.isArray(m.tasks) ? m.tasks : [];
  for (const [i, t] of listed.entries()) {
    if (typeof t === 'string' && !names.includes(t)) {
      out.push({
        path: ['mirror', 'tasks', i],
        at: 'node',
        message: `unknown task '${t}' (tasks: ${names.join(', ')})`,
      });
    }
  }
  const runs = new Set(listed.filter((t): t is string => typeof t === 'string'));
  const upstream = (name: string): string[] => {
    const after = isPlainMap(tasks[name]) ? tasks[name].after : undefined;
    return Array.isArray(after) ? after.filter((a): a is string => typeof a === 'string') : [];
  };
  for (const name of names) {
    if (runs.has(name)) continue;
    const above = runUpstreamOf(name, upstream, runs);
    if (above !== null) {
      out.push({
        path: ['tasks', name],
        at: 'key',
        message: `${name} comes after ${above}, which dev runs (mirror.tasks), so prod's ${name} would not follow from dev's ${above}: add ${name} to mirror.tasks, or remove it from this file`,
      });
    }
  }
  return out;
}

/** A task dev runs somewhere upstream of `name`, or null. */
function runUpstreamOf(
  name: string,
  upstream: (n: string) => string[],
  runs: ReadonlySet<string>,
): string | null {
  const seen = new Set<string>();
  const stack = [...upstream(name)];
  while (stack.length > 0) {
    const u = stack.pop() as string;
    if (seen.has(u)) continue;
    seen.add(u);
    if (runs.has(u)) return u;
    stack.push(...upstream(u));
  }
  return null;
}
