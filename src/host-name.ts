import { hostname } from 'node:os';

/**
 * The name this controller's host goes by: what a host-scoped executor's
 * `host:` is matched against, and the host part of the controller's id.
 * `AUTOCTRL_HOSTNAME` overrides `os.hostname()` for hosts whose name is not
 * stable (a container's random name) and for tests that play several hosts
 * on one machine.
 */
export function hostName(): string {
  return process.env.AUTOCTRL_HOSTNAME || hostname();
}
