/**
 * What the kernel shows of SRP logins: /sys/class/srp_remote_ports/port-H:N
 * (state and timers; scsi_transport_srp.c) and the ib_srp SCSI host it
 * belongs to, /sys/class/scsi_host/hostH (id_ext, ioc_guid, local_ib_device,
 * local_ib_port; for IB CM logins also orig_dgid, pkey, service_id — an
 * RDMA/CM login answers ENOENT for those three, and no login shows its dest,
 * initiator_ext or tuning options).
 *
 * Contract: reads only. Every value read is validated as strictly as an
 * option (identity.ts, policy.ts): a port whose sysfs content is not what
 * the kernel writes is refused with a UsageError naming the file, before
 * anything is written. A port or host that vanishes while it is read is
 * absent, not an error.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { invalid } from '../../core/validate.js';
import type { System } from '../../core/system.js';
import { gid, hex64, ibdevName, pkey, type SrpHost } from './identity.js';
import { tmo, type TimerPolicy } from './policy.js';

export const PORTS_DIR = 'class/srp_remote_ports';
export const SRP_HOSTS_DIR = 'class/infiniband_srp';
const SCSI_HOSTS_DIR = 'class/scsi_host';
const SCSI_DEVICES_DIR = 'class/scsi_device';

/** The kernel's rport states (show_srp_rport_state). */
export const PORT_STATES = ['running', 'blocked', 'fail-fast', 'lost'] as const;
export type PortState = (typeof PORT_STATES)[number];

/** `port-<host>:<n>`, as srp_rport_add names it. */
export function portName(value: string, option: string): { readonly name: string; readonly hostNo: number } {
  const match = /^port-([0-9]{1,9}):([0-9]{1,9})$/.exec(value);
  if (!match) invalid(option, value, 'must be an SRP remote port name, port-<host>:<n> (as in /sys/class/srp_remote_ports)');
  return { name: value, hostNo: Number(match[1]) };
}

/** An srp_remote_ports DEVPATH from a uevent: /devices/.../hostH/port-H:N, no `..`, the port's host its parent. */
export function portOfDevpath(devpath: string, option: string): { readonly name: string; readonly hostNo: number } {
  const parts = devpath.split('/');
  if (!devpath.startsWith('/devices/') || devpath.length > 512 || parts.some((part) => part === '..' || part === '.') || /[^\x21-\x7e]/.test(devpath)) {
    invalid(option, devpath, 'must be a /devices/... path');
  }
  const port = portName(parts.at(-1) ?? '', option);
  if (parts.at(-2) !== `host${port.hostNo}`) invalid(option, devpath, `must end in host${port.hostNo}/${port.name}`);
  return port;
}

/** A SCSI host's number from `hostH`. */
export function scsiHostNo(value: string, option: string): number {
  const match = /^host([0-9]{1,9})$/.exec(value);
  if (!match) invalid(option, value, 'must be a SCSI host name, host<N>');
  return Number(match[1]);
}

export interface ScsiDevice {
  /** H:C:T:L */
  readonly name: string;
  readonly state: string;
}

/** The ib_srp SCSI host of a login: which local port, which target, and (IB CM only) the target port's address. */
export interface SrpScsiHost {
  readonly hostNo: number;
  readonly host: SrpHost;
  readonly idExt: string;
  readonly iocGuid: string;
  /** IB CM logins: what was written to add_target (orig_dgid, pkey, service_id). */
  readonly ib?: { readonly dgid: string; readonly pkey: string; readonly serviceId: string };
}

export interface PortView {
  readonly name: string;
  readonly state: PortState;
  readonly timers: TimerPolicy;
  readonly failedReconnects?: number;
  readonly scsiHost: SrpScsiHost;
  readonly devices: readonly ScsiDevice[];
}

const absent = (error: unknown) => ['ENOENT', 'ENOTDIR', 'ENODEV'].includes((error as NodeJS.ErrnoException).code ?? '');

async function readAttr(system: System, file: string): Promise<string | undefined> {
  try {
    const text = await readFile(path.join(system.paths.sysfs, file), 'utf8');
    return text.length > 4096 ? text.slice(0, 4096) : text.replace(/\n$/, '');
  } catch (error) {
    if (absent(error)) return undefined;
    throw error;
  }
}

async function listDir(system: System, dir: string): Promise<string[]> {
  try {
    return await readdir(path.join(system.paths.sysfs, dir));
  } catch (error) {
    if (absent(error)) return [];
    throw error;
  }
}

/** The ib_srp SCSI host hostH; undefined when it is gone or is not ib_srp's. */
export async function readScsiHost(system: System, hostNo: number): Promise<SrpScsiHost | undefined> {
  const dir = `${SCSI_HOSTS_DIR}/host${hostNo}`;
  const names = ['proc_name', 'id_ext', 'ioc_guid', 'local_ib_device', 'local_ib_port', 'orig_dgid', 'pkey', 'service_id'] as const;
  const values = await Promise.all(names.map((name) => readAttr(system, `${dir}/${name}`)));
  const attr = Object.fromEntries(names.map((name, i) => [name, values[i]])) as Record<(typeof names)[number], string | undefined>;
  if (attr.proc_name !== 'ib_srp' || attr.id_ext === undefined || attr.ioc_guid === undefined || attr.local_ib_device === undefined || attr.local_ib_port === undefined) return undefined;
  const where = (name: string) => `/sys/${dir}/${name}`;
  const port = attr.local_ib_port;
  if (!/^[0-9]{1,3}$/.test(port) || Number(port) < 1 || Number(port) > 255) invalid(where('local_ib_port'), port, 'must be an IB port number 1-255');
  const ib =
    attr.orig_dgid !== undefined && attr.pkey !== undefined && attr.service_id !== undefined
      ? { dgid: gid(attr.orig_dgid, where('orig_dgid')), pkey: pkey(attr.pkey, where('pkey')), serviceId: hex64(attr.service_id, where('service_id')) }
      : undefined;
  return {
    hostNo,
    host: { ibdev: ibdevName(attr.local_ib_device, where('local_ib_device')), port: Number(port) },
    idExt: hex64(attr.id_ext, where('id_ext')),
    iocGuid: hex64(attr.ioc_guid, where('ioc_guid')),
    ...(ib ? { ib } : {}),
  };
}

/** The SCSI devices (H:C:T:L) of host H and their states. */
export async function readScsiDevices(system: System, hostNo: number): Promise<ScsiDevice[]> {
  const names = (await listDir(system, SCSI_DEVICES_DIR)).filter((name) => new RegExp(`^${hostNo}:[0-9]{1,9}:[0-9]{1,9}:[0-9]{1,20}$`).test(name)).sort();
  const devices: ScsiDevice[] = [];
  for (const name of names) {
    const state = await readAttr(system, `${SCSI_DEVICES_DIR}/${name}/device/state`);
    if (state !== undefined) devices.push({ name, state: /^[a-z-]{1,32}$/.test(state) ? state : 'unknown' });
  }
  return devices;
}

/** One remote port and its host; undefined when it is gone (or its host is not ib_srp's). */
export async function readPort(system: System, name: string): Promise<PortView | undefined> {
  const { hostNo } = portName(name, 'port');
  const dir = `${PORTS_DIR}/${name}`;
  const [state, reconnectDelay, fastIoFail, devLoss, failed] = await Promise.all(
    ['state', 'reconnect_delay', 'fast_io_fail_tmo', 'dev_loss_tmo', 'failed_reconnects'].map((attr) => readAttr(system, `${dir}/${attr}`)),
  );
  if (state === undefined || reconnectDelay === undefined || fastIoFail === undefined || devLoss === undefined) return undefined;
  const where = (attr: string) => `/sys/${dir}/${attr}`;
  if (!(PORT_STATES as readonly string[]).includes(state)) invalid(where('state'), state, `must be one of ${PORT_STATES.join(', ')}`);
  const timers: TimerPolicy = { reconnectDelay: tmo(reconnectDelay, where('reconnect_delay')), fastIoFail: tmo(fastIoFail, where('fast_io_fail_tmo')), devLoss: tmo(devLoss, where('dev_loss_tmo')) };
  const scsiHost = await readScsiHost(system, hostNo);
  if (!scsiHost) return undefined;
  const failedReconnects = failed !== undefined && /^-?[0-9]{1,10}$/.test(failed) ? Number(failed) : undefined;
  return { name, state: state as PortState, timers, ...(failedReconnects !== undefined ? { failedReconnects } : {}), scsiHost, devices: await readScsiDevices(system, hostNo) };
}

/** Every SRP remote port now (the ones that vanish while read are left out). */
export async function readPorts(system: System): Promise<PortView[]> {
  const names = (await listDir(system, PORTS_DIR)).filter((name) => /^port-[0-9]{1,9}:[0-9]{1,9}$/.test(name)).sort();
  const ports: PortView[] = [];
  for (const name of names) {
    const port = await readPort(system, name);
    if (port) ports.push(port);
  }
  return ports;
}

/** Is /sys/class/infiniband_srp/srp-<ibdev>-<port> there (the HCA port exists and ib_srp is loaded)? */
export async function srpHostPresent(system: System, dir: string): Promise<boolean> {
  return (await readAttr(system, `${SRP_HOSTS_DIR}/${dir}/port`)) !== undefined;
}
