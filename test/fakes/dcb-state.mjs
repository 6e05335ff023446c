/**
 * Shared by the fake DCB tools (dcb.mjs, dcbtool.mjs, lldptool.mjs): the state
 * directory, the per-interface state, the call log and the answers lldpad's
 * clients give when they cannot reach lldpad. The state format is documented
 * in dcb.mjs's header.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The state directory; a fake run without one exits 99 (a test set-up error, not a tool answer). */
export function stateDir(tool) {
  const dir = process.env.FAKE_DCB_STATE;
  if (!dir) {
    process.stderr.write(`fake ${tool}: FAKE_DCB_STATE must be set\n`);
    process.exit(99);
  }
  return dir;
}

/** One JSON line per call, written with a single appendFileSync. */
export function recordCall(dir, tool, argv) {
  appendFileSync(path.join(dir, 'calls.jsonl'), `${JSON.stringify({ tool, argv, pid: process.pid, at: Date.now() })}\n`);
}

/**
 * `<ifname>.json` with its defaults filled in, re-read on every call; null when
 * the file is missing (a netdev without dcbnl, such as a veth).
 */
export function readInterface(dir, ifname) {
  if (typeof ifname !== 'string' || ifname === '' || ifname.includes('/') || ifname.startsWith('.')) return null;
  const file = path.join(dir, `${ifname}.json`);
  if (!existsSync(file)) return null;
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  const pfc = raw.pfc ?? [];
  const app = raw.app ?? null;
  return {
    dcb: raw.dcb ?? true,
    dcbx: raw.dcbx ?? 'ieee',
    pfc,
    pfcOper: raw.pfcOper ?? pfc.length > 0,
    pfcOperPrios: raw.pfcOperPrios ?? pfc,
    app,
    appOper: raw.appOper ?? app !== null,
    appOperPrio: raw.appOperPrio ?? app,
    error: raw.error ?? null,
    garbage: raw.garbage ?? null,
    iproute2: raw.iproute2 ?? '6.1',
  };
}

/** lldpad answers its clients when `lldpad-running` exists in the state directory. */
export function lldpadRunning(dir) {
  return existsSync(path.join(dir, 'lldpad-running'));
}

/**
 * What dcbtool and lldptool print when lldpad is not running (recorded with
 * Debian 12's lldpad 1.1, test/fixtures/dcb/lldptool-ping-notrunning):
 * clif_open()'s perror of connect() on lldpad's abstract socket, then main()'s
 * perror, return -1 → exit 255.
 */
export const NOT_RUNNING = { stdout: '', stderr: 'connect: Connection refused\nFailed to connect to lldpad - clif_open: Invalid argument\n', exit: 255 };

export function finish(answer) {
  if (answer.stdout) process.stdout.write(answer.stdout);
  if (answer.stderr) process.stderr.write(answer.stderr);
  process.exitCode = answer.exit;
}
