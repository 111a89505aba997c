import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import type { Deployment } from '../config/types.ts';
import { lockKinds, registerLockKind } from '../locks/registry.ts';
import type { Logger } from '../logger.ts';
import { registerSourceKind, sourceKindOrigin } from '../sources/registry.ts';
import { DEFINITION, isDefinition, type PluginDefinition } from './define.ts';
import { PluginError } from './errors.ts';
import { wrapLockKind, wrapSourceKind } from './wrap.ts';

export interface LoadedPlugin {
  /** Absolute path of the module. */
  path: string;
  locks: string[];
  sources: string[];
}

/**
 * Loaded plugins by path, for the life of the process: Node caches an
 * imported module anyway, and registering its kinds twice would clash. A
 * plugin changed on disk therefore takes a restart.
 */
const loaded = new Map<string, Promise<LoadedPlugin>>();

/** Lock kinds and source types are names written in YAML: keep them plain. */
const KIND_NAME = /^[a-z][a-z0-9_.-]*$/;

/**
 * Imports the deployment's plugins in order and registers their lock kinds
 * and source types. Must run before the deployment's locks and sources are
 * checked: their kinds may come from a plugin. Idempotent.
 */
export async function loadPlugins(
  deployment: Pick<Deployment, 'plugins'>,
  logger?: Logger,
): Promise<LoadedPlugin[]> {
  const out: LoadedPlugin[] = [];
  for (const file of deployment.plugins) {
    let p = loaded.get(file);
    if (p === undefined) {
      p = loadOne(file, logger);
      loaded.set(file, p);
      // A failed import stays failed in Node's module cache too, but a plugin that was
      // missing may be created later (a deployment being set up): let it be retried.
      p.catch(() => loaded.delete(file));
    }
    out.push(await p);
  }
  return out;
}

/**
 * The `plugins:` of a deployment file's text, as absolute paths (relative to
 * the file). Lenient: anything unreadable gives [], and the file's own checks
 * report it with a line number.
 */
export function pluginPaths(text: string, file: string): string[] {
  let raw: unknown;
  try {
    raw = parse(text, { logLevel: 'silent' });
  } catch {
    return [];
  }
  const list = (raw as { plugins?: unknown } | null)?.plugins;
  if (!Array.isArray(list)) return [];
  const dir = path.dirname(path.resolve(file));
  return list
    .filter((p): p is string => typeof p === 'string' && p !== '')
    .map((p) => path.resolve(dir, p));
}

/** The hook `loadDeployment` and `autoctrl validate` call before checking a file's text. */
export function loadPluginsOf(
  text: string,
  file: string,
  logger?: Logger,
): Promise<LoadedPlugin[]> {
  return loadPlugins({ plugins: pluginPaths(text, file) }, logger);
}

async function loadOne(file: string, logger: Logger | undefined): Promise<LoadedPlugin> {
  if (!existsSync(file)) {
    throw new PluginError(
      file,
      null,
      'file not found: fix its entry under plugins: (paths are relative to the deployment file)',
    );
  }
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (cause) {
    throw new PluginError(file, null, `cannot be imported: ${importProblem(cause)}`, { cause });
  }
  const defs = definitionsOf(file, mod);
  const result: LoadedPlugin = { path: file, locks: [], sources: [] };
  // All or nothing: a clash found halfway would leave some kinds registered and the rest not.
  for (const def of defs) {
    const taken =
      def[DEFINITION] === 'lock'
        ? lockKinds.has(def.kind)
        : (sourceKindOrigin(def.type) ?? file) !== file;
    if (taken) {
      const label = def[DEFINITION] === 'lock' ? `lock ${def.kind}` : `source ${def.type}`;
      const by =
        def[DEFINITION] === 'lock' ? 'autoctrl or another plugin' : sourceKindOrigin(def.type);
      throw new PluginError(
        file,
        label,
        `the name is already taken by ${by}: rename it in the plugin`,
      );
    }
  }
  for (const def of defs) {
    const label = def[DEFINITION] === 'lock' ? `lock ${def.kind}` : `source ${def.type}`;
    try {
      if (def[DEFINITION] === 'lock') {
        registerLockKind(wrapLockKind(file, def), file);
        result.locks.push(def.kind);
      } else {
        registerSourceKind(def.type, wrapSourceKind(file, def), file);
        result.sources.push(def.type);
      }
    } catch (cause) {
      throw new PluginError(file, label, (cause as Error).message, { cause });
    }
  }
  logger?.info({ plugin: file, locks: result.locks, sources: result.sources }, 'plugin loaded');
  return result;
}

/** The definitions a module exports: its default (one or a list) and every named one. */
function definitionsOf(file: string, mod: Record<string, unknown>): PluginDefinition[] {
  const defs = new Set<PluginDefinition>();
  const fallback = mod.default;
  if (fallback !== undefined) {
    const list = Array.isArray(fallback) ? fallback : [fallback];
    for (const [i, d] of list.entries()) {
      if (!isDefinition(d)) {
        const where = Array.isArray(fallback) ? `default export [${i}]` : 'the default export';
        throw new PluginError(
          file,
          null,
          `${where} is not made with defineLock() or defineSource() (import them from 'autoctrl')`,
        );
      }
      defs.add(d);
    }
  }
  for (const [name, value] of Object.entries(mod)) {
    if (name === 'default') continue;
    for (const v of Array.isArray(value) ? value : [value]) if (isDefinition(v)) defs.add(v);
  }
  if (defs.size === 0) {
    throw new PluginError(
      file,
      null,
      'exports no lock kinds or source types: export default defineLock({...}) or defineSource({...}), or a list of them',
    );
  }
  const seen = new Set<string>();
  for (const def of defs) checkShape(file, def, seen);
  return [...defs];
}

function checkShape(file: string, def: PluginDefinition, seen: Set<string>): void {
  const what = def[DEFINITION];
  const field = what === 'lock' ? 'kind' : 'type';
  const name: unknown = (def as unknown as Record<string, unknown>)[field];
  if (typeof name !== 'string' || !KIND_NAME.test(name)) {
    throw new PluginError(
      file,
      null,
      `a ${what} definition needs ${field}: a name of lower-case letters, digits, ., - and _ (got ${JSON.stringify(name)})`,
    );
  }
  const label = `${what} ${name}`;
  if (typeof (def.options as { safeParse?: unknown } | undefined)?.safeParse !== 'function') {
    throw new PluginError(
      file,
      label,
      "options must be a zod schema (import { z } from 'autoctrl')",
    );
  }
  if (typeof def.create !== 'function') {
    throw new PluginError(file, label, 'create must be a function');
  }
  if (seen.has(label)) throw new PluginError(file, label, 'is defined twice in this plugin');
  seen.add(label);
}

/** The cause of a failed import in a line, with a hint for the usual cases. */
function importProblem(cause: unknown): string {
  const err = cause as NodeJS.ErrnoException;
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(cause);
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && /autoctrl|dist[\\/]index\.js/.test(err.message)) {
    return `${text} (is autoctrl installed and built where the plugin can import it? run npm run build)`;
  }
  if (err?.code === 'ERR_UNKNOWN_FILE_EXTENSION') {
    return `${text} (plugins are JavaScript ES modules: .mjs, or .js in a "type": "module" package)`;
  }
  return text;
}
