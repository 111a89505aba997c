import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { ConfigProblem } from './errors.ts';

/**
 * The secrets a deployment file names (`token_env`, `password_env`,
 * `headers_env`, `signing_secret_env`: every key ending in `_env`) that are
 * not set in `env`. Not problems of the file: `validate` may run where the
 * controller's environment is not (a CI job), so they are warnings; but
 * `serve` refuses to start without most of them.
 */
export function unsetSecrets(text: string, file: string, env: NodeJS.ProcessEnv): ConfigProblem[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, logLevel: 'silent' });
  if (doc.errors.length > 0) return [];
  const out: ConfigProblem[] = [];
  const note = (key: string, node: Node) => {
    if (!isScalar(node) || typeof node.value !== 'string' || node.value === '') return;
    if (env[node.value] !== undefined) return;
    const { line, col } = lines.linePos(node.range?.[0] ?? 0);
    out.push({
      file,
      line,
      col,
      message: `${key} names ${node.value}, which is not set in this environment: export it where the controller runs (serve refuses to start without the secrets of sources, exports and the mirror)`,
    });
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
