import type { z } from 'zod';
import type { LockKind } from '../locks/contract.ts';
import type { Source, SourceContext } from '../sources/contract.ts';

/**
 * Marks what `defineLock` and `defineSource` return. A registered symbol, not
 * a class: a plugin imports the built package (`autoctrl`) while the
 * controller may run from its sources, and only `Symbol.for` is the same
 * value in both.
 */
export const DEFINITION = Symbol.for('autoctrl.plugin-definition');

/** A run source type a plugin adds: `type:` under `sources.<name>` picks it. */
export interface SourceKindDef<S extends z.ZodType = z.ZodType> {
  /** The name written as `type:` in the deployment file. */
  type: string;
  /** Checks the source's options (the rest of its section) when the file loads. */
  options: S;
  /** Called once per configured source, with its options as `options` parsed them. */
  create(name: string, options: z.output<S>, ctx: SourceContext): Source | Promise<Source>;
}

export type LockDefinition<S extends z.ZodType = z.ZodType> = LockKind<S> & {
  readonly [DEFINITION]: 'lock';
};

export type SourceDefinition<S extends z.ZodType = z.ZodType> = SourceKindDef<S> & {
  readonly [DEFINITION]: 'source';
};

export type PluginDefinition = LockDefinition | SourceDefinition;

/**
 * A lock kind for a plugin: `kind` is what tasks write under `locks:`,
 * `options` checks the rest of the entry, `create` returns the lock. Export
 * the result (default or named) from the plugin module.
 */
export function defineLock<S extends z.ZodType>(def: LockKind<S>): LockDefinition<S> {
  return Object.freeze({ ...def, [DEFINITION]: 'lock' as const });
}

/** A run source type for a plugin; export the result from the plugin module. */
export function defineSource<S extends z.ZodType>(def: SourceKindDef<S>): SourceDefinition<S> {
  return Object.freeze({ ...def, [DEFINITION]: 'source' as const });
}

export function isDefinition(value: unknown): value is PluginDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    ((value as Record<symbol, unknown>)[DEFINITION] === 'lock' ||
      (value as Record<symbol, unknown>)[DEFINITION] === 'source')
  );
}
