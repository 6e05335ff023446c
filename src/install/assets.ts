/**
 * What `sanhook install` puts where, per platform, as a table (EXAMPLES
 * "config as a table"): each row takes every file of one directory of the
 * package (rules.d, systemd, dispatcher/..., devd, rc.d) to one directory of
 * the host, with a mode, and whether the files name the sanhook entry (then
 * the placeholder path is replaced by the real one).
 *
 * Contract: declarations plus `sourceFiles()` (reads the package's own
 * directories, nothing else). A new rule file, unit or script is installed by
 * dropping it in its directory; the table names no fabric.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Platform } from '../core/platform.js';

/** Where an installed file's directory is anchored: under --prefix, or /etc (always /etc, whatever the prefix). */
export type Anchor = 'prefix' | 'etc';

export interface AssetRow {
  /** The package directory, relative to the package root. */
  readonly from: string;
  /** Which of its files (by name). */
  readonly match: RegExp;
  readonly anchor: Anchor;
  /** Below the anchor. */
  readonly to: readonly string[];
  readonly mode: number;
  /** Symlinks to each installed file, one per directory (below /etc): networkd-dispatcher's state directories. */
  readonly linksIn?: readonly (readonly string[])[];
}

/** The entry path the shipped files name; `sanhook install` fills in the real one. */
export const ENTRY_PLACEHOLDER: Readonly<Record<Platform, string>> = { linux: '/usr/bin/sanhook', freebsd: '/usr/local/bin/sanhook' };

/** networkd-dispatcher runs the scripts of /etc/networkd-dispatcher/<state>.d (docs/fcoe-events.md). */
const ND_STATES = ['carrier', 'degraded', 'routable', 'enslaved', 'no-carrier', 'off'];

export const ASSETS: Readonly<Record<Platform, readonly AssetRow[]>> = {
  linux: [
    // udev reads <prefix>/lib/udev/rules.d: /usr/lib/udev/rules.d for packages, /usr/local/lib/udev/rules.d by hand
    { from: 'rules.d', match: /\.rules$/, anchor: 'prefix', to: ['lib', 'udev', 'rules.d'], mode: 0o644 },
    { from: 'systemd', match: /\.(service|socket|timer)$/, anchor: 'prefix', to: ['lib', 'systemd', 'system'], mode: 0o644 },
    // systemd-tmpfiles reads <prefix>/lib/tmpfiles.d at boot (tmpfiles.d(5))
    { from: 'tmpfiles.d', match: /\.conf$/, anchor: 'prefix', to: ['lib', 'tmpfiles.d'], mode: 0o644 },
    { from: 'dispatcher/NetworkManager', match: /^[0-9]{2}-sanhook-/, anchor: 'etc', to: ['NetworkManager', 'dispatcher.d'], mode: 0o755 },
    {
      from: 'dispatcher/networkd-dispatcher',
      match: /^sanhook-/,
      anchor: 'prefix',
      to: ['lib', 'sanhook', 'networkd-dispatcher'],
      mode: 0o755,
      linksIn: ND_STATES.map((state) => ['networkd-dispatcher', `${state}.d`]),
    },
  ],
  freebsd: [
    { from: 'devd', match: /\.conf$/, anchor: 'prefix', to: ['etc', 'devd'], mode: 0o644 },
    { from: 'rc.d', match: /^sanhook_/, anchor: 'prefix', to: ['etc', 'rc.d'], mode: 0o755 },
  ],
};

/** One file of the package to install: its text (placeholder filled) and where it goes. */
export interface SourceFile {
  readonly row: AssetRow;
  readonly name: string;
  readonly text: string;
}

export async function sourceFiles(packageRoot: string, platform: Platform): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for (const row of ASSETS[platform]) {
    const dir = path.join(packageRoot, row.from);
    for (const name of (await readdir(dir)).filter((n) => row.match.test(n)).sort()) {
      files.push({ row, name, text: await readFile(path.join(dir, name), 'utf8') });
    }
  }
  return files;
}
