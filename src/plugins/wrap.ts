import type { z } from 'zod';
import type { Lock, LockKind, LockResult } from '../locks/contract.ts';
import type { Source, SourceFactory, SourcePoll } from '../sources/contract.ts';
import type { SourceKind } from '../sources/registry.ts';
import type { LockDefinition, SourceDefinition } from './define.ts';
import { PluginError } from './errors.ts';

/*
 * A plugin's kinds as the core sees them: every error they raise (at create,
 * key, check, poll or close) becomes a `PluginError` naming the plugin and the
 * kind, so a closed lock's reason or a failed poll in the log says whose code
 * to look at. Answers of the wrong shape are errors too, not silent surprises.
 */

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function wrapLockKind(plugin: string, def: LockDefinition): LockKind {
  const fail = (what: string, cause?: unknown) =>
    new PluginError(plugin, `lock ${def.kind}`, what, cause === undefined ? undefined : { cause });
  return {
    kind: def.kind,
    options: def.options,
    // The engine parses the options with `def.options` before calling create.
    async create(options, ctx) {
      let lock: Lock;
      try {
        lock = await def.create(options, ctx);
      } catch (cause) {
        throw fail(`create() threw: ${message(cause)}`, cause);
      }
      if (typeof lock?.key !== 'function' || typeof lock?.check !== 'function') {
        throw fail('create() must return { key(target), check(target, signal) }');
      }
      const wrapped: Lock = {
        key(target) {
          try {
            return String(lock.key(target));
          } catch (cause) {
            throw fail(`key() threw: ${message(cause)}`, cause);
          }
        },
        async check(target, signal, pass) {
          let result: LockResult;
          try {
            result = await lock.check(target, signal, pass);
          } catch (cause) {
            throw fail(message(cause), cause);
          }
          if (typeof result?.open !== 'boolean' || typeof result.reason !== 'string') {
            throw fail(
              `check() must return { open: boolean, reason: string }, got ${JSON.stringify(result)}`,
            );
          }
          // The engine checks `inputs` (a list of paths) itself.
          return result.inputs === undefined
            ? { open: result.open, reason: result.reason }
            : { open: result.open, reason: result.reason, inputs: result.inputs };
        },
      };
      if (lock.checkTimeoutMs !== undefined) {
        return { ...wrapped, checkTimeoutMs: lock.checkTimeoutMs };
      }
      return wrapped;
    },
  };
}

export function wrapSourceKind(plugin: string, def: SourceDefinition): SourceKind {
  const fail = (what: string, cause?: unknown) =>
    new PluginError(
      plugin,
      `source ${def.type}`,
      what,
      cause === undefined ? undefined : { cause },
    );
  // Unlike locks, source factories get the options as written: parse them here.
  const factory: SourceFactory = async (name, raw, ctx) => {
    const parsed = def.options.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw fail(
        `sources.${name}: ${issue?.path.join('.') || 'options'}: ${issue?.message ?? 'invalid'}: run autoctrl validate`,
      );
    }
    let source: Source;
    try {
      source = await def.create(name, parsed.data, ctx);
    } catch (cause) {
      throw fail(`create() threw for source ${name}: ${message(cause)}`, cause);
    }
    if (typeof source?.poll !== 'function') {
      throw fail('create() must return a source with poll(cursor, now)');
    }
    return {
      name,
      async poll(cursor, now) {
        let result: SourcePoll;
        try {
          result = await source.poll(cursor, now);
        } catch (cause) {
          throw fail(message(cause), cause);
        }
        const c: unknown = result?.cursor ?? null;
        if (!Array.isArray(result?.runs) || (c !== null && typeof c !== 'string')) {
          throw fail('poll() must return { runs: RunInput[], cursor: string | null }');
        }
        return { runs: result.runs, cursor: c };
      },
      async close() {
        try {
          await source.close?.();
        } catch (cause) {
          throw fail(`close() threw: ${message(cause)}`, cause);
        }
      },
    };
  };
  return {
    options: def.options as z.ZodType<Record<string, unknown>>,
    load: async () => factory,
  };
}
