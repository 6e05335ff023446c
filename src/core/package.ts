/**
 * The installed package itself: its root directory (where package.json,
 * rules.d, systemd/ ... are) and its version, found from this module's own
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
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'rules.d'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the sanhook package root (package.json and rules.d) above its own module');
    dir = up;
  }
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
