/**
 * `sanhook install`'s observation and executor: what is on disk under the
 * destdir, and running the steps of plan.ts (the only code that knows
 * --dry-run). Files are written to a temporary name and renamed into place,
 * so a unit or rule is never seen half-written; directories are created as
 * needed (0755).
 *
 * Contract: every path in a step is a host path (/usr/lib/udev/rules.d/...);
 * the destdir is prepended here and nowhere else.
 */
import { chmod, lstat, mkdir, readFile, readlink, rename, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fsError } from '../core/fs-errors.js';
import { hashOf, type Manifest, type Present, type Step } from './plan.js';

const absent = (error: unknown) => ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '');
const where = (what: string, file: string) => ({ what, top: path.dirname(file) });

export async function observe(destdir: string, paths: readonly string[]): Promise<Map<string, Present>> {
  const present = new Map<string, Present>();
  for (const host of paths) {
    const file = path.join(destdir, host);
    try {
      const stat = await lstat(file);
      if (stat.isSymbolicLink()) present.set(host, { kind: 'link', target: await readlink(file) });
      else if (stat.isFile()) present.set(host, { kind: 'file', hash: hashOf(await readFile(file, 'utf8')), mode: stat.mode & 0o7777 });
      else if (stat.isDirectory()) present.set(host, { kind: 'dir' });
      else present.set(host, { kind: 'other' });
    } catch (error) {
      if (!absent(error)) throw fsError(error, 'read', file, where('an installed file', file));
      present.set(host, { kind: 'absent' });
    }
  }
  return present;
}

export async function readManifest(destdir: string, manifestPath: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(path.join(destdir, manifestPath), 'utf8')) as Manifest;
  } catch (error) {
    if (absent(error)) return undefined;
    throw error;
  }
}

async function writeAtomically(file: string, text: string, mode: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  const temp = `${file}.sanhook-${process.pid}.tmp`;
  await writeFile(temp, text, { mode });
  await chmod(temp, mode); // the umask must not narrow it
  await rename(temp, file);
}

/** Runs one step under destdir; false when an rmdir found the directory in use (not empty) and left it. */
export async function applyStep(destdir: string, manifestPath: string, step: Step): Promise<boolean> {
  const at = (host: string) => path.join(destdir, host);
  const guard = async (file: string, op: () => Promise<unknown>): Promise<boolean> => {
    try {
      return (await op()) !== false;
    } catch (error) {
      throw fsError(error, 'write', file, where('an installed file', file));
    }
  };
  switch (step.kind) {
    case 'write':
      return guard(at(step.path), () => writeAtomically(at(step.path), step.text, step.mode));
    case 'chmod':
      return guard(at(step.path), () => chmod(at(step.path), step.mode));
    case 'link':
      return guard(at(step.path), async () => {
        await mkdir(path.dirname(at(step.path)), { recursive: true, mode: 0o755 });
        await rm(at(step.path), { force: true });
        await symlink(step.target, at(step.path));
      });
    case 'remove':
      return guard(at(step.path), () => rm(at(step.path), { force: true }));
    case 'manifest':
      return guard(at(manifestPath), () => (step.manifest ? writeAtomically(at(manifestPath), `${JSON.stringify(step.manifest, null, 2)}\n`, 0o644) : rm(at(manifestPath), { force: true })));
    case 'rmdir':
      return guard(at(step.path), async () => {
        try {
          await rmdir(at(step.path));
          return true;
        } catch (error) {
          // something else lives there now (or it is gone): leave it
          if (!['ENOTEMPTY', 'EEXIST', 'ENOENT'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
          return false;
        }
      });
    case 'unchanged':
    case 'kept':
      return true;
  }
}
