// @ts-check
/**
 * Readers for what the sandbox's programs leave behind: JSON-lines records (the
 * fakes' argv logs, pino log lines), the captured nvme-cli fixtures, and timerd's
 * durable table (timers.json + timers.journal) read independently of timerd's own
 * loader, the way the documented format says (src/timerd/store.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES = path.join(REPO, 'test', 'fixtures', 'nvme-cli');

/**
 * Parses one JSON value per non-blank line. Strict by default (a bad line throws);
 * `lenient` turns a bad line into `{ unparsed: line }`.
 * @template [T=any]
 * @param {string} text
 * @param {{ lenient?: boolean }} [options]
 * @returns {T[]}
 */
export function parseJsonLines(text, options = {}) {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      if (!options.lenient) return JSON.parse(line);
      try {
        return JSON.parse(line);
      } catch {
        return { unparsed: line };
      }
    });
}

/**
 * The records of a JSON-lines file (none when it does not exist).
 * @template [T=any]
 * @param {string} file
 * @param {{ lenient?: boolean }} [options]
 * @returns {T[]}
 */
export function readJsonl(file, options = {}) {
  return existsSync(file) ? parseJsonLines(readFileSync(file, 'utf8'), options) : [];
}

/**
 * One pino record of a sanhook/timerd stderr, `at` = its time in ms.
 * @typedef {{ level: number, time: string, at: number, pid: number, msg: string, [field: string]: unknown }} LogRecord
 */

/**
 * The pino JSON lines of a stderr text. A partial last line (the program is still
 * writing) is skipped.
 * @param {string} text
 * @returns {LogRecord[]}
 */
export function logRecords(text) {
  /** @type {LogRecord[]} */
  const records = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{"level":')) continue;
    try {
      const record = JSON.parse(line);
      records.push({ ...record, at: Date.parse(record.time) });
    } catch {
      // a partial last line
    }
  }
  return records;
}

/**
 * Non-log lines of a stderr: the one-line user messages.
 * @param {string} text
 */
export function messageLines(text) {
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('{"level":'));
}

/**
 * A captured nvme-cli fixture (test/fixtures/nvme-cli/<name>).
 * @param {string} name
 */
export function fixture(name) {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

/**
 * `name=value` lines of a fixture (sysfs-*.txt).
 * @param {string} name
 * @returns {Record<string, string>}
 */
export function readAttributes(name) {
  /** @type {Record<string, string>} */
  const attributes = {};
  for (const line of fixture(name).split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) attributes[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return attributes;
}

/**
 * The environment of one event of a `udevadm monitor --environment` capture: the
 * `which` block ("UDEV" = after rule processing, what RUN programs get).
 * @param {string} name
 * @param {'UDEV' | 'KERNEL'} [which]
 * @returns {Record<string, string>}
 */
export function readUevent(name, which = 'UDEV') {
  const blocks = fixture(name).split(/\n\s*\n/);
  const block = blocks.find((b) => b.trimStart().startsWith(which === 'UDEV' ? 'UDEV ' : 'KERNEL['));
  if (!block) throw new Error(`${name}: no ${which} block`);
  /** @type {Record<string, string>} */
  const env = {};
  for (const line of block.trim().split('\n').slice(1)) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/**
 * @typedef {{ key: string, id: number, attempts: number, [field: string]: unknown }} TableEntry
 * @typedef {object} TableOnDisk
 * @property {boolean} exists timers.json exists
 * @property {number} gen the snapshot's generation
 * @property {number} nextId
 * @property {number} snapshotEntries entries in timers.json alone
 * @property {number | undefined} journalGen the journal header's generation
 * @property {number} journalOps operation lines in the journal (after its header)
 * @property {number} replayed operations applied (the journal's generation matches the snapshot's)
 * @property {boolean} tornTail the journal ends in a partial line
 * @property {Map<string, TableEntry>} entries the table a restarted timerd would load
 */

/**
 * Reads timers.json + timers.journal of timerd's state dir as a restarted timerd
 * would load them. Throws if timers.json does not parse or has an unexpected shape;
 * a missing timers.json throws too unless `missingOk` (then: an empty table).
 * @param {string} stateDir
 * @param {{ missingOk?: boolean }} [options]
 * @returns {TableOnDisk}
 */
export function readTimerTable(stateDir, options = {}) {
  const snapshotFile = path.join(stateDir, 'timers.json');
  const exists = existsSync(snapshotFile);
  /** @type {{ version: number, gen: number, nextId: number, entries: TableEntry[] }} */
  const snapshot = !exists && options.missingOk ? { version: 1, gen: 0, nextId: 1, entries: [] } : JSON.parse(readFileSync(snapshotFile, 'utf8'));
  // version 1: the seconds-only release; 2: schedules in ms (src/timerd/store.ts)
  if (![1, 2].includes(snapshot.version) || !Number.isInteger(snapshot.gen) || !Array.isArray(snapshot.entries)) throw new Error(`timers.json: unexpected shape ${JSON.stringify(snapshot).slice(0, 200)}`);
  /** @type {Map<string, TableEntry>} */
  const entries = new Map();
  for (const entry of snapshot.entries) entries.set(entry.key, entry);
  const journalFile = path.join(stateDir, 'timers.journal');
  const lines = (existsSync(journalFile) ? readFileSync(journalFile, 'utf8') : '').split('\n');
  const complete = lines.slice(0, -1);
  const tornTail = lines[lines.length - 1] !== '';
  const header = complete[0] ? JSON.parse(complete[0]) : undefined;
  let nextId = snapshot.nextId;
  let replayed = 0;
  if (header?.gen === snapshot.gen) {
    for (const line of complete.slice(1)) {
      const op = JSON.parse(line);
      replayed += 1;
      if (op.op === 'arm') {
        entries.set(op.entry.key, op.entry);
        nextId = Math.max(nextId, op.entry.id + 1);
      } else if (op.op === 'disarm') {
        if (entries.get(op.key)?.id === op.id) entries.delete(op.key);
      } else if (op.op === 'attempt') {
        const entry = entries.get(op.key);
        if (entry !== undefined && entry.id === op.id) entries.set(op.key, { ...entry, attempts: op.attempts });
      } else throw new Error(`timers.journal: unknown op ${line}`);
    }
  }
  return { exists, gen: snapshot.gen, nextId, snapshotEntries: snapshot.entries.length, journalGen: header?.gen, journalOps: Math.max(0, complete.length - 1), replayed, tornTail, entries };
}
