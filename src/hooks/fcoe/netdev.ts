/**
 * Netdevs as FCoE needs them: link state, and which real interface a VLAN
 * sits on (DCB is queried on the real one), from /sys/class/net.
 *
 * Contract:
 * - Pure: `realInterfaceOf()` walks a VLAN (8021q) down to its real device,
 *   recursively (QinQ: eth0.100.200 → eth0.100 → eth0); a non-VLAN or an
 *   unknown name is its own real interface; a VLAN with no lower device,
 *   several, or a loop throws a VlanChainError naming the chain.
 *   `upperVlans()` lists the VLANs stacked on an interface, recursively.
 *   `linkUp()` is fcoemon's "link up" from the three sysfs attributes.
 * - I/O: `readLinks()` builds the map those take from sysfs; `readNetdev()`
 *   reads one netdev's state; `observeInterfaces()` reads the FCoE interface
 *   and its real interface; `fcoeInterfacesInvolving()` says which configured
 *   FCoE interfaces a link event on a netdev concerns. A device that vanishes
 *   while it is read is absent (not present, not in the map), never an error.
 *
 * sysfs is enough: /sys/class/net/<if>/uevent says DEVTYPE=vlan for an 8021q
 * device and the directory holds a `lower_<dev>` link to the device below
 * (`upper_<dev>` links mirror them from below, so the lower links alone give
 * both directions). /proc/net/vlan/<if> ("Device: eth0"), which fcoe-utils'
 * scripts read, says the same and exists only with the 8021q module's procfs.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ActionError } from '../../core/errors.js';
import type { System } from '../../core/system.js';
import type { InterfacePair, NetdevState } from './types.js';
import { compareIfnames, ifname as validIfname } from './validate.js';

export interface LinkInfo {
  /** uevent says DEVTYPE=vlan. */
  readonly vlan: boolean;
  /** The devices below it (`lower_<dev>` entries), sorted. */
  readonly lowers: readonly string[];
}
export type Links = ReadonlyMap<string, LinkInfo>;

/** A VLAN whose real interface cannot be told: no lower device, several, or a loop. */
export class VlanChainError extends ActionError {
  constructor(
    readonly chain: readonly string[],
    problem: string,
  ) {
    super(`cannot find the real interface of ${chain[0]}: ${problem} (${chain.join(' → ')})`, { chain });
  }
}

// ---------------------------------------------------------------- pure part

export function realInterfaceOf(ifname: string, links: Links): string {
  const chain = [ifname];
  for (let current = ifname; ; ) {
    const link = links.get(current);
    if (!link?.vlan) return current;
    if (link.lowers.length !== 1) {
      const problem = link.lowers.length === 0 ? `VLAN ${current} has no lower device` : `VLAN ${current} has ${link.lowers.length} lower devices (${link.lowers.join(', ')})`;
      throw new VlanChainError(chain, problem);
    }
    const lower = link.lowers[0]!;
    if (chain.includes(lower)) throw new VlanChainError([...chain, lower], `VLAN ${current} loops back to ${lower}`);
    chain.push(lower);
    current = lower;
  }
}

/** The VLANs stacked on `ifname`, directly or on one another (QinQ), sorted; not `ifname` itself. */
export function upperVlans(ifname: string, links: Links): string[] {
  const uppers = new Map<string, string[]>();
  for (const [name, link] of links) {
    if (!link.vlan) continue;
    for (const lower of link.lowers) uppers.set(lower, [...(uppers.get(lower) ?? []), name]);
  }
  const found = new Set<string>();
  const pending = [ifname];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    for (const upper of uppers.get(next) ?? []) {
      if (upper === ifname || found.has(upper)) continue;
      found.add(upper);
      pending.push(upper);
    }
  }
  return [...found].sort(compareIfnames);
}

/** linux/if.h: IFF_UP, bit 0 of the `flags` attribute (hex, "0x1003"). */
const IFF_UP = 0x1;

/**
 * fcoemon's link up: administratively up (IFF_UP) and operstate "up", or
 * "unknown" with carrier, as drivers without operstate support (and the
 * loopback) report. `carrier` is undefined when it cannot be read (the
 * kernel refuses to read it on a device that is down: EINVAL).
 */
export function linkUp(flags: string, operstate: string, carrier: string | undefined): boolean {
  const value = /^0x[0-9a-fA-F]+$/.test(flags.trim()) ? Number.parseInt(flags.trim(), 16) : 0;
  if ((value & IFF_UP) === 0) return false;
  const state = operstate.trim();
  return state === 'up' || (state === 'unknown' && carrier?.trim() === '1');
}

/** The DEVTYPE= of a uevent file's text ("" when there is none). */
export function devtypeOf(uevent: string): string {
  return /^DEVTYPE=(.*)$/m.exec(uevent)?.[1]?.trim() ?? '';
}

// ---------------------------------------------------------------- I/O

function netDir(system: System, ifname?: string): string {
  return ifname === undefined ? path.join(system.paths.sysfs, 'class', 'net') : path.join(system.paths.sysfs, 'class', 'net', ifname);
}

/** A read of a device's sysfs; undefined when it failed (the device is gone, or the kernel refused the attribute). */
async function attempt<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch {
    return undefined;
  }
}

/** One netdev's entry, or undefined when it is not there (or vanished while read). */
async function readLink(system: System, ifname: string): Promise<LinkInfo | undefined> {
  const dir = netDir(system, ifname);
  const uevent = await attempt(() => readFile(path.join(dir, 'uevent'), 'utf8'));
  const entries = await attempt(() => readdir(dir));
  if (uevent === undefined || entries === undefined) return undefined;
  const lowers = entries.filter((entry) => entry.startsWith('lower_') && entry.length > 'lower_'.length).map((entry) => entry.slice('lower_'.length));
  return { vlan: devtypeOf(uevent) === 'vlan', lowers: lowers.sort(compareIfnames) };
}

/**
 * The link map: of `names` and the devices below them (a VLAN's lower
 * link, followed to the first non-VLAN), or of every netdev when `names` is
 * absent. A name
 * that is not a valid interface name or not in sysfs is left out.
 */
export async function readLinks(system: System, names?: readonly string[]): Promise<Map<string, LinkInfo>> {
  const links = new Map<string, LinkInfo>();
  const pending = names ? [...names] : ((await attempt(() => readdir(netDir(system)))) ?? []);
  const seen = new Set<string>();
  for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
    if (seen.has(next)) continue;
    seen.add(next);
    // Names come from callers and from sysfs link names: never let one leave class/net.
    if (!isIfname(next)) continue;
    const link = await readLink(system, next);
    if (!link) continue;
    links.set(next, link);
    // Only a VLAN's lower device matters for its real interface (not a bond's or a bridge's ports).
    if (link.vlan) pending.push(...link.lowers);
  }
  return links;
}

function isIfname(name: string): boolean {
  try {
    validIfname(name, 'interface');
    return true;
  } catch {
    return false;
  }
}

/** One netdev's state. `ifname` is validated (UsageError naming `option`); a device gone mid-read is not present. */
export async function readNetdev(system: System, ifname: string, option = 'interface'): Promise<NetdevState> {
  const name = validIfname(ifname, option);
  const absent: NetdevState = { ifname: name, present: false, up: false };
  const dir = netDir(system, name);
  const found = await attempt(() => stat(dir));
  if (!found?.isDirectory()) return absent;
  const flags = await attempt(() => readFile(path.join(dir, 'flags'), 'utf8'));
  const operstate = await attempt(() => readFile(path.join(dir, 'operstate'), 'utf8'));
  if (flags === undefined || operstate === undefined) return absent;
  const carrier = await attempt(() => readFile(path.join(dir, 'carrier'), 'utf8'));
  return { ifname: name, present: true, up: linkUp(flags, operstate, carrier) };
}

/** The FCoE interface and the real interface below it (the same object when it is not a VLAN). */
export async function observeInterfaces(system: System, ifname: string, option = 'interface'): Promise<InterfacePair> {
  const fcoe = await readNetdev(system, ifname, option);
  const real = realInterfaceOf(fcoe.ifname, await readLinks(system, [fcoe.ifname]));
  if (real === fcoe.ifname) return { fcoe, real: fcoe };
  return { fcoe, real: await readNetdev(system, real) };
}

/**
 * Of the configured FCoE interfaces, those a link event on `ifname` concerns:
 * `ifname` itself and the VLANs stacked on it (directly or through QinQ), as
 * sysfs shows them now. Sorted.
 */
export async function fcoeInterfacesInvolving(system: System, ifname: string, configured: readonly string[]): Promise<string[]> {
  const uppers = new Set(upperVlans(ifname, await readLinks(system, configured)));
  return [...new Set(configured)].filter((name) => name === ifname || uppers.has(name)).sort(compareIfnames);
}
