/**
 * FCoE worlds for integration tests, on a Sandbox (sandbox.mjs): netdevs and VLANs in the
 * fake sysfs, the kernel's FCoE control files (made live by the preload
 * test/fakes/fcoe-kernel.mjs, FCOE_PRELOAD), fcoe-utils cfg files, the fake DCB tools' state
 * ($FAKE_DCB_STATE, test/fakes/dcb.mjs) and readers of what happened.
 *
 * Netdevs look as the kernel shows them: /sys/devices/virtual/net/<if> with `flags` (hex,
 * IFF_UP 0x1), `operstate`, `carrier`, `uevent` (INTERFACE=, DEVTYPE=vlan for a VLAN) and
 * lower_<dev>/upper_<dev> links between a VLAN and its real device; /sys/class/net/<if>
 * links to it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FAKES } from './sandbox.mjs';
import { parseJsonLines } from './records.mjs';

/** node --import this to make the fake sysfs's FCoE files behave like the kernel's. */
export const FCOE_PRELOAD = ['--import', pathToFileURL(path.join(FAKES, 'fcoe-kernel.mjs')).href];

/**
 * Sets a sandbox up for FCoE: the kernel's control files (bus and legacy, or only one), the
 * state dirs of the fake kernel and the fake DCB tools, in the sandbox's environment (every
 * process it starts gets them). Run sanhook and timerd with FCOE_PRELOAD as nodeArgs.
 * @param {import('./sandbox.mjs').Sandbox} box
 * @param {{ bus?: boolean, legacy?: boolean }} [options]
 */
export function fcoeWorld(box, options = {}) {
  const { bus = true, legacy = true } = options;
  const sys = box.sysfs;
  if (bus) {
    mkdirSync(path.join(sys, 'bus', 'fcoe', 'devices'), { recursive: true });
    for (const name of ['ctlr_create', 'ctlr_destroy']) writeFileSync(path.join(sys, 'bus', 'fcoe', name), '');
  }
  if (legacy) {
    mkdirSync(path.join(sys, 'module', 'libfcoe', 'parameters'), { recursive: true });
    for (const name of ['create', 'create_vn2vn', 'destroy']) writeFileSync(path.join(sys, 'module', 'libfcoe', 'parameters', name), '');
  }
  mkdirSync(path.join(sys, 'class', 'net'), { recursive: true });
  const fcoeState = path.join(box.dir, 'fcoe');
  const dcbState = path.join(box.dir, 'dcb');
  mkdirSync(fcoeState, { recursive: true });
  mkdirSync(dcbState, { recursive: true });
  mkdirSync(path.join(box.etcDir, 'fcoe'), { recursive: true });
  const env = { FAKE_FCOE_STATE: fcoeState, FAKE_DCB_STATE: dcbState };
  Object.assign(box.extraEnv, env);
  return env;
}

/** @param {import('./sandbox.mjs').Sandbox} box @param {string} name */
const netDir = (box, name) => path.join(box.sysfs, 'devices', 'virtual', 'net', name);

/**
 * A netdev (veth-like), or a VLAN on `vlanOf`.
 * @param {import('./sandbox.mjs').Sandbox} box
 * @param {string} name
 * @param {{ up?: boolean, vlanOf?: string }} [options]
 */
export function addNetdev(box, name, options = {}) {
  const dir = netDir(box, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'uevent'), `INTERFACE=${name}\nIFINDEX=${readdirSync(path.dirname(dir)).length + 1}\n${options.vlanOf ? 'DEVTYPE=vlan\n' : ''}`);
  symlinkSync(path.relative(path.join(box.sysfs, 'class', 'net'), dir), path.join(box.sysfs, 'class', 'net', name));
  if (options.vlanOf) {
    symlinkSync(`../${options.vlanOf}`, path.join(dir, `lower_${options.vlanOf}`));
    symlinkSync(`../${name}`, path.join(netDir(box, options.vlanOf), `upper_${name}`));
  }
  setLink(box, name, options.up ?? true);
}

/**
 * ip link set up/down: IFF_UP in flags, operstate and carrier (a VLAN follows its real device only if the test says so).
 * @param {import('./sandbox.mjs').Sandbox} box
 * @param {string} name
 * @param {boolean} up
 */
export function setLink(box, name, up) {
  const dir = netDir(box, name);
  writeFileSync(path.join(dir, 'flags'), up ? '0x1003\n' : '0x1002\n');
  writeFileSync(path.join(dir, 'operstate'), up ? 'up\n' : 'down\n');
  writeFileSync(path.join(dir, 'carrier'), up ? '1\n' : '0\n');
}

/**
 * ip link del: the netdev, its ctlrs (and fc_hosts) and the VLANs on it go, as the kernel does it.
 * @param {import('./sandbox.mjs').Sandbox} box
 * @param {string} name
 */
export function removeNetdev(box, name) {
  const dir = netDir(box, name);
  for (const entry of existsSync(dir) ? readdirSync(dir) : []) {
    if (entry.startsWith('upper_')) removeNetdev(box, entry.slice('upper_'.length));
    if (/^ctlr_[0-9]+$/.test(entry)) {
      rmSync(path.join(box.sysfs, 'bus', 'fcoe', 'devices', entry), { force: true });
      rmSync(path.join(box.sysfs, 'class', 'fc_host', `host${entry.slice(5)}`), { recursive: true, force: true });
    }
  }
  for (const entry of existsSync(dir) ? readdirSync(dir) : []) {
    if (entry.startsWith('lower_')) rmSync(path.join(netDir(box, entry.slice('lower_'.length)), `upper_${name}`), { force: true });
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(path.join(box.sysfs, 'class', 'net', name), { force: true });
}

/**
 * /etc/fcoe/cfg-<ifname> in fcoe-utils' format.
 * @param {import('./sandbox.mjs').Sandbox} box
 * @param {string} ifname
 * @param {Record<string, string>} [values] e.g. { DCB_REQUIRED: 'yes', MODE: 'vn2vn' }
 */
export function writeCfg(box, ifname, values = {}) {
  const all = { FCOE_ENABLE: 'yes', DCB_REQUIRED: 'no', AUTO_VLAN: 'no', MODE: 'fabric', ...values };
  writeFileSync(path.join(box.etcDir, 'fcoe', `cfg-${ifname}`), Object.entries(all).map(([k, v]) => `${k}="${v}"\n`).join(''));
}

/**
 * The fake DCB tools' answer for a real interface (test/fakes/dcb.mjs documents the fields);
 * undefined removes it (a device without dcbnl, like a veth).
 * @param {import('./sandbox.mjs').Sandbox} box
 * @param {string} ifname
 * @param {Record<string, unknown> | undefined} dcbState
 */
export function setDcb(box, ifname, dcbState) {
  const file = path.join(box.dir, 'dcb', `${ifname}.json`);
  if (dcbState === undefined) rmSync(file, { force: true });
  else {
    // the fakes re-read it on every call: replace it whole
    writeFileSync(`${file}.tmp`, JSON.stringify(dcbState));
    renameSync(`${file}.tmp`, file);
  }
}

/** A DCB answer where everything is enabled, operational and matching on priority 3. */
export const DCB_READY = { dcb: true, dcbx: 'ieee', pfc: [3], pfcOper: true, app: 3, appOper: true };

/**
 * The ctlrs the fake kernel has, by number.
 * @param {import('./sandbox.mjs').Sandbox} box
 * @returns {{ name: string, ifname: string, enabled: boolean, mode: string }[]}
 */
export function ctlrs(box) {
  const devices = path.join(box.sysfs, 'bus', 'fcoe', 'devices');
  if (!existsSync(devices)) return [];
  return readdirSync(devices)
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
    .map((name) => {
      const dir = path.join(devices, name);
      const read = (/** @type {string} */ attr) => readFileSync(path.join(dir, attr), 'utf8').trim();
      return { name, ifname: path.basename(path.dirname(realpathSync(dir))), enabled: read('enabled') === '1', mode: read('mode') };
    });
}

/**
 * Every write the fake kernel saw.
 * @param {import('./sandbox.mjs').Sandbox} box
 * @returns {{ pid: number, file: string, value: string, ok: boolean, error?: string, at: number }[]}
 */
export function fcoeWrites(box) {
  const file = path.join(box.dir, 'fcoe', 'writes.jsonl');
  return existsSync(file) ? parseJsonLines(readFileSync(file, 'utf8')) : [];
}

/**
 * Every call of the fake DCB tools.
 * @param {import('./sandbox.mjs').Sandbox} box
 * @returns {{ tool: string, argv: string[], pid: number, at: number }[]}
 */
export function dcbCalls(box) {
  const file = path.join(box.dir, 'dcb', 'calls.jsonl');
  return existsSync(file) ? parseJsonLines(readFileSync(file, 'utf8')) : [];
}
