/**
 * The installed package itself: its root directory (where its package.json
 * is, and in an npm install rules.d, systemd/ ...) and its version, found from this module's own
 * location (dist/ or dist/bundle/ below the root) — never from the current
 * directory.
 *
 * Contract: read on demand only (`--version`, `sanhook install`): nothing at import time.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (isSanhookManifest(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error("cannot find sanhook's package.json above its own module");
    dir = up;
  }
}

/** The Debian package ships package.json without rules.d (dpkg owns the rules): the name says it is ours. */
function isSanhookManifest(file: string): boolean {
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === 'sanhook';
  } catch {
    return false;
  }
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
