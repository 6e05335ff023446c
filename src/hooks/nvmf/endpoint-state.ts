/**
 * What sanhook remembers about NVMe-oF endpoints, in the state dir (core/state.ts):
 *   nvmf/managed/<key>       connected (or found connected) by sanhook: worth bringing back
 *   nvmf/disconnected/<key>  disconnected on purpose by `sanhook disconnect`: never bring back
 *                            (an I/O path, or a discovery address: `disconnect --discovery`)
 *   nvmf/discovery/<key>     a persistent discovery controller sanhook created for this
 *                            discovery address: its parameters and device (brought back by timerd)
 *
 * Contract: plans write and remove these with `record`/`forget` actions on
 * the stores named here; hooks read them while they observe. A tombstone
 * beats a managed record.
 */
import { getRecord, listRecords } from '../../core/state.js';
import type { System } from '../../core/system.js';
import type { IoConnectParams } from './connect-decide.js';
import { NVMF_LOCATIONS } from './locations.js';
import { ioParamsFromOptions, ioParamsToOptions } from './io-request.js';

/** The stores, by their names in locations.ts (which says what each is for). */
export const MANAGED = 'managed';
export const DISCONNECTED = 'disconnected';
export const DISCOVERY = 'discovery';
export const NVMF_STORES = { [MANAGED]: NVMF_LOCATIONS.managed, [DISCONNECTED]: NVMF_LOCATIONS.disconnected, [DISCOVERY]: NVMF_LOCATIONS.discovery };

/** sanhook's record of the persistent discovery controller it created for one discovery address. */
export interface DiscoveryRecord {
  /** The round's request as options (connect-request.ts discoveryOptions): what timerd reconnects with. */
  readonly options: Record<string, string>;
  /** The controller it created (nvmeX). */
  readonly device: string;
}

/** The data of a discovery record. */
export function discoveryRecord(options: Record<string, string>, device: string): Record<string, unknown> {
  return { options, device };
}

/** sanhook's persistent discovery controller for this discovery key, if it created one (unreadable: none). */
export async function readDiscoveryRecord(system: System, key: string): Promise<DiscoveryRecord | undefined> {
  const record = await getRecord(system, NVMF_STORES.discovery, key);
  if (!record || typeof record.device !== 'string' || typeof record.options !== 'object' || record.options === null) return undefined;
  const options = Object.fromEntries(Object.entries(record.options as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
  return { options, device: record.device };
}

/** Every discovery record, with its key. */
export async function listDiscoveryRecords(system: System): Promise<{ key: string; record: DiscoveryRecord }[]> {
  const result: { key: string; record: DiscoveryRecord }[] = [];
  for (const raw of await listRecords(system, NVMF_STORES.discovery)) {
    if (typeof raw.key !== 'string' || typeof raw.device !== 'string' || typeof raw.options !== 'object' || raw.options === null) continue;
    const options = Object.fromEntries(Object.entries(raw.options as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
    result.push({ key: raw.key, record: { options, device: raw.device } });
  }
  return result;
}

/** The data of a managed record: the full parameters sanhook connected with. */
export function managedRecord(params: IoConnectParams): Record<string, unknown> {
  return { params: ioParamsToOptions(params) };
}

/** The full connect parameters sanhook used for this endpoint, if it manages it. */
export async function readManaged(system: System, key: string): Promise<IoConnectParams | undefined> {
  const record = await getRecord(system, NVMF_STORES.managed, key);
  if (!record) return undefined;
  try {
    return ioParamsFromOptions(record.params as Record<string, string>);
  } catch {
    return undefined;
  }
}

/** Every managed path (unreadable records are not ours to act on). */
export async function listManaged(system: System): Promise<IoConnectParams[]> {
  const result: IoConnectParams[] = [];
  for (const record of await listRecords(system, NVMF_STORES.managed)) {
    try {
      result.push(ioParamsFromOptions(record.params as Record<string, string>));
    } catch {
      // not a record this version can read
    }
  }
  return result;
}

export async function isDisconnected(system: System, key: string): Promise<boolean> {
  return (await getRecord(system, NVMF_STORES.disconnected, key)) !== undefined;
}

/** Keys of every endpoint disconnected on purpose. */
export async function listDisconnected(system: System): Promise<Set<string>> {
  return new Set((await listRecords(system, NVMF_STORES.disconnected)).map((r) => r.key).filter((k): k is string => typeof k === 'string'));
}
