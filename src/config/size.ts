const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  pb: 1e15,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  pib: 2 ** 50,
};

/**
 * Bytes of a size written `500GB`, `1.5 TB`, `200GiB` (decimal units as
 * storage quotas are sold, binary ones with `i`), or a plain number of
 * bytes; null for anything else.
 */
export function parseSize(text: string | number): number | null {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? Math.round(text) : null;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]i?b|b)?$/i.exec(text.trim());
  if (m === null) return null;
  const unit = UNITS[(m[2] ?? 'b').toLowerCase()];
  return unit === undefined ? null : Math.round(Number(m[1]) * unit);
}
