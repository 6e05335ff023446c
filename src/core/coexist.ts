/**
 * Coexistence with nvme-cli's own autoconnect (docs/udev.md).
 *
 * Debian's nvme-cli ships /lib/udev/rules.d/70-nvmf-autoconnect.rules, which
 * starts `nvmf-connect@<args>.service` (`nvme connect-all`) on the very events
 * sanhook handles, and nvmf-autoconnect.service, which runs `nvme connect-all`
 * at boot like sanhook-connect-boot.service. Both must not run together, so
 * sanhook masks nvme-cli's copies the way udev and systemd define masking: a
 * symlink to /dev/null with the same name in the /etc directory, which
 * overrides every lower-priority directory. The vendor files stay untouched
 * (package upgrades keep working) and unmasking is removing the link.
 *
 * Contract: file-system work only, under `system.paths` (tests use a temp
 * root); nothing is executed. The caller tells udevd / systemd afterwards
 * (`udevadm control --reload`, `systemctl daemon-reload`) when they run.
 * An administrator's own file at the mask path is never replaced or removed:
 * that is an ActionError naming the file. A file-system failure (read-only
 * /etc, not root) is an EnvironmentError naming the path and why
 * (fs-errors.ts).
 */
import { lstat, readlink, realpath, stat, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ActionError } from './errors.js';
import { fsError, fsStep, locate, makeDir, type FsTarget, type LocationName } from './fs-errors.js';
import type { System } from './system.js';

export type MaskMode = 'mask' | 'unmask' | 'status';

/**
 * masked: the file in effect is a mask (a link to /dev/null or an empty file);
 * active: nvme-cli's file (or an administrator's override of it) is in effect;
 * absent: no file of that name anywhere (nvme-cli is not installed).
 * `path` is the file that decides the state; for `absent`, where a mask goes.
 */
export interface MaskStatus {
  readonly state: 'masked' | 'active' | 'absent';
  readonly path: string;
}

/** A vendor file and the directories that can hold it, highest priority first (the first is /etc). */
interface Maskable {
  readonly name: string;
  /** Where the mask goes (the first of `dirs`), as fs-errors.ts names it in messages. */
  readonly location: LocationName;
  readonly dirs: (system: System) => readonly string[];
}

/** udev's rules directories, highest priority first (udev(7)). */
export const NVMF_AUTOCONNECT_RULES: Maskable = {
  name: '70-nvmf-autoconnect.rules',
  location: 'udevMask',
  dirs: (system) => [
    locate(system.paths, 'udevMask').path,
    ...['run/udev/rules.d', 'usr/local/lib/udev/rules.d', 'usr/lib/udev/rules.d', 'lib/udev/rules.d'].map((d) => path.join(system.paths.root, d)),
  ],
};

/** systemd's system unit directories, highest priority first (systemd.unit(5)). */
export const NVMF_AUTOCONNECT_SERVICE: Maskable = {
  name: 'nvmf-autoconnect.service',
  location: 'systemdMask',
  dirs: (system) => [
    locate(system.paths, 'systemdMask').path,
    ...['run/systemd/system', 'usr/local/lib/systemd/system', 'usr/lib/systemd/system', 'lib/systemd/system'].map((d) => path.join(system.paths.root, d)),
  ],
};

/** Masks, unmasks or reports nvme-cli's 70-nvmf-autoconnect.rules. */
export function setNvmeCliAutoconnect(system: System, mode: MaskMode): Promise<MaskStatus> {
  return setMask(system, NVMF_AUTOCONNECT_RULES, mode);
}

/** The same for nvme-cli's boot-time nvmf-autoconnect.service (what `systemctl mask` does, offline). */
export function setNvmeCliBootService(system: System, mode: MaskMode): Promise<MaskStatus> {
  return setMask(system, NVMF_AUTOCONNECT_SERVICE, mode);
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

/** For messages about a file of that name: either nvme-cli's or a mask of it. */
function maskOrVendor(target: Maskable, dir: string): FsTarget {
  return { what: `nvme-cli's ${target.name} or its mask`, top: dir };
}

async function status(system: System, target: Maskable): Promise<MaskStatus> {
  const dirs = target.dirs(system);
  for (const dir of dirs) {
    const file = path.join(dir, target.name);
    const entry = await inspect(file, maskOrVendor(target, dir));
    if (entry.kind === 'none') continue;
    return { state: entry.kind === 'file' ? 'active' : 'masked', path: file };
  }
  return { state: 'absent', path: path.join(dirs[0] ?? system.paths.etc, target.name) };
}

async function setMask(system: System, target: Maskable, mode: MaskMode): Promise<MaskStatus> {
  const where = locate(system.paths, target.location);
  const maskPath = path.join(where.path, target.name);
  if (mode === 'status') return status(system, target);
  const entry = await inspect(maskPath, maskOrVendor(target, where.top));
  if (mode === 'mask') {
    if (entry.kind === 'file') {
      throw new ActionError(
        `${maskPath} is ${entry.what}, an administrator's override of nvme-cli's ${target.name}: refusing to replace it; move it away (or empty it) and mask again`,
        { path: maskPath, found: entry.what },
      );
    }
    if (entry.kind === 'none') {
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
    }
    return status(system, target);
  }
  // unmask: remove only the exact link a mask command writes.
  if (entry.kind === 'other-mask') {
    throw new ActionError(`${maskPath} is ${entry.what}, a mask sanhook did not write: remove it yourself if nvme-cli's ${target.name} should run`, {
      path: maskPath,
      found: entry.what,
    });
  }
  if (entry.kind === 'our-mask') {
    try {
      await unlink(maskPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(error, 'remove', maskPath, where);
    }
  }
  return status(system, target);
}
