import { createHash } from 'node:crypto';
import type { TaskConfig } from '../config/types.ts';
import type { CodeRecord } from '../trace/code.ts';

/** JSON with object keys sorted, so equal configurations hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * What an instance ran with: everything of the task that can change a result,
 * and the code it ran (commit, files, image, autoctrl version), so a new
 * commit or an edited cfg file is a new configuration like a YAML change.
 * Display-only settings (workflow) are left out so regrouping the page does
 * not look like a new configuration.
 */
export function taskFingerprint(
  task: TaskConfig,
  campaign: string,
  code: CodeRecord,
): Record<string, unknown> {
  return {
    campaign,
    task: task.name,
    command: task.command,
    env: task.env,
    cwd: task.cwd,
    jobs: task.jobs,
    after: task.after,
    group: task.group,
    executor: task.executor,
    retries: task.retries,
    retryDelayMs: task.retryDelayMs,
    timeoutMs: task.timeoutMs,
    resources: task.resources,
    container: task.container,
    code,
  };
}

export function configHash(fingerprint: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(fingerprint)).digest('hex').slice(0, 16);
}
