/**
 * What sanhook remembers about NVMe-oF I/O endpoints, in the state dir:
 *   nvmf/managed/<key>       connected (or found connected) by sanhook: worth bringing back
 *   nvmf/disconnected/<key>  disconnected on purpose by `sanhook disconnect`: never bring back
 *
 * Contract: one small JSON file per key (atomic write + rename), so concurrent
 * hooks never see a half-written record. A tombstone beats a managed record.
 */
import { readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fsError, fsStep, locate, makeDir } from '../../core/fs-errors.js';
import { keyFileName } from '../../core/keys.js';
import type { System } from '../../core/system.js';
import type { IoConnectParams } from './connect-decide.js';
import { NVMF_LOCATIONS } from './locations.js';
import { ioKey, ioParamsFromOptions, ioParamsToOptions } from './io-request.js';

/** Also the names of their locations in locations.ts (which says what each is for). */
type Kind = 'managed' | 'disconnected';

/** No such record: the file is missing, or a file sits where a directory on its path would be. */
const absent = (error: unknown) => ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '');

function fileFor(system: System, kind: Kind, key: string): string {
  return path.join(locate(system.paths, NVMF_LOCATIONS[kind]).path, keyFileName(key));
}

/** Writes a record; a file-system failure is an EnvironmentError naming the path and why (fs-errors.ts). */
async function put(system: System, kind: Kind, key: string, record: unknown): Promise<void> {
  const where = locate(system.paths, NVMF_LOCATIONS[kind]);
  const file = fileFor(system, kind, key);
  await makeDir(where.path, where);
  const temp = `${file}.${process.pid}.tmp`;
  await fsStep('write', temp, where, () => writeFile(temp, JSON.stringify(record), { mode: 0o600 }));
  await fsStep('write', file, where, () => rename(temp, file));
}

async function get(system: System, kind: Kind, key: string): Promise<Record<string, unknown> | undefined> {
  const file = fileFor(system, kind, key);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (absent(error)) return undefined;
    throw fsError(error, 'read', file, locate(system.paths, NVMF_LOCATIONS[kind]));
  }
  return JSON.parse(text) as Record<string, unknown>;
}

async function drop(system: System, kind: Kind, key: string): Promise<boolean> {
  const file = fileFor(system, kind, key);
  try {
    await unlink(file);
    return true;
  } catch (error) {
    if (absent(error)) return false;
    throw fsError(error, 'remove', file, locate(system.paths, NVMF_LOCATIONS[kind]));
  }
}

export async function recordManaged(system: System, params: IoConnectParams): Promise<void> {
  const key = ioKey(params);
  await put(system, 'managed', key, { key, at: new Date(system.clock.now()).toISOString(), params: ioParamsToOptions(params) });
}

/** The full connect parameters sanhook used for this endpoint, if it manages it. */
export async function readManaged(system: System, key: string): Promise<IoConnectParams | undefined> {
  const record = await get(system, 'managed', key);
  if (!record) return undefined;
  try {
    return ioParamsFromOptions(record.params as Record<string, string>);
  } catch {
    return undefined;
  }
}

export const forgetManaged = (system: System, key: string) => drop(system, 'managed', key);

export async function markDisconnected(system: System, key: string): Promise<void> {
  await put(system, 'disconnected', key, { key, at: new Date(system.clock.now()).toISOString() });
}

export async function isDisconnected(system: System, key: string): Promise<boolean> {
  return (await get(system, 'disconnected', key)) !== undefined;
}

export const clearDisconnected = (system: System, key: string) => drop(system, 'disconnected', key);

/** Keys of every endpoint disconnected on purpose. */
export async function listDisconnected(system: System): Promise<Set<string>> {
  const where = locate(system.paths, NVMF_LOCATIONS.disconnected);
  const dir = where.path;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (absent(error)) return new Set();
    throw fsError(error, 'list', dir, where);
  }
  const keys = new Set<string>();
  for (const name of names.filter((n) => !n.endsWith('.tmp'))) {
    try {
      const record = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as { key?: unknown };
      if (typeof record.key === 'string') keys.add(record.key);
    } catch {
      // a record removed while listing is simply not there
    }
  }
  return keys;
}
