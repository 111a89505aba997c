import { openReader } from '../../mirror/open.ts';
import { absoluteFrom, mirrorSourceOptions } from '../../mirror/options.ts';
import type { DeploymentReader } from '../../mirror/reader.ts';
import type { RunInput } from '../../model/types.ts';
import type { Source, SourceFactory } from '../contract.ts';
import { parseSourceOptions } from '../fields.ts';

/** Runs read per batch, and batches per poll: a first poll of a year of runs is spread over a few. */
const BATCH = 5000;
const BATCHES_PER_POLL = 10;

/**
 * Prod's runs, as prod has them (fields and metadata), read from its API or
 * its store opened read-only: the source of a dev mirror (`mirror:` in the
 * deployment file). Prod is opened at the first poll, so a prod that is down
 * delays dev's runs but not dev's start.
 */
export const createMirrorSource: SourceFactory = async (name, options, ctx) => {
  const opts = parseSourceOptions(mirrorSourceOptions, name, options);
  const from = absoluteFrom(opts.from, ctx.dir);
  let reader: DeploymentReader | null = null;
  const source: Source = {
    name,
    async poll(cursor) {
      reader ??= await openReader({ from, tokenEnv: opts.token_env ?? null }, ctx.logger);
      const runs: RunInput[] = [];
      let at = cursor;
      for (let i = 0; i < BATCHES_PER_POLL; i++) {
        const got = await reader.runsSince(at, BATCH);
        for (const { seq: _seq, ...r } of got.runs) {
          if (opts.first_run === undefined || r.run >= opts.first_run) runs.push(r);
        }
        const moved = got.cursor !== at;
        at = got.cursor;
        if (got.runs.length < BATCH || !moved) break;
      }
      return { runs, cursor: at };
    },
    async close() {
      await reader?.close();
      reader = null;
    },
  };
  return source;
};
