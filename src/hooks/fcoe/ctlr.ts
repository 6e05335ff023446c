/**
 * FCoE ctlrs in sysfs: what exists (observe) and the writes that create and
 * destroy one (plan actions, so `--dry-run` shows every write).
 *
 * Kernel interface (drivers/scsi/fcoe/fcoe_sysfs.c, fcoe_transport.c; seen on
 * Debian's 6.1 in the project's VM, REAL-SYSTEMS.md):
 * - bus: `echo IF > /sys/bus/fcoe/ctlr_create` makes `ctlr_N` below the
 *   netdev (`/sys/class/net/IF/ctlr_N`, linked from
 *   /sys/bus/fcoe/devices/ctlr_N), disabled, in Fabric mode. `mode` (fabric
 *   or vn2vn; it reads `Fabric`/`VN2VN`) is writable only while disabled;
 *   `fip_vlan_responder`; `enabled` 1 starts FIP. Destroy: `enabled` 0, then
 *   `echo IF > /sys/bus/fcoe/ctlr_destroy`. A second ctlr_create on one
 *   netdev is refused by the kernel (EEXIST), and the plan never asks for one.
 * - legacy (kernels without the bus files): write-only
 *   /sys/module/libfcoe/parameters/{create,create_vn2vn,destroy}; create
 *   enables at once.
 *
 * Contract: `readCtlrs()` never throws for a ctlr or netdev that vanishes
 * while it reads (it is skipped); the builders are pure.
 */
import { readdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { act, type Action } from '../../core/plan.js';
import { pathExists, type System } from '../../core/system.js';
import type { CtlrState, FcoeControl, FcoeInterfaceConfig } from './types.js';

const BUS = 'bus/fcoe';
const LEGACY = 'module/libfcoe/parameters';

/** Which interface this kernel offers: the bus files, else libfcoe's legacy parameters, else none (module not loaded). */
export async function readControl(system: System): Promise<FcoeControl> {
  if (await pathExists(path.join(system.paths.sysfs, BUS, 'ctlr_create'))) return 'bus';
  if (await pathExists(path.join(system.paths.sysfs, LEGACY, 'create'))) return 'legacy';
  return 'none';
}

async function attribute(dir: string, name: string): Promise<string | undefined> {
  try {
    return (await readFile(path.join(dir, name), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/**
 * Every ctlr the kernel has, with the netdev it sits on (the parent of its
 * device directory), sorted by number. Kernels without the bus list their
 * FCoE instances only as fc_hosts: `symbolic_name` is "fcoe v<version> over
 * <netdev>" (drivers/scsi/fcoe/fcoe.c fcoe_netdev_config); those are listed as
 * enabled, mode unknown, named after the host.
 */
export async function readCtlrs(system: System, control: FcoeControl): Promise<CtlrState[]> {
  if (control === 'legacy') return readLegacyInstances(system);
  const devices = path.join(system.paths.sysfs, BUS, 'devices');
  const names = await readdir(devices).catch(() => [] as string[]);
  const ctlrs: CtlrState[] = [];
  for (const name of names.filter((n) => /^ctlr_[0-9]+$/.test(n)).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))) {
    try {
      const dir = await realpath(path.join(devices, name));
      const enabled = await attribute(dir, 'enabled');
      const mode = await attribute(dir, 'mode');
      if (enabled === undefined || mode === undefined) continue;
      ctlrs.push({ name, ifname: path.basename(path.dirname(dir)), enabled: enabled === '1', mode: mode.toLowerCase() });
    } catch {
      // destroyed while we looked
    }
  }
  return ctlrs;
}

const SYMBOLIC_NAME = /^fcoe v\S+ over (\S+)$/;

async function readLegacyInstances(system: System): Promise<CtlrState[]> {
  const hosts = path.join(system.paths.sysfs, 'class', 'fc_host');
  const instances: CtlrState[] = [];
  for (const name of (await readdir(hosts).catch(() => [] as string[])).sort()) {
    const ifname = SYMBOLIC_NAME.exec((await attribute(path.join(hosts, name), 'symbolic_name')) ?? '')?.[1];
    if (ifname) instances.push({ name, ifname, enabled: true, mode: 'unknown' });
  }
  return instances;
}

/** The ctlr on one netdev (the kernel allows one), if any. */
export function ctlrOn(ctlrs: readonly CtlrState[], ifname: string): CtlrState | undefined {
  return ctlrs.find((c) => c.ifname === ifname);
}

/**
 * Create (or finish creating) the ctlr of an interface: on the bus, create
 * it, set its mode and FIP VLAN responder, then enable it; a ctlr that exists
 * but is disabled only gets the missing writes. Legacy: one write.
 */
export function createActions(cfg: FcoeInterfaceConfig, control: FcoeControl, existing: CtlrState | undefined): Action[] {
  const ifname = cfg.ifname;
  const fields = { ifname, mode: cfg.mode };
  if (control === 'legacy') {
    // libfcoe's create enables at once and cannot change a running instance's mode.
    if (existing) return [];
    return [act.write('create', `${LEGACY}/${cfg.mode === 'vn2vn' ? 'create_vn2vn' : 'create'}`, ifname, 'created', { fields })];
  }
  // The new ctlr's number is the kernel's choice: the one ctlr_* below the netdev (executor: one * component, one match).
  const dir = existing ? `${BUS}/devices/${existing.name}` : `class/net/${ifname}/ctlr_*`;
  const setup: Action[] = [];
  if (!existing || existing.mode !== cfg.mode) setup.push(act.write('set-mode', `${dir}/mode`, cfg.mode, `mode-${cfg.mode}`, { fields }));
  if (cfg.fipResponder) setup.push(act.write('set-fip-responder', `${dir}/fip_vlan_responder`, '1', 'fip-responder-on', { fields }));
  const enable = act.write('enable', `${dir}/enabled`, '1', 'enabled', { fields });
  // Each write only after the one before it worked: mode after create, enable after mode.
  const chain = [...setup, enable].reduceRight<Action | undefined>((next, action) => (next ? { ...action, then: [next] } as Action : action), undefined)!;
  return existing ? [chain] : [act.write('create', `${BUS}/ctlr_create`, ifname, 'created', { fields, then: [chain] })];
}

/** Destroy an interface's ctlr: disable, then destroy (bus); one write (legacy). */
export function destroyActions(ifname: string, control: FcoeControl, existing: CtlrState): Action[] {
  const fields = { ifname, ctlr: existing.name };
  if (control === 'legacy') return [act.write('destroy', `${LEGACY}/destroy`, ifname, 'destroyed', { fields })];
  const destroy = act.write('destroy', `${BUS}/ctlr_destroy`, ifname, 'destroyed', { fields });
  if (!existing.enabled) return [destroy];
  return [act.write('disable', `${BUS}/devices/${existing.name}/enabled`, '0', 'disabled', { fields, then: [destroy] })];
}
