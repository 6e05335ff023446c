/**
 * What is connected now, read from /sys/class/nvme/<ctrl>/.
 *
 * Contract: `readControllers()` lists fabrics controllers with their transport
 * address fields as the kernel prints them (`address` is
 * "traddr=…,trsvcid=…[,host_traddr=…][,host_iface=…][,src_addr=…]");
 * PCIe controllers and controllers that vanish while being read are skipped.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { NONE } from './keys.js';
import type { System } from '../../core/system.js';

export interface Controller {
  readonly name: string;
  readonly transport: string;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly hostTraddr: string;
  readonly hostIface: string;
  readonly subsysnqn: string;
  readonly hostnqn: string;
  /** "io", "discovery", "admin"; empty on kernels without the attribute. */
  readonly cntrltype: string;
  /** "live", "connecting", "resetting", "deleting", "dead", ... */
  readonly state: string;
}

const FABRICS = new Set(['tcp', 'rdma', 'fc', 'loop']);

/** Parses the kernel's `address` attribute into its key=value fields. */
export function parseAddress(address: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const part of address.trim().split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return fields;
}

export function controllerFromAttributes(name: string, attrs: Readonly<Record<string, string>>): Controller | undefined {
  const transport = attrs.transport ?? '';
  if (!FABRICS.has(transport)) return undefined;
  const address = parseAddress(attrs.address ?? '');
  return {
    name,
    transport,
    traddr: (address.traddr ?? '').toLowerCase(),
    trsvcid: address.trsvcid ?? NONE,
    hostTraddr: (address.host_traddr ?? NONE).toLowerCase(),
    hostIface: address.host_iface ?? NONE,
    subsysnqn: attrs.subsysnqn ?? '',
    hostnqn: attrs.hostnqn ?? '',
    cntrltype: attrs.cntrltype ?? '',
    state: attrs.state ?? '',
  };
}

const ATTRIBUTES = ['transport', 'address', 'subsysnqn', 'hostnqn', 'cntrltype', 'state'] as const;

export async function readController(system: System, name: string): Promise<Controller | undefined> {
  const dir = path.join(system.paths.sysfs, 'class', 'nvme', name);
  const attrs: Record<string, string> = {};
  for (const attribute of ATTRIBUTES) {
    try {
      attrs[attribute] = (await readFile(path.join(dir, attribute), 'utf8')).trim();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && attribute !== 'transport') continue;
      if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENOTDIR') return undefined;
      throw error;
    }
  }
  return controllerFromAttributes(name, attrs);
}

export async function readControllers(system: System): Promise<Controller[]> {
  let names: string[];
  try {
    names = await readdir(path.join(system.paths.sysfs, 'class', 'nvme'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const controllers = await Promise.all(names.filter((n) => /^nvme[0-9]+$/.test(n)).map((n) => readController(system, n)));
  return controllers.filter((c): c is Controller => c !== undefined).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}
