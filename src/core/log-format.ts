/**
 * Log records as human lines: the `journal` and `text` log formats.
 *
 * Contract: `formatLine()` turns one record into exactly one line, ending in
 * "\n" and containing no other line break:
 *
 *   journal  <N>[hook ][key: ]message field=value ...
 *   text     level: [hook ][key: ]message field=value ...
 *
 * N is the sd-daemon(3) priority (debug 7, info 6, warn 4, error 3), which
 * journald (a service's stderr, systemd-cat --level-prefix, the default) takes
 * as the entry's PRIORITY and strips. No timestamp and no pid: the journal
 * records both. `hook` and `key` lead the line; the other fields follow in
 * their order, undefined ones left out. A value is written bare when it has
 * no whitespace, quote, backslash or control character, else JSON-quoted
 * (so "\n" stays two characters and the record stays on one line); objects
 * and arrays as compact JSON; an Error as its message.
 *
 * `parseForwardedLine()` reads one line a hook wrote on stderr (a pino JSON
 * record, or a `<N>` line) back into a record, for timerd to re-emit.
 *
 * Pure and dependency-free: the human formats never load pino.
 */

export type RecordLevel = 'debug' | 'info' | 'warn' | 'error';
export type LineFormat = 'journal' | 'text';

/** sd-daemon(3) / syslog(3) priorities: LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR. */
export const PRIORITIES: Readonly<Record<RecordLevel, number>> = { debug: 7, info: 6, warn: 4, error: 3 };

/** Written bare: no whitespace, quote, backslash, and no control/format/unassigned character. */
const BARE = /^[^\s"\\\p{C}]+$/u;
/** Compact JSON (objects, arrays) is left unquoted unless it holds whitespace or a control character. */
const BARE_JSON = /^[^\s\p{C}]+$/u;
/** What JSON.stringify leaves alone but must not reach a terminal or split a line: DEL, C1 controls, U+2028/2029. */
const UNSAFE_AFTER_JSON = /[\u007f-\u009f\u2028\u2029]/g;
/** Line breaks and control characters inside a message. */
const UNSAFE_IN_MESSAGE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

const escapeChar = (c: string): string => {
  switch (c) {
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default:
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  }
};

function quote(text: string): string {
  return JSON.stringify(text).replace(UNSAFE_AFTER_JSON, escapeChar);
}

/** pino's error serialiser ({type, message, stack}) in a forwarded record. */
function isSerialisedError(value: object): value is { message: string } {
  const v = value as Record<string, unknown>;
  return typeof v.message === 'string' && typeof v.stack === 'string' && typeof v.type === 'string';
}

function json(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
  } catch {
    return '[unserialisable]';
  }
}

/** One field value as written after `name=`. */
export function renderValue(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return BARE.test(value) ? value : quote(value);
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
    case 'undefined':
      return 'undefined';
    case 'object': {
      if (value instanceof Error) return renderValue(value.message !== '' ? value.message : value.name);
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'invalid-date' : value.toISOString();
      if (isSerialisedError(value)) return renderValue(value.message);
      const text = json(value);
      return BARE_JSON.test(text) ? text : quote(text);
    }
    default:
      return renderValue(String(value));
  }
}

/** A field name as written before `=`: word characters, `.` and `-` only. */
export function renderName(name: string): string {
  const clean = name.replace(/[^\w.-]/g, '_');
  return clean === '' ? '_' : clean;
}

/** A message on one line: line breaks and control characters escaped, nothing else touched. */
export function oneLine(message: string): string {
  return message.replace(UNSAFE_IN_MESSAGE, escapeChar);
}

/** The line without its level prefix: `[hook ][key: ]message field=value ...`. */
export function formatBody(fields: Readonly<Record<string, unknown>>, message: string): string {
  const head = [fields.hook, fields.key]
    .filter((v) => v !== undefined && v !== null && v !== '')
    .map(renderValue)
    .join(' ');
  const text = oneLine(message);
  let line = head === '' ? text : text === '' ? head : `${head}: ${text}`;
  for (const [name, value] of Object.entries(fields)) {
    if (name === 'hook' || name === 'key' || value === undefined) continue;
    line += `${line === '' ? '' : ' '}${renderName(name)}=${renderValue(value)}`;
  }
  return line;
}

/** One record as one line, "\n" included. */
export function formatLine(format: LineFormat, level: RecordLevel, fields: Readonly<Record<string, unknown>>, message: string): string {
  const prefix = format === 'journal' ? `<${PRIORITIES[level]}>` : `${level}: `;
  return `${prefix}${formatBody(fields, message)}\n`;
}

export interface ParsedRecord {
  readonly level: RecordLevel;
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

/** pino's own keys, which the journal line replaces (level, the message) or the journal records (time, pid). */
const PINO_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

/** pino's numeric levels: trace 10, debug 20, info 30, warn 40, error 50, fatal 60. */
function levelOfPino(level: number): RecordLevel {
  if (level >= 50) return 'error';
  if (level >= 40) return 'warn';
  if (level >= 30) return 'info';
  return 'debug';
}

/** syslog priorities 0-7: emerg..err are errors, warning a warning, notice and info info. */
function levelOfPriority(priority: number): RecordLevel {
  if (priority <= 3) return 'error';
  if (priority === 4) return 'warn';
  if (priority <= 6) return 'info';
  return 'debug';
}

/**
 * One line of a hook's stderr as a record: a pino JSON record (its level,
 * message and fields, without pino's own keys) or a `<N>message` line (that
 * priority, no fields). Anything else (the one-line error of a failed hook, a
 * node warning) is undefined: the caller decides its level.
 */
export function parseForwardedLine(line: string): ParsedRecord | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  const prefixed = /^<([0-7])>/.exec(text);
  if (prefixed) return { level: levelOfPriority(Number(prefixed[1])), fields: {}, message: text.slice(3) };
  if (!text.startsWith('{')) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
  const { level, msg } = record as { level?: unknown; msg?: unknown };
  if (typeof level !== 'number' || !Number.isFinite(level)) return undefined;
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(record)) if (!PINO_KEYS.has(name)) fields[name] = value;
  return { level: levelOfPino(level), fields, message: typeof msg === 'string' ? msg : '' };
}
