import type { Deployment } from '../config/types.ts';
import { AutoctrlError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Source } from './contract.ts';
import { sourceKinds } from './registry.ts';

export async function openSources(
  deployment: Deployment,
  logger: Logger,
): Promise<Map<string, Source>> {
  const sources = new Map<string, Source>();
  for (const [name, cfg] of Object.entries(deployment.sources)) {
    const kind = sourceKinds[cfg.type];
    if (kind === undefined)
      throw new AutoctrlError('unknown_source', `source ${name}: unknown type ${cfg.type}`);
    const factory = await kind.load();
    sources.set(
      name,
      await factory(name, cfg.options, {
        logger: logger.child({ source: name }),
        dir: deployment.dir,
      }),
    );
  }
  return sources;
}
