import type { Output } from '../model/types.ts';
import type { StateStore } from '../store/contract.ts';

/**
 * Keeps the outputs whose metadata has every `key=value` of `meta`: the
 * output's own metadata when it has the key, else its runs' (an output
 * matches when one of its runs does), so `era=Run2023C` finds the products
 * of the era's runs whether the job or the run source named the era. Values
 * compare as text, as they are written on a command line.
 */
export async function outputsWithMeta(
  store: Pick<StateStore, 'getRuns'>,
  outputs: readonly Output[],
  meta: Readonly<Record<string, string>>,
): Promise<Output[]> {
  const wanted = Object.entries(meta);
  if (wanted.length === 0) return [...outputs];
  const runs = new Map(
    (await store.getRuns([...new Set(outputs.flatMap((o) => o.runs))])).map((r) => [r.run, r]),
  );
  const same = (v: unknown, text: string) => v !== undefined && v !== null && String(v) === text;
  return outputs.filter((o) =>
    wanted.every(([key, value]) =>
      key in o.meta
        ? same(o.meta[key], value)
        : o.runs.some((r) => same(runs.get(r)?.meta[key], value)),
    ),
  );
}
