/**
 * timerd's durable table: a snapshot plus a journal, with group commit.
 *
 * Files in the state dir:
 *   timers.json      {"version":1,"gen":G,"nextId":N,"entries":[...]}, replaced
 *                    atomically (temp file, fsync, rename, fsync of the directory)
 *   timers.journal   first line {"gen":G}, then one op per line:
 *                    {"op":"arm","entry":{...}} | {"op":"disarm","key","id"}
 *                    | {"op":"attempt","key","id","attempts","lastAttemptEndedAt"}
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
import { fsError, fsStep, LOCATIONS, makeDir, type FsTarget } from '../core/fs-errors.js';
import type { Logger } from '../core/log.js';
import type { TimerEntry } from './schedule.js';

export type JournalOp =
  | { readonly op: 'arm'; readonly entry: TimerEntry }
  | { readonly op: 'disarm'; readonly key: string; readonly id: number }
  | { readonly op: 'attempt'; readonly key: string; readonly id: number; readonly attempts: number; readonly lastAttemptEndedAt: number };

export interface LoadedTable {
  readonly entries: Map<string, TimerEntry>;
  readonly nextId: number;
  readonly replayed: number;
  readonly tornTail: boolean;
}

/** Compact once the journal holds this many ops beyond the table size (bounded replay time). */
const COMPACT_MIN_OPS = 4096;

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
    if (snapshotText !== undefined) {
      try {
        const snapshot = JSON.parse(snapshotText) as { version: number; gen: number; nextId: number; entries: TimerEntry[] };
        if (snapshot.version !== 1) throw new Error(`unknown snapshot version ${snapshot.version}`);
        gen = snapshot.gen;
        nextId = snapshot.nextId;
        for (const entry of snapshot.entries) entries.set(entry.key, entry);
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
    const header = complete[0] ? (JSON.parse(complete[0]) as { gen?: number }) : undefined;
    if (header?.gen === gen) {
      for (const line of complete.slice(1)) {
        let op: JournalOp;
        try {
          op = JSON.parse(line) as JournalOp;
        } catch {
          this.log.error({ file: this.journalPath, line: line.slice(0, 120) }, 'skipping an unreadable journal line');
          continue;
        }
        applyOp(entries, op);
        if (op.op === 'arm') nextId = Math.max(nextId, op.entry.id + 1);
        replayed += 1;
      }
    }
    this.gen = gen;
    return { entries, nextId, replayed, tornTail };
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
        await handle.writeFile(JSON.stringify({ version: 1, gen, nextId, entries: [...entries] }));
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
        await journal.write(`${JSON.stringify({ gen })}\n`);
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

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
