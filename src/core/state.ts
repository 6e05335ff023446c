/**
 * Durable per-key records in the state dir: what `record` and `forget`
 * actions write, and what hooks observe (a path sanhook manages, a path
 * disconnected on purpose, ...). A fabric declares its stores as locations
 * (core/fs-errors.ts), so a failure explains itself.
 *
 * Contract: one small JSON file per key (write to a temp file, then rename),
 * so concurrent hooks never see a half-written record; reading a missing
 * record is `undefined`, not an error; any other file-system failure is an
 * EnvironmentError naming the path and why (fs-errors.ts).
 */
import { readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fsError, fsStep, locate, makeDir, type Location } from './fs-errors.js';
import { keyFileName } from './keys.js';
import type { System } from './system.js';

/** No such record: the file is missing, or a file sits where a directory on its path would be. */
const absent = (error: unknown) => ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '');

function where(system: System, store: Location) {
  return locate(system.paths, store);
}

function fileFor(system: System, store: Location, key: string): string {
  return path.join(where(system, store).path, keyFileName(key));
}

export async function putRecord(system: System, store: Location, key: string, record: Readonly<Record<string, unknown>>): Promise<void> {
  const target = where(system, store);
  const file = fileFor(system, store, key);
  await makeDir(target.path, target);
  const temp = `${file}.${process.pid}.tmp`;
  await fsStep('write', temp, target, () => writeFile(temp, JSON.stringify({ key, ...record }), { mode: 0o600 }));
  await fsStep('write', file, target, () => rename(temp, file));
}

export async function getRecord(system: System, store: Location, key: string): Promise<Record<string, unknown> | undefined> {
  const file = fileFor(system, store, key);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (absent(error)) return undefined;
    throw fsError(error, 'read', file, where(system, store));
  }
  return JSON.parse(text) as Record<string, unknown>;
}

/** Removes a record; true if there was one. */
export async function dropRecord(system: System, store: Location, key: string): Promise<boolean> {
  const file = fileFor(system, store, key);
  try {
    await unlink(file);
    return true;
  } catch (error) {
    if (absent(error)) return false;
    throw fsError(error, 'remove', file, where(system, store));
  }
}

/** Every record of a store; a record removed while listing is simply not there. */
export async function listRecords(system: System, store: Location): Promise<Record<string, unknown>[]> {
  const dir = where(system, store).path;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (absent(error)) return [];
    throw fsError(error, 'list', dir, where(system, store));
  }
  const records: Record<string, unknown>[] = [];
  for (const name of names.filter((n) => !n.endsWith('.tmp'))) {
    try {
      records.push(JSON.parse(await readFile(path.join(dir, name), 'utf8')) as Record<string, unknown>);
    } catch {
      // vanished or half-removed: not there
    }
  }
  return records;
}
