import { randomBytes } from 'node:crypto';
import { hostName } from '../host-name.ts';

/**
 * A controller process's identity: `host/pid/random`. The random part makes
 * it unique even when a pid is reused, so a restarted controller never
 * mistakes an old process's claims or lease for its own.
 */
export function newControllerId(): string {
  return `${hostName()}/${process.pid}/${randomBytes(3).toString('hex')}`;
}

/**
 * Whether `owner` names a controller process of this host that no longer
 * exists: its lease and claims can be taken back at once instead of after
 * they expire, so a controller restarted on its host resumes immediately.
 */
export function deadOnThisHost(owner: string, me: string): boolean {
  return processOnThisHost(owner, me) === 'gone';
}

/** Whether `owner` names another controller process of this host that is running. */
export function liveOnThisHost(owner: string, me: string): boolean {
  return processOnThisHost(owner, me) === 'running';
}

/** What became of the controller process `owner` names; null when it is not another one of this host. */
function processOnThisHost(owner: string, me: string): 'running' | 'gone' | null {
  const [host, pidText] = owner.split('/');
  const pid = Number(pidText);
  if (owner === me || host !== hostName() || !Number.isSafeInteger(pid) || pid <= 0) return null;
  // Our own pid under another name: that process is gone and we got its pid (pid 1 in a container).
  if (pid === process.pid) return 'gone';
  try {
    process.kill(pid, 0);
    return 'running';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ESRCH' ? 'gone' : code === 'EPERM' ? 'running' : null;
  }
}
