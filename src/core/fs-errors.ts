/**
 * Where sanhook writes, and the one way a failed file-system call there
 * becomes an error that explains itself.
 *
 * Contract:
 * - `LOCATIONS` names every place the core writes (run directory, locks,
 *   pending events, timerd's socket and table), with what it is for;
 *   `COMMAND_WRITES` says which core command writes which (Linux). A fabric
 *   declares its own places and its commands' writes (`Fabric.locations`,
 *   `Fabric.commandWrites`); core/registry.ts merges them with these. The
 *   shipped systemd units are checked against the merged list
 *   (test/unit/units.test.ts): a unit that runs a command must make each of
 *   its locations writable.
 * - `fsError()` turns an errno error (mkdir/open/write/rename/unlink/...) on
 *   one of sanhook's own files into an EnvironmentError (exit 3) whose
 *   one-line message names the path, what it is for, the errno and, where
 *   there is one, the likely cause and the unit setting that fixes it:
 *     cannot create /run/sanhook/locks (lock directory): read-only file
 *     system (EROFS); under systemd the unit needs RuntimeDirectory=sanhook
 *     or ReadWritePaths=/run/sanhook
 *   The original error stays as `cause`. Anything that is not an errno error
 *   (a bug, one of our own errors) is returned unchanged.
 * - `syncDir()` makes a rename in a directory durable (fsync of the
 *   directory), for the writers that rename into place (timerd's table, the
 *   NVMe registry's entries).
 */
import { mkdir, open, stat } from 'node:fs/promises';
import path from 'node:path';
import { EnvironmentError, SanhookError } from './errors.js';
import { PLATFORM_DIRS } from './platform.js';
import type { Paths } from './system.js';

/**
 * Which directory of `Paths` a location is under; dev and sys are the
 * kernel's; root is the host's tree (another tool's directory sanhook writes
 * in by that tool's documented protocol, such as /run/nvme/registry).
 */
export type Base = 'run' | 'state' | 'etc' | 'dev' | 'sys' | 'root';

export interface Location {
  readonly base: Base;
  /** Below the base; `*` stands for any one name (a device). */
  readonly sub: readonly string[];
  /** What it is for, as the error message says it. */
  readonly what: string;
  /** Written by this program on sanhook's behalf, not by sanhook itself (a fabric's tool). */
  readonly by?: string;
}

/** The core's places; a fabric's are in its folder (`Fabric.locations`). */
export const LOCATIONS = {
  runDir: { base: 'run', sub: [], what: 'run directory for locks, pending events and the timerd socket' },
  locks: { base: 'run', sub: ['locks'], what: 'lock directory' },
  pending: { base: 'run', sub: ['pending'], what: 'pending-event directory' },
  timerdSocket: { base: 'run', sub: ['timerd.sock'], what: 'timerd socket' },
  timersArmedFlag: { base: 'run', sub: ['timers-armed'], what: 'armed-timers flag the udev rules test' },
  timerTable: { base: 'state', sub: [], what: 'timerd state directory' },
  timerdSnapshot: { base: 'state', sub: ['timers.json'], what: 'timerd snapshot' },
  timerdJournal: { base: 'state', sub: ['timers.journal'], what: 'timerd journal' },
  hookRunLog: { base: 'run', sub: ['hook-runs.log'], what: 'hook-run log (sanhook metrics reads it)' },
  metricsLock: { base: 'run', sub: ['metrics.lock'], what: 'lock of sanhook metrics' },
  stateDir: { base: 'state', sub: [], what: 'state directory' },
  metricsTotals: { base: 'state', sub: ['metrics.json'], what: 'metrics totals' },
} as const satisfies Record<string, Location>;

/** The name of one of the core's places. */
export type LocationName = keyof typeof LOCATIONS;

/** Which places a command writes, by command (verb). */
export type CommandWrites = Readonly<Record<string, readonly Location[]>>;

/**
 * What each core command writes on Linux. Reads, and connecting to timerd's
 * socket (which needs no writable file system), are not listed. A fabric's
 * commands (timerd's hooks among them) are listed by the fabric; `coexist`
 * also writes each coexistence target's mask directory, which the registry
 * adds (core/registry.ts `commandWrites()`).
 */
export const COMMAND_WRITES: CommandWrites = {
  timerd: [LOCATIONS.runDir, LOCATIONS.timerdSocket, LOCATIONS.timersArmedFlag, LOCATIONS.timerTable, LOCATIONS.timerdSnapshot, LOCATIONS.timerdJournal],
  timers: [],
  status: [],
  coexist: [],
  // The textfile (metrics.textfile, outside sanhook's directories) is opened by the unit's ReadWritePaths=.
  metrics: [LOCATIONS.runDir, LOCATIONS.hookRunLog, LOCATIONS.metricsLock, LOCATIONS.stateDir, LOCATIONS.metricsTotals],
};

/** What `fsError` needs to know about the file: what it is for, and sanhook's directory it lives in. */
export interface FsTarget {
  readonly what: string;
  /** The directory a sandbox must make writable for it (/run/sanhook, /var/lib/sanhook, /etc/udev/rules.d). */
  readonly top: string;
}

/** A location (a core one by name, or any declared `Location`) under these paths: its path (`*` left as is) and its FsTarget. */
export function locate(paths: Paths, which: LocationName | Location): FsTarget & { readonly path: string } {
  const location: Location = typeof which === 'string' ? LOCATIONS[which] : which;
  const base = { run: paths.run, state: paths.state, etc: paths.etc, dev: '/dev', sys: paths.sysfs, root: paths.root }[location.base];
  const full = path.join(base, ...location.sub);
  // run/state: sanhook's own directory; etc, root: the directory the file goes in.
  const top = location.base === 'run' || location.base === 'state' ? base : location.base === 'etc' || location.base === 'root' ? full : path.dirname(full);
  return { path: full, what: location.what, top };
}

/** How the message says what failed. */
export type FsOp = 'create' | 'write' | 'read' | 'list' | 'inspect' | 'remove' | 'rename' | 'lock' | 'sync' | 'listen on';

/** strerror(3)-style text for the codes sanhook meets; others fall back to node's own text. */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'file already exists',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in system',
  ELOOP: 'too many symbolic links encountered',
  ENAMETOOLONG: 'file name too long',
  EBUSY: 'resource busy or locked',
  EXDEV: 'cross-device link not permitted',
  EADDRINUSE: 'address already in use',
};

function errnoOf(error: unknown): NodeJS.ErrnoException | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? (error as NodeJS.ErrnoException) : undefined;
}

function errnoText(error: NodeJS.ErrnoException): string {
  const code = error.code!;
  if (ERRNO_TEXT[code]) return ERRNO_TEXT[code];
  // node: "ENOTSUP: operation not supported on socket, open '/x'"
  const match = new RegExp(`^${code}: ([^,]+)`).exec(error.message);
  return match?.[1] ?? 'failed';
}

/** The unit setting that makes `top` writable under ProtectSystem=strict (systemd.exec(5)). */
export function unitSettingFor(top: string): string | undefined {
  const linux = PLATFORM_DIRS.linux;
  const freebsd = PLATFORM_DIRS.freebsd;
  const rooted = (parts: readonly string[]) => path.join('/', ...parts);
  // RuntimeDirectory= is relative to /run, StateDirectory= to /var/lib.
  if (top === rooted(linux.run)) return `RuntimeDirectory=${linux.run.slice(1).join('/')} or ReadWritePaths=${top}`;
  if (top === rooted(linux.state)) return `StateDirectory=${linux.state.slice(2).join('/')} or ReadWritePaths=${top}`;
  // FreeBSD has no systemd; rc.d/sanhook_timerd creates these.
  if (top === rooted(freebsd.run) || top === rooted(freebsd.state)) return undefined;
  return `ReadWritePaths=${top}`;
}

/** Ops that only look: a sandbox's read-only file system never refuses them. */
const READ_ONLY_OPS: ReadonlySet<FsOp> = new Set(['read', 'list', 'inspect']);

function likelyCause(code: string, op: FsOp, target: FsTarget, inTheWay: string | undefined): string {
  const setting = READ_ONLY_OPS.has(op) ? undefined : unitSettingFor(target.top);
  const unit = setting ? `under systemd the unit needs ${setting}` : '';
  switch (code) {
    case 'EROFS':
      return unit ? `; ${unit}` : '; its file system is mounted read-only';
    case 'EACCES':
    case 'EPERM':
      return `; sanhook must run as root${unit ? ` (and ${unit})` : ''}`;
    case 'ENOTDIR':
      return inTheWay ? `; ${inTheWay} is in its way and is not a directory` : '; something that is not a directory is in its way';
    case 'EEXIST':
      if (op !== 'create') return '';
      return inTheWay ? `; ${inTheWay} is in its way and is not a directory` : '; something that is not a directory is in its way';
    case 'ENOSPC':
    case 'EDQUOT':
      return '; its file system is full';
    default:
      return '';
  }
}

/**
 * An EnvironmentError for a failed file-system call on `file` (see the module
 * comment); `error` itself when it is not an errno error. For `create`, the
 * message names the directory that could not be created (node's error.path),
 * which may be a parent of `file`.
 */
export function fsError(error: unknown, op: FsOp, file: string, target: FsTarget, inTheWay?: string): unknown {
  if (error instanceof SanhookError) return error;
  const errno = errnoOf(error);
  if (!errno) return error;
  const code = errno.code!;
  const failed = op === 'create' && typeof errno.path === 'string' && isAtOrAbove(errno.path, file) ? errno.path : file;
  const message = `cannot ${op} ${failed} (${target.what}): ${errnoText(errno)} (${code})${likelyCause(code, op, target, inTheWay)}`;
  return new EnvironmentError(message, { path: failed, what: target.what, op, code, ...(errno.syscall ? { syscall: errno.syscall } : {}) }, { cause: error });
}

function isAtOrAbove(candidate: string, file: string): boolean {
  const relative = path.relative(path.resolve(candidate), path.resolve(file));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** Runs one file-system step; its errno error becomes `fsError(...)`. */
export async function fsStep<T>(op: FsOp, file: string, target: FsTarget, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw fsError(error, op, file, target);
  }
}

/**
 * `mkdir -p` for one of sanhook's directories. node's recursive mkdir reports
 * ENOENT for a directory it could not create on a read-only file system (its
 * parent exists: systemd's ProtectSystem=strict without StateDirectory=), so
 * on ENOENT that one directory is created again on its own, which gets the
 * kernel's real answer (EROFS, EACCES) for the message.
 */
export async function makeDir(dir: string, target: FsTarget, mode = 0o700): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode });
    return;
  } catch (error) {
    const errno = errnoOf(error);
    if (errno?.code === 'ENOTDIR' || errno?.code === 'EEXIST') throw fsError(error, 'create', dir, target, await notADirectory(dir));
    if (errno?.code !== 'ENOENT' || typeof errno.path !== 'string') throw fsError(error, 'create', dir, target);
    try {
      await mkdir(errno.path, { mode });
    } catch (again) {
      const code = errnoOf(again)?.code;
      if (code !== 'ENOENT' && code !== 'EEXIST') throw fsError(again, 'create', dir, target);
      if (code === 'ENOENT') throw fsError(error, 'create', dir, target);
    }
  }
  // That directory exists now (created by us or meanwhile by someone else): the rest.
  await fsStep('create', dir, target, () => mkdir(dir, { recursive: true, mode }));
}

/** The deepest existing path at or above `dir` when it is not a directory (what blocks creating `dir`). */
async function notADirectory(dir: string): Promise<string | undefined> {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    const found = await stat(at).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' || error.code === 'ENOTDIR' ? undefined : null));
    if (found === null) return undefined;
    if (found) return found.isDirectory() ? undefined : at;
    if (path.dirname(at) === at) return undefined;
  }
}

/** fsync a directory, so a rename into it survives a crash (errors are the caller's to map with fsError). */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
