#!/usr/bin/env node
/**
 * A fake lldpad `dcbtool` for tests: `dcbtool gc|go <if> dcb|pfc|app:fcoe`,
 * printing the real format (lldpad dcbtool_cmds.c print_dcb_cmd_response;
 * sources and recorded answers: test/fixtures/dcb/README.md; parsers:
 * src/hooks/fcoe/dcb/lldpad.ts). Exit status = lldpad's status, as dcbtool's.
 * State format ($FAKE_DCB_STATE, <ifname>.json, lldpad-running, calls.jsonl):
 * the header of test/fakes/dcb.mjs.
 */
import { NOT_RUNNING, finish, lldpadRunning, readInterface, recordCall, stateDir } from './dcb-state.mjs';

const dir = stateDir('dcbtool');
const argv = process.argv.slice(2);
recordCall(dir, 'dcbtool', argv);

const FEATURES = { dcb: 'DCB State', pfc: 'Priority Flow Control', 'app:fcoe': 'Application FCoE' };
const COMMANDS = { gc: 'Get Config', go: 'Get Oper' };
// lldpad_status.h values and dcbtool_cmds.c print_status texts.
const NOT_FOUND = [2, 'Device not found, link down or DCB not enabled'];
const NOT_CAPABLE = [8, 'Device not capable'];
const NOT_APPLICABLE = [9, 'Command not applicable in IEEE-DCBX modes'];

const bitmap = (prios) => [0, 1, 2, 3, 4, 5, 6, 7].map((p) => `${prios.includes(p) ? 1 : 0}\t`).join('');
const hex = (prio) => (prio === null ? '00' : (1 << prio).toString(16).padStart(2, '0').toUpperCase());

function answer() {
  const [command, ifname, feature] = argv;
  // dcbtool.c: the clif connection is opened before the command is parsed.
  if (!lldpadRunning(dir)) return NOT_RUNNING;
  if (!COMMANDS[command] || !FEATURES[feature] || typeof ifname !== 'string' || argv.length !== 3) {
    return { stdout: `invalid command argument: ${argv.slice(1).join(' ')}\n`, stderr: '', exit: 255 };
  }
  if (command === 'go' && feature === 'dcb') return { stdout: '', stderr: 'fake dcbtool: "go <if> dcb" is not modelled\n', exit: 4 };
  const port = readInterface(dir, ifname);
  let out = `Command:   \t${COMMANDS[command]}\nFeature:   \t${FEATURES[feature]}\nPort:      \t${ifname}\n`;
  const failed = ([code, text]) => ({ stdout: `${out}Status:    \t${text}\n`, stderr: '', exit: code });
  if (port?.error === 'nodev') return failed(NOT_FOUND);
  if (port === null || port.error === 'notsup') return failed(NOT_CAPABLE);
  if (port.garbage !== null) return { stdout: port.garbage, stderr: '', exit: 0 };
  if (command === 'go' && port.dcbx === 'ieee') return failed(NOT_APPLICABLE);
  out += 'Status:    \tSuccessful\n';
  if (feature === 'dcb') {
    out += `DCB State:\t${port.dcb ? 'on' : 'off'}\n`;
  } else if (command === 'gc') {
    const enabled = feature === 'pfc' ? port.pfc.length > 0 : port.app !== null;
    out += `Enable:    \t${enabled}\nAdvertise: \ttrue\nWilling:   \ttrue\n`;
    out += feature === 'pfc' ? `pfcup:     \t${bitmap(port.pfc)}\nnum TC's:  \t8\n` : `appcfg:     \t${hex(port.app)}\n`;
  } else {
    const oper = feature === 'pfc' ? port.pfcOper : port.appOper;
    out += `Oper Version:\t0\nMax Version:\t0\nErrors:     \t0x00 - none\nOper Mode: \t${oper}\nSyncd:     \t${oper}\n`;
    out += feature === 'pfc' ? `pfcup:     \t${bitmap(port.pfcOperPrios)}\n` : `appcfg:     \t${hex(port.appOperPrio)}\n`;
  }
  return { stdout: out, stderr: '', exit: 0 };
}

finish(answer());
