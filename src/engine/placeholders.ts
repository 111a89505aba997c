/** Values a command's argv and env may refer to as `{name}`. */
export interface PlaceholderValues {
  run: string;
  runs: string;
  fill: string;
  campaign: string;
  task: string;
  job: string;
  attempt: string;
  input: string;
}

export const PLACEHOLDER_NAMES: readonly (keyof PlaceholderValues)[] = [
  'run',
  'runs',
  'fill',
  'campaign',
  'task',
  'job',
  'attempt',
  'input',
];

const PATTERN = /\{\{|\}\}|\{([a-z]+)\}/g;

/**
 * Replaces `{name}` in one argv string; `{{` and `}}` stand for literal braces.
 * The result stays one argv element whatever it contains: nothing is ever
 * handed to a shell, so run metadata cannot turn into commands.
 */
export function expandPlaceholders(text: string, values: PlaceholderValues): string {
  return text.replace(PATTERN, (match, name: string | undefined) => {
    if (match === '{{') return '{';
    if (match === '}}') return '}';
    return name !== undefined && name in values ? values[name as keyof PlaceholderValues] : match;
  });
}

/** Placeholder names used in `text` that autoctrl does not know. */
export function unknownPlaceholders(text: string): string[] {
  const unknown: string[] = [];
  for (const m of text.matchAll(PATTERN)) {
    const name = m[1];
    if (name !== undefined && !(PLACEHOLDER_NAMES as readonly string[]).includes(name))
      unknown.push(name);
  }
  return unknown;
}
