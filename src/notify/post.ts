import { MAX_TIMER_MS } from '../timers.ts';
import { DeliveryError } from './contract.ts';

/**
 * POSTs `body` as JSON. Resolves on a 2xx; otherwise throws a `DeliveryError`,
 * retryable for what may pass (5xx, 429, a refused or reset connection, a
 * timeout) and not for what will not (other 4xx: a wrong URL or payload).
 */
export async function postJson(
  notifier: string,
  url: string,
  body: unknown,
  opts: { timeoutMs: number; signal: AbortSignal; headers?: Record<string, string> },
): Promise<void> {
  // AbortSignal.timeout throws beyond Node's timer limit (24.8 days): longer is as good as none.
  const timeout = AbortSignal.timeout(Math.min(opts.timeoutMs, MAX_TIMER_MS));
  const signal = AbortSignal.any([opts.signal, timeout]);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { ...opts.headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    const why = signal.aborted
      ? opts.signal.aborted
        ? 'stopped before an answer'
        : `no answer within ${opts.timeoutMs} ms`
      : `cannot reach ${redact(url)}`;
    throw new DeliveryError(notifier, true, why, { cause: err });
  }
  // The answer is read so that the connection is released, and kept short for the log.
  const text = (await res.text().catch(() => '')).slice(0, 200);
  if (res.ok) return;
  const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
  throw new DeliveryError(
    notifier,
    retryable,
    `${redact(url)} answered ${res.status}${text ? `: ${text}` : ''}`,
  );
}

/** Webhook URLs carry their secret in the path: logs show the host only. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(bad url)';
  }
}
