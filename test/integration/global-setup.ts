/**
 * The integration tests run the built program (bin/sanhook.js → dist/bundle/). Rebuild
 * when dist/ is missing or older than any file in src/, so a stale build is never
 * what gets tested; a build with type errors fails the run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './harness.js';

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}

export default function setup(): void {
  const built = path.join(REPO, 'dist', 'bundle', 'cli.js');
  const stale = !existsSync(built) || newest(path.join(REPO, 'src')) > newest(path.join(REPO, 'dist'));
  if (!stale) return;
  try {
    execFileSync(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(REPO, 'tsconfig.json')], { cwd: REPO, stdio: 'pipe' });
  } catch (error) {
    const output = (error as { stdout?: Buffer }).stdout?.toString() ?? String(error);
    throw new Error(`build failed (npx tsc -p tsconfig.json):\n${output}`);
  }
  try {
    execFileSync(process.execPath, [path.join(REPO, 'scripts', 'bundle.mjs')], { cwd: REPO, stdio: 'pipe' });
  } catch (error) {
    throw new Error(`bundle failed (node scripts/bundle.mjs):\n${(error as { stderr?: Buffer }).stderr?.toString() ?? String(error)}`);
  }
}
