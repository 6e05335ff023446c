/**
 * The NVMe-oF controller ownership registry of nvme-cli/libnvme
 * (libnvme/REGISTRY.md, nvme-cli 3.0): /run/nvme/registry/<nvmeX>/{owner,seqnum},
 * one directory per live controller, directories 0755, attribute files 0644;
 * absence means unowned; `seqnum` is /sys/kernel/uevent_seqnum captured at
 * connect; an entry appears complete or not at all (built in a temporary
 * directory, renamed into place); libnvme's udev rule removes it when the
 * controller goes (guarded by the remove event's SEQNUM against the stamp).
 *
 * Contract:
 * - Reading is observation: `readOwnerships()` returns an `Ownership` per
 *   controller name, which the pure decide functions take as input. An entry
 *   is judged by `ownershipOf()` (pure): it belongs to the controller only if
 *   its stamp is not older than the controller's current incarnation — the
 *   SEQNUM of its add uevent, which sanhook's udev rule keeps in the udev
 *   database as SANHOOK_ADD_SEQNUM. An older stamp is a recycled instance
 *   number's leftover (`stale`): it neither makes sanhook skip its own
 *   controller nor hands sanhook another's. With no incarnation known the
 *   entry is believed (the conservative side: never touch what may be owned).
 * - Writing is an action (`claimEffect`, run by the executor after a
 *   successful `nvme connect` that named the new controller): read the stamp,
 *   mkdir a temporary directory in the registry, write `owner` and `seqnum`
 *   with the documented modes, fsync, rename into place. An older entry at
 *   that name is a leftover of a previous controller (the kernel just created
 *   this one): it is moved aside to a hidden sibling first and purged after.
 * - Everything is below `System.paths.root` (/run/nvme, not sanhook's own
 *   run directory) and `System.paths.sysfs`.
 */
import { chmod, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { EffectRunner } from '../../core/fabric.js';
import { act, type Action, type RunAction } from '../../core/plan.js';
import type { IoConnectParams } from './connect-decide.js';
import { connectArgv } from './nvme-cli.js';
import { fsError, syncDir } from '../../core/fs-errors.js';
import type { System } from '../../core/system.js';
import { NVMF_LOCATIONS } from './locations.js';

/** The identity sanhook records: what `nvme disconnect-all --owner sanhook` and `nvme registry list` show. */
export const SANHOOK_OWNER = 'sanhook';

/** REGISTRY.md: "Directories are 0755, attribute files 0644: world-readable, root-writable". */
export const ENTRY_DIR_MODE = 0o755;
export const ENTRY_FILE_MODE = 0o644;

/** The udev property sanhook's rule stores on a controller's add event (rules.d/70-sanhook-nvmf.rules). */
export const ADD_SEQNUM_PROPERTY = 'SANHOOK_ADD_SEQNUM';

/** The registry directory below a root. */
export function registryDir(system: System): string {
  return path.join(system.paths.root, ...NVMF_LOCATIONS.registry.sub);
}

/** An entry as read: the raw attribute texts (undefined: no such file). */
export interface RawEntry {
  readonly owner?: string;
  readonly seqnum?: string;
}

/** An entry after validation. */
export interface Entry {
  /** The orchestrator; printable text as written (nobody else's identity is ours to reject). */
  readonly owner: string;
  /** The connect-time stamp; 0 for an entry without one (a legacy libnvme), as the udev rule compares it. */
  readonly seqnum: number;
}

/** Longest owner text shown in full; longer ones are cut (a report line, not a dump). */
const OWNER_SHOWN_MAX = 64;

/**
 * Pure: validate an entry. No `owner` file (or an empty one) is unowned
 * (REGISTRY.md "Absence means unowned"). An owner with unprintable bytes is
 * still a claim by someone: kept, shown escaped. A missing or malformed
 * `seqnum` compares as 0, as the removal rule reads it.
 */
export function parseEntry(raw: RawEntry): Entry | undefined {
  const owner = raw.owner?.replace(/\n$/, '').trim();
  if (!owner) return undefined;
  const shown = /^[\x20-\x7e]+$/.test(owner) ? owner : JSON.stringify(owner);
  const seqnumText = raw.seqnum?.trim() ?? '';
  const seqnum = /^[0-9]{1,20}$/.test(seqnumText) ? Number(seqnumText) : 0;
  return { owner: shown.length > OWNER_SHOWN_MAX ? `${shown.slice(0, OWNER_SHOWN_MAX)}…` : shown, seqnum };
}

export type Ownership =
  | { readonly kind: 'unowned' }
  | { readonly kind: 'ours'; readonly seqnum: number }
  | { readonly kind: 'other'; readonly owner: string; readonly seqnum: number }
  /** A leftover of an earlier controller with the same instance number: ignored. */
  | { readonly kind: 'stale'; readonly owner: string; readonly seqnum: number; readonly incarnation: number };

export const UNOWNED: Ownership = { kind: 'unowned' };

/**
 * Pure: whose controller this is. `incarnation` is the SEQNUM of the
 * controller's add uevent: an entry stamped before it was written for an
 * earlier controller with the same name (stamps are read after the connect,
 * so a live controller's own entry is never older than its add event).
 */
export function ownershipOf(entry: Entry | undefined, incarnation: number | undefined): Ownership {
  if (!entry) return UNOWNED;
  if (incarnation !== undefined && entry.seqnum < incarnation) return { kind: 'stale', owner: entry.owner, seqnum: entry.seqnum, incarnation };
  return entry.owner === SANHOOK_OWNER ? { kind: 'ours', seqnum: entry.seqnum } : { kind: 'other', owner: entry.owner, seqnum: entry.seqnum };
}

/**
 * Pure: whose the controller a remove uevent reports was. The entry may
 * still be there (libnvme's rule may not have run yet) or already belong to
 * a newer controller with the recycled name: it was the removed one's only
 * if stamped before the remove event (REGISTRY.md's own guard) and not before
 * the removed controller's add event (SANHOOK_ADD_SEQNUM, from the udev database).
 */
export function ownershipAtRemove(entry: Entry | undefined, addSeqnum: number | undefined, removeSeqnum: number | undefined): Ownership {
  if (entry && removeSeqnum !== undefined && entry.seqnum > removeSeqnum) return UNOWNED;
  return ownershipOf(entry, addSeqnum);
}

/** Pure: a uevent variable holding a SEQNUM, as a number. */
export function seqnumOf(value: string | undefined): number | undefined {
  return value !== undefined && /^[0-9]{1,20}$/.test(value) ? Number(value) : undefined;
}

/** Pure: the owner another orchestrator holds this controller for, if it does. */
export function otherOwner(ownership: Ownership | undefined): string | undefined {
  return ownership?.kind === 'other' ? ownership.owner : undefined;
}

/** Pure: a one-word-ish description for status lines and logs. */
export function describeOwnership(ownership: Ownership): string {
  switch (ownership.kind) {
    case 'unowned':
      return 'unowned';
    case 'ours':
      return SANHOOK_OWNER;
    case 'other':
      return ownership.owner;
    case 'stale':
      return `unowned (stale entry of ${ownership.owner}, seqnum ${ownership.seqnum} < add event ${ownership.incarnation})`;
  }
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
}

/** The entry of one controller, validated; undefined when there is none. */
export async function readEntry(system: System, name: string): Promise<Entry | undefined> {
  const dir = path.join(registryDir(system), name);
  const owner = await readOptional(path.join(dir, 'owner'));
  if (owner === undefined) return undefined;
  return parseEntry({ owner, seqnum: await readOptional(path.join(dir, 'seqnum')) });
}

/** Pure: the add-event SEQNUM from a udev database file's text (`E:NAME=value` lines). */
export function addSeqnumFromUdevDb(text: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`E:${ADD_SEQNUM_PROPERTY}=`));
  const value = line?.slice(`E:${ADD_SEQNUM_PROPERTY}=`.length).trim() ?? '';
  return /^[0-9]{1,20}$/.test(value) ? Number(value) : undefined;
}

/**
 * The controller's current incarnation: the SEQNUM of its add uevent, from
 * the udev database (/run/udev/data/c<major>:<minor>, major:minor from
 * sysfs `dev`). Undefined when unknown (udev has not processed the event,
 * sanhook's rule is not installed).
 */
export async function readIncarnation(system: System, name: string): Promise<number | undefined> {
  const dev = (await readOptional(path.join(system.paths.sysfs, 'class', 'nvme', name, 'dev')))?.trim();
  if (!dev || !/^[0-9]+:[0-9]+$/.test(dev)) return undefined;
  const db = await readOptional(path.join(system.paths.root, 'run', 'udev', 'data', `c${dev}`));
  return db === undefined ? undefined : addSeqnumFromUdevDb(db);
}

/** Observation: the ownership of each named controller (an entry judged against its incarnation). */
export async function readOwnerships(system: System, names: readonly string[]): Promise<Map<string, Ownership>> {
  const out = new Map<string, Ownership>();
  for (const name of names) {
    const entry = await readEntry(system, name);
    out.set(name, entry ? ownershipOf(entry, await readIncarnation(system, name)) : UNOWNED);
  }
  return out;
}

/** Every entry in the registry (for status), by controller name. */
export async function listEntries(system: System): Promise<Map<string, Entry>> {
  let names: string[];
  try {
    names = await readdir(registryDir(system));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  const out = new Map<string, Entry>();
  for (const name of names.filter((n) => /^nvme[0-9]+$/.test(n)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
    const entry = await readEntry(system, name);
    if (entry) out.set(name, entry);
  }
  return out;
}

/** /sys/kernel/uevent_seqnum: the kernel's last uevent sequence number. */
export async function readUeventSeqnum(system: System): Promise<number> {
  const file = path.join(system.paths.sysfs, 'kernel', 'uevent_seqnum');
  const text = (await readFile(file, 'utf8')).trim();
  if (!/^[0-9]{1,20}$/.test(text)) throw Object.assign(new Error(`${file} holds ${JSON.stringify(text)}, not a number`), { code: 'EINVAL' });
  return Number(text);
}

async function writeAttribute(file: string, value: string): Promise<void> {
  const handle = await open(file, 'wx', ENTRY_FILE_MODE);
  try {
    await handle.writeFile(`${value}\n`);
    // The umask may have narrowed the mode open() asked for.
    await handle.chmod(ENTRY_FILE_MODE);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `<registry>/<name>/{owner,seqnum}` atomically: a hidden temporary
 * directory in the registry, both files written and synced, renamed into
 * place. A readers sees no entry or a complete one, never a half-written one.
 * Returns whether an older entry was replaced (and what it said).
 */
export async function writeEntry(system: System, name: string, owner: string, seqnum: number): Promise<{ readonly replaced?: Entry }> {
  const registry = registryDir(system);
  const target = path.join(registry, name);
  const where = { what: NVMF_LOCATIONS.registry.what, top: registry };
  const step = async <T>(op: Parameters<typeof fsError>[1], file: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw fsError(error, op, file, where);
    }
  };
  await step('create', registry, async () => {
    // Created on demand as libnvme does; the units' UMask=0077 must not make them private.
    const first = await mkdir(registry, { recursive: true, mode: ENTRY_DIR_MODE });
    for (let dir = registry; first !== undefined && dir.length >= first.length; dir = path.dirname(dir)) await chmod(dir, ENTRY_DIR_MODE);
  });
  const unique = `${process.pid}-${system.clock.now()}-${Math.random().toString(16).slice(2, 10)}`;
  const temp = path.join(registry, `.${name}.new-${unique}`);
  await step('create', temp, async () => {
    await mkdir(temp, { mode: ENTRY_DIR_MODE });
    const handle = await open(temp, 'r');
    try {
      await handle.chmod(ENTRY_DIR_MODE);
    } finally {
      await handle.close();
    }
  });
  try {
    await step('write', temp, async () => {
      await writeAttribute(path.join(temp, 'owner'), owner);
      await writeAttribute(path.join(temp, 'seqnum'), String(seqnum));
      await syncDir(temp);
    });
    const replaced = await readEntry(system, name);
    if (replaced) {
      // rename(2) does not replace a non-empty directory: move the leftover aside, then purge it.
      const aside = path.join(registry, `.${name}.old-${unique}`);
      await step('rename', target, () => rename(target, aside));
      await step('rename', temp, () => rename(temp, target));
      await rm(aside, { recursive: true, force: true });
    } else {
      await step('rename', temp, () => rename(temp, target));
    }
    await step('sync', registry, () => syncDir(registry));
    return replaced ? { replaced } : {};
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/** The effect a plan names to record sanhook's ownership of the controller its connect created. */
export const CLAIM_EFFECT = 'nvme-registry-claim';

/**
 * Runs a `claim` effect (core/plan.ts EffectAction) after `nvme connect`
 * succeeded: the new controller's name comes from the connect's result.
 * "already connected" created nothing of sanhook's: nothing is claimed.
 * Without a parent run (the persistent discovery controller a discovery
 * round's `nvme discover --persistent` created, seen in sysfs), `data.device`
 * names it.
 */
export const claimEffect: EffectRunner = async (system, data, parent) => {
  if (parent?.status === 'already') return { status: 'skipped', outcome: 'not-claimed', text: 'already connected: not a controller this connect created' };
  const device = parent ? parent.fields?.device : typeof data.device === 'string' ? data.device : undefined;
  if (!device || !/^nvme[0-9]+$/.test(device)) {
    return { status: 'failed', message: 'nvme connect did not name the new controller: ownership not recorded' };
  }
  const owner = typeof data.owner === 'string' ? data.owner : SANHOOK_OWNER;
  let seqnum: number;
  try {
    seqnum = await readUeventSeqnum(system);
  } catch (error) {
    return { status: 'failed', message: `cannot read the uevent seqnum stamp: ${(error as Error).message}` };
  }
  const { replaced } = await writeEntry(system, device, owner, seqnum);
  const was = replaced ? ` (replaced a leftover entry of ${replaced.owner}, seqnum ${replaced.seqnum})` : '';
  return { status: 'ok', fields: { device, owner, seqnum: String(seqnum) }, text: `${device} recorded as owned by ${owner} (seqnum ${seqnum})${was}` };
};

/** What a decide function knows about ownership: each controller's, and whether nvme-cli records it itself. */
export interface OwnershipFacts {
  /** By controller name; a controller not listed is unowned. */
  readonly owners: ReadonlyMap<string, Ownership>;
  /** The installed nvme-cli has `connect --owner` (3.0+): it writes sanhook's entry itself. */
  readonly cliRecordsOwner: boolean;
}

/** No registry in sight (nothing owned, nvme-cli 2.x): sanhook writes its own entries. */
export const NO_OWNERSHIP: OwnershipFacts = { owners: new Map(), cliRecordsOwner: false };

/**
 * Pure: `nvme connect` for a path sanhook is about to own, followed by the
 * record of that ownership: `--owner sanhook` where nvme-cli has it, else the
 * `claim` effect (registry.ts writes the entry), then `then`.
 */
export function connectAndClaim(params: IoConnectParams, facts: OwnershipFacts, done: string, more: Omit<RunAction, 'kind' | 'verb' | 'argv' | 'done'>): RunAction {
  const claim: Action[] = facts.cliRecordsOwner ? [] : [act.effect('claim', CLAIM_EFFECT, { owner: SANHOOK_OWNER }, 'claimed', { ...(more.subject ? { subject: more.subject } : {}), ...(more.fields ? { fields: more.fields } : {}) })];
  return act.run('connect', ['nvme', ...connectArgv(params, facts.cliRecordsOwner ? SANHOOK_OWNER : undefined)], done, { ...more, then: [...claim, ...(more.then ?? [])] });
}

/**
 * Pure: the record of sanhook's ownership of the persistent discovery
 * controllers its `nvme discover --persistent` just created (`created`: at
 * this discovery address, not there before the discovery). Where nvme-cli
 * has `discover --owner` it registered them itself (nothing to do); else the
 * `claim` effect writes each entry. A discovery controller sanhook found
 * (created at boot by nvme-cli, by the admin, by another orchestrator) is
 * not claimed: sanhook owns only what it creates.
 */
export function claimDiscoveryControllers(created: readonly string[], cliRecordsOwner: boolean): Action[] {
  if (cliRecordsOwner) return [];
  return created.map((device) =>
    act.effect('claim', CLAIM_EFFECT, { owner: SANHOOK_OWNER, device }, 'claimed', { subject: `persistent discovery controller ${device}`, fields: { device, cntrltype: 'discovery' } }),
  );
}

/** Pure: the note of a path another orchestrator holds: sanhook leaves it alone. */
export function ownedByOther(device: string, owner: string, more: { readonly subject?: string; readonly fields?: Readonly<Record<string, unknown>>; readonly fails?: boolean } = {}): Action {
  return act.note('owned-by-other', `${device} is owned by ${owner} (${path.posix.join('/run/nvme/registry', device, 'owner')}): sanhook leaves it alone`, {
    ...more,
    fields: { ...more.fields, reason: 'owned-by-other', device, owner },
  });
}
