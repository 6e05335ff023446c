/**
 * Coexistence with a fabric tool's own autoconnect (docs/udev.md): masking
 * the udev rules and systemd units that would race sanhook's hooks.
 *
 * A fabric lists the vendor files that must not run next to sanhook
 * (`Fabric.coexist`: a tool's udev rule that acts on the very events sanhook
 * handles, its unit that connects at boot as sanhook's boot unit does; each
 * fabric's folder says which and why). sanhook masks them the
 * way udev and systemd define masking: a symlink to /dev/null with the same
 * name in the /etc directory, which overrides every lower-priority directory.
 * The vendor files stay untouched (package upgrades keep working) and
 * unmasking is removing the link.
 *
 * A target may instead be left running where its tool honours the
 * ownership sanhook records for what it creates (`CoexistTarget.honour`: the
 * fabric observes whether the installed tool does, and why). Then `mask`
 * writes no mask and the target's state is `owner-aware`, with the fabric's
 * reason. What to do is `decideMask()` (pure: mode × what is at the mask
 * path × the state in effect × honour → step); an existing mask is kept
 * (it may be the administrator's, and `unmask` stays the way to lift it).
 *
 * Contract: file-system work only, under `system.paths` (tests use a temp
 * root); nothing is executed here (a target's `honour` probe may run
 * programs through `System.exec`; it is asked only when the vendor's file is
 * in effect). `setMasks()` handles a list of targets in order
 * (`FABRICS.flatMap((f) => f.coexist)`); the caller tells udevd / systemd
 * afterwards (`udevadm control --reload`, `systemctl daemon-reload`) when they
 * run. An administrator's own file at the mask path is never replaced or
 * removed: that is an ActionError naming the file. A file-system failure
 * (read-only /etc, not root) is an EnvironmentError naming the path and why
 * (fs-errors.ts).
 */
import { lstat, readlink, realpath, stat, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ActionError } from './errors.js';
import { fsError, fsStep, locate, makeDir, type FsTarget, type Location } from './fs-errors.js';
import type { System } from './system.js';

export type MaskMode = 'mask' | 'unmask' | 'status';

/**
 * masked: the file in effect is a mask (a link to /dev/null or an empty file);
 * active: the vendor's file (or an administrator's override of it) is in effect;
 * owner-aware: the vendor's file is in effect and its tool honours the ownership
 * sanhook records (the target's `ownership` probe said so; `reason` says how);
 * absent: no file of that name anywhere (the vendor's package is not installed).
 * `path` is the file that decides the state; for `absent`, where a mask goes.
 */
export interface MaskStatus {
  readonly state: 'masked' | 'active' | 'owner-aware' | 'absent';
  readonly path: string;
  /** Why: for `owner-aware`, and for `active`/`masked` when the fabric's probe said why its tool does not honour ownership. */
  readonly reason?: string;
}

/**
 * A fabric's observation of whether the tool behind a target honours the
 * ownership sanhook records (so that its file can keep running next to
 * sanhook). `reason` is one line for reports either way.
 */
export interface OwnershipHonour {
  readonly honoured: boolean;
  readonly reason: string;
}

/** Who reads the file, which decides the directories that can hold it. */
export type FileManager = 'udev' | 'systemd';

/** A vendor file that must not run next to sanhook. */
export interface CoexistTarget {
  /** What it is, in reports: "<tool> udev rule". */
  readonly description: string;
  /** The package that ships it, in messages: "<tool>" ("<tool>'s <file>"). */
  readonly owner: string;
  /** The file's name: a file of that name in a higher-priority directory overrides it. */
  readonly file: string;
  readonly manager: FileManager;
  /** What the mask's /etc directory is for, as file-system errors say it. */
  readonly maskWhat: string;
  /**
   * Whether the tool honours sanhook's ownership on this host (observed by
   * the fabric, through `System`): when it does, `mask` leaves the file
   * running. Absent: the file always races sanhook and is masked.
   */
  readonly honour?: (system: System) => Promise<OwnershipHonour>;
}

/** One target's outcome. */
export interface CoexistResult extends MaskStatus {
  readonly target: CoexistTarget;
}

/** Where each manager reads its files, highest priority first, below the /etc one (udev(7), systemd.unit(5)). */
const MANAGER_DIRS: Readonly<Record<FileManager, { readonly etc: readonly string[]; readonly lower: readonly string[] }>> = {
  udev: { etc: ['udev', 'rules.d'], lower: ['run/udev/rules.d', 'usr/local/lib/udev/rules.d', 'usr/lib/udev/rules.d', 'lib/udev/rules.d'] },
  systemd: { etc: ['systemd', 'system'], lower: ['run/systemd/system', 'usr/local/lib/systemd/system', 'usr/lib/systemd/system', 'lib/systemd/system'] },
};

/** The /etc directory a target's mask goes in (what `coexist` writes: core/registry.ts `commandWrites()`). */
export function maskLocation(target: CoexistTarget): Location {
  return { base: 'etc', sub: MANAGER_DIRS[target.manager].etc, what: target.maskWhat };
}

/** The directories a manager reads its files from under `system.paths`, highest priority first (/etc's first). */
export function managerDirs(system: System, manager: FileManager): readonly string[] {
  return [path.join(system.paths.etc, ...MANAGER_DIRS[manager].etc), ...MANAGER_DIRS[manager].lower.map((d) => path.join(system.paths.root, d))];
}

/** The directories that can hold the target's file, highest priority first (the first is the mask's). */
function dirsOf(system: System, target: CoexistTarget): readonly string[] {
  return [locate(system.paths, maskLocation(target)).path, ...managerDirs(system, target.manager).slice(1)];
}

/** Masks, unmasks or reports each target in turn; the first failure stops (its error names the file). */
export async function setMasks(system: System, targets: readonly CoexistTarget[], mode: MaskMode): Promise<CoexistResult[]> {
  const results: CoexistResult[] = [];
  for (const target of targets) results.push({ target, ...(await setMask(system, target, mode)) });
  return results;
}

const DEV_NULL = '/dev/null';

type Entry =
  | { readonly kind: 'none' }
  /** The exact form sanhook (and `systemctl mask`) writes: a symlink whose target is "/dev/null". */
  | { readonly kind: 'our-mask' }
  /** Masks too (udev and systemd skip a file that is empty or resolves to /dev/null), but not our form. */
  | { readonly kind: 'other-mask'; readonly what: string }
  | { readonly kind: 'file'; readonly what: string };

async function inspect(file: string, where: FsTarget): Promise<Entry> {
  let link;
  try {
    link = await lstat(file);
  } catch (error) {
    // ENOTDIR: a file where a parent directory would be; either way there is no such file.
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return { kind: 'none' };
    throw fsError(error, 'inspect', file, where);
  }
  if (link.isSymbolicLink()) {
    const target = await fsStep('inspect', file, where, () => readlink(file));
    if (target === DEV_NULL) return { kind: 'our-mask' };
    const resolved = await realpath(file).catch(() => undefined);
    if (resolved === DEV_NULL) return { kind: 'other-mask', what: `a symlink to ${target}, which resolves to /dev/null` };
    return { kind: 'file', what: resolved ? `a symlink to ${target}` : `a dangling symlink to ${target}` };
  }
  if (link.isFile()) return link.size === 0 ? { kind: 'other-mask', what: 'an empty file' } : { kind: 'file', what: 'a regular file' };
  if (link.isCharacterDevice()) {
    const null_ = await stat(DEV_NULL);
    if (link.rdev === null_.rdev) return { kind: 'other-mask', what: 'a /dev/null device node' };
  }
  return { kind: 'file', what: link.isDirectory() ? 'a directory' : 'not a regular file' };
}

/** For messages about a file of that name: either the vendor's or a mask of it. */
function maskOrVendor(target: CoexistTarget, dir: string): FsTarget {
  return { what: `${target.owner}'s ${target.file} or its mask`, top: dir };
}

async function status(system: System, target: CoexistTarget): Promise<MaskStatus> {
  const dirs = dirsOf(system, target);
  for (const dir of dirs) {
    const file = path.join(dir, target.file);
    const entry = await inspect(file, maskOrVendor(target, dir));
    if (entry.kind === 'none') continue;
    return { state: entry.kind === 'file' ? 'active' : 'masked', path: file };
  }
  return { state: 'absent', path: path.join(dirs[0] ?? system.paths.etc, target.file) };
}

/** What is at the mask path, as decideMask() needs it. */
export type AtMaskPath = Entry['kind'];

/** What setMask() does to the mask path. */
export type MaskStep =
  | { readonly step: 'none' }
  | { readonly step: 'link' }
  | { readonly step: 'unlink' }
  /** An administrator's file (not a mask) at the mask path: never replaced. */
  | { readonly step: 'refuse-file' }
  /** A mask in a form sanhook does not write: not sanhook's to remove. */
  | { readonly step: 'refuse-other-mask' };

/**
 * Pure: what `mask`/`unmask` does, from what is at the mask path, the state
 * in effect before (`masked` | `active` | `absent`, any directory) and the
 * tool's honour (undefined: not asked, or the target has no probe).
 *
 * - mask: an administrator's file is refused; an existing mask (ours or
 *   not) is kept, honoured or not; nothing there → a mask is written,
 *   unless the tool honours ownership and its file is in effect (nothing to
 *   stop). A file in effect nowhere (absent) is masked ahead of an install,
 *   as before: what the tool will honour is only known once it is installed.
 * - unmask: removes only the exact link sanhook writes; another form of mask
 *   is refused; anything else is left as it is. OwnershipHonour plays no part:
 *   `unmask` undoes what `mask` wrote, whatever the tool is now.
 * - status: nothing.
 */
export function decideMask(mode: MaskMode, at: AtMaskPath, effective: MaskStatus['state'], honour: OwnershipHonour | undefined): MaskStep {
  if (mode === 'status') return { step: 'none' };
  if (mode === 'unmask') {
    if (at === 'other-mask') return { step: 'refuse-other-mask' };
    return at === 'our-mask' ? { step: 'unlink' } : { step: 'none' };
  }
  if (at === 'file') return { step: 'refuse-file' };
  if (at !== 'none') return { step: 'none' };
  if (effective === 'active' && honour?.honoured) return { step: 'none' };
  return { step: 'link' };
}

/** Pure: the state to report, from the state in effect and the tool's honour. */
export function reportedState(effective: MaskStatus, honour: OwnershipHonour | undefined): MaskStatus {
  if (!honour || effective.state === 'absent') return effective;
  if (effective.state === 'active' && honour.honoured) return { ...effective, state: 'owner-aware', reason: honour.reason };
  return { ...effective, reason: honour.reason };
}

/** The tool's honour, asked only when the vendor's file (not a mask) is in effect. */
async function honourOf(system: System, target: CoexistTarget, effective: MaskStatus): Promise<OwnershipHonour | undefined> {
  return target.honour && effective.state === 'active' ? target.honour(system) : undefined;
}

/** Masks, unmasks or reports one target. */
export async function setMask(system: System, target: CoexistTarget, mode: MaskMode): Promise<MaskStatus> {
  const where = locate(system.paths, maskLocation(target));
  const maskPath = path.join(where.path, target.file);
  const before = await status(system, target);
  const honour = await honourOf(system, target, before);
  if (mode === 'status') return reportedState(before, honour);
  const entry = await inspect(maskPath, maskOrVendor(target, where.top));
  const decision = decideMask(mode, entry.kind, before.state, honour);
  switch (decision.step) {
    case 'refuse-file': {
      const found = (entry as { what: string }).what;
      throw new ActionError(
        `${maskPath} is ${found}, an administrator's override of ${target.owner}'s ${target.file}: refusing to replace it; move it away (or empty it) and mask again`,
        { path: maskPath, found },
      );
    }
    case 'refuse-other-mask': {
      const found = (entry as { what: string }).what;
      throw new ActionError(`${maskPath} is ${found}, a mask sanhook did not write: remove it yourself if ${target.owner}'s ${target.file} should run`, {
        path: maskPath,
        found,
      });
    }
    case 'link':
      await makeDir(where.path, where, 0o755);
      try {
        await symlink(DEV_NULL, maskPath);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(error, 'create', maskPath, where);
        // Created meanwhile by someone else: accept it only if it is a mask.
        const now = await inspect(maskPath, maskOrVendor(target, where.top));
        if (now.kind === 'file') {
          throw new ActionError(`${maskPath} appeared while masking and is ${now.what}: refusing to replace it`, { path: maskPath, found: now.what }, { cause: error });
        }
      }
      break;
    case 'unlink':
      try {
        await unlink(maskPath);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(error, 'remove', maskPath, where);
      }
      break;
    case 'none':
      break;
  }
  const after = await status(system, target);
  return reportedState(after, after.state === before.state ? honour : await honourOf(system, target, after));
}
