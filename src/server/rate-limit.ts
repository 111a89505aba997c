/**
 * At most `max` events per `windowMs`, counted in fixed windows: cheap, and
 * enough to keep anonymous callers from turning a cheap request into a
 * stream of expensive work.
 */
export class RateLimit {
  #windowStart = 0;
  #count = 0;

  constructor(
    readonly max: number,
    readonly windowMs: number,
  ) {}

  /** Counts one event at `now`; false when the window is full. */
  take(now: number): boolean {
    if (now - this.#windowStart >= this.windowMs) {
      this.#windowStart = now;
      this.#count = 0;
    }
    if (this.#count >= this.max) return false;
    this.#count++;
    return true;
  }

  /** Whole seconds until the current window ends (for Retry-After). */
  retryAfterS(now: number): number {
    return Math.max(1, Math.ceil((this.#windowStart + this.windowMs - now) / 1000));
  }
}
