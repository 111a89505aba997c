/*
 * The small JSON path of `http` locks: an optional `$`, then names separated
 * by dots and indexes in brackets: `$.stage`, `stage.name`, `runs[0].number`,
 * `$['dataset name'].stage`. A number after a dot indexes a list too
 * (`runs.0`). Enough to reach a field of a service's answer; no filters or
 * wildcards.
 */

export type JsonPath = readonly (string | number)[];

const TOKEN = /\.([^.[\]'"]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]|^([^.[\]'"$][^.[\]'"]*)/y;

/** The segments of `text`, or null when it is not such a path. */
export function parseJsonPath(text: string): JsonPath | null {
  let rest = text.trim();
  if (rest.startsWith('$')) rest = rest.slice(1);
  const out: (string | number)[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < rest.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(rest);
    if (m === null || (at > 0 && m[5] !== undefined)) return null;
    const [, dotted, index, single, double, bare] = m;
    if (index !== undefined) out.push(Number(index));
    else out.push((dotted ?? single ?? double ?? bare) as string);
  }
  return out;
}

/** The value at `path`, or undefined when a step is missing. */
export function valueAtPath(value: unknown, path: JsonPath): unknown {
  let v = value;
  for (const seg of path) {
    if (Array.isArray(v)) {
      const i = typeof seg === 'number' ? seg : /^\d+$/.test(seg) ? Number(seg) : Number.NaN;
      v = Number.isInteger(i) ? v[i] : undefined;
    } else if (typeof v === 'object' && v !== null && Object.hasOwn(v, String(seg))) {
      v = (v as Record<string, unknown>)[String(seg)];
    } else {
      return undefined;
    }
  }
  return v;
}

export function formatJsonPath(path: JsonPath): string {
  return `$${path.map((s) => (typeof s === 'number' ? `[${s}]` : /^[\w-]+$/.test(s) ? `.${s}` : `['${s}']`)).join('')}`;
}
