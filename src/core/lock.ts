/**
 * Per-key locks with coalescing (DESIGN §5): no event is lost, no two actions
 * on one key overlap, and no hook waits unboundedly.
 *
 * Protocol, for an event carrying `request` on key K:
 *   write pending(K) = request          (atomic: temp file + rename; latest wins)
 *   loop:
 *     acquire lock(K), waiting at most the stale bound (below); if not: return
 *     while take pending(K) → run action(request taken)
 *     unlock(K)
 *     if no pending(K): return          (else an event came after our last take: loop)
 *
 * Waiting: while the lock is held we poll until (a) we get it — proper-lockfile
 * removes a lock whose mtime is older than `staleMs`, which is how a SIGKILLed
 * holder is recovered — or (b) our pending marker is gone: a holder took it and
 * its action starts after our event — or (c) 2 × `staleMs` have passed: the
 * lock is still fresh, so its holder was alive within the stale window and will
 * see the marker when it checks after unlocking.
 */
import { readFile, rename, unlink, writeFile, access } from 'node:fs/promises';
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

/** Records an event for key K; a later marker replaces an earlier one (they coalesce). */
export async function writePending(system: System, key: string, request: unknown): Promise<void> {
  const { pending } = await ensureRunDirs(system);
  const where = locate(system.paths, 'pending');
  const target = path.join(pending, keyFileName(key));
  const temp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const record = JSON.stringify({ key, at: system.clock.now(), pid: process.pid, request });
  await fsStep('write', temp, where, () => writeFile(temp, record, { mode: 0o600 }));
  await fsStep('write', target, where, () => rename(temp, target));
}

export async function hasPending(system: System, key: string): Promise<boolean> {
  try {
    await access(path.join(locate(system.paths, 'pending').path, keyFileName(key)));
    return true;
  } catch {
    return false;
  }
}

/** Takes the marker atomically (rename), returning its request, or undefined if none. */
export async function takePending<T>(system: System, key: string): Promise<{ request: T } | undefined> {
  const where = locate(system.paths, 'pending');
  const target = path.join(where.path, keyFileName(key));
  const taken = `${target}.taken.${process.pid}`;
  try {
    await rename(target, taken);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(error, 'rename', target, where);
  }
  try {
    const record = JSON.parse(await fsStep('read', taken, where, () => readFile(taken, 'utf8'))) as { request: T };
    return { request: record.request };
  } finally {
    await unlink(taken).catch(() => {});
  }
}

/**
 * Runs `action` under the lock for `key` until no event is pending.
 * `request` is this event's; the action always gets the latest pending request.
 */
export async function runCoalesced<T>(
  system: System,
  key: string,
  request: T,
  action: (request: T) => Promise<void>,
  options: CoalesceOptions,
): Promise<CoalesceOutcome> {
  const dirs = await ensureRunDirs(system);
  const lockTarget = path.join(dirs.locks, keyFileName(key));
  await writePending(system, key, request);
  let runs = 0;
  for (;;) {
    const acquired = await acquire(system, key, lockTarget, options.staleMs);
    if (acquired.kind !== 'locked') {
      return runs > 0 ? { kind: 'held', runs } : { kind: 'handed-over', reason: acquired.kind };
    }
    try {
      for (;;) {
        if (acquired.compromised()) break;
        const taken = await takePending<T>(system, key);
        if (!taken) break;
        runs += 1;
        await action(taken.request);
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

async function acquire(system: System, key: string, lockTarget: string, staleMs: number): Promise<Acquired> {
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
    if (!(await hasPending(system, key))) return { kind: 'taken-by-holder' };
    if (system.clock.now() >= deadline) return { kind: 'holder-busy' };
    await system.clock.sleep(poll);
    poll = Math.min(poll * 2, POLL_MAX_MS);
  }
}
