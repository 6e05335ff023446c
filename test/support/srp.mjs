/**
 * SRP worlds for integration tests: the fake kernel's files (test/fakes/srp-kernel.mjs), an
 * srp host (one IB port with add_target), and readers of what the fake kernel holds and logs.
 * Run sanhook and timerd with SRP_PRELOAD as nodeArgs.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const FAKES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fakes');
export const SRP_PRELOAD = ['--import', pathToFileURL(path.join(FAKES, 'srp-kernel.mjs')).href];

/**
 * @param {import('./sandbox.mjs').Sandbox} box
 * @param {{ hosts?: string[] }} [options] srp host directories (srp-<ibdev>-<port>)
 */
export function srpWorld(box, options = {}) {
  const { hosts = ['srp-rxe0-1'] } = options;
  for (const host of hosts) {
    const dir = path.join(box.sysfs, 'class', 'infiniband_srp', host);
    mkdirSync(dir, { recursive: true });
    const [, ibdev, port] = /^srp-(.+)-([0-9]+)$/.exec(host) ?? [];
    writeFileSync(path.join(dir, 'add_target'), '');
    writeFileSync(path.join(dir, 'ibdev'), `${ibdev}\n`);
    writeFileSync(path.join(dir, 'port'), `${port}\n`);
  }
  for (const sub of ['srp_remote_ports', 'scsi_host', 'scsi_device']) mkdirSync(path.join(box.sysfs, 'class', sub), { recursive: true });
  const srpState = path.join(box.dir, 'srp');
  mkdirSync(srpState, { recursive: true });
  Object.assign(box.extraEnv, { FAKE_SRP_STATE: srpState });
  return srpState;
}

/** @param {import('./sandbox.mjs').Sandbox} box */
const stateDir = (box) => path.join(box.dir, 'srp');

/**
 * Every write the fake kernel saw, in order.
 * @param {import('./sandbox.mjs').Sandbox} box
 * @returns {{ pid: number, file: string, value: string, ok: boolean, error?: string, at: number, end: number }[]}
 */
export function srpWrites(box) {
  const file = path.join(stateDir(box), 'writes.jsonl');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line)) : [];
}

/** @param {import('./sandbox.mjs').Sandbox} box @param {boolean} away */
export function setTargetAway(box, away) {
  const file = path.join(stateDir(box), 'unreachable');
  if (away) writeFileSync(file, '');
  else rmSync(file, { force: true });
}

/** @param {import('./sandbox.mjs').Sandbox} box @param {number} ms */
export function setWriteDelay(box, ms) {
  writeFileSync(path.join(stateDir(box), 'write-delay-ms'), String(ms));
}

/**
 * The ports now: name → { state, reconnect_delay, fast_io_fail_tmo, dev_loss_tmo }.
 * @param {import('./sandbox.mjs').Sandbox} box
 * @returns {Record<string, Record<string, string>>}
 */
export function srpPorts(box) {
  const dir = path.join(box.sysfs, 'class', 'srp_remote_ports');
  /** @type {Record<string, Record<string, string>>} */
  const ports = {};
  for (const name of existsSync(dir) ? readdirSync(dir).sort() : []) {
    ports[name] = Object.fromEntries(['state', 'reconnect_delay', 'fast_io_fail_tmo', 'dev_loss_tmo'].map((a) => [a, readFileSync(path.join(dir, name, a), 'utf8').trim()]));
  }
  return ports;
}

/**
 * What the kernel would do on its own: the port's state, or the port deleted at dev_loss_tmo.
 * @param {import('./sandbox.mjs').Sandbox} box @param {string} port @param {string} value
 */
export function setPortState(box, port, value) {
  writeFileSync(path.join(box.sysfs, 'class', 'srp_remote_ports', port, 'state'), `${value}\n`);
}

/**
 * The kernel deleting a login at dev_loss_tmo (no sanhook write): port, host, devices gone.
 * Returns the environment udev hands `lost --uevent` for the host's remove (from its database).
 * @param {import('./sandbox.mjs').Sandbox} box @param {number} hostNo
 */
export function kernelDeletes(box, hostNo) {
  const env = scsiHostRemoveEnv(box, hostNo);
  rmSync(path.join(box.sysfs, 'class', 'srp_remote_ports', `port-${hostNo}:1`), { recursive: true, force: true });
  rmSync(path.join(box.sysfs, 'class', 'scsi_host', `host${hostNo}`), { recursive: true, force: true });
  const devices = path.join(box.sysfs, 'class', 'scsi_device');
  for (const d of readdirSync(devices)) if (d.startsWith(`${hostNo}:`)) rmSync(path.join(devices, d), { recursive: true, force: true });
  return env;
}

/**
 * The remove event of scsi_host hostN as udev runs the shipped rule's `lost --uevent`: the
 * identity the rule stored at the host's add (SANHOOK_SRP_*), read from the host's attributes now.
 * @param {import('./sandbox.mjs').Sandbox} box @param {number} hostNo
 * @returns {Record<string, string>}
 */
export function scsiHostRemoveEnv(box, hostNo) {
  const host = path.join(box.sysfs, 'class', 'scsi_host', `host${hostNo}`);
  /** @param {string} name */
  const attr = (name) => (existsSync(path.join(host, name)) ? readFileSync(path.join(host, name), 'utf8').trim() : undefined);
  /** @type {Record<string, string>} */
  const env = { SUBSYSTEM: 'scsi_host', ACTION: 'remove', DEVPATH: `/devices/virtual/infiniband/host${hostNo}/scsi_host/host${hostNo}`, SEQNUM: '4242' };
  const map = { SANHOOK_SRP_ID_EXT: 'id_ext', SANHOOK_SRP_IOC_GUID: 'ioc_guid', SANHOOK_SRP_IBDEV: 'local_ib_device', SANHOOK_SRP_IBPORT: 'local_ib_port', SANHOOK_SRP_DGID: 'orig_dgid', SANHOOK_SRP_PKEY: 'pkey', SANHOOK_SRP_SERVICE_ID: 'service_id' };
  for (const [name, file] of Object.entries(map)) {
    const value = attr(file);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** The add event of port-H:1 as udev hands it to `srp-setup --uevent`. @param {number} hostNo */
export function portAddEnv(hostNo) {
  return { SUBSYSTEM: 'srp_remote_ports', ACTION: 'add', DEVPATH: `/devices/virtual/infiniband/host${hostNo}/port-${hostNo}:1`, SEQNUM: '4241' };
}

/**
 * A SCSI device's state.
 * @param {import('./sandbox.mjs').Sandbox} box @param {string} device H:C:T:L
 */
export function deviceState(box, device) {
  return readFileSync(path.join(box.sysfs, 'class', 'scsi_device', device, 'device', 'state'), 'utf8').trim();
}
