#!/usr/bin/env node
/**
 * A fake lldpad `lldptool` for tests: `lldptool -v`, `lldptool -p`, `lldptool -t -i <if> -V PFC`
 * and `lldptool -t -i <if> -V APP -c app`, printing the real formats (lldpad
 * lldptool_cmds.c, lldp_8021qaz_clif.c, lldp_8021qaz_cmds.c; sources and
 * recorded answers: test/fixtures/dcb/README.md; parsers:
 * src/hooks/fcoe/dcb/lldpad.ts). State format ($FAKE_DCB_STATE,
 * <ifname>.json, lldpad-running, calls.jsonl): the header of test/fakes/dcb.mjs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NOT_RUNNING, finish, lldpadRunning, readInterface, recordCall, stateDir } from './dcb-state.mjs';

// `lldptool -v` (sanhook doctor) prints its version without asking lldpad (lldptool.c: "lldptool v" VERSION_STR, then the copyright).
if (process.argv[2] === '-v') {
  process.stdout.write('lldptool v1.1.0\nCopyright (c) 2007-2010, Intel Corporation\n\nSubstantially modified from:  hostapd_cli v 0.5.7\nCopyright (c) 2004-2007, Jouni Malinen <j@w1.fi> and contributors\n');
  process.exit(0);
}

const dir = stateDir('lldptool');
const argv = process.argv.slice(2);
recordCall(dir, 'lldptool', argv);

function answer() {
  if (!lldpadRunning(dir)) return NOT_RUNNING;
  const line = argv.join(' ');
  if (line === '-p') {
    const pid = readFileSync(path.join(dir, 'lldpad-running'), 'utf8').trim();
    return { stdout: `${/^[1-9][0-9]*$/.test(pid) ? pid : '4242'}\n`, stderr: '', exit: 0 };
  }
  const m = /^-t -i (\S+) -V (PFC|APP -c app)$/.exec(line);
  if (!m) return { stdout: '', stderr: `fake lldptool: only -p, "-t -i IF -V PFC" and "-t -i IF -V APP -c app" are modelled, not: ${line}\n`, exit: 1 };
  const [, ifname, what] = m;
  const port = readInterface(dir, ifname);
  // lldptool_cmds.c print_cmd_response: "<status> <ifname part>"; exit = status (cmd_device_not_found, recorded as 1).
  if (port?.error === 'nodev') return { stdout: 'Device not found or inactive \n', stderr: '', exit: 1 };
  if (what === 'PFC') {
    if (port === null || port.error === 'notsup') return { stdout: '', stderr: '', exit: 0 }; // recorded on a veth
    if (port.garbage !== null) return { stdout: port.garbage, stderr: '', exit: 0 };
    const enabled = port.pfc.length > 0 ? port.pfc.map((p) => `${p} `).join('') : 'none';
    return { stdout: `IEEE 8021QAZ PFC TLV\n\t Willing: yes\n\t MACsec Bypass Capable: no\n\t PFC capable traffic classes: 8\n\t PFC enabled: ${enabled}\n`, stderr: '', exit: 0 };
  }
  if (port === null || port.error === 'notsup') return { stdout: 'APP=(prio,sel,proto)\n\n', stderr: '', exit: 0 }; // recorded on a veth
  if (port.garbage !== null) return { stdout: port.garbage, stderr: '', exit: 0 };
  const entry = port.app === null ? '' : `0:(${port.app},1,0x8906) local hw (set)\n`;
  return { stdout: `APP=(prio,sel,proto)\n${entry}\n`, stderr: '', exit: 0 };
}

finish(answer());
