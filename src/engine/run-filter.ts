import type { RunFilter, TaskConfig } from '../config/types.ts';
import type { Run } from '../model/types.ts';

/**
 * Whether a run passes a task's `when`: its type is listed, its recorded
 * luminosity reaches the minimum, its metadata holds every given value. An
 * unknown field (no type, luminosity not filled in yet) does not pass: the
 * source's later update of the run brings it back to intake.
 */
export function runMatches(filter: RunFilter | null, run: Run): boolean {
  if (filter === null) return true;
  if (filter.types !== null && (run.type === null || !filter.types.includes(run.type)))
    return false;
  if (filter.minLumi !== null && (run.lumi === null || run.lumi < filter.minLumi)) return false;
  for (const [key, want] of Object.entries(filter.meta)) {
    if (run.meta[key] !== want) return false;
  }
  return true;
}

/** What a task itself asks of a run: its `when`, and a fill when it groups by fill. */
function ownRule(task: TaskConfig, run: Run): boolean {
  return !(task.group.by === 'fill' && run.fill === null) && runMatches(task.when, run);
}

/**
 * Whether `task` can ever have an instance for `run`, as a predicate built
 * once per task: the run passes its `when`, has a fill if the task groups by
 * fill, and the same holds for every upstream task, transitively. A task
 * whose upstream skips a run skips it too, so that cosmics never wait
 * forever for a collisions-only calibration.
 *
 * `tasks` is where upstream tasks are looked up (the deployment's); one
 * missing from it is ignored.
 */
export function appliesPredicate(
  task: TaskConfig,
  tasks: readonly TaskConfig[],
): (run: Run) => boolean {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const rules = new Map<string, TaskConfig>([[task.name, task]]);
  const stack = [...task.after];
  for (let name = stack.pop(); name !== undefined; name = stack.pop()) {
    const up = byName.get(name);
    // The visited check also ends a cycle, which the config checks refuse anyway.
    if (up === undefined || rules.has(name)) continue;
    rules.set(name, up);
    stack.push(...up.after);
  }
  const all = [...rules.values()];
  return (run) => all.every((t) => ownRule(t, run));
}

const predicates = new WeakMap<readonly TaskConfig[], WeakMap<TaskConfig, (run: Run) => boolean>>();

/** `appliesPredicate` for one run; predicates are kept per task list, so calling it per row stays cheap. */
export function taskAppliesTo(task: TaskConfig, run: Run, tasks: readonly TaskConfig[]): boolean {
  let byTask = predicates.get(tasks);
  if (byTask === undefined) {
    byTask = new WeakMap();
    predicates.set(tasks, byTask);
  }
  let applies = byTask.get(task);
  if (applies === undefined) {
    applies = appliesPredicate(task, tasks);
    byTask.set(task, applies);
  }
  return applies(run);
}
