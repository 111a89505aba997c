import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';
import type { PathIssue } from './issues.ts';

/**
 * Where a path issue sits in the source: the node at its path, or its key
 * for `at: 'key'`. A path that runs past the document (a missing key) stops
 * at the deepest node that exists, which is the map lacking the key.
 */
export function locate(
  doc: Document,
  lines: LineCounter,
  issue: PathIssue,
): { line: number; col: number } {
  let node: Node | null = doc.contents;
  let at = node;
  for (const [i, seg] of issue.path.entries()) {
    if (isAlias(node)) node = node.resolve(doc) ?? null;
    let next: Node | null = null;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      const key = pair.key as Node;
      if (issue.at === 'key' && i === issue.path.length - 1) {
        at = key;
        break;
      }
      next = (pair.value as Node | null) ?? key;
    } else if (isSeq(node) && typeof seg === 'number') {
      next = (node.items[seg] as Node | undefined) ?? null;
    }
    if (next === null) break;
    node = next;
    at = next;
  }
  const offset = at?.range?.[0] ?? 0;
  return lines.linePos(offset);
}

/** The keys of the map at `path` in file order (JS objects put integer-like keys first). */
export function keysInOrder(doc: Document, path: readonly string[]): string[] {
  const node = doc.getIn(path, true);
  if (!isMap(node)) return [];
  return node.items.flatMap((p) => (isScalar(p.key) ? [String(p.key.value)] : []));
}
