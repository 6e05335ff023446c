#!/usr/bin/env node
/**
 * Real uevent -> sanhook's action start, through a REAL systemd-udevd on this
 * host, against the same path running /bin/true (root needed).
 *
 * What is measured, per event (all on CLOCK_MONOTONIC):
 *   t_kernel  `udevadm monitor` receiving the kernel's uevent ("KERNEL[ts]"):
 *             the uevent is emitted inside the write(2) to the device's
 *             `uevent` file, so this is the kernel timestamp of the event;
 *   t_action  the first external program the hook runs starting (the
 *             discovery's first `nvme` call; for /bin/true: the program
 *             itself starting);
 *   t_done    `udevadm monitor` receiving udevd's processed event ("UDEV[ts]"),
 *             which udevd broadcasts after every RUN program has exited.
 * and the table shows p50 / p99 / max of t_action - t_kernel and
 * t_done - t_kernel for both paths, and the ratio of sanhook's to the
 * baseline's p50. Target: sanhook's action start p50 <= 80 ms.
 *
 * The path: the SHIPPED rules file (rules.d/70-sanhook-nvmf.rules), installed
 * in /etc/udev/rules.d with the tokens test/system/udev-host.test.ts maps
 * (this host has no NVMe controller: SUBSYSTEM "nvme" -> "net" of a veth the
 * bench creates, /usr/bin/sanhook -> $DIR/bin/hook), and a 69- rules file
 * that imports the real discovery-log-changed AEN's variables (NVME_AEN=
 * 0x70f002, NVME_TR*) into the event, because the kernel passes only
 * alphanumeric synthetic variables. $DIR/bin/hook is switched per event
 * between:
 *   sanhook    #!/bin/sh  SUBSYSTEM=nvme DEVPATH=.../nvme1 (what the veth event
 *              lacks), PATH with a fake nvme first; exec node FLAGS bin/sanhook.js
 *              --root $DIR/root --sysfs $DIR/sys connect --uevent, FLAGS from
 *              the entry's #! line (what /usr/bin/sanhook runs)
 *              (the real CLI, inline as on a host without systemd; the fake
 *              sysfs has the persistent discovery controller nvme1, so the
 *              hook does what it does on a real AEN: get-log, discover
 *              --device nvme1; the log has nothing new to connect);
 *   /bin/true  #!/bin/bash  records its start, then exec /bin/true;
 *   node       #!/bin/sh  exec node FLAGS mark.cjs, whose first statement records
 *              the time: the floor any node program pays on this machine
 *              (sanhook - node = sanhook's own cost).
 * $DIR (temp root, fake sysfs, host NQN) is the tests' sandbox (test/support/sandbox.mjs).
 * The fake nvme (#!/bin/bash) records $EPOCHREALTIME as its first act; the
 * baseline wrapper does the same, so both action starts are "a bash reading
 * the clock" (converted to CLOCK_MONOTONIC with an offset measured here).
 * Events are sequential (each one finished before the next; the paths
 * alternate, so drift in machine load hits both alike).
 *
 * Usage: sudo node bench/udev-latency.mjs [--events N] [--json] [--strict]
 *   --events  events per path (default 200)
 *   --strict  exit 1 when sanhook's action-start p50 is above 80 ms
 * Run through `sudo npm run bench:udev-latency`, which builds dist/ first.
 * A running systemd-udevd is reused; otherwise one is started and stopped.
 * Everything installed (rules, veth) is removed at the end, also on failure.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { HOSTNQN, REPO, Sandbox, shebangFlags, waitFor, within } from '../test/support/sandbox.mjs';
import { ensureUdevd, startNetMonitor } from './lib/udev.mjs';

const TARGET_P50_MS = 80;
const EVENT_TIMEOUT_MS = 15_000;
const SHIPPED = path.join(REPO, 'rules.d/70-sanhook-nvmf.rules');

const { values: args } = parseArgs({
  options: { events: { type: 'string', default: '200' }, json: { type: 'boolean', default: false }, strict: { type: 'boolean', default: false } },
  strict: true,
});
const perPath = Number(args.events);
if (!Number.isInteger(perPath) || perPath < 1) {
  console.error(`udev-latency: --events must be a whole number >= 1, got ${args.events}`);
  process.exit(2);
}

const which = (cmd) => (process.env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin').split(':').map((d) => path.join(d, cmd)).find((p) => existsSync(p));
const UDEVD = ['/lib/systemd/systemd-udevd', '/usr/lib/systemd/systemd-udevd'].find((p) => existsSync(p));
const UDEVADM = which('udevadm');
const IP = which('ip');
const BASH = which('bash');
const missing = [process.getuid?.() === 0 ? '' : 'root', UDEVD && UDEVADM ? '' : 'udev (apt-get install udev)', IP ? '' : 'iproute2', BASH ? '' : 'bash'].filter(Boolean);
if (missing.length) {
  console.error(`udev-latency: needs ${missing.join(', ')}`);
  process.exit(3);
}
if (!existsSync(path.join(REPO, 'dist/bundle/cli.js'))) {
  console.error('udev-latency: dist/ is missing; run `npm run bench:udev-latency` (it builds first)');
  process.exit(3);
}

const ID = randomBytes(3).toString('hex');
const NET = `shb${ID}a`;
const PEER = `shb${ID}b`;
const RULES = `/etc/udev/rules.d/70-sanhook-bench-${ID}.rules`;
const IMPORT_RULES = `/etc/udev/rules.d/69-sanhook-bench-${ID}-import.rules`;
// under /run: udevd's RUN programs must reach it
const box = new Sandbox({ parent: '/run', prefix: 'sanhook-udev-bench-' });
const DIR = box.dir;
const BIN = path.join(DIR, 'bin');
const MARKS = path.join(DIR, 'marks');
const NODE_FLAGS = shebangFlags().join(' ');
const monoMs = () => Number(process.hrtime.bigint()) / 1e6;
const run = (file, argv) => {
  const r = spawnSync(file, argv, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${file} ${argv.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
};

let udevd;
let monitor;
let linkAdded = false;
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  monitor?.kill();
  if (linkAdded) spawnSync(IP, ['link', 'del', NET], { stdio: 'ignore' });
  for (const f of [RULES, IMPORT_RULES]) {
    try {
      unlinkSync(f);
    } catch {}
  }
  if (udevd) spawnSync(UDEVADM, ['control', '--exit', '--timeout=10'], { stdio: 'ignore' });
  else spawnSync(UDEVADM, ['control', '--reload'], { stdio: 'ignore' });
  box.remove();
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => (cleanup(), process.exit(130)));

// ---- the two hook programs and the fake nvme
const DISCOVERY_LOG = JSON.stringify(
  {
    genctr: 4,
    records: [
      { trtype: 'tcp', adrfam: 'ipv4', subtype: 'current discovery subsystem', treq: 'not specified, sq flow control disable supported', portid: 1, trsvcid: '8009', subnqn: 'nqn.2014-08.org.nvmexpress.discovery', traddr: '127.0.0.1', eflags: 'none', sectype: 'none' },
    ],
  },
  null,
  2,
);
function setup() {
  for (const d of [BIN, MARKS]) mkdirSync(d, { recursive: true });
  // the sandbox wrote root/etc/nvme/hostnqn; the persistent discovery controller the AEN came from (real 6.1 attribute formats)
  box.addController('nvme1', { transport: 'tcp', address: 'traddr=127.0.0.1,trsvcid=8009,src_addr=127.0.0.1', subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery', hostnqn: HOSTNQN, cntrltype: 'discovery', state: 'live' });
  writeFileSync(path.join(DIR, 'discovery.json'), `${DISCOVERY_LOG}\n`);
  const script = (name, text) => {
    writeFileSync(path.join(BIN, name), text);
    chmodSync(path.join(BIN, name), 0o755);
  };
  script(
    'nvme',
    `#!${BASH}
# fake nvme for bench/udev-latency: the start time first, then nvme-cli 2.3's answers
printf '%s %s %s\\n' "$SYNTH_ARG_SANHOOKBENCH" "$EPOCHREALTIME" "$1" >> ${MARKS}/nvme
case "$1" in
  get-log) head -c 1024 /dev/zero ;;
  discover) cat ${DIR}/discovery.json ;;
  *) echo "fake nvme: unexpected $1" >&2; exit 1 ;;
esac
`,
  );
  script(
    'hook-sanhook',
    `#!/bin/sh
# what the shipped rule runs, on a veth standing in for nvme1
SUBSYSTEM=nvme DEVPATH=/devices/virtual/nvme-fabrics/ctl/nvme1 PATH=${BIN}:/usr/sbin:/usr/bin:/sbin:/bin
export SUBSYSTEM DEVPATH PATH
exec ${process.execPath} ${box.argv(['connect', '--uevent']).join(' ')} 2>>${DIR}/sanhook.log >>${DIR}/sanhook.out
`,
  );
  script(
    'hook-true',
    `#!${BASH}
printf '%s %s true\\n' "$SYNTH_ARG_SANHOOKBENCH" "$EPOCHREALTIME" >> ${MARKS}/true
exec /bin/true
`,
  );
  writeFileSync(
    path.join(BIN, 'mark.cjs'),
    `require('node:fs').appendFileSync(${JSON.stringify(path.join(MARKS, 'node'))}, \`\${process.env.SYNTH_ARG_SANHOOKBENCH} \${(performance.timeOrigin + performance.now()) / 1000} node\\n\`);\n`,
  );
  script('hook-node', `#!/bin/sh\nexec ${process.execPath} ${NODE_FLAGS} ${path.join(BIN, 'mark.cjs')}\n`);
  symlinkSync(path.join(BIN, 'hook-true'), path.join(BIN, 'hook'));
}
function useHook(which) {
  const tmp = path.join(BIN, `.hook-${which}`);
  symlinkSync(path.join(BIN, `hook-${which}`), tmp);
  renameSync(tmp, path.join(BIN, 'hook'));
}

// ---- udevd, rules, device, monitor
async function startUdev() {
  udevd = await ensureUdevd(UDEVD, UDEVADM);
  const shipped = readFileSync(SHIPPED, 'utf8');
  const mapped = shipped
    .replace(/SUBSYSTEM(==|!=)"([^"]*)"/g, (_m, op, value) => `SUBSYSTEM${op}"${value.split('|').map((s) => (s === 'nvme' ? 'net' : s)).join('|')}"`)
    .replaceAll('/usr/bin/sanhook', path.join(BIN, 'hook'));
  writeFileSync(
    IMPORT_RULES,
    `# sanhook bench/udev-latency (removed at the end): the real AEN's variables for the bench's events
SUBSYSTEM=="net", ENV{SYNTH_ARG_SANHOOKBENCH}=="?*", IMPORT{file}="${DIR}/aen.env"
`,
  );
  // exactly what the kernel puts on the discovery-log-changed AEN of nvme1 (test/fixtures/nvme-cli/uevent-aen.txt)
  writeFileSync(path.join(DIR, 'aen.env'), 'NVME_AEN=0x70f002\nNVME_TRTYPE=tcp\nNVME_TRADDR=127.0.0.1\nNVME_TRSVCID=8009\nNVME_HOST_TRADDR=none\nNVME_HOST_IFACE=none\n');
  // Only the bench's own events may reach the hook: other net devices of this host never carry SANHOOKBENCH.
  writeFileSync(RULES, mapped.replace('SUBSYSTEM!="net|fc", GOTO="sanhook_nvmf_end"', `SUBSYSTEM!="net|fc", GOTO="sanhook_nvmf_end"\nSUBSYSTEM=="net", ENV{SYNTH_ARG_SANHOOKBENCH}!="?*", GOTO="sanhook_nvmf_end"`));
  run(UDEVADM, ['control', '--reload']);
  run(IP, ['link', 'add', NET, 'type', 'veth', 'peer', 'name', PEER]);
  linkAdded = true;
  run(UDEVADM, ['settle', '--timeout=10']);
}

/** The net uevents as `udevadm monitor` receives them (bench/lib/udev-monitor.mjs); resolves once it listens. */
function startMonitor(onBlock) {
  const started = startNetMonitor(UDEVADM, onBlock);
  monitor = started.process;
  return started.ready;
}

/** Realtime minus monotonic, in ms (median of several readings). */
function clockOffset() {
  const samples = Array.from({ length: 15 }, () => {
    const a = monoMs();
    const real = performance.timeOrigin + performance.now();
    const b = monoMs();
    return real - (a + b) / 2;
  }).sort((x, y) => x - y);
  return samples[7];
}

function marks(file) {
  const out = new Map();
  if (!existsSync(path.join(MARKS, file))) return out;
  for (const line of readFileSync(path.join(MARKS, file), 'utf8').split('\n')) {
    const [token, epoch, what] = line.split(' ');
    if (!token) continue;
    const list = out.get(token) ?? [];
    list.push({ realMs: Number(epoch) * 1000, what });
    out.set(token, list);
  }
  return out;
}

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  return { n: s.length, p50: q(50), p99: q(99), max: s.at(-1), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function main() {
  setup();
  await startUdev();
  const pending = new Map(); // token -> { kernel, udev, resolve }
  await startMonitor((block) => {
    const token = block.props.SYNTH_ARG_SANHOOKBENCH;
    const entry = token && pending.get(token);
    if (!entry) return;
    if (block.source === 'KERNEL') entry.kernel = block.ts;
    else {
      entry.udev = block.ts;
      entry.resolve();
    }
  });
  const uevent = `/sys/class/net/${NET}/uevent`;
  const events = [];
  const order = ['sanhook', 'true', 'node'];
  const warmups = order.length * 2; // not counted
  const total = perPath * order.length + warmups;
  for (let i = 0; i < total; i += 1) {
    // rotate the order every round, so no path always follows the same one
    const round = Math.floor(i / order.length);
    const which = order[(i + round) % order.length];
    useHook(which);
    const token = `e${i}`;
    const done = new Promise((resolve) => pending.set(token, { resolve }));
    const written = monoMs();
    writeFileSync(uevent, `change 00000000-0000-4000-8000-${ID.padStart(12, '0')} SANHOOKBENCH=${token}`);
    await within(done, EVENT_TIMEOUT_MS, `udevd to finish event ${token} (${which})`);
    const entry = pending.get(token);
    pending.delete(token);
    if (i >= warmups) events.push({ token, which, written, kernel: entry.kernel, udev: entry.udev });
    if (!args.json && (i + 1) % 50 === 0) process.stderr.write(`  ${i + 1}/${total} events\n`);
  }
  const offset = clockOffset();
  const byPath = { sanhook: marks('nvme'), true: marks('true'), node: marks('node') };
  const problems = [];
  const rows = {};
  for (const which of order) {
    const action = [];
    const done = [];
    for (const e of events.filter((x) => x.which === which)) {
      if (e.kernel === undefined) problems.push(`${e.token}: no KERNEL event seen by udevadm monitor`);
      else if (e.kernel < e.written - 1) problems.push(`${e.token}: KERNEL timestamp before the write (${(e.kernel - e.written).toFixed(2)} ms)`);
      const m = byPath[which].get(e.token) ?? [];
      if (which === 'sanhook' && m.map((x) => x.what).join(',') !== 'get-log,discover') problems.push(`${e.token}: sanhook ran nvme ${m.map((x) => x.what).join(',') || 'never'} (want get-log,discover)`);
      if (which !== 'sanhook' && m.length !== 1) problems.push(`${e.token}: the ${which} path ran ${m.length} times`);
      if (m.length === 0 || e.kernel === undefined) continue;
      action.push(m[0].realMs - offset - e.kernel);
      done.push(e.udev - e.kernel);
    }
    rows[which] = { action: stats(action), done: stats(done) };
  }
  const sanhookOut = existsSync(path.join(DIR, 'sanhook.log')) ? readFileSync(path.join(DIR, 'sanhook.log'), 'utf8') : '';
  const errors = sanhookOut.split('\n').filter((l) => /"level":(40|50|60)/.test(l) || l.startsWith('sanhook:'));
  if (errors.length) problems.push(`sanhook logged warnings/errors:\n${errors.slice(0, 5).join('\n')}`);
  if (problems.length) {
    console.error(`udev-latency: the measured path did not do what it should; no result:\n  ${problems.slice(0, 10).join('\n  ')}`);
    return 1;
  }
  const met = rows.sanhook.action.p50 <= TARGET_P50_MS;
  const result = {
    events_per_path: perPath,
    udevd: udevd ? 'started by the bench' : 'already running',
    target_action_p50_ms: TARGET_P50_MS,
    target_met: met,
    ratio_action_p50: rows.sanhook.action.p50 / rows.true.action.p50,
    sanhook_over_node_p50_ms: rows.sanhook.action.p50 - rows.node.action.p50,
    paths: rows,
  };
  if (args.json) console.log(JSON.stringify(result));
  else {
    const f = (x) => x.toFixed(1).padStart(7);
    console.log(`udev-latency: real uevent -> action start through systemd-udevd (${perPath} events per path, ${result.udevd})`);
    console.log('');
    console.log('path                               | action start: p50     p99     max | udev done: p50     p99     max');
    console.log('-----------------------------------|-----------------------------------|--------------------------------');
    for (const [which, label] of [['true', '/bin/true (baseline)'], ['node', 'node, first statement (floor)'], ['sanhook', 'sanhook connect --uevent (inline)']]) {
      const r = rows[which];
      console.log(`${label.padEnd(35)}|      ${f(r.action.p50)} ${f(r.action.p99)} ${f(r.action.max)} |  ${f(r.done.p50)} ${f(r.done.p99)} ${f(r.done.max)}`);
    }
    console.log('');
    console.log(`ms from the kernel uevent. sanhook / baseline, action start p50: ${result.ratio_action_p50.toFixed(2)}x; sanhook's own cost over a bare node start: ${result.sanhook_over_node_p50_ms.toFixed(1)} ms (p50)`);
    console.log(`target: sanhook action start p50 <= ${TARGET_P50_MS} ms: ${met ? 'MET' : 'MISSED'} (${rows.sanhook.action.p50.toFixed(1)} ms)`);
  }
  return args.strict && !met ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`udev-latency: ${error.message}`);
} finally {
  cleanup();
}
process.exit(code);
