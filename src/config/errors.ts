import { AutoctrlError } from '../errors.ts';

/** One problem of a deployment file, at a 1-based line and column. */
export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  message: string;
}

/** The `FILE:LINE:COL: message` form editors and terminals turn into links. */
export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message}`;
}

/** A deployment file that cannot be used: every problem found, not just the first. */
export class ConfigError extends AutoctrlError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[], options?: { cause?: unknown }) {
    super('config_invalid', problems.map(formatProblem).join('\n'), options);
    this.problems = problems;
  }
}

/**
 * Where the missing file's name came from, so the message can say what to
 * change: `-c`, `AUTOCTRL_CONFIG`, the default `./autoctrl.yaml`, or a caller.
 */
export type ConfigOrigin = 'option' | 'env' | 'default' | 'path';

/** No deployment file where autoctrl looked. */
export class ConfigNotFoundError extends AutoctrlError {
  constructor(
    readonly file: string,
    readonly origin: ConfigOrigin,
    readonly dir: string,
  ) {
    super('config_not_found', notFoundMessage(file, origin, dir));
  }
}

function notFoundMessage(file: string, origin: ConfigOrigin, dir: string): string {
  switch (origin) {
    case 'option':
      return `no deployment file ${file} (given with -c): check the path, or run \`autoctrl init DIR\` to create one`;
    case 'env':
      return `no deployment file ${file} (from AUTOCTRL_CONFIG): fix or unset AUTOCTRL_CONFIG, or pass -c FILE`;
    case 'path':
      return `no deployment file ${file}: check the path, or run \`autoctrl init ${dir}\` to create one`;
    case 'default':
      return `no autoctrl.yaml in ${dir}: pass -c FILE, set AUTOCTRL_CONFIG, or run \`autoctrl init ${dir}\``;
  }
}
