import { errorMap, fromZod, type PathIssue } from '../config/issues.ts';
import { isPlainMap } from '../config/schema.ts';
import { SUBSCRIBABLE } from './contract.ts';
import { channelFor } from './options.ts';
import { notifierKinds } from './registry.ts';

const OWN_KEYS = ['type', 'events'] as const;

/**
 * Checks of the `notify:` section that need the kinds: the type, its options,
 * the event names, and a channel for the deployment's environment. Reads the
 * raw file defensively, like the other cross-checks.
 */
export function notifyIssues(raw: Record<string, unknown>): PathIssue[] {
  if (!isPlainMap(raw.notify)) return [];
  const environment = typeof raw.environment === 'string' ? raw.environment : 'prod';
  const out: PathIssue[] = [];
  for (const [name, entry] of Object.entries(raw.notify)) {
    if (!isPlainMap(entry) || typeof entry.type !== 'string') continue;
    out.push(...eventIssues(name, entry.events));
    const kind = notifierKinds[entry.type];
    if (kind === undefined) {
      out.push({
        path: ['notify', name, 'type'],
        at: 'node',
        message: `unknown notifier type '${entry.type}' (known: ${Object.keys(notifierKinds).join(', ')})`,
      });
      continue;
    }
    const options = Object.fromEntries(
      Object.entries(entry).filter(([k]) => !(OWN_KEYS as readonly string[]).includes(k)),
    );
    const parsed = kind.options.safeParse(options, { error: errorMap });
    if (!parsed.success) {
      out.push(...fromZod(parsed.error.issues, kind.options, options, ['notify', name], OWN_KEYS));
      continue;
    }
    const channel = parsed.data.channel as string | Record<string, string> | undefined;
    if (channelFor(channel, environment) === null) {
      out.push({
        path: ['notify', name, 'channel'],
        at: 'node',
        message: `no channel for environment '${environment}': add ${environment}: or default: (the webhook's own channel could be production's)`,
      });
    }
  }
  return out;
}

function eventIssues(name: string, events: unknown): PathIssue[] {
  if (!Array.isArray(events)) return [];
  return events.flatMap((e, i) =>
    typeof e === 'string' && !(SUBSCRIBABLE as readonly string[]).includes(e)
      ? [
          {
            path: ['notify', name, 'events', i],
            at: 'node' as const,
            message: `unknown event '${e}' (known: ${SUBSCRIBABLE.join(', ')})`,
          },
        ]
      : [],
  );
}
