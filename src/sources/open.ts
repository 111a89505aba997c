import type { Deployment } from '../config/types.ts';
import { AutoctrlError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { loadPlugins } from '../plugins/load.ts';
import type { Source } from './contract.ts';
import { sourceKinds } from './registry.ts';

/** A source whose type no built-in kind or loaded plugin defines. */
export class UnknownSourceTypeError extends AutoctrlError {
  constructor(
    readonly source: string,
    readonly type: string,
  ) {
    super(
      'unknown_source',
      `source ${source}: unknown type '${type}' (known: ${Object.keys(sourceKinds).join(', ')}); fix its type: or list the plugin that defines it under plugins:`,
    );
  }
}

/**
 * The deployment's sources, created once each. Plugins are loaded first
 * (a no-op when `loadDeployment` already did) so that a deployment built
 * in code gets its plugin source types too.
 */
export async function openSources(
  deployment: Deployment,
  logger: Logger,
): Promise<Map<string, Source>> {
  await loadPlugins(deployment, logger);
  const sources = new Map<string, Source>();
  try {
    for (const [name, cfg] of Object.entries(deployment.sources)) {
      const kind = sourceKinds[cfg.type];
      if (kind === undefined) throw new UnknownSourceTypeError(name, cfg.type);
      const factory = await kind.load();
      sources.set(
        name,
        await factory(name, cfg.options, {
          logger: logger.child({ source: name }),
          dir: deployment.dir,
        }),
      );
    }
  } catch (err) {
    // The ones already open would otherwise leak (timers, sockets) with no one to close them.
    for (const s of sources.values()) await s.close?.().catch(() => undefined);
    throw err;
  }
  return sources;
}
