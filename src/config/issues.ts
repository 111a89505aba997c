import type { z } from 'zod';

/** A path into the file, as zod and `yaml` both spell it. */
export type Path = readonly (string | number)[];

/**
 * A problem before it has a line and column. `at: 'key'` points at the last
 * path segment's key (an unknown or badly named key) rather than its value.
 */
export interface PathIssue {
  path: Path;
  message: string;
  at: 'node' | 'key';
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a map',
  record: 'a map',
  array: 'a list',
};

/** Messages for zod's own issues in the words of a YAML file (maps, lists). */
export const errorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${expectedName(issue)}, got ${describe(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'array' || issue.origin === 'string') return 'must not be empty';
      return `must be ${issue.inclusive ? 'at least' : 'more than'} ${issue.minimum}`;
    case 'too_big':
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}`;
    default:
      return undefined;
  }
};

function expectedName(issue: z.core.$ZodRawIssue<z.core.$ZodIssueInvalidType>): string {
  // An integer schema reports a string as "expected number": its format says it wants more.
  const def = issue.inst?._zod.def as IntDef | undefined;
  const formats = [def?.format, ...(def?.checks ?? []).map((c) => c._zod.def.format)];
  if (formats.some((f) => f?.includes('int'))) return 'a whole number';
  return EXPECTED[issue.expected] ?? issue.expected;
}

interface IntDef {
  format?: string;
  checks?: { _zod: { def: { format?: string } } }[];
}

function describe(value: unknown): string {
  if (value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/**
 * Turns zod issues into path issues: one per unknown key, pointed at the key;
 * a missing required key pointed at the map that lacks it. `input` is what
 * `schema` parsed and `prefix` where it sits in the file; `extraKeys` are keys
 * of the same map handled elsewhere (a kind's `type`), listed as known.
 */
export function fromZod(
  issues: readonly z.core.$ZodIssue[],
  schema: z.ZodType,
  input: unknown,
  prefix: Path = [],
  extraKeys: readonly string[] = [],
): PathIssue[] {
  const out: PathIssue[] = [];
  for (const issue of issues) {
    const rel = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
    const path = [...prefix, ...rel];
    if (issue.code === 'unrecognized_keys') {
      const known = [...extraKeys, ...knownKeys(schema, rel)].join(', ');
      for (const key of issue.keys) {
        out.push({ path: [...path, key], at: 'key', message: `unknown key (known: ${known})` });
      }
    } else if (issue.code === 'invalid_key') {
      out.push({ path, at: 'key', message: issue.issues[0]?.message ?? issue.message });
    } else if (
      issue.code === 'invalid_type' &&
      rel.length > 0 &&
      valueAt(input, rel) === undefined
    ) {
      out.push({
        path: path.slice(0, -1),
        at: 'node',
        message: `missing required key '${rel.at(-1)}'`,
      });
    } else {
      out.push({ path, at: 'node', message: issue.message });
    }
  }
  return out;
}

/** `tasks.reco.command[2]` */
export function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function valueAt(value: unknown, path: Path): unknown {
  let v = value;
  for (const seg of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/** The parts of zod's schema internals needed to find which keys a map accepts. */
interface Walk {
  _zod: {
    def: {
      type: string;
      innerType?: Walk;
      in?: Walk;
      shape?: Record<string, Walk>;
      valueType?: Walk;
      element?: Walk;
    };
  };
}

function knownKeys(schema: z.ZodType, path: Path): string[] {
  let s: Walk = unwrap(schema as unknown as Walk);
  for (const seg of path) {
    const def: Walk['_zod']['def'] = s._zod.def;
    const next: Walk | undefined =
      def.type === 'object'
        ? def.shape?.[seg]
        : def.type === 'record'
          ? def.valueType
          : def.element;
    if (next === undefined) return [];
    s = unwrap(next);
  }
  return Object.keys(s._zod.def.shape ?? {});
}

function unwrap(schema: Walk): Walk {
  let s = schema;
  for (;;) {
    const next = s._zod.def.innerType ?? s._zod.def.in;
    if (next === undefined) return s;
    s = next;
  }
}
