import { createRequire } from 'node:module';

/** This autoctrl's version (package.json), for the API and for each attempt's code record. */
export const AUTOCTRL_VERSION = (
  createRequire(import.meta.url)('../package.json') as { version: string }
).version;
