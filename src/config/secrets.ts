import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { ConfigProblem } from './errors.ts';

/** A secret a deployment file names: the environment variable its `*_env` key reads, and where. */
export interface NamedSecret {
  /** The key naming it (`token_env`, `headers_env`, ...). */
  key: string;
  /** The environment variable. */
  name: string;
  line: number;
  col: number;
}

/**
 * The secrets a deployment file names (`token_env`, `password_env`,
 * `headers_env`, `signing_secret_env`: every key ending in `_env`, a map of
 * them for `headers_env`), in file order; none for a file YAML cannot read.
 */
export function namedSecrets(text: string): NamedSecret[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, logLevel: 'silent' });
  if (doc.errors.length > 0) return [];
  const out: NamedSecret[] = [];
  const note = (key: string, node: Node) => {
    if (!isScalar(node) || typeof node.value !== 'string' || node.value === '') return;
    out.push({ key, name: node.value, ...lines.linePos(node.range?.[0] ?? 0) });
  };
  const walk = (node: unknown) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : '';
        const value = pair.value as Node | null;
        if (value === null) continue;
        if (key.endsWith('_env') && isMap(value)) {
          for (const inner of value.items) note(key, inner.value as Node);
        } else if (key.endsWith('_env')) note(key, value);
        else walk(value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) walk(item);
    }
  };
  walk(doc.contents);
  return out;
}

/**
 * The named secrets not set in `env`. Not problems of the file: `validate`
 * may run where the controller's environment is not (a CI job), so they are
 * warnings; but `serve` refuses to start without most of them.
 */
export function unsetSecrets(text: string, file: string, env: NodeJS.ProcessEnv): ConfigProblem[] {
  return namedSecrets(text)
    .filter((s) => env[s.name] === undefined)
    .map(({ key, name, line, col }) => ({
      file,
      line,
      col,
      message: `${key} names ${name}, which is not set in this environment: export it where the controller runs (serve refuses to start without the secrets of sources, exports and the mirror)`,
    }));
}
