/**
 * A fake libfcoe for integration tests: a preload (`node --import <this> bin/sanhook.js ...`)
 * that makes writes to the FCoE control files below $FAKE_SYSFS behave as Debian's 6.1
 * kernel's do (observed in the project's VM, /work/shared/REAL-SYSTEMS.md "Software FCoE";
 * drivers/scsi/fcoe/fcoe_sysfs.c and fcoe_transport.c). sanhook's executor writes sysfs with
 * fs/promises.writeFile; this wraps it (and syncs the ESM named export), so the kernel's
 * side effect happens inside the write, as in the kernel: a ctlr exists when the
 * ctlr_create write returns. timerd started with this preload passes it on to the hooks it
 * runs (their argv repeats node's execArgv).
 *
 * Fake sysfs layout (test/support/fcoe.mjs builds it):
 *   devices/virtual/net/<if>/{uevent,flags,operstate,carrier,lower_*,upper_*}   netdevs
 *   class/net/<if> -> ../../devices/virtual/net/<if>
 *   bus/fcoe/{ctlr_create,ctlr_destroy,devices/}        present = the bus interface exists
 *   module/libfcoe/parameters/{create,create_vn2vn,destroy}   the legacy interface
 *
 * Kernel behaviour reproduced:
 *   bus/fcoe/ctlr_create  IF   no netdev IF: ENODEV; a ctlr on IF already: EEXIST (libfcoe's
 *                              fcoe_hostlist_lookup); else ctlr_N below the netdev (N counts up
 *                              from 0, never reused), mode "Fabric", enabled 0,
 *                              fip_vlan_responder 0, and bus/fcoe/devices/ctlr_N linking to it.
 *   <ctlr>/mode           fabric|vn2vn (any case): stored as Fabric / VN2VN; EBUSY while enabled;
 *                              anything else EINVAL.
 *   <ctlr>/enabled        0|1, else EINVAL.  <ctlr>/fip_vlan_responder 0|1, else EINVAL.
 *   bus/fcoe/ctlr_destroy IF   no ctlr on IF: ENODEV; else the ctlr goes.
 *   libfcoe create[_vn2vn] IF  as ctlr_create + mode + enabled 1, plus
 *                              class/fc_host/hostN/symbolic_name "fcoe v0.1 over IF" (how
 *                              kernels without the bus show an instance); destroy IF removes both.
 * State in $FAKE_FCOE_STATE (inactive unless it and $FAKE_SYSFS are set):
 *   writes.jsonl   one line per write to a file of the layout above:
 *                  {pid, file (relative to the sysfs root), value, ok, error?, at}
 *   next-ctlr      the next ctlr number
 *   fail           optional: lines `<relative file>` whose writes fail with EIO
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import path from 'node:path';

const sysfs = process.env.FAKE_SYSFS;
const state = process.env.FAKE_FCOE_STATE;

function errno(code, errnum, file) {
  const messages = { ENODEV: 'no such device', EEXIST: 'file exists', EBUSY: 'resource busy', EINVAL: 'invalid argument', EIO: 'i/o error' };
  return Object.assign(new Error(`${code}: ${messages[code]}, write '${file}'`), { code, errno: -errnum, syscall: 'write', path: file });
}
const ERR = { ENODEV: 19, EEXIST: 17, EBUSY: 16, EINVAL: 22, EIO: 5 };

if (sysfs && state) {
  const root = path.resolve(sysfs);
  const require = createRequire(import.meta.url);
  const fsp = require('node:fs/promises');
  const realWriteFile = fsp.writeFile;
  const netDir = (ifname) => path.join(root, 'devices', 'virtual', 'net', ifname);
  const busDevices = path.join(root, 'bus', 'fcoe', 'devices');
  const hasBus = () => existsSync(path.join(root, 'bus', 'fcoe', 'ctlr_create'));

  /** The ctlr on a netdev: its name, from the netdev's directory. */
  const ctlrOf = (ifname) => (existsSync(netDir(ifname)) ? readdirSync(netDir(ifname)).find((n) => /^ctlr_[0-9]+$/.test(n)) : undefined);
  const fcHosts = () => path.join(root, 'class', 'fc_host');
  const hostOf = (ifname) =>
    existsSync(fcHosts()) ? readdirSync(fcHosts()).find((h) => readFileSync(path.join(fcHosts(), h, 'symbolic_name'), 'utf8').trim() === `fcoe v0.1 over ${ifname}`) : undefined;

  const nextNumber = () => {
    const file = path.join(state, 'next-ctlr');
    const n = existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0;
    writeFileSync(file, String(n + 1));
    return n;
  };

  function create(ifname, file, mode, enabled) {
    if (!existsSync(path.join(root, 'class', 'net', ifname))) throw errno('ENODEV', ERR.ENODEV, file);
    if (ctlrOf(ifname) || hostOf(ifname)) throw errno('EEXIST', ERR.EEXIST, file);
    const n = nextNumber();
    if (hasBus()) {
      const ctlr = path.join(netDir(ifname), `ctlr_${n}`);
      mkdirSync(ctlr);
      for (const [name, value] of [['mode', mode], ['enabled', enabled], ['fip_vlan_responder', '0'], ['fcf_dev_loss_tmo', '1800']]) writeFileSync(path.join(ctlr, name), `${value}\n`);
      mkdirSync(busDevices, { recursive: true });
      symlinkSync(path.relative(busDevices, ctlr), path.join(busDevices, `ctlr_${n}`));
    }
    if (enabled === '1') {
      mkdirSync(path.join(fcHosts(), `host${n}`), { recursive: true });
      writeFileSync(path.join(fcHosts(), `host${n}`, 'symbolic_name'), `fcoe v0.1 over ${ifname}\n`);
    }
  }

  function destroy(ifname, file) {
    const ctlr = ctlrOf(ifname);
    const host = hostOf(ifname);
    if (!ctlr && !host) throw errno('ENODEV', ERR.ENODEV, file);
    if (ctlr) {
      rmSync(path.join(netDir(ifname), ctlr), { recursive: true });
      rmSync(path.join(busDevices, ctlr), { force: true });
    }
    if (host) rmSync(path.join(fcHosts(), host), { recursive: true });
  }

  /** A ctlr attribute: the file's directory is a ctlr (below a netdev, or through bus/fcoe/devices). */
  function attribute(file, value) {
    const dir = path.dirname(file);
    const name = path.basename(file);
    const text = value.trim();
    const enabled = readFileSync(path.join(dir, 'enabled'), 'utf8').trim() === '1';
    if (name === 'mode') {
      if (!/^(fabric|vn2vn)$/i.test(text)) throw errno('EINVAL', ERR.EINVAL, file);
      if (enabled) throw errno('EBUSY', ERR.EBUSY, file);
      return realWriteFile(file, text.toLowerCase() === 'vn2vn' ? 'VN2VN\n' : 'Fabric\n');
    }
    if (name === 'enabled' || name === 'fip_vlan_responder') {
      if (text !== '0' && text !== '1') throw errno('EINVAL', ERR.EINVAL, file);
      if (name === 'enabled') {
        // enabling starts FIP: the fc_host shows up (and goes on disable), as the legacy listing reads it
        const real = realpathSync(dir);
        const n = path.basename(real).slice('ctlr_'.length);
        if (text === '1') {
          mkdirSync(path.join(fcHosts(), `host${n}`), { recursive: true });
          writeFileSync(path.join(fcHosts(), `host${n}`, 'symbolic_name'), `fcoe v0.1 over ${path.basename(path.dirname(real))}\n`);
        } else {
          rmSync(path.join(fcHosts(), `host${n}`), { recursive: true, force: true });
        }
      }
      return realWriteFile(file, `${text}\n`);
    }
    return realWriteFile(file, value);
  }

  function kernelWrite(file, value) {
    const relative = path.relative(root, file);
    const failing = existsSync(path.join(state, 'fail')) ? readFileSync(path.join(state, 'fail'), 'utf8').split('\n').filter(Boolean) : [];
    if (failing.includes(relative)) throw errno('EIO', ERR.EIO, file);
    const ifname = value.trim();
    switch (relative) {
      case 'bus/fcoe/ctlr_create':
        return create(ifname, file, 'Fabric', '0');
      case 'bus/fcoe/ctlr_destroy':
        return destroy(ifname, file);
      case 'module/libfcoe/parameters/create':
        return create(ifname, file, 'Fabric', '1');
      case 'module/libfcoe/parameters/create_vn2vn':
        return create(ifname, file, 'VN2VN', '1');
      case 'module/libfcoe/parameters/destroy':
        return destroy(ifname, file);
      default:
        if (/(^|\/)ctlr_[0-9]+\/[a-z_]+$/.test(relative)) return attribute(file, value);
        return realWriteFile(file, value);
    }
  }

  fsp.writeFile = async (file, data, options) => {
    const absolute = typeof file === 'string' ? path.resolve(file) : undefined;
    if (!absolute || !absolute.startsWith(`${root}${path.sep}`)) return realWriteFile(file, data, options);
    const value = String(data);
    const record = { pid: process.pid, file: path.relative(root, absolute), value, at: performance.timeOrigin + performance.now() };
    try {
      await kernelWrite(absolute, value);
      appendFileSync(path.join(state, 'writes.jsonl'), `${JSON.stringify({ ...record, ok: true })}\n`);
    } catch (error) {
      appendFileSync(path.join(state, 'writes.jsonl'), `${JSON.stringify({ ...record, ok: false, error: error.code ?? String(error) })}\n`);
      throw error;
    }
  };
  syncBuiltinESMExports();
}
