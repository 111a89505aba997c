/**
 * Node's timers take at most 2^31-1 ms (about 24.8 days): a longer delay
 * fires after 1 ms, with a warning. These chain shorter timers instead, so
 * a job timeout of weeks or an interval of a month works.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer of any length up to `Number.MAX_SAFE_INTEGER` ms. */
export interface LongTimer {
  /** Stops the timer; calling it again, or after it fired, does nothing. */
  clear(): void;
}

interface TimerOptions {
  /** Keep the process alive while the timer waits (default false: a timer never blocks exit). */
  ref?: boolean;
  /** The longest single Node timer to chain (tests shorten it). */
  stepMs?: number;
}

/** `fn` once after `ms`, however long, by chaining timers of at most `MAX_TIMER_MS`. */
export function setLongTimeout(fn: () => void, ms: number, opts: TimerOptions = {}): LongTimer {
  const step = opts.stepMs ?? MAX_TIMER_MS;
  const due = Date.now() + Math.max(0, ms);
  let left = Math.max(0, ms);
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const wait = Math.min(left, step);
    left -= wait;
    timer = setTimeout(() => {
      if (left > 0) {
        // Correct the drift of the chain against the wall clock.
        left = Math.max(0, Math.min(left, due - Date.now()));
        arm();
      } else {
        timer = undefined;
        fn();
      }
    }, wait);
    if (opts.ref !== true) timer.unref();
  };
  arm();
  return {
    clear() {
      clearTimeout(timer);
      timer = undefined;
      left = 0;
    },
  };
}

/** `fn` every `ms`, however long; each period is a chained `setLongTimeout`. */
export function setLongInterval(fn: () => void, ms: number, opts: TimerOptions = {}): LongTimer {
  if (!(ms > 0)) throw new RangeError(`interval must be longer than 0 ms, not ${ms}`);
  let current: LongTimer;
  let stopped = false;
  const next = () => {
    current = setLongTimeout(
      () => {
        if (stopped) return;
        next();
        fn();
      },
      ms,
      opts,
    );
  };
  next();
  return {
    clear() {
      stopped = true;
      current.clear();
    },
  };
}
