import type { Deployment } from '../config/types.ts';
import type { Logger } from '../logger.ts';
import type { StateStore } from '../store/contract.ts';
import { type Notifier, NotifierConfigError } from './contract.ts';
import { type DispatcherOptions, NotifyDispatcher } from './dispatcher.ts';
import { notifierKinds } from './registry.ts';

/**
 * The deployment's notifiers behind a dispatcher, or null when it has none
 * (then nothing reads the log for alerts, and the cursor stays unset).
 */
export async function openNotify(
  deployment: Deployment,
  store: StateStore,
  opts: { logger: Logger; owner: string } & Partial<DispatcherOptions>,
): Promise<NotifyDispatcher | null> {
  const notifiers = new Map<string, Notifier>();
  for (const [name, cfg] of Object.entries(deployment.notify)) {
    const kind = notifierKinds[cfg.type];
    if (kind === undefined) {
      const known = Object.keys(notifierKinds).join(', ');
      throw new NotifierConfigError(name, `unknown type ${cfg.type} (known: ${known})`);
    }
    const factory = await kind.load();
    notifiers.set(
      name,
      await factory(name, cfg.options, {
        logger: opts.logger.child({ notifier: name }),
        environment: deployment.environment,
        publicUrl: deployment.server.publicUrl,
      }),
    );
  }
  if (notifiers.size === 0) return null;
  return new NotifyDispatcher({
    ...opts,
    store,
    deployment,
    notifiers,
    logger: opts.logger.child({ part: 'notify' }),
  });
}
