/** A store URL fit for messages and logs: any password replaced, whatever the kind. */
export function redactStoreUrl(url: string): string {
  return url.replace(/^(\w+:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}
