import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { PluginError } from '../plugins/errors.ts';
import { loadPluginsOf } from '../plugins/load.ts';
import { crossCheck } from './checks.ts';
import {
  ConfigError,
  ConfigNotFoundError,
  type ConfigOrigin,
  type ConfigProblem,
} from './errors.ts';
import { errorMap, formatPath, fromZod, type PathIssue } from './issues.ts';
import { pathIssues } from './paths.ts';
import { keysInOrder, locate } from './positions.ts';
import { resolveDeployment } from './resolve.ts';
import { fileSchema, isPlainMap } from './schema.ts';
import type { Deployment } from './types.ts';

export const CONFIG_FILE_NAME = 'autoctrl.yaml';

/**
 * The deployment file to use: `-c FILE`, else `AUTOCTRL_CONFIG`, else
 * `./autoctrl.yaml`. A directory stands for the `autoctrl.yaml` in it.
 * Returns an absolute path; throws `ConfigNotFoundError` if there is no file.
 */
export function findConfigFile(opts: {
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}): string {
  const cwd = opts.cwd ?? process.cwd();
  const fromEnv = (opts.env ?? process.env).AUTOCTRL_CONFIG;
  const [given, origin]: [string, ConfigOrigin] =
    opts.file !== undefined && opts.file !== ''
      ? [opts.file, 'option']
      : fromEnv !== undefined && fromEnv !== ''
        ? [fromEnv, 'env']
        : [CONFIG_FILE_NAME, 'default'];
  let file = path.resolve(cwd, given);
  if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, CONFIG_FILE_NAME);
  if (!existsSync(file)) throw new ConfigNotFoundError(file, origin, path.dirname(file));
  return file;
}

/**
 * Reads and checks a deployment file, after loading its plugins; throws
 * `ConfigError` listing every problem, or `PluginError` for a broken plugin.
 */
export async function loadDeployment(file: string): Promise<Deployment> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConfigNotFoundError(file, 'path', path.dirname(path.resolve(file)));
    }
    throw err;
  }
  return deploymentOfText(text, file);
}

/**
 * What `loadDeployment` makes of the text of `file` once read: its plugins
 * loaded, then every check `autoctrl validate` does, paths included. Throws
 * `ConfigError` as `loadDeployment` does.
 */
export async function deploymentOfText(text: string, file: string): Promise<Deployment> {
  // Plugins may define the lock kinds and source types the file uses: register them before the checks.
  await loadFilePlugins(text, file);
  const { deployment, problems } = validateDeploymentText(text, file, { checkPaths: true });
  if (deployment === null) throw new ConfigError(problems);
  return deployment;
}

/**
 * Loads the plugins the text of `file` names. A broken one is a
 * `ConfigError` (its `cause` the `PluginError`) pointing at its entry
 * under `plugins:`, as every other problem of the file.
 */
export async function loadFilePlugins(text: string, file: string): Promise<void> {
  try {
    await loadPluginsOf(text, file);
  } catch (err) {
    if (!(err instanceof PluginError)) throw err;
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, logLevel: 'silent' });
    const dir = path.dirname(path.resolve(file));
    const i = pluginEntries(doc.toJS()).findIndex(
      (p) => typeof p === 'string' && path.resolve(dir, p) === err.plugin,
    );
    const issue: PathIssue = {
      path: i < 0 ? ['plugins'] : ['plugins', i],
      at: 'node',
      message: '',
    };
    const at = locate(doc, lines, issue);
    throw new ConfigError([{ file, ...at, message: `${formatPath(issue.path)}: ${err.message}` }], {
      cause: err,
    });
  }
}

function pluginEntries(raw: unknown): unknown[] {
  const list = isPlainMap(raw) ? raw.plugins : undefined;
  return Array.isArray(list) ? list : [];
}

/**
 * Checks the text of a deployment file named `file` (used in the problems
 * as given, and made absolute for the deployment). No I/O, unless
 * `checkPaths` asks to check that the directories it names exist. Either a
 * deployment and no problems, or null and every problem found, sorted by position.
 */
export function validateDeploymentText(
  text: string,
  file: string,
  opts: { checkPaths?: boolean } = {},
): { deployment: Deployment | null; problems: ConfigProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    // A library must not print: what matters in a warning (an odd key) is a problem of the checks.
    logLevel: 'error',
  });
  // Shape problems of a file YAML could not read would only echo its syntax errors.
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => ({
      file,
      ...lines.linePos(e.pos[0]),
      message: `YAML syntax: ${e.message}`,
    }));
    return { deployment: null, problems };
  }
  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (err) {
    return {
      deployment: null,
      problems: [{ file, line: 1, col: 1, message: `YAML: ${(err as Error).message}` }],
    };
  }
  const parsed = fileSchema.safeParse(raw, { error: errorMap });
  const issues: PathIssue[] = [
    ...(parsed.success ? [] : fromZod(parsed.error.issues, fileSchema, raw)),
    ...(isPlainMap(raw) ? crossCheck(raw) : []),
  ];
  if (issues.length === 0 && parsed.success) {
    const deployment = resolveDeployment(parsed.data, file, keysInOrder(doc, ['tasks']));
    if (opts.checkPaths === true) {
      const written = {
        cwd: new Set(
          Object.entries(parsed.data.tasks ?? {}).flatMap(([n, t]) => (t.cwd ? [n] : [])),
        ),
        dataDir: parsed.data.data_dir != null,
      };
      issues.push(...pathIssues(deployment, written));
    }
    if (issues.length === 0) return { deployment, problems: [] };
  }
  const problems = issues.map((issue) => ({
    file,
    ...locate(doc, lines, issue),
    message: issue.path.length > 0 ? `${formatPath(issue.path)}: ${issue.message}` : issue.message,
  }));
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  return { deployment: null, problems };
}
