import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkTemplate, parseTemplate, SubmitTemplateError } from './submit-file.ts';

/**
 * The submit template the executor reads at start, read and checked as it
 * will be (`loadTemplate`, `checkTemplate`): a path that is no file, or a
 * template that sets what autoctrl sets, is a problem of `submit_template`.
 */
export function templateProblems(
  options: Record<string, unknown>,
  dir: string,
): Array<{ key: string; message: string }> {
  const given = options.submit_template;
  if (typeof given !== 'string') return [];
  const path = resolve(dir, given);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EISDIR'
          ? 'is a directory'
          : `cannot be read (${code})`;
    return [
      {
        key: 'submit_template',
        message: `${path} ${why}: point submit_template at the submit description (relative to the deployment file)`,
      },
    ];
  }
  try {
    checkTemplate(parseTemplate(path, text), options.shared_fs !== false);
  } catch (err) {
    if (!(err instanceof SubmitTemplateError)) throw err;
    return [{ key: 'submit_template', message: err.message }];
  }
  return [];
}
