import type { Meta } from '../model/types.ts';

/** Values a command's argv and env may refer to as `{name}`, `{meta.KEY}` and `{inputs}`. */
export interface PlaceholderValues {
  run: string;
  runs: string;
  fill: string;
  campaign: string;
  task: string;
  job: string;
  attempt: string;
  input: string;
  /** The job's position in its instance (0-based). */
  index: string;
  /** The first run's metadata, as `{meta.KEY}`. */
  meta: Meta;
  /** Every upstream output path: one argv element each where `{inputs}` is a whole element. */
  inputs: readonly string[];
}

type Simple = Exclude<keyof PlaceholderValues, 'meta' | 'inputs'>;

export const PLACEHOLDER_NAMES: readonly string[] = [
  'run',
  'runs',
  'fill',
  'campaign',
  'task',
  'job',
  'attempt',
  'input',
  'index',
  'inputs',
  'meta.KEY',
];

const PATTERN = /\{\{|\}\}|\{([a-z]+)(?:\.([A-Za-z0-9_-]+))?\}/g;
const INPUTS = '{inputs}';

/**
 * Replaces `{name}` in one string; `{{` and `}}` stand for literal braces.
 * The result stays one argv element whatever it contains: nothing is ever
 * handed to a shell, so run metadata cannot turn into commands. `{inputs}`
 * inside a longer string (an env value) is the paths joined by spaces.
 */
export function expandPlaceholders(text: string, values: PlaceholderValues): string {
  return text.replace(PATTERN, (match, name: string | undefined, key: string | undefined) => {
    if (match === '{{') return '{';
    if (match === '}}') return '}';
    if (name === 'meta' && key !== undefined) {
      const v = values.meta[key];
      return v === undefined ? '' : String(v);
    }
    if (key !== undefined || name === undefined) return match;
    if (name === 'inputs') return values.inputs.join(' ');
    return name in values ? values[name as Simple] : match;
  });
}

/** A command's argv: each element expanded, and an element that is exactly `{inputs}` spread into one per path. */
export function expandArgv(argv: readonly string[], values: PlaceholderValues): string[] {
  return argv.flatMap((a) => (a === INPUTS ? [...values.inputs] : [expandPlaceholders(a, values)]));
}

/** Placeholders used in `text` that autoctrl does not know (named as written, without braces). */
export function unknownPlaceholders(text: string): string[] {
  const unknown: string[] = [];
  for (const m of text.matchAll(PATTERN)) {
    const [, name, key] = m;
    if (name === undefined) continue;
    if (key !== undefined) {
      if (name !== 'meta') unknown.push(`${name}.${key}`);
    } else if (!PLACEHOLDER_NAMES.includes(name) || name === 'meta') {
      unknown.push(name);
    }
  }
  return unknown;
}
