import { AutoctrlError } from '../errors.ts';
import { commandLock } from './command.ts';
import type { LockKind } from './contract.ts';
import { delayLock } from './delay.ts';
import { fileLock } from './file.ts';
import { httpLock } from './http.ts';
import { taskLock } from './task.ts';

/** Where each kind came from, for the message of a clash. */
const origins = new Map<string, string>();

/**
 * Lock kinds by name: the built-ins, plus those plugins register when the
 * deployment loads. The config check and the engine both look kinds up here,
 * so a plugin's kind is validated and used like a built-in one.
 */
export const lockKinds = new Map<string, LockKind>();

for (const kind of [fileLock, httpLock, commandLock, delayLock, taskLock] as LockKind[]) {
  lockKinds.set(kind.kind, kind);
  origins.set(kind.kind, 'autoctrl');
}

/** A plugin's lock kind that cannot be registered. */
export class LockKindError extends AutoctrlError {
  constructor(
    readonly kind: string,
    readonly origin: string,
    message: string,
  ) {
    super('lock_kind_invalid', message);
  }
}

/**
 * Adds a lock kind (`origin` names where it comes from, e.g. the plugin's
 * path). Refuses a kind that is not a `LockKind` shape, and a name already
 * taken, so a plugin can never silently replace a built-in or another plugin's kind.
 */
export function registerLockKind(kind: LockKind, origin: string): void {
  const name = (kind as Partial<LockKind> | null)?.kind;
  if (typeof name !== 'string' || !/^[a-z][a-z0-9_-]*$/.test(name)) {
    throw new LockKindError(
      String(name),
      origin,
      `${origin}: a lock kind needs a name of lower-case letters, digits, - and _ (got ${JSON.stringify(name)})`,
    );
  }
  if (typeof kind.options?.safeParse !== 'function' || typeof kind.create !== 'function') {
    throw new LockKindError(
      name,
      origin,
      `${origin}: lock kind '${name}' needs options (a zod schema) and create(): build it with defineLock`,
    );
  }
  const taken = origins.get(name) ?? (lockKinds.has(name) ? 'another module' : undefined);
  if (taken !== undefined) {
    throw new LockKindError(
      name,
      origin,
      `${origin}: lock kind '${name}' is already defined by ${taken}: give one of them another name`,
    );
  }
  lockKinds.set(name, kind);
  origins.set(name, origin);
}
