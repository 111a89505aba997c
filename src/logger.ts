import { pino } from 'pino';

/** The logger library code receives; never `console`. */
export type Logger = pino.Logger;

export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino({
    level: opts.level ?? process.env.AUTOCTRL_LOG_LEVEL ?? 'info',
    name: opts.name ?? 'autoctrl',
  });
}

/** A logger that drops everything, for tests and library users who pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
