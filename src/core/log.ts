/**
 * Structured logging.
 *
 * Contract: one record per decision on stderr (hook, key, trigger, outcome,
 * duration_ms), in one of three formats (`--log-format`):
 * - `json`: a pino JSON line (machines, tests, pipes);
 * - `journal`: one human line with an sd-daemon(3) `<N>` priority prefix
 *   (log-format.ts), for journald, which parses and strips the prefix;
 * - `text`: the same line with the level word instead, for a terminal.
 * `auto` is `journal` when stderr is the journal stream named by
 * $JOURNAL_STREAM (systemd.exec(5)), else `json`.
 *
 * Hooks write synchronously so a line is never lost when the process exits
 * right after; each record is a single write(2), so parallel hooks under udev
 * never interleave partial lines. Only `json` loads pino (its import is ~30%
 * of a bare node start, paid by every hook).
 */
import { fstatSync, writeSync } from 'node:fs';
import { formatLine, parseForwardedLine, type LineFormat, type RecordLevel } from './log-format.js';

export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  /** How records are written; absent means JSON records (pino, or a logger that writes nothing). */
  readonly format?: ResolvedLogFormat;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['auto', 'json', 'journal', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type ResolvedLogFormat = Exclude<LogFormat, 'auto'>;

const SEVERITY: Readonly<Record<RecordLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };
const LEVEL_NAMES: readonly RecordLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * Whether `fd` is the journal stream of $JOURNAL_STREAM ("<dev>:<inode>" in
 * decimal, systemd.exec(5)): set by systemd for a service whose stdout or
 * stderr goes to the journal, and by systemd-cat from systemd 253 on. The
 * variable alone proves nothing (it is inherited by children whose stderr is
 * a pipe), so the fd's own device and inode must match.
 */
export function isJournalStream(env: Readonly<Record<string, string | undefined>>, fd = 2): boolean {
  const match = /^([0-9]{1,20}):([0-9]{1,20})$/.exec(env.JOURNAL_STREAM ?? '');
  if (!match) return false;
  try {
    const stat = fstatSync(fd, { bigint: true });
    return stat.dev === BigInt(match[1]!) && stat.ino === BigInt(match[2]!);
  } catch {
    return false;
  }
}

/** `auto` → `journal` when stderr is the journal, else `json`; the others as given. */
export function resolveLogFormat(requested: LogFormat, env: Readonly<Record<string, string | undefined>>, fd = 2): ResolvedLogFormat {
  return requested !== 'auto' ? requested : isJournalStream(env, fd) ? 'journal' : 'json';
}

/**
 * What precedes the one-line error message of a failed command (cli.ts): `<3>`
 * when logs go to the journal, so journald files it as an error; else nothing.
 * Read from argv (the command may have failed before its options were
 * validated): `--log-format journal` as given, else what `auto` picks.
 */
export function errorLinePrefix(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, fd = 2): string {
  const at = argv.findIndex((word) => word === '--log-format' || word.startsWith('--log-format='));
  const given = at < 0 ? 'auto' : argv[at]!.includes('=') ? argv[at]!.slice('--log-format='.length) : argv[at + 1];
  const format = (LOG_FORMATS as readonly (string | undefined)[]).includes(given) ? resolveLogFormat(given as LogFormat, env, fd) : resolveLogFormat('auto', env, fd);
  return format === 'journal' ? '<3>' : '';
}

export async function createLogger(level: LogLevel, format: ResolvedLogFormat = 'json', name = 'sanhook'): Promise<Logger> {
  if (format !== 'json') return createLineLogger(level, format, (line) => writeAll(2, line));
  const pinoModule = await import('pino');
  const pino = pinoModule.pino ?? pinoModule.default;
  const logger = pino(
    { name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 2, sync: true }),
  );
  return { debug: logger.debug.bind(logger), info: logger.info.bind(logger), warn: logger.warn.bind(logger), error: logger.error.bind(logger), format: 'json' };
}

/** A `journal` or `text` logger that hands each record, as one line, to `write`. */
export function createLineLogger(level: LogLevel, format: LineFormat, write: (line: string) => void): Logger {
  const threshold = level === 'silent' ? Infinity : SEVERITY[level];
  const method = (recordLevel: RecordLevel) =>
    SEVERITY[recordLevel] < threshold
      ? () => {}
      : (fields: Record<string, unknown>, message: string) => write(formatLine(format, recordLevel, fields ?? {}, String(message ?? '')));
  const [debug, info, warn, error] = LEVEL_NAMES.map(method) as [Logger['debug'], Logger['info'], Logger['warn'], Logger['error']];
  return { debug, info, warn, error, format };
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes `text` to `fd` synchronously: one write(2) unless the kernel takes
 * less (then the rest follows at once). EAGAIN (a non-blocking pipe that is
 * full: node sets O_NONBLOCK on stdio pipes, shared with every process on
 * that pipe) waits and retries, so a line is never dropped for a slow reader;
 * a reader that is gone (EPIPE) or a closed fd drops the line, as pino does.
 */
export function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let offset = 0;
  let waitMs = 1;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
      waitMs = 1;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(sleeper, 0, 0, waitMs);
      waitMs = Math.min(waitMs * 2, 100);
    }
  }
}

/** Records forwarded from one hook's stderr at most; a runaway hook must not flood the journal. */
export const MAX_FORWARDED_LINES = 200;

/**
 * Re-emits what a hook wrote on stderr (timerd) as records of `log`, each at
 * its own level: pino JSON records and `<N>` lines keep their level, message
 * and fields (`context`, e.g. the hook and key, fills in what a record lacks);
 * any other line (the one-line error of a failed hook) is a record at
 * `otherLevel`. Keeps the last MAX_FORWARDED_LINES lines and says how many it dropped.
 */
export function forwardRecords(log: Logger, text: string, context: Readonly<Record<string, unknown>>, otherLevel: RecordLevel): void {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const dropped = lines.length - MAX_FORWARDED_LINES;
  if (dropped > 0) log.warn({ ...context, dropped_lines: dropped }, 'hook wrote more lines than are forwarded; the first ones were dropped');
  for (const line of dropped > 0 ? lines.slice(dropped) : lines) {
    const record = parseForwardedLine(line);
    if (record) log[record.level]({ ...context, ...record.fields }, record.message);
    else log[otherLevel]({ ...context }, line);
  }
}

/** A logger that drops everything (tests, --log-level silent before pino loads). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
