/**
 * mulberry32: a tiny seeded generator whose whole state is one 32-bit integer,
 * so it fits in the source's cursor and a restarted controller draws exactly
 * the numbers an uninterrupted one would have drawn.
 */
export class Prng {
  constructor(private s: number) {
    this.s = s | 0;
  }

  get state(): number {
    return this.s;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
}
