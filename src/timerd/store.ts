/**
 * timerd's durable table: a snapshot plus a journal, with group commit.
 *
 * Files in the state dir:
 *   timers.json      {"version":2,"gen":G,"nextId":N,"entries":[...]}, replaced
 *                    atomically (temp file, fsync, rename, fsync of the directory)
 *   timers.journal   first line {"gen":G,"version":2}, then one op per line:
 *                    {"op":"arm","entry":{...}} | {"op":"disarm","key","id"}
 *                    | {"op":"attempt","key","id","attempts","lastAttemptEndedAt"}
 *
 * Format versions (FORMAT_VERSION): 2 stores durations in ms (schedule.delayMs,
 * loss.afterMs). 1 is the seconds-only release's (schedule.delaySeconds,
 * loss.seconds with -1 or 0 for never; its journal header has no version):
 * still read, each entry converted on load (entryFromFormat), never written;
 * the compaction that follows every load rewrites both files as version 2.
 * A version this code does not know stops the load (written by a newer
 * release: dropping its entries would lose timers).
 *
 * Contract: `append()` resolves only after its line is on disk (write +
 * fdatasync); ops queued while a write is in flight go out together in the
 * next single write (group commit). Loading replays the journal only if its
 * gen matches the snapshot's (a crash between snapshot rename and journal
 * reset leaves an older journal that must not be replayed) and ignores a torn
 * last line (it was never acknowledged). Every op is idempotent per key.
 */
import { open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { fsError, fsStep, LOCATIONS, makeDir, syncDir, type FsTarget } from '../core/fs-errors.js';
import type { Logger } from '../core/log.js';
import type { Growth, TimerEntry } from './schedule.js';

export type JournalOp =
  | { readonly op: 'arm'; readonly entry: TimerEntry }
  | { readonly op: 'disarm'; readonly key: string; readonly id: number }
  | { readonly op: 'attempt'; readonly key: string; readonly id: number; readonly attempts: number; readonly lastAttemptEndedAt: number };

export interface LoadedTable {
  readonly entries: Map<string, TimerEntry>;
  readonly nextId: number;
  readonly replayed: number;
  readonly tornTail: boolean;
  /** Entries read in format version 1 (seconds) and converted to ms. */
  readonly converted: number;
}

/** Compact once the journal holds this many ops beyond the table size (bounded replay time). */
const COMPACT_MIN_OPS = 4096;

/** The format this code writes; see the header for what each version holds. */
export const FORMAT_VERSION = 2;
/** The seconds-only release's format: read and converted, never written. */
const FORMAT_V1 = 1;

/** An entry as the seconds-only release stored it. */
interface EntryV1 extends Omit<TimerEntry, 'schedule' | 'loss'> {
  readonly schedule: { readonly delaySeconds: number; readonly growth: Growth };
  readonly loss: { readonly seconds: number; readonly attempts: number };
}

/** A stored entry of format `version` as a current entry (ms); throws on an unknown version or a v1 entry without its fields. */
export function entryFromFormat(stored: unknown, version: number): TimerEntry {
  if (version === FORMAT_VERSION) return stored as TimerEntry;
  if (version !== FORMAT_V1) throw new Error(`unknown format version ${String(version)}`);
  const v1 = stored as Partial<EntryV1> | null;
  const { schedule, loss } = v1 ?? {};
  if (typeof schedule?.delaySeconds !== 'number' || typeof loss?.seconds !== 'number') throw new Error('not a version 1 entry (schedule.delaySeconds, loss.seconds)');
  return {
    ...(v1 as EntryV1),
    schedule: { delayMs: schedule.delaySeconds * 1000, growth: schedule.growth },
    // v1 spelled "never by time" -1 or 0; ms has only 0
    loss: { afterMs: Math.max(0, loss.seconds * 1000), attempts: loss.attempts },
  };
}

export function applyOp(entries: Map<string, TimerEntry>, op: JournalOp): void {
  switch (op.op) {
    case 'arm':
      entries.set(op.entry.key, op.entry);
      break;
    case 'disarm':
      if (entries.get(op.key)?.id === op.id) entries.delete(op.key);
      break;
    case 'attempt': {
      const entry = entries.get(op.key);
      if (entry?.id === op.id) entries.set(op.key, { ...entry, attempts: op.attempts, lastAttemptEndedAt: op.lastAttemptEndedAt });
      break;
    }
  }
}

export class TimerStore {
  readonly snapshotPath: string;
  readonly journalPath: string;
  private journal: FileHandle | undefined;
  private gen = 0;
  private journalOps = 0;
  private queue: { line: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private writing: Promise<void> | undefined;

  /** What each file is for, in error messages (fs-errors.ts); `top` is the state dir. */
  private readonly targets: { readonly dir: FsTarget; readonly snapshot: FsTarget; readonly journal: FsTarget };

  constructor(
    readonly dir: string,
    private readonly log: Logger,
    /** Current table and id counter, for compaction. */
    private readonly current: () => { entries: Iterable<TimerEntry>; size: number; nextId: number },
  ) {
    this.snapshotPath = path.join(dir, ...LOCATIONS.timerdSnapshot.sub);
    this.journalPath = path.join(dir, ...LOCATIONS.timerdJournal.sub);
    this.targets = {
      dir: { what: LOCATIONS.timerTable.what, top: dir },
      snapshot: { what: LOCATIONS.timerdSnapshot.what, top: dir },
      journal: { what: LOCATIONS.timerdJournal.what, top: dir },
    };
  }

  async load(): Promise<LoadedTable> {
    await makeDir(this.dir, this.targets.dir);
    // Temp files of a compaction that a crash interrupted were never renamed into place.
    for (const name of await fsStep('list', this.dir, this.targets.dir, () => readdir(this.dir))) {
      if (/^timers\.(json|journal)\.[0-9]+\.tmp$/.test(name)) await unlink(path.join(this.dir, name)).catch(() => {});
    }
    const entries = new Map<string, TimerEntry>();
    let nextId = 1;
    let gen = 0;
    let snapshotText: string | undefined;
    try {
      snapshotText = await readFile(this.snapshotPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(error, 'read', this.snapshotPath, this.targets.snapshot);
    }
    let converted = 0;
    if (snapshotText !== undefined) {
      try {
        const snapshot = JSON.parse(snapshotText) as { version: number; gen: number; nextId: number; entries: unknown[] };
        if (snapshot.version !== FORMAT_VERSION && snapshot.version !== FORMAT_V1) throw new Error(`unknown snapshot version ${snapshot.version}`);
        gen = snapshot.gen;
        nextId = snapshot.nextId;
        for (const stored of snapshot.entries) {
          const entry = entryFromFormat(stored, snapshot.version);
          entries.set(entry.key, entry);
        }
        if (snapshot.version === FORMAT_V1) converted += snapshot.entries.length;
      } catch (error) {
        throw new Error(`${this.snapshotPath}: cannot load: ${(error as Error).message}`, { cause: error });
      }
    }
    let replayed = 0;
    let tornTail = false;
    let text = '';
    try {
      text = await readFile(this.journalPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(error, 'read', this.journalPath, this.targets.journal);
    }
    const lines = text.split('\n');
    const complete = text.endsWith('\n') ? lines.slice(0, -1) : lines.slice(0, -1);
    if (!text.endsWith('\n') && text.length > 0) tornTail = true;
    const header = complete[0] ? (JSON.parse(complete[0]) as { gen?: number; version?: number }) : undefined;
    if (header?.gen === gen) {
      const version = header.version ?? FORMAT_V1;
      if (version !== FORMAT_VERSION && version !== FORMAT_V1) throw new Error(`${this.journalPath}: cannot load: unknown journal version ${version}`);
      for (const line of complete.slice(1)) {
        let op: JournalOp;
        try {
          op = JSON.parse(line) as JournalOp;
          if (op.op === 'arm') op = { op: 'arm', entry: entryFromFormat(op.entry, version) };
        } catch {
          this.log.error({ file: this.journalPath, line: line.slice(0, 120) }, 'skipping an unreadable journal line');
          continue;
        }
        if (op.op === 'arm' && version === FORMAT_V1) converted += 1;
        applyOp(entries, op);
        if (op.op === 'arm') nextId = Math.max(nextId, op.entry.id + 1);
        replayed += 1;
      }
    }
    this.gen = gen;
    return { entries, nextId, replayed, tornTail, converted };
  }

  /** Writes a fresh snapshot of the current table and starts a new, empty journal. */
  async compact(): Promise<void> {
    const { entries, nextId } = this.current();
    const gen = this.gen + 1;
    const { snapshot, journal: journalTarget, dir } = this.targets;
    const temp = `${this.snapshotPath}.${process.pid}.tmp`;
    const handle = await fsStep('write', temp, snapshot, () => open(temp, 'w', 0o600));
    try {
      await fsStep('write', temp, snapshot, async () => {
        await handle.writeFile(JSON.stringify({ version: FORMAT_VERSION, gen, nextId, entries: [...entries] }));
        await handle.sync();
      });
    } finally {
      await handle.close();
    }
    await fsStep('write', this.snapshotPath, snapshot, () => rename(temp, this.snapshotPath));
    await fsStep('sync', this.dir, dir, () => syncDir(this.dir));
    const journalTemp = `${this.journalPath}.${process.pid}.tmp`;
    const journal = await fsStep('write', journalTemp, journalTarget, () => open(journalTemp, 'w', 0o600));
    try {
      await fsStep('write', journalTemp, journalTarget, async () => {
        await journal.write(`${JSON.stringify({ gen, version: FORMAT_VERSION })}\n`);
        await journal.sync();
      });
      await fsStep('write', this.journalPath, journalTarget, () => rename(journalTemp, this.journalPath));
    } catch (error) {
      await journal.close().catch(() => {});
      throw error;
    }
    // The new journal is in place: write to it from now on, even if the directory sync fails.
    await this.journal?.close();
    this.journal = journal;
    this.gen = gen;
    this.journalOps = 0;
    await fsStep('sync', this.dir, dir, () => syncDir(this.dir));
  }

  /** Resolves once `op` is durable. */
  append(op: JournalOp): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ line: `${JSON.stringify(op)}\n`, resolve, reject });
      this.kick();
    });
  }

  /** Starts the writer unless it runs; an op queued while it was finishing is picked up here. */
  private kick(): void {
    if (this.writing) return;
    this.writing = (async () => {
      try {
        await this.drain();
      } finally {
        this.writing = undefined;
        if (this.queue.length > 0) this.kick();
      }
    })();
  }

  /** Waits for every queued op to be written. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.journal?.close();
    this.journal = undefined;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        const journal = this.journal;
        if (!journal) throw new Error('store is not open');
        await fsStep('write', this.journalPath, this.targets.journal, async () => {
          await journal.write(batch.map((b) => b.line).join(''));
          await journal.datasync();
        });
        this.journalOps += batch.length;
        for (const b of batch) b.resolve();
      } catch (error) {
        this.log.error({ err: (error as Error).message }, 'timer journal write failed');
        for (const b of batch) b.reject(error);
        continue;
      }
      if (this.journalOps > Math.max(COMPACT_MIN_OPS, this.current().size)) {
        await this.compact().catch((error: unknown) => this.log.error({ err: (error as Error).message }, 'compaction failed; journal keeps growing'));
      }
    }
  }
}

