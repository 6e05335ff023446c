/**
 * Per-key locks with coalescing (DESIGN §5): no event is lost, no two actions
 * on one key overlap, and no hook waits unboundedly.
 *
 * Protocol, for an event of `verb` carrying `request` on key K:
 *   write pending(K, verb) = request    (atomic: temp file + rename; latest wins per verb)
 *   loop:
 *     acquire lock(K), waiting at most the stale bound (below); if not: return
 *     while take the oldest pending(K, *) → run that verb's round(request taken)
 *     unlock(K)
 *     if no pending(K, *): return       (else an event came after our last take: loop)
 * Every hook that changes K's state (connect, reconnect, lost, connected,
 * disconnect, give-up of a fabric) runs under this lock, so no two of them
 * overlap on K and none decides on facts another is changing.
 *
 * Waiting: while the lock is held we poll until (a) we get it — proper-lockfile
 * removes a lock whose mtime is older than `staleMs`, which is how a SIGKILLed
 * holder is recovered — or (b) our pending marker (K, verb) is gone: a holder took it and
 * its action starts after our event — or (c) 2 × `staleMs` have passed: the
 * lock is still fresh, so its holder was alive within the stale window and will
 * see the marker when it checks after unlocking.
 */
import { access, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { fsError, fsStep, locate, makeDir } from './fs-errors.js';
import { keyFileName } from './keys.js';
import type { System } from './system.js';

/** proper-lockfile refuses stale bounds under 2 s (it refreshes the mtime every stale/2). */
export const MIN_STALE_MS = 2_000;
export const DEFAULT_STALE_MS = 10_000;
/** First poll soon (holders usually finish fast), then back off to keep many waiters cheap. */
const POLL_FIRST_MS = 20;
const POLL_MAX_MS = 400;

export interface CoalesceOptions {
  readonly staleMs: number;
}

export type CoalesceOutcome =
  /** We held the lock and ran the action `runs` times (0 if another holder had already taken our marker). */
  | { readonly kind: 'held'; readonly runs: number }
  /** A live holder has our event (it took the marker, or will see it). */
  | { readonly kind: 'handed-over'; readonly reason: 'taken-by-holder' | 'holder-busy' };

interface Dirs {
  readonly locks: string;
  readonly pending: string;
}

/** Creates the run dir and its locks/ and pending/; a failure names the directory and why (fs-errors.ts). */
export async function ensureRunDirs(system: System): Promise<Dirs> {
  const runDir = locate(system.paths, 'runDir');
  const locks = locate(system.paths, 'locks');
  const pending = locate(system.paths, 'pending');
  await makeDir(runDir.path, runDir);
  await makeDir(locks.path, locks);
  await makeDir(pending.path, pending);
  return { locks: locks.path, pending: pending.path };
}

/**
 * One marker per (key, verb): `pending/<key file name>#<verb>`. Events of one
 * verb coalesce (the latest request wins: it carries the newest facts); events
 * of different verbs on one key never overwrite each other, because a
 * `disconnect` must not vanish behind a later `reconnect`. `#` cannot occur in
 * a key file name (keys.ts escapes it), so the split is unambiguous.
 */
const VERB_SEPARATOR = '#';

function markerName(key: string, verb: string): string {
  return `${keyFileName(key)}${VERB_SEPARATOR}${verb}`;
}

/** Records an event of `verb` for key K; a later marker of the same verb replaces an earlier one. */
export async function writePending(system: System, key: string, verb: string, request: unknown): Promise<void> {
  const { pending } = await ensureRunDirs(system);
  const where = locate(system.paths, 'pending');
  const target = path.join(pending, markerName(key, verb));
  const temp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  // seq orders markers of different verbs: the monotonic clock is shared by every process of one boot.
  const record = JSON.stringify({ key, verb, at: system.clock.now(), seq: process.hrtime.bigint().toString(), pid: process.pid, request });
  await fsStep('write', temp, where, () => writeFile(temp, record, { mode: 0o600 }));
  await fsStep('write', target, where, () => rename(temp, target));
}

/** The verbs with a marker for K (all of them, or only `verb`'s). */
async function pendingVerbs(system: System, key: string, verb?: string): Promise<string[]> {
  if (verb !== undefined) {
    try {
      await access(path.join(locate(system.paths, 'pending').path, markerName(key, verb)));
      return [verb];
    } catch {
      return [];
    }
  }
  const prefix = `${keyFileName(key)}${VERB_SEPARATOR}`;
  const names = await readdir(locate(system.paths, 'pending').path).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(prefix) && !n.endsWith('.tmp') && !n.includes('.taken.')).map((n) => n.slice(prefix.length));
}

export async function hasPending(system: System, key: string, verb?: string): Promise<boolean> {
  return (await pendingVerbs(system, key, verb)).length > 0;
}

/**
 * Takes the oldest marker for K among `verbs` atomically (rename), returning
 * its verb and request, or undefined if there is none.
 */
export async function takePending<T>(system: System, key: string, verbs: readonly string[]): Promise<{ verb: string; request: T } | undefined> {
  const where = locate(system.paths, 'pending');
  const candidates: { verb: string; seq: bigint }[] = [];
  for (const verb of (await pendingVerbs(system, key)).filter((v) => verbs.includes(v))) {
    try {
      const record = JSON.parse(await readFile(path.join(where.path, markerName(key, verb)), 'utf8')) as { seq?: string };
      candidates.push({ verb, seq: BigInt(record.seq ?? '0') });
    } catch {
      // replaced or taken meanwhile: the rename below decides
      candidates.push({ verb, seq: 0n });
    }
  }
  candidates.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  for (const { verb } of candidates) {
    const target = path.join(where.path, markerName(key, verb));
    const taken = `${target}.taken.${process.pid}`;
    try {
      await rename(target, taken);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw fsError(error, 'rename', target, where);
    }
    try {
      const record = JSON.parse(await fsStep('read', taken, where, () => readFile(taken, 'utf8'))) as { request: T };
      return { verb, request: record.request };
    } finally {
      await unlink(taken).catch(() => {});
    }
  }
  return undefined;
}

/** What the holder of K's lock can do for each verb that locks K: one round, for the latest request of that verb. */
export type Rounds = Readonly<Record<string, (request: never) => Promise<void>>>;

/**
 * Runs this event's `verb` under the lock for `key` until no event for K is
 * pending: the holder runs the round of whatever verb each marker names
 * (oldest first), so a `disconnect` queued behind a `reconnect` still runs,
 * after it. `request` is this event's; each round gets the latest pending
 * request of its verb.
 */
export async function runCoalesced(system: System, key: string, verb: string, request: unknown, rounds: Rounds, options: CoalesceOptions): Promise<CoalesceOutcome> {
  if (!Object.hasOwn(rounds, verb)) throw new Error(`runCoalesced: no round for ${verb} on ${key}`);
  const verbs = Object.keys(rounds);
  const dirs = await ensureRunDirs(system);
  const lockTarget = path.join(dirs.locks, keyFileName(key));
  await writePending(system, key, verb, request);
  let runs = 0;
  for (;;) {
    const acquired = await acquire(system, key, verb, lockTarget, options.staleMs);
    if (acquired.kind !== 'locked') {
      return runs > 0 ? { kind: 'held', runs } : { kind: 'handed-over', reason: acquired.kind };
    }
    try {
      for (;;) {
        if (acquired.compromised()) break;
        const taken = await takePending<never>(system, key, verbs);
        if (!taken) break;
        if (taken.verb === verb) runs += 1;
        else system.log.info({ key, verb: taken.verb, holder: verb }, 'running a queued event of another hook');
        await rounds[taken.verb]!(taken.request);
      }
    } finally {
      if (!acquired.compromised()) await acquired.release().catch(() => {});
    }
    if (!(await hasPending(system, key))) return { kind: 'held', runs };
    system.log.debug({ key }, 'event arrived after last check; going round again');
  }
}

type Acquired =
  | { kind: 'locked'; release: () => Promise<void>; compromised: () => boolean }
  | { kind: 'taken-by-holder' }
  | { kind: 'holder-busy' };

async function acquire(system: System, key: string, verb: string, lockTarget: string, staleMs: number): Promise<Acquired> {
  const stale = Math.max(staleMs, MIN_STALE_MS);
  const deadline = system.clock.now() + 2 * stale;
  let poll = POLL_FIRST_MS;
  for (;;) {
    let compromised = false;
    try {
      const release = await lockfile.lock(lockTarget, {
        stale,
        retries: 0,
        realpath: false,
        onCompromised: (error) => {
          compromised = true;
          system.log.error({ key, err: error.message }, 'lock compromised (held past the stale bound?); stopping after this action');
        },
      });
      return { kind: 'locked', release, compromised: () => compromised };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw fsError(error, 'lock', `${lockTarget}.lock`, locate(system.paths, 'locks'));
    }
    if (!(await hasPending(system, key, verb))) return { kind: 'taken-by-holder' };
    if (system.clock.now() >= deadline) return { kind: 'holder-busy' };
    await system.clock.sleep(poll);
    poll = Math.min(poll * 2, POLL_MAX_MS);
  }
}
