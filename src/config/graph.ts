/** A cycle in data-flow order (`[a, b, c, a]`: b runs after a, …), closed by `task`'s `after: [upstream]`. */
export interface Cycle {
  task: string;
  upstream: string;
  cycle: string[];
}

/**
 * One cycle per group of tasks that wait on each other, starting at its first
 * task in file order. `upstreams` holds each task's valid upstream names,
 * self-references excluded.
 */
export function findCycles(names: string[], upstreams: Map<string, string[]>): Cycle[] {
  const reach = new Map<string, Set<string>>();
  const reachOf = (name: string): Set<string> => {
    let r = reach.get(name);
    if (r === undefined) {
      r = reachable(name, upstreams);
      reach.set(name, r);
    }
    return r;
  };
  const covered = new Set<string>();
  const out: Cycle[] = [];
  for (const name of names) {
    if (covered.has(name) || !reachOf(name).has(name)) continue;
    for (const other of reachOf(name)) if (reachOf(other).has(name)) covered.add(other);
    const chain = upChain(name, upstreams);
    out.push({ task: name, upstream: chain[1] ?? name, cycle: [...chain].reverse() });
  }
  return out;
}

function reachable(from: string, upstreams: Map<string, string[]>): Set<string> {
  const seen = new Set<string>();
  const stack = [...(upstreams.get(from) ?? [])];
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push(...(upstreams.get(n) ?? []));
  }
  return seen;
}

/** The shortest walk from `start` up its upstreams back to itself: [start, …, start]. */
function upChain(start: string, upstreams: Map<string, string[]>): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i] as string;
    for (const up of upstreams.get(node) ?? []) {
      if (up === start) {
        const chain = [start];
        for (let n: string | undefined = node; n !== undefined && n !== start; n = parent.get(n)) {
          chain.push(n);
        }
        return [start, ...chain.slice(1).reverse(), start];
      }
      if (!parent.has(up) && up !== start) {
        parent.set(up, node);
        queue.push(up);
      }
    }
  }
  return [start, start];
}

/**
 * Tasks with every task after its upstreams; among tasks that are ready
 * together, file order, so the order only changes when the file does.
 * Expects an acyclic graph whose upstreams all exist.
 */
export function topoOrder<T extends { name: string; after: readonly string[] }>(tasks: T[]): T[] {
  const done = new Set<string>();
  const order: T[] = [];
  while (order.length < tasks.length) {
    const next = tasks.find((t) => !done.has(t.name) && t.after.every((u) => done.has(u)));
    if (next === undefined) throw new Error('topoOrder: the task graph has a cycle');
    done.add(next.name);
    order.push(next);
  }
  return order;
}
