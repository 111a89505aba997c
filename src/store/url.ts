/** A store URL fit for messages and logs: any password replaced, whatever the kind. */
export function redactStoreUrl(url: string): string {
  return url.replace(/^(\w+:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}

/** A store URL with any password left out, for a job's environment: a job that needs one gets it through `env_pass`. */
export function storeUrlWithoutPassword(url: string): string {
  return url.replace(/^(\w+:\/\/[^:@/]*):[^@/]*@/, '$1@');
}
