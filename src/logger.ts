import { pino } from 'pino';

/** The logger library code receives; never `console`. */
export type Logger = pino.Logger;

/** `fd: 2` keeps the log out of a command's own output (JSON on stdout). */
export function createLogger(opts: { level?: string; name?: string; fd?: number } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.AUTOCTRL_LOG_LEVEL ?? 'info',
      name: opts.name ?? 'autoctrl',
    },
    pino.destination(opts.fd ?? 1),
  );
}

/** A logger that drops everything, for tests and library users who pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
