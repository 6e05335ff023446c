/**
 * The initramfs hand-over record (docs/initramfs.md): what sanhook's boot
 * connect in the initramfs leaves for the real root's sanhook, in
 * /run/sanhook/initramfs-handover.json. /run survives switch-root (dracut and
 * initramfs-tools both move it into the real root); sanhook's state dir
 * (/var/lib/sanhook) in the initramfs does not, which is why this record exists.
 *
 * Contract:
 * - The record is versioned JSON: `format` "sanhook-initramfs-handover",
 *   `version` 1, `bootId` (/proc/sys/kernel/random/boot_id: the same in the
 *   initramfs and the real root of one boot), `writtenAt`, `nbft` (an ACPI
 *   NBFT table was present), `paths` (I/O paths live at the end of the
 *   initramfs round: their connect options, controller and origin) and
 *   `discoveryControllers` (persistent discovery controllers the initramfs
 *   round created: its discovery records' options and controller).
 * - `buildHandover()` (pure) makes it from what the initramfs stage observed;
 *   `writeHandover()` writes it atomically (temp file, fsync, rename).
 * - `parseHandover()` (pure) validates it like any other input: every option
 *   through the same validators as the command line; anything it cannot
 *   read is `invalid` with a reason (corrupt, foreign, unsupported-version,
 *   invalid-entry) and a detail naming the entry, never an exception.
 *   A missing record is `missing`. Whether it belongs to this boot is the
 *   decision's business (handover.ts), not the parser's.
 */
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { SanhookError } from '../../core/errors.js';
import { fsStep, locate, makeDir, syncDir, type Location } from '../../core/fs-errors.js';
import type { System } from '../../core/system.js';
import { servingController, type IoConnectParams } from './connect-decide.js';
import { discoveryOptions as requestOptions, discoveryRequestFromOptions } from './connect-request.js';
import type { DiscoveryRecord } from './endpoint-state.js';
import { ioKey, ioOptionsFromController, ioParamsFromOptions, ioParamsToOptions } from './io-request.js';
import { endpointKey, type NvmfDiscoveryEndpoint } from './keys.js';
import type { Controller } from './sysfs.js';

export const HANDOVER_FORMAT = 'sanhook-initramfs-handover';
export const HANDOVER_VERSION = 1;

/** Where the record lives: sanhook's run directory, which moves into the real root with /run. */
export const HANDOVER_LOCATION: Location = { base: 'run', sub: ['initramfs-handover.json'], what: 'initramfs hand-over record' };
/** The real root's mark that it adopted the record of this boot: the boot id, so adoption happens once per boot. */
export const ADOPTED_LOCATION: Location = { base: 'run', sub: ['initramfs-handover.adopted'], what: 'initramfs hand-over adoption mark' };

/**
 * How a path came to be live in the initramfs:
 *   connected  sanhook's initramfs round connected it
 *   found      live before sanhook's round ran (another initramfs module), no NBFT table
 *   firmware   live before sanhook's round ran and the firmware published an NBFT table:
 *              the boot path the firmware described (`nvme connect-all --nbft`)
 */
export const PATH_ORIGINS = ['connected', 'found', 'firmware'] as const;
export type PathOrigin = (typeof PATH_ORIGINS)[number];

export interface HandoverPath {
  readonly params: IoConnectParams;
  /** The controller that served it when the record was written. */
  readonly device: string;
  readonly origin: PathOrigin;
}

export interface HandoverDiscoveryController {
  readonly endpoint: NvmfDiscoveryEndpoint;
  /** The round's discovery options (connect-request.ts discoveryOptions): what the discovery record holds. */
  readonly options: Readonly<Record<string, string>>;
  readonly device: string;
}

export interface Handover {
  readonly bootId: string;
  readonly writtenAt: string;
  readonly nbft: boolean;
  readonly paths: readonly HandoverPath[];
  readonly discoveryControllers: readonly HandoverDiscoveryController[];
}

export const INVALID_REASONS = ['corrupt', 'foreign', 'unsupported-version', 'invalid-entry'] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];

export type HandoverRead =
  | { readonly kind: 'missing' }
  | { readonly kind: 'invalid'; readonly reason: InvalidReason; readonly detail: string }
  | { readonly kind: 'record'; readonly record: Handover };

const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DEVICE = /^nvme[0-9]{1,6}$/;

/** Pure: the record as it is written (plain option strings, as timerd's entries hold them). */
export function handoverJson(record: Handover): Record<string, unknown> {
  return {
    format: HANDOVER_FORMAT,
    version: HANDOVER_VERSION,
    bootId: record.bootId,
    writtenAt: record.writtenAt,
    nbft: record.nbft,
    paths: record.paths.map((p) => ({ options: ioParamsToOptions(p.params), device: p.device, origin: p.origin })),
    discoveryControllers: record.discoveryControllers.map((d) => ({ options: d.options, device: d.device })),
  };
}

class Invalid extends Error {
  constructor(readonly reason: InvalidReason, detail: string) {
    super(detail);
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function stringOptions(value: unknown, where: string): Record<string, string> {
  if (!isObject(value)) throw new Invalid('invalid-entry', `${where}.options: not an object`);
  for (const [name, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new Invalid('invalid-entry', `${where}.options.${name}: ${JSON.stringify(v)} is not a string`);
  }
  return value as Record<string, string>;
}

function device(value: unknown, where: string): string {
  if (typeof value !== 'string' || !DEVICE.test(value)) throw new Invalid('invalid-entry', `${where}.device: ${JSON.stringify(value)} is not a controller name (nvmeN)`);
  return value;
}

/** The validators' own message, under the entry's name. */
function validated<T>(where: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof SanhookError) throw new Invalid('invalid-entry', error.message.startsWith(where) ? error.message : `${where}: ${error.message}`);
    throw error;
  }
}

function entries(value: unknown, name: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Invalid('invalid-entry', `${name}: not a list`);
  return value;
}

/** Pure: validate a record's text. */
export function parseHandover(text: string): HandoverRead {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { kind: 'invalid', reason: 'corrupt', detail: `not JSON: ${(error as Error).message}` };
  }
  if (!isObject(data) || data.format !== HANDOVER_FORMAT) {
    return { kind: 'invalid', reason: 'foreign', detail: `format is ${JSON.stringify(isObject(data) ? data.format : data)}, not ${JSON.stringify(HANDOVER_FORMAT)}` };
  }
  if (data.version !== HANDOVER_VERSION) {
    return { kind: 'invalid', reason: 'unsupported-version', detail: `version ${JSON.stringify(data.version)}; this sanhook reads version ${HANDOVER_VERSION}` };
  }
  try {
    if (typeof data.bootId !== 'string' || !BOOT_ID.test(data.bootId)) throw new Invalid('invalid-entry', `bootId: ${JSON.stringify(data.bootId)} is not a boot id`);
    if (typeof data.writtenAt !== 'string') throw new Invalid('invalid-entry', `writtenAt: ${JSON.stringify(data.writtenAt)} is not a time`);
    if (typeof data.nbft !== 'boolean') throw new Invalid('invalid-entry', `nbft: ${JSON.stringify(data.nbft)} is not true or false`);
    const paths = entries(data.paths, 'paths').map((raw, i): HandoverPath => {
      const where = `paths[${i}]`;
      if (!isObject(raw)) throw new Invalid('invalid-entry', `${where}: not an object`);
      const options = stringOptions(raw.options, where);
      const params = validated(where, () => ioParamsFromOptions(options));
      if (!(PATH_ORIGINS as readonly unknown[]).includes(raw.origin)) throw new Invalid('invalid-entry', `${where}.origin: ${JSON.stringify(raw.origin)} is not one of ${PATH_ORIGINS.join(', ')}`);
      return { params, device: device(raw.device, where), origin: raw.origin as PathOrigin };
    });
    const discoveryControllers = entries(data.discoveryControllers, 'discoveryControllers').map((raw, i): HandoverDiscoveryController => {
      const where = `discoveryControllers[${i}]`;
      if (!isObject(raw)) throw new Invalid('invalid-entry', `${where}: not an object`);
      const request = validated(where, () => discoveryRequestFromOptions(stringOptions(raw.options, where), 'boot', `${where}.options.`));
      return { endpoint: request.discovery, options: requestOptions(request), device: device(raw.device, where) };
    });
    return { kind: 'record', record: { bootId: data.bootId, writtenAt: data.writtenAt, nbft: data.nbft, paths, discoveryControllers } };
  } catch (error) {
    if (error instanceof Invalid) return { kind: 'invalid', reason: error.reason, detail: error.message };
    throw error;
  }
}

/** What the initramfs stage observed: before its round (who else connected) and after it. */
export interface InitramfsObservation {
  readonly bootId: string;
  readonly now: number;
  /** An ACPI NBFT table is present (/sys/firmware/acpi/tables/NBFT*). */
  readonly nbft: boolean;
  /** Controllers live before sanhook's round ran. */
  readonly before: readonly Controller[];
  /** Controllers after it. */
  readonly after: readonly Controller[];
  /** The paths the round recorded as managed (the initramfs's own state dir). */
  readonly managed: readonly IoConnectParams[];
  /** The persistent discovery controllers the round recorded as created (the initramfs's own state dir). */
  readonly discoveryRecords: readonly { readonly key: string; readonly record: DiscoveryRecord }[];
}

const live = (c: Controller) => c.state === 'live';

/**
 * Pure: the record of the initramfs stage.
 * - paths: every managed path a controller serves now; plus, with an NBFT
 *   table, every I/O controller that was already live before sanhook's round
 *   (the firmware's boot paths, connected by `nvme connect-all --nbft`).
 *   A path served by a controller that existed before the round is `firmware`
 *   with an NBFT table, else `found`; the others sanhook connected.
 * - discovery controllers: the persistent ones the round recorded as created
 *   (its discovery records, endpoint-state.ts) that are live.
 */
export function buildHandover(observed: InitramfsObservation): Handover {
  const existed = new Set(observed.before.map((c) => c.name));
  const paths = new Map<string, HandoverPath>();
  for (const params of observed.managed) {
    const serving = servingController(params, observed.after);
    if (!serving) continue;
    const origin: PathOrigin = existed.has(serving.name) ? (observed.nbft ? 'firmware' : 'found') : 'connected';
    paths.set(ioKey(params), { params, device: serving.name, origin });
  }
  if (observed.nbft) {
    for (const controller of observed.after.filter((c) => c.cntrltype !== 'discovery' && existed.has(c.name))) {
      let params: IoConnectParams;
      try {
        params = ioParamsFromOptions(ioOptionsFromController(controller, true));
      } catch {
        continue; // sysfs values this version cannot read: not a path it could bring back
      }
      if (!paths.has(ioKey(params))) paths.set(ioKey(params), { params, device: controller.name, origin: 'firmware' });
    }
  }
  const discoveryControllers: HandoverDiscoveryController[] = [];
  for (const { record } of observed.discoveryRecords) {
    if (!observed.after.some((c) => c.name === record.device && c.cntrltype === 'discovery' && live(c))) continue;
    try {
      const request = discoveryRequestFromOptions(record.options, 'boot');
      discoveryControllers.push({ endpoint: request.discovery, options: requestOptions(request), device: record.device });
    } catch {
      continue; // a record this version cannot read: not one it could hand over
    }
  }
  return { bootId: observed.bootId, writtenAt: new Date(observed.now).toISOString(), nbft: observed.nbft, paths: [...paths.values()], discoveryControllers };
}

/** The discovery address key of a hand-over discovery controller (`nvmf-disc:...`). */
export function discoveryKey(entry: HandoverDiscoveryController): string {
  return endpointKey(entry.endpoint);
}

/** This boot's id, or undefined where it cannot be read (then no record can be trusted or written). */
export async function readBootId(system: System): Promise<string | undefined> {
  try {
    const text = (await readFile(path.join(system.paths.root, 'proc', 'sys', 'kernel', 'random', 'boot_id'), 'utf8')).trim();
    return BOOT_ID.test(text) ? text : undefined;
  } catch {
    return undefined;
  }
}

/** The firmware published an NVMe Boot Firmware Table: /sys/firmware/acpi/tables/NBFT (NBFT1, ... for more). */
export async function nbftPresent(system: System): Promise<boolean> {
  try {
    return (await readdir(path.join(system.paths.sysfs, 'firmware', 'acpi', 'tables'))).some((name) => /^NBFT[0-9]*$/.test(name));
  } catch {
    return false;
  }
}

export async function readHandover(system: System): Promise<HandoverRead> {
  const target = locate(system.paths, HANDOVER_LOCATION);
  let text: string;
  try {
    text = await readFile(target.path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'invalid', reason: 'corrupt', detail: `cannot read ${target.path}: ${(error as Error).message}` };
  }
  return parseHandover(text);
}

/** The boot id of the record the real root adopted, if it did. */
export async function readAdopted(system: System): Promise<string | undefined> {
  try {
    const text = (await readFile(locate(system.paths, ADOPTED_LOCATION).path, 'utf8')).trim();
    return BOOT_ID.test(text) ? text : undefined;
  } catch {
    return undefined;
  }
}

export function writeAdopted(system: System, bootId: string): Promise<string> {
  return writeAtomically(system, ADOPTED_LOCATION, `${bootId}\n`);
}

/** Writes the record atomically: a reader sees the old one or the whole new one. */
export function writeHandover(system: System, record: Handover): Promise<string> {
  return writeAtomically(system, HANDOVER_LOCATION, `${JSON.stringify(handoverJson(record), null, 2)}\n`);
}

async function writeAtomically(system: System, location: Location, text: string): Promise<string> {
  const target = locate(system.paths, location);
  const dir = path.dirname(target.path);
  await makeDir(dir, target);
  const temp = `${target.path}.${process.pid}.tmp`;
  try {
    await fsStep('write', temp, target, async () => {
      const handle = await open(temp, 'w', 0o600);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
    await fsStep('rename', target.path, target, () => rename(temp, target.path));
    await fsStep('sync', dir, target, () => syncDir(dir));
  } finally {
    await rm(temp, { force: true });
  }
  return target.path;
}
