#!/usr/bin/env node
/**
 * A fake iproute2 `dcb` (6.1) for tests: `dcb -j pfc|app|dcbx show dev <if>` and `dcb -V`,
 * printing the real formats (sources and recorded answers:
 * test/fixtures/dcb/README.md; parsers: src/hooks/fcoe/dcb/dcb-tool.ts).
 *
 * State: the directory $FAKE_DCB_STATE (every fake exits 99 if it is unset),
 * shared by the fake dcb, dcbtool and lldptool (test/fakes/dcb-state.mjs):
 *   calls.jsonl     every call of any of the three appends one line
 *                   {tool, argv, pid, at} (one appendFileSync; at = epoch ms).
 *   lldpad-running  exists → lldpad answers dcbtool/lldptool (`lldptool -p`
 *                   prints its content if it is a pid, else 4242); missing →
 *                   both print lldpad's "Failed to connect to lldpad" and exit 255.
 *   <ifname>.json   the port's DCB state, re-read on every call (tests rewrite
 *                   it to flap the state); missing → a netdev without dcbnl
 *                   (a veth): dcb prints `Attribute read: Operation not
 *                   supported` (exit 1, stdout just "\n", as iproute2 6.1 on a
 *                   veth), dcbtool "Device not capable" (exit 8, what lldpad
 *                   answered for a veth), lldptool -V PFC nothing (exit 0).
 *     {
 *       "dcb": true,            DCB on (default true). dcb: dcbx shows
 *                               {"host":true,"<dcbx>":true} when on, {} when off;
 *                               dcbtool: "DCB State: on|off".
 *       "dcbx": "ieee",         "cee"|"ieee" (default "ieee"): the DCBX mode. In
 *                               "ieee", dcbtool go answers "Command not applicable
 *                               in IEEE-DCBX modes" (exit 9).
 *       "pfc": [3],             configured PFC priorities; [] = PFC disabled
 *                               (dcbtool gc "Enable: false", lldptool "none").
 *       "pfcOper": true,        PFC operational (default: pfc is not empty).
 *       "pfcOperPrios": [3],    operational priorities (default: pfc).
 *       "app": 3,               configured App:FCoE priority; null = disabled.
 *       "appOper": true,        App:FCoE operational (default: app is not null).
 *       "appOperPrio": 3,       operational App:FCoE priority (default: app).
 *       "error": "notsup",      "notsup": as a missing file; "nodev": the netdev
 *                               is gone (dcb "Attribute read: No such device",
 *                               dcbtool "Device not found, link down or DCB not
 *                               enabled" exit 2, lldptool "Device not found or
 *                               inactive" exit 1).
 *       "garbage": "text",      printed instead of any answer (exit 0).
 *       "iproute2": "6.1"       "6.5": app entries get iproute2 6.5's third
 *                               element, [35078, 3, " "].
 *     }
 * The kernel's IEEE objects (what `dcb` shows for pfc and app) are the
 * operational ones: prio_pfc = pfcOperPrios when pfcOper, else none; the
 * ethtype_prio table holds [35078, appOperPrio] when appOper.
 */
import { finish, readInterface, recordCall, stateDir } from './dcb-state.mjs';

// `dcb -V` (sanhook doctor) needs no state: dcb.c printf("dcb utility, iproute2-%s\n", version), Debian 12's iproute2 6.1.0.
if (process.argv[2] === '-V') {
  process.stdout.write('dcb utility, iproute2-6.1.0\n');
  process.exit(0);
}

const dir = stateDir('dcb');
const argv = process.argv.slice(2);
recordCall(dir, 'dcb', argv);

function answer() {
  const json = argv[0] === '-j';
  const [object, show, dev, ifname] = json ? argv.slice(1) : argv;
  if (!json || show !== 'show' || dev !== 'dev' || !['pfc', 'app', 'dcbx'].includes(object)) {
    return { stdout: '', stderr: `fake dcb: only "dcb -j pfc|app|dcbx show dev IF" is modelled, not: ${argv.join(' ')}\n`, exit: 1 };
  }
  const port = readInterface(dir, ifname);
  // dcb.c: perror("Attribute read") on the netlink error, exit 1; jsonw_destroy() still prints "\n".
  if (port?.error === 'nodev') return { stdout: '\n', stderr: 'Attribute read: No such device\n', exit: 1 };
  if (port === null || port.error === 'notsup') return { stdout: '\n', stderr: 'Attribute read: Operation not supported\n', exit: 1 };
  if (port.garbage !== null) return { stdout: port.garbage, stderr: '', exit: 0 };
  let value;
  if (object === 'dcbx') {
    value = port.dcb ? { host: true, [port.dcbx]: true } : {};
  } else if (object === 'pfc') {
    const on = port.pfcOper ? port.pfcOperPrios : [];
    value = { pfc_cap: 8, macsec_bypass: false, delay: 0, prio_pfc: [0, 1, 2, 3, 4, 5, 6, 7].map((p) => on.includes(p)) };
  } else {
    value = port.appOper && port.appOperPrio !== null ? { ethtype_prio: [port.iproute2 === '6.5' ? [0x8906, port.appOperPrio, ' '] : [0x8906, port.appOperPrio]] } : {};
  }
  return { stdout: `${JSON.stringify(value)}\n`, stderr: '', exit: 0 };
}

finish(answer());
