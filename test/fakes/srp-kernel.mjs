/**
 * A fake ib_srp + scsi_transport_srp for integration tests: a preload (`node --import <this>
 * bin/sanhook.js ...`) that makes writes to the SRP files below $FAKE_SYSFS behave as the
 * kernel's do (drivers/infiniband/ulp/srp/ib_srp.c add_target_store, srp_parse_options,
 * srp_conn_unique; drivers/scsi/scsi_transport_srp.c srp_tmo_valid, store_reconnect_delay,
 * store_srp_rport_delete; drivers/scsi/scsi_sysfs.c store_state_field), observed on the
 * project's VM as /work/shared/REAL-SYSTEMS.md "SRP over Soft-RoCE" records. Like
 * fcoe-kernel.mjs it wraps fs/promises.writeFile, so the side effect happens inside the write;
 * timerd started with it passes it on to the hooks it runs.
 *
 * Fake sysfs layout (test/support/srp.mjs builds and reads it):
 *   class/infiniband_srp/srp-<ibdev>-<port>/{add_target,ibdev,port}
 *   class/scsi_host/hostH/{proc_name=ib_srp,id_ext,ioc_guid,local_ib_device,local_ib_port,
 *                          orig_dgid,pkey,service_id (IB CM logins only), sgid}
 *   class/srp_remote_ports/port-H:1/{state,reconnect_delay,fast_io_fail_tmo,dev_loss_tmo,
 *                          failed_reconnects,roles,port_id,delete}
 *   class/scsi_device/H:0:0:0/device/state
 *
 * Kernel behaviour reproduced:
 *   add_target LINE   split at , and \n; unknown option or bad value: EINVAL; neither
 *                     (id_ext, ioc_guid, dest) nor (id_ext, ioc_guid, dgid, pkey,
 *                     service_id): EINVAL; same srp host, id_ext, ioc_guid, initiator_ext as a
 *                     login that exists: EEXIST; $FAKE_SRP_STATE/unreachable exists: ETIMEDOUT
 *                     (the target is away); else a new host H (counting up, never reused) and
 *                     port-H:1 with the kernel's defaults: running, 10 / 15 / 600, one LUN.
 *   reconnect_delay, fast_io_fail_tmo, dev_loss_tmo: whole seconds or off (negative: off),
 *                     checked with srp_tmo_valid against the other two as they are: EINVAL.
 *   delete            the port, its host and its devices go.
 *   device/state      "running\n" or "offline\n" only (the newline is required): else EINVAL.
 * State in $FAKE_SRP_STATE (inactive unless it and $FAKE_SYSFS are set):
 *   writes.jsonl      one line per write to a file of the layout: {pid, file, value, ok, error?, at, end}
 *   logins.json       host number → initiator_ext (sysfs does not show it; srp_conn_unique uses it)
 *   next-host         the next host number
 *   unreachable       present: add_target fails with ETIMEDOUT
 *   write-delay-ms    optional: every write takes this long (races become visible)
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import path from 'node:path';

const sysfs = process.env.FAKE_SYSFS;
const state = process.env.FAKE_SRP_STATE;

const ERR = { EINVAL: 22, EEXIST: 17, ETIMEDOUT: 110, ENODEV: 19 };
function errno(code, file) {
  return Object.assign(new Error(`${code}: write '${file}'`), { code, errno: -ERR[code], syscall: 'write', path: file });
}

if (sysfs && state) {
  const root = path.resolve(sysfs);
  const require = createRequire(import.meta.url);
  const fsp = require('node:fs/promises');
  const plainWriteFile = fsp.writeFile;
  /** A sysfs attribute is read whole or not at all (its show() runs per read): replace, never truncate in place. */
  const realWriteFile = async (file, data, ...rest) => {
    const temp = `${file}.fake-${process.pid}`;
    await plainWriteFile(temp, data, ...rest);
    renameSync(temp, file);
  };
  const at = (...parts) => path.join(root, 'class', ...parts);
  const read = (file) => readFileSync(file, 'utf8').trim();
  const logins = () => (existsSync(path.join(state, 'logins.json')) ? JSON.parse(readFileSync(path.join(state, 'logins.json'), 'utf8')) : {});
  const saveLogins = (map) => writeFileSync(path.join(state, 'logins.json'), JSON.stringify(map));

  const tmoOf = (text) => {
    const t = text.trim();
    if (t.startsWith('off')) return -1;
    if (!/^-?[0-9]+$/.test(t)) return undefined;
    return Number(t);
  };
  /** srp_tmo_valid */
  const tmoValid = (rd, ff, dl) =>
    !(rd < 0 && ff < 0 && dl < 0) && rd !== 0 && !(ff > 600) && !(ff < 0 && dl > 600) && !(ff >= 0 && dl >= 0 && ff >= dl);

  const hex16 = (v) => (/^(0x)?[0-9a-fA-F]{1,16}$/.test(v) ? v.replace(/^0x/, '').toLowerCase().padStart(16, '0') : undefined);

  function addTarget(file, value) {
    if (existsSync(path.join(state, 'unreachable'))) throw errno('ETIMEDOUT', file);
    const dir = path.basename(path.dirname(file));
    const [, ibdev, ibport] = /^srp-(.+)-([0-9]+)$/.exec(dir);
    const o = {};
    for (const piece of value.split(/[,\n]/)) {
      if (!piece) continue;
      const m = /^([a-z_]+)=(.*)$/.exec(piece);
      if (!m) throw errno('EINVAL', file);
      o[m[1]] = m[2];
    }
    const known = ['id_ext', 'ioc_guid', 'initiator_ext', 'dgid', 'pkey', 'service_id', 'dest', 'src', 'max_sect', 'max_cmd_per_lun', 'target_can_queue', 'io_class', 'cmd_sg_entries', 'allow_ext_sg', 'sg_tablesize', 'comp_vector', 'tl_retry_count', 'queue_size', 'max_it_iu_size', 'ch_count'];
    if (Object.keys(o).some((k) => !known.includes(k))) throw errno('EINVAL', file);
    const idExt = hex16(o.id_ext ?? '');
    const iocGuid = hex16(o.ioc_guid ?? '');
    const initiatorExt = o.initiator_ext === undefined ? '0000000000000000' : hex16(o.initiator_ext);
    const ib = o.dgid !== undefined && o.pkey !== undefined && o.service_id !== undefined;
    if (!idExt || !iocGuid || !initiatorExt || (!o.dest && !ib)) throw errno('EINVAL', file);
    if (ib && !/^[0-9a-fA-F]{32}$/.test(o.dgid)) throw errno('EINVAL', file);
    const map = logins();
    for (const [host, ext] of Object.entries(map)) {
      const h = at('scsi_host', `host${host}`);
      if (!existsSync(h)) continue;
      if (read(path.join(h, 'local_ib_device')) === ibdev && read(path.join(h, 'local_ib_port')) === ibport && read(path.join(h, 'id_ext')) === `0x${idExt}` && read(path.join(h, 'ioc_guid')) === `0x${iocGuid}` && ext === initiatorExt) {
        throw errno('EEXIST', file);
      }
    }
    const nextFile = path.join(state, 'next-host');
    const n = existsSync(nextFile) ? Number(readFileSync(nextFile, 'utf8')) : 0;
    writeFileSync(nextFile, String(n + 1));
    const host = at('scsi_host', `host${n}`);
    mkdirSync(host, { recursive: true });
    const attrs = { proc_name: 'ib_srp', id_ext: `0x${idExt}`, ioc_guid: `0x${iocGuid}`, local_ib_device: ibdev, local_ib_port: ibport, sgid: 'fe80:0000:0000:0000:5054:00ff:fe12:3456' };
    if (ib) {
      const g = o.dgid.toLowerCase().match(/.{4}/g).join(':');
      Object.assign(attrs, { orig_dgid: g, dgid: g, pkey: `0x${o.pkey.replace(/^0x/, '').padStart(4, '0')}`, service_id: `0x${hex16(o.service_id)}` });
    }
    for (const [name, v] of Object.entries(attrs)) writeFileSync(path.join(host, name), `${v}\n`);
    const port = at('srp_remote_ports', `port-${n}:1`);
    mkdirSync(port, { recursive: true });
    const portAttrs = { state: 'running', reconnect_delay: '10', fast_io_fail_tmo: '15', dev_loss_tmo: '600', failed_reconnects: '0', roles: 'SRP Target', port_id: `${idExt}${iocGuid}`.match(/.{2}/g).join(':'), delete: '' };
    for (const [name, v] of Object.entries(portAttrs)) writeFileSync(path.join(port, name), `${v}\n`);
    const device = at('scsi_device', `${n}:0:0:0`, 'device');
    mkdirSync(device, { recursive: true });
    writeFileSync(path.join(device, 'state'), 'running\n');
    map[n] = initiatorExt;
    saveLogins(map);
  }

  function removeLogin(hostNo) {
    rmSync(at('srp_remote_ports', `port-${hostNo}:1`), { recursive: true, force: true });
    rmSync(at('scsi_host', `host${hostNo}`), { recursive: true, force: true });
    for (const d of existsSync(at('scsi_device')) ? readdirSync(at('scsi_device')) : []) if (d.startsWith(`${hostNo}:`)) rmSync(at('scsi_device', d), { recursive: true, force: true });
    const map = logins();
    delete map[hostNo];
    saveLogins(map);
  }

  function portAttr(file, value) {
    const dir = path.dirname(file);
    const name = path.basename(file);
    if (name === 'delete') return Promise.resolve(removeLogin(Number(/^port-([0-9]+):/.exec(path.basename(dir))[1])));
    const t = tmoOf(value);
    if (t === undefined) throw errno('EINVAL', file);
    const now = { reconnect_delay: tmoOf(read(path.join(dir, 'reconnect_delay'))), fast_io_fail_tmo: tmoOf(read(path.join(dir, 'fast_io_fail_tmo'))), dev_loss_tmo: tmoOf(read(path.join(dir, 'dev_loss_tmo'))) };
    now[name] = t;
    if (!tmoValid(now.reconnect_delay, now.fast_io_fail_tmo, now.dev_loss_tmo)) throw errno('EINVAL', file);
    return realWriteFile(file, t < 0 ? 'off\n' : `${t}\n`);
  }

  function deviceState(file, value) {
    if (value !== 'running\n' && value !== 'offline\n') throw errno('EINVAL', file);
    return realWriteFile(file, value);
  }

  function kernelWrite(file, value) {
    const relative = path.relative(root, file);
    if (/^class\/infiniband_srp\/[^/]+\/add_target$/.test(relative)) return Promise.resolve(addTarget(file, value));
    if (/^class\/srp_remote_ports\/port-[0-9]+:[0-9]+\/(reconnect_delay|fast_io_fail_tmo|dev_loss_tmo|delete)$/.test(relative)) {
      if (!existsSync(path.dirname(file))) throw errno('ENODEV', file);
      return portAttr(file, value);
    }
    if (/^class\/scsi_device\/[^/]+\/device\/state$/.test(relative)) return deviceState(file, value);
    return undefined;
  }

  const isOurs = (file) => typeof file === 'string' && path.resolve(file).startsWith(`${root}${path.sep}class${path.sep}`) && /(infiniband_srp|srp_remote_ports|scsi_device)/.test(file);

  fsp.writeFile = async function writeFile(file, data, ...rest) {
    if (!isOurs(file)) return plainWriteFile.call(this, file, data, ...rest);
    const value = String(data);
    const started = Date.now();
    const delayFile = path.join(state, 'write-delay-ms');
    if (existsSync(delayFile)) await new Promise((resolve) => setTimeout(resolve, Number(readFileSync(delayFile, 'utf8'))));
    const entry = { pid: process.pid, file: path.relative(root, path.resolve(file)), value, at: started };
    try {
      const done = kernelWrite(path.resolve(file), value);
      if (done === undefined) await realWriteFile(file, data, ...rest);
      else await done;
      appendFileSync(path.join(state, 'writes.jsonl'), `${JSON.stringify({ ...entry, ok: true, end: Date.now() })}\n`);
    } catch (error) {
      appendFileSync(path.join(state, 'writes.jsonl'), `${JSON.stringify({ ...entry, ok: false, error: error.code, end: Date.now() })}\n`);
      throw error;
    }
  };
  syncBuiltinESMExports();
}
