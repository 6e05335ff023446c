/**
 * Structured logging.
 *
 * Contract: one JSON line per decision on stderr (hook, key, trigger, outcome,
 * duration_ms). Hooks write synchronously so a line is never lost when the
 * process exits right after; each record is a single write(2), so parallel
 * hooks under udev never interleave partial lines.
 */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export async function createLogger(level: LogLevel, name = 'sanhook'): Promise<Logger> {
  const pinoModule = await import('pino');
  const pino = pinoModule.pino ?? pinoModule.default;
  const logger = pino(
    { name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 2, sync: true }),
  );
  return { debug: logger.debug.bind(logger), info: logger.info.bind(logger), warn: logger.warn.bind(logger), error: logger.error.bind(logger) };
}

/** A logger that drops everything (tests, --log-level silent before pino loads). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
