#!/usr/bin/env node
/**
 * `npm run demo`: sanhook's connect hook against a SIMULATED NVMe/TCP fabric.
 *
 * No root, no kernel module, no network: a temp directory stands in for /
 * (etc, run) and for /sys, and the fake `nvme` from test/fakes (real
 * nvme-cli 2.3 output formats, discovery slowed to FAKE_NVME_DISCOVER_MS)
 * stands in for nvme-cli and the target. What is real: the `sanhook` binary
 * (bin/sanhook.js + dist/), its locks and pending markers, its processes.
 *
 * Story: a burst of racing events for one discovery address (some as udev
 * discovery-log-changed AENs through `--uevent`, some by hand) → they coalesce
 * into a few non-overlapping discoveries, the last of which starts after the
 * last event; records are connected, or skipped with a reason; a second burst
 * finds everything connected. Then issue 3's story, with a real `sanhook
 * timerd` in the temp root: the kernel gives up on a controller (the demo
 * removes its fake sysfs dir and runs `sanhook lost --uevent` with the remove
 * event's environment, as the udev rules would); timerd retries every
 * nvmf.lost.reconnect-delay seconds until the target is back (subsys1) or
 * until nvmf.lost.ctrl-loss-tmo, when it runs the give-up hook once (subsys2).
 * Last, FCoE (scripts/demo-fcoe.mjs): fcoemon's DCB-gated create, destroy and
 * 0.2 s × n retries, as dcb-check / fcoe-destroy and timerd. Then SRP
 * (scripts/demo-srp.mjs): the timer policy, a target brought back after the
 * kernel deleted its port, and an erase that stays.
 * Every claim printed is also checked: the demo exits 1 if any invariant
 * fails, so it doubles as a smoke test.
 *
 * The temp root, the fakes, the sanhook and timerd processes and the readers of what
 * they record are the integration tests' sandbox (test/support/sandbox.mjs).
 *
 * Usage: node scripts/demo.mjs [--events N] [--keep]   (npm run demo builds first)
 */
import { existsSync, mkdirSync, readdirSync, rmSync, unlinkSync, watch, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { fcoeStory } from './demo-fcoe.mjs';
import { srpStory } from './demo-srp.mjs';
import { discoveryKey, DISCOVERY_NQN, fixture, HOSTNQN, ioKey, now, parseJsonLines, readAttributes, REPO as repo, Sandbox, SUBSYS3, waitFor } from '../test/support/sandbox.mjs';

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '20' }, keep: { type: 'boolean', default: false } }, strict: true });
const EVENTS = Number(args.events);
if (!Number.isInteger(EVENTS) || EVENTS < 10 || EVENTS > 200) {
  console.error('demo: --events must be an integer 10-200');
  process.exit(2);
}
if (!existsSync(path.join(repo, 'dist', 'bundle', 'cli.js'))) {
  console.error('demo: dist/ is missing; run `npm run demo` (it builds first)');
  process.exit(2);
}

const DISCOVER_MS = 300;
const TRADDR = '127.0.0.1';
const TRSVCID = '4420';
const KEY = discoveryKey(TRADDR, TRSVCID);
const EXCLUDED = SUBSYS3;
const LOST_DELAY = 1; // nvmf.lost.reconnect-delay (s) for the timerd story
const LOST_CTRL_LOSS = 6; // nvmf.lost.ctrl-loss-tmo (s)
const short = (nqn) => nqn.replace(/^nqn\.2026-11\.io\.sanhook:/, '').replace(DISCOVERY_NQN, 'discovery entry');

// ---------------------------------------------------------------- the fake world
// The sandbox: root/ (--root), sys/ (--sysfs), state/ (the fake nvme's), the fakes first on PATH.
const box = new Sandbox({ prefix: 'sanhook-demo-', env: { FAKE_NVME_DISCOVER_MS: String(DISCOVER_MS) } });
const tmp = box.dir;

function buildWorld() {
  // /etc/nvme identity (the sandbox wrote the fixture host's hostnqn) and sanhook's config (one excluded subsystem, to show a skip).
  const hostid = /hostid=(.*)/.exec(fixture('sysfs-discovery-ctrl.txt'))[1];
  box.writeRootFile('etc/nvme/hostid', `${hostid}\n`);
  box.writeConfig(`# demo\nnvmf:\n  exclude:\n    - subnqn: ${EXCLUDED}\n  lost:\n    reconnect-delay: ${LOST_DELAY}\n    ctrl-loss-tmo: ${LOST_CTRL_LOSS}\n`);
  // /sys/class/nvme/nvme1: the persistent discovery controller the AENs come from (real attributes).
  box.addController('nvme1', readAttributes('sysfs-discovery-ctrl.txt'));
  // The discovery log: the real 2-subsystem capture plus a third record, which the config excludes.
  const log = JSON.parse(fixture('discover-2subsys.json'));
  log.records.push({ ...log.records[2], subnqn: EXCLUDED });
  box.writeStateFile(`logs/tcp_${TRADDR}_${TRSVCID}.json`, `${JSON.stringify(log, null, 2)}\n`);
  // systemd-run must never be reached (no /run/systemd/system in the temp root → inline): the fake records every call.
  // sanhook's run dir (as it would create it), watched below to see the lock protocol's markers.
  mkdirSync(box.pendingDir, { recursive: true, mode: 0o700 });
  mkdirSync(box.locksDir, { mode: 0o700 });
  return log;
}

// An AEN exactly as the kernel sends it for nvme1 (test/fixtures/nvme-cli/uevent-aen.txt).
const aenEnv = (seq) => ({
  ACTION: 'change',
  DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme1',
  SUBSYSTEM: 'nvme',
  NVME_AEN: '0x70f002',
  DEVNAME: '/dev/nvme1',
  NVME_TRTYPE: 'tcp',
  NVME_TRADDR: TRADDR,
  NVME_TRSVCID: TRSVCID,
  NVME_HOST_TRADDR: 'none',
  NVME_HOST_IFACE: 'none',
  SEQNUM: String(seq),
});

function runHook(kind, seq) {
  const argv = kind === 'aen' ? ['-o', 'json', 'connect', '--uevent'] : ['-o', 'json', 'connect', '-t', 'tcp', '-a', TRADDR, '-s', TRSVCID];
  return sanhook(argv, kind === 'aen' ? aenEnv(seq) : {}, 60_000).then((result) => ({ kind, ...result }));
}

const jsonLines = (text) => parseJsonLines(text, { lenient: true });

// ---------------------------------------------------------------- checks
const failures = [];
let checks = 0;
function check(ok, what) {
  checks += 1;
  if (!ok) failures.push(what);
  return ok ? 'ok' : 'FAILED';
}

// The pending directory as sanhook's hooks change it (DESIGN §5): '<key>#<verb>.<pid>.<rand>.tmp' is
// renamed onto '<key>#<verb>' when hook <pid> records its event; '<key>#<verb>.taken.<pid>' when holder <pid> takes it.
const markerEvents = [];
let watcher;
function watchPending() {
  watcher = watch(box.pendingDir, (_type, name) => {
    if (name) markerEvents.push({ t: now(), name: String(name) });
  });
}

/** Waits until the watcher has delivered every event so far: inotify reports in order, so a sentinel's event comes last. */
let syncs = 0;
async function watcherCaughtUp() {
  const name = `demo-sync-${(syncs += 1)}`;
  writeFileSync(path.join(box.pendingDir, name), '');
  unlinkSync(path.join(box.pendingDir, name));
  await waitFor('the pending-dir watcher to catch up', () => markerEvents.some((e) => e.name === name), { timeoutMs: 10_000 });
}

async function burst(label, previousCalls) {
  const firstMarker = markerEvents.length;
  const t0 = now();
  const kinds = Array.from({ length: EVENTS }, (_, i) => (i % 3 === 2 ? 'manual' : 'aen'));
  const results = await Promise.all(kinds.map((kind, i) => runHook(kind, 1000 + i)));
  const wall = now() - t0;
  await watcherCaughtUp();
  const calls = box.calls().slice(previousCalls);
  const discovers = calls.filter((c) => c.argv[0] === 'discover').sort((a, b) => a.start - b.start);
  const connects = calls.filter((c) => c.argv[0] === 'connect');
  const ms = (t) => `+${Math.round(t - t0)}`;

  // When each hook recorded its event (last sighting of its temp marker = its rename into place), and takes.
  const recorded = new Map();
  const takes = [];
  let lastRecordSeq = -1;
  let lastTakeSeq = -1;
  const takeSeen = new Map(); // a taken marker appears (rename) then goes (unlink): count every other sighting
  // Only the discovery address's markers (pending/<key>#connect...): each path a round connects
  // has markers of its own (#attach), for the path's lock (hooks/nvmf/attach.ts).
  for (const [seq, e] of markerEvents.slice(firstMarker).entries()) {
    if (!e.name.includes('#connect')) continue;
    const tmpMatch = /\.([0-9]+)\.[a-z0-9]+\.tmp$/.exec(e.name);
    if (tmpMatch) {
      recorded.set(Number(tmpMatch[1]), e.t);
      lastRecordSeq = seq;
    }
    const takeMatch = /\.taken\.([0-9]+)$/.exec(e.name);
    if (takeMatch) {
      const n = (takeSeen.get(e.name) ?? 0) + 1;
      takeSeen.set(e.name, n);
      if (n % 2 === 1) {
        takes.push({ t: e.t, pid: Number(takeMatch[1]) });
        lastTakeSeq = seq;
      }
    }
  }

  // Per-process report items (stdout, -o json) and log records (stderr, pino).
  const procs = results.map((r) => ({ ...r, items: jsonLines(r.stdout), logs: jsonLines(r.stderr) }));
  if (args.keep) writeFileSync(path.join(tmp, `${label.split(' ').slice(0, 2).join('-')}.hooks.json`), `${JSON.stringify(procs, null, 1)}\n`);
  const holders = procs.filter((p) => p.items.some((i) => i.outcome !== 'queued'));
  const queued = procs.filter((p) => p.items.length > 0 && p.items.every((i) => i.outcome === 'queued'));
  // Discovery rounds in time order: a holder logs 'discovery round finished' per round and reports one item per record.
  const rounds = [];
  for (const p of holders) {
    const finished = p.logs.filter((l) => l.msg === 'discovery round finished');
    // the ownership registry's claims (claimed / not-claimed) ride along with a connect; they are not records
    const items = p.items.filter((i) => i.outcome !== 'queued' && !/claim/.test(String(i.outcome)));
    let offset = 0;
    for (const l of finished) {
      rounds.push({ pid: p.pid, at: Date.parse(l.time), items: items.slice(offset, offset + l.records) });
      offset += l.records;
    }
    if (offset !== items.length) failures.push(`pid ${p.pid}: report items do not match its discovery rounds`);
  }
  rounds.sort((a, b) => a.at - b.at);

  console.log(`\n${label}: ${EVENTS} racing events for ${KEY}, all spawned at once`);
  const aen = kinds.filter((k) => k === 'aen').length;
  console.log(`  fired       ${aen} × udev AEN   sanhook connect --uevent  (SUBSYSTEM=nvme ACTION=change NVME_AEN=0x70f002 DEVNAME=/dev/nvme1 ...)`);
  console.log(`              ${EVENTS - aen} × by hand    sanhook connect -t tcp -a ${TRADDR} -s ${TRSVCID}`);
  const bad = procs.filter((p) => p.exitCode !== 0);
  const loud = procs.flatMap((p) => [...p.logs.filter((l) => l.unparsed !== undefined || l.level >= 40), ...p.items.filter((i) => i.unparsed !== undefined)]);
  const exitOk = check(bad.length === 0, `${bad.length} hook(s) failed: ${bad.map((p) => `pid ${p.pid} exit ${p.exitCode ?? p.signal}: ${p.stderr.trim().split('\n').pop()}`).join('; ')}`);
  const silent = procs.filter((p) => p.items.length === 0).length;
  console.log(`  processes   ${procs.length} ran in ${(wall / 1000).toFixed(1)} s, all exit 0: ${exitOk}`);
  console.log(
    `              ${holders.length} held the lock and ran discovery, ${queued.length} queued their event for the holder (report: queued)` +
      (silent ? `, ${silent} got the lock after a holder had taken its event (no report line)` : ''),
  );
  check(loud.length === 0, `warnings/errors or non-JSON output: ${loud.map((l) => l.msg ?? l.unparsed).join('; ')}`);
  check(holders.length + queued.length + silent === procs.length, 'a hook reported both queued and results');
  const overlaps = discovers.filter((d, i) => d.overlap || (i > 0 && d.start < discovers[i - 1].end));
  const coalesced = check(discovers.length >= 1 && discovers.length < EVENTS, `expected 1..${EVENTS - 1} discoveries, saw ${discovers.length}`);
  console.log(`  discoveries ${discovers.length} \`nvme discover\` for ${EVENTS} events (coalesced: ${coalesced}), none overlapping: ${check(overlaps.length === 0, `${overlaps.length} overlapping discoveries`)}`);
  check(rounds.length === discovers.length, `${rounds.length} reported rounds vs ${discovers.length} discover calls`);
  check(discovers.every((d, n) => d.ppid === undefined || d.ppid === rounds[n]?.pid), 'a discovery was not run by the holder that reported it');

  const missing = procs.filter((p) => !recorded.has(p.pid)).length;
  check(missing === 0, `${missing} hook(s) recorded no pending marker (or inotify missed it)`);
  const lastRecorded = Math.max(...recorded.values());
  const lastDiscovery = discovers.at(-1);
  console.log(`  timeline    ms since the burst; '+' event recorded (pending marker), 't' holder took the marker, '#n' discovery n`);
  const marks = [
    ...[...recorded.values()].map((t) => ({ t, c: '+' })),
    ...takes.map((x) => ({ t: x.t, c: 't' })),
    ...discovers.map((d, n) => ({ t: d.start, c: ` #${n + 1}@${ms(d.start)} ` })),
  ].sort((a, b) => a.t - b.t);
  console.log(`              ${marks[0] ? `${ms(marks[0].t)} ms: ` : ''}${marks.map((m) => m.c).join('').trim()}`);
  // Exact (kernel order of inotify events): a holder took the marker after the last event was recorded,
  // and every take ran one discovery round. Then by the clock: the last discovery started after it.
  check(lastTakeSeq > lastRecordSeq, 'no holder took the pending marker after the last event');
  check(takes.length === rounds.length, `${takes.length} marker takes vs ${rounds.length} discovery rounds`);
  const after = check(lastDiscovery !== undefined && lastDiscovery.start > lastRecorded, 'the last event was not followed by a discovery');
  console.log(`  last event  recorded at ${ms(lastRecorded)} ms; last discovery started at ${lastDiscovery ? ms(lastDiscovery.start) : '-'} ms, after it: ${after}`);
  console.log(`  rounds      ${'#'.padEnd(3)}${'discover ms'.padEnd(14)}${'holder'.padEnd(8)}${rounds[0]?.items.map((i) => short(i.subnqn).padEnd(19)).join('').trimEnd() ?? ''}`);
  rounds.forEach((r, n) => {
    const d = discovers[n];
    const cells = r.items.map((i) => (i.outcome === 'connected' ? `connected ${i.device ?? ''}` : i.outcome === 'skipped' ? i.reason : i.outcome).padEnd(19)).join('');
    console.log(`              ${String(n + 1).padEnd(3)}${(d ? `${ms(d.start)}→${ms(d.end)}` : '?').padEnd(14)}${String(r.pid).padEnd(8)}${cells.trimEnd()}`);
  });
  return { calls, connects, rounds };
}

// ---------------------------------------------------------------- issue 3: after the kernel gives up (timerd)
const secs = (ms) => `+${(ms / 1000).toFixed(1)} s`;
const ioKeyOf = (nqn) => ioKey(TRADDR, nqn, TRSVCID);

/** One sanhook command (after the global --root/--sysfs): its pid, exit code, output and end time. */
const sanhook = (argv, extraEnv = {}, timeoutMs = 30_000) => box.run(argv, { env: extraEnv, timeoutMs });

/** Polls until `check` holds; on timeout resolves with undefined (a failed check, not an abort). */
const until = (what, check, timeoutMs) => waitFor(what, check, { timeoutMs }).catch(() => undefined);

/** `sanhook timerd` in the temp root (a TimerdProcess: its log records, ready(), stop()). */
let timerd;
async function startTimerd() {
  timerd = box.startTimerd();
  return timerd.ready({ timeoutMs: 10_000 }).then(
    () => true,
    () => false,
  );
}
const timerdLog = (msg, key, fields = {}) => timerd.logs(msg, { key, ...fields });

/** `nvme connect` calls for nqn that started after `since` (the bursts connected it once before). */
const connectCalls = (nqn, since) =>
  box
    .nvmeCalls('connect')
    .filter((c) => c.argv.includes(nqn) && c.start > since)
    .sort((a, b) => a.start - b.start);
const ioController = (nqn) => box.controllers().find((c) => c.subsysnqn === nqn && c.cntrltype === 'io' && c.state === 'live')?.name;
const setFailConnect = (nqns) => box.failConnects(nqns);
const timersJson = async () => {
  const { result, items } = await box.runJson(['timers']);
  return { ...result, items };
};

/** The kernel gives up on nqn's controller: its sysfs dir goes, udev runs `sanhook lost --uevent`. */
async function loseController(nqn, seq, down) {
  const device = ioController(nqn);
  if (!device) throw new Error(`no live I/O controller for ${nqn} in the fake sysfs`);
  setFailConnect(down);
  rmSync(path.join(box.sysfs, 'class', 'nvme', device), { recursive: true });
  // The remove uevent as the kernel sends it (test/fixtures/nvme-cli/uevent-remove.txt), plus
  // the SANHOOK_* properties udev reads back from its database for the rules' `lost` RUN.
  const ueventEnv = {
    SUBSYSTEM: 'nvme',
    ACTION: 'remove',
    DEVPATH: `/devices/virtual/nvme-fabrics/ctl/${device}`,
    DEVNAME: `/dev/${device}`,
    NVME_TRTYPE: 'tcp',
    NVME_TRADDR: TRADDR,
    NVME_TRSVCID: TRSVCID,
    NVME_HOST_TRADDR: 'none',
    NVME_HOST_IFACE: 'none',
    SEQNUM: String(seq),
    SANHOOK_SUBNQN: nqn,
    SANHOOK_CNTRLTYPE: 'io',
    SANHOOK_HOSTNQN: HOSTNQN, // the sandbox's etc/nvme/hostnqn
  };
  const lostAt = now();
  const r = await sanhook(['lost', '--uevent'], ueventEnv);
  console.log(`  kernel      gave up on ${device} (its fake sysfs dir removed); target down (fake nvme: ${short(nqn)} fails to connect)`);
  console.log(`  udev        remove → sanhook lost --uevent  SUBSYSTEM=nvme ACTION=remove DEVPATH=${ueventEnv.DEVPATH} NVME_TRTYPE=tcp ... SANHOOK_SUBNQN=…:${short(nqn)} SANHOOK_CNTRLTYPE=io`);
  const armed = check(r.exitCode === 0 && /^armed\s/.test(r.stdout), `sanhook lost --uevent for ${short(nqn)}: exit ${r.exitCode ?? r.signal}: ${(r.stdout + r.stderr).trim()}`);
  console.log(`              exit ${r.exitCode}: ${armed}  │ ${r.stdout.trim()}`);
  return { device, lostAt, giveUpAt: Date.parse(/give up (\S+)\)/.exec(r.stdout)?.[1] ?? '') };
}

/** Attempt times (s since the loss) and whether attempt n started ≥ delay after attempt n-1 ended. */
function attemptTimes(calls, lostAt) {
  const spaced = calls.every((c, i) => c.start - (i === 0 ? lostAt : calls[i - 1].end) >= LOST_DELAY * 1000 - 20 && c.start - (i === 0 ? lostAt : calls[i - 1].end) <= LOST_DELAY * 1000 + 1500);
  return { spaced, text: calls.map((c) => secs(c.start - lostAt).slice(1, -2)).join(', ') };
}

/** The durable table as a restarted timerd would load it: timers.json, then timers.journal if its gen matches. */
const durableTable = () => box.table({ missingOk: true });

async function timerdStory(back, gone) {
  console.log(`\nissue 3: after the kernel gives up, sanhook timerd brings the path back (SIMULATED kernel: the demo removes the fake sysfs dir)`);
  const up = await startTimerd();
  console.log(`  timerd      sanhook timerd (pid ${timerd.pid}) on ${path.relative(tmp, box.socketPath)}, running: ${check(Boolean(up), `timerd did not start: ${timerd.stderr.trim().split('\n').pop()}`)}`);
  console.log(`              etc/sanhook/sanhook.yaml nvmf.lost: reconnect-delay ${LOST_DELAY}, ctrl-loss-tmo ${LOST_CTRL_LOSS} (s); its hooks use the same fake nvme`);
  console.log('  note        the remove event arrives at once here; on a real host the kernel sends it when its own ctrl_loss_tmo');
  console.log('              expires, and rules.d/70-sanhook-nvmf.rules runs `sanhook lost --uevent` with this environment');
  if (!up) return;

  // ---- target lost, then back
  console.log(`\ntarget lost, then back: ${short(back)}`);
  const one = await loseController(back, 2001, [back]);
  const key1 = ioKeyOf(back);
  const list = await sanhook(['timers']);
  console.log('  $ sanhook timers');
  for (const line of list.stdout.trim().split('\n')) console.log(`              ${line}`);
  check(list.exitCode === 0 && list.stdout.includes(key1), `sanhook timers does not list ${key1}: ${list.stdout}${list.stderr}`);
  const FAILS = 3;
  await until(`${FAILS} failed attempts`, () => connectCalls(back, one.lostAt).length >= FAILS, (LOST_DELAY + 2) * 1000 * FAILS + 2000);
  setFailConnect([]);
  const backAt = now();
  const failed = connectCalls(back, one.lostAt);
  const fails = attemptTimes(failed, one.lostAt);
  console.log(
    `  attempts    nvme connect failed at ${fails.text} s after the loss (each ≥ ${LOST_DELAY} s after the previous ended): ` +
      check(failed.length === FAILS && failed.every((c) => c.exit === 1) && fails.spaced, `expected ${FAILS} failed attempts ~${LOST_DELAY} s apart: ${JSON.stringify(failed.map((c) => [Math.round(c.start - one.lostAt), c.exit]))}`),
  );
  console.log(`  target back at ${secs(backAt - one.lostAt).slice(1)} (fail-connect cleared)`);
  const disarmed = await until('"timer reconnected"', () => timerdLog('timer reconnected', key1).length > 0, (LOST_DELAY + 5) * 1000);
  const success = connectCalls(back, backAt).find((c) => c.exit === 0);
  const device = ioController(back);
  const took = success ? success.end - backAt : Infinity;
  console.log(
    `  reconnected ${device ?? '(none)'} live in the fake sysfs ${success ? secs(took).slice(1) : '?'} after the target came back (≤ delay ${LOST_DELAY} s + 2 s): ` +
      check(Boolean(device) && success !== undefined && took <= LOST_DELAY * 1000 + 2000, `${short(back)} not reconnected within ${LOST_DELAY} s + 2 s of the target coming back (${Math.round(took)} ms; device ${device})`),
  );
  const after1 = await timersJson();
  console.log(
    `  timerd      disarmed it (log "timer reconnected"), \`sanhook timers -o json\` has no entry for the key: ` +
      check(Boolean(disarmed) && after1.exitCode === 0 && !after1.items.some((i) => i.key === key1), `timer for ${key1} still armed: ${after1.stdout}${after1.stderr}`),
  );

  // ---- target stays gone
  console.log(`\ntarget stays gone: ${short(gone)}`);
  const two = await loseController(gone, 2002, [gone]);
  const key2 = ioKeyOf(gone);
  const lostLog = await until('"timer lost"', () => timerdLog('timer lost', key2)[0], (LOST_CTRL_LOSS + 5) * 1000);
  const lossFired = timerdLog('event fired', key2, { event: 'loss' });
  const lossAt = lossFired[0] ? Date.parse(lossFired[0].time) : NaN;
  await sleep((LOST_DELAY + 0.5) * 1000); // would timerd try again after the loss? (a window to see nothing happen, not an ordering)
  const tries = connectCalls(gone, two.lostAt);
  const spaced = attemptTimes(tries, two.lostAt);
  const reconnectEvents = timerdLog('event fired', key2, { event: 'reconnect' });
  console.log(
    `  attempts    ${tries.length} × nvme connect, all failed, at ${spaced.text} s after the loss (each ≥ ${LOST_DELAY} s after the previous ended): ` +
      check(tries.length >= 3 && tries.length === reconnectEvents.length && tries.every((c) => c.exit === 1) && spaced.spaced, `attempts for ${short(gone)}: ${JSON.stringify(tries.map((c) => [Math.round(c.start - two.lostAt), c.exit]))}, ${reconnectEvents.length} reconnect events`),
  );
  const giveUpRun = timerdLog('hook finished', key2, { hook: 'give-up' });
  const giveUpText = (giveUpRun[0]?.stdout ?? '').replace(`${key2}: `, '');
  const sinceLoss = lossAt - two.lostAt;
  const deadline = two.giveUpAt; // armedAt + ctrl-loss-tmo, as timerd replied to the arm
  const sinceArm = lossAt - (deadline - LOST_CTRL_LOSS * 1000);
  console.log(
    `  give-up     loss event ${secs(sinceLoss).slice(1)} after the loss, ${secs(sinceArm).slice(1)} after timerd armed it (ctrl-loss-tmo ${LOST_CTRL_LOSS} s); give-up hook ran once: ` +
      check(
        Boolean(lostLog) && lossFired.length === 1 && giveUpRun.length === 1 && giveUpRun[0].exit_code === 0 && lossAt >= deadline && lossAt <= deadline + 2000,
        `give-up for ${short(gone)}: ${lossFired.length} loss events, ${giveUpRun.length} give-up runs, ${Math.round(sinceArm)} ms after the arm`,
      ),
  );
  console.log(`              │ ${giveUpText}`);
  const afterLoss = connectCalls(gone, lossAt);
  const after2 = await timersJson();
  console.log(
    `  after       no nvme connect for ${short(gone)} after the loss: ${check(afterLoss.length === 0, `${afterLoss.length} nvme connect for ${short(gone)} after the loss`)}` +
      `; timerd's table is empty (\`sanhook timers -o json\`: ${after2.items.map((i) => i.outcome).join(', ')}): ${check(after2.exitCode === 0 && after2.items.length === 1 && after2.items[0].outcome === 'empty', `timers after give-up: ${after2.stdout}${after2.stderr}`)}`,
  );
  check(!ioController(gone), `${short(gone)} came back although its target stayed down`);
}

async function stopTimerd() {
  if (!timerd || timerd.exit) return;
  const journal = durableTable().journalOps;
  const exit = await timerd.stop('SIGTERM', 10_000).catch(() => undefined);
  const disk = durableTable();
  console.log(
    `  stop        SIGTERM → timerd exit ${exit ? (exit.exitCode ?? exit.signal) : '(still running)'}: ${check(exit?.exitCode === 0, `timerd did not exit 0 on SIGTERM: ${JSON.stringify(exit && { code: exit.exitCode, signal: exit.signal })}`)}` +
      `; socket removed: ${check(!existsSync(box.socketPath), `${box.socketPath} left behind`)}` +
      `; on disk (timers.json ${disk.snapshotEntries} entries + ${journal} journal ops replayed) no timers: ${check(disk.snapshotEntries === 0 && disk.entries.size === 0 && journal > 0, `durable table after SIGTERM: ${[...disk.entries.keys()].join(', ')}`)}`,
  );
}

// ---------------------------------------------------------------- the story
const began = now();
let exitCode = 0;
try {
  const log = buildWorld();
  watchPending();
  console.log('sanhook demo: a SIMULATED NVMe/TCP fabric (no root, no kernel, no network; nothing outside the temp dir is touched)');
  console.log(`  temp root   ${tmp}   (--root ${path.relative(tmp, box.root)}, --sysfs ${path.relative(tmp, box.sysfs)})`);
  console.log(`  fake nvme   test/fakes/nvme.mjs on PATH: nvme-cli 2.3 formats, each discovery takes ${DISCOVER_MS} ms`);
  console.log(`  discovery   tcp ${TRADDR}:${TRSVCID}, persistent discovery controller nvme1 in the fake sysfs`);
  console.log(`  log         fixture discover-2subsys.json (${log.records.length - 1} records) + ${short(EXCLUDED)}, excluded in etc/sanhook/sanhook.yaml`);
  console.log('  systemd     none in the temp root, so udev events run inline (no systemd-run hand-off)');

  const first = await burst('burst 1', 0);
  const subsystems = log.records.filter((r) => r.subtype === 'nvme subsystem').map((r) => r.subnqn);
  const wanted = subsystems.filter((s) => s !== EXCLUDED);
  const connectedOnce = wanted.every((s) => first.connects.filter((c) => c.argv.includes(s) && c.exit === 0).length === 1);
  const ioCtrls = box.controllers().filter((c) => c.cntrltype === 'io');
  console.log(
    `  result      ${wanted.map(short).join(', ')} connected exactly once: ${check(connectedOnce && first.connects.length === wanted.length, `nvme connect calls: ${first.connects.map((c) => `${c.argv[c.argv.indexOf('--nqn') + 1]} exit ${c.exit}`).join(', ')}`)}` +
      `; ${short(EXCLUDED)} never: ${check(!first.connects.some((c) => c.argv.includes(EXCLUDED)), 'the excluded subsystem was connected')}` +
      `; fake sysfs has ${ioCtrls.length} I/O controllers: ${check(ioCtrls.length === wanted.length, `expected ${wanted.length} I/O controllers`)}`,
  );
  const reasons = new Set(first.rounds.flatMap((r) => r.items.filter((i) => i.outcome === 'skipped').map((i) => `${short(i.subnqn)}: ${i.reason}`)));
  check(reasons.has(`${short(EXCLUDED)}: excluded`) && reasons.has('discovery entry: discovery-entry'), 'expected skips (excluded, discovery-entry) missing');

  const second = await burst('burst 2 (everything already connected)', first.calls.length);
  const items = second.rounds.flatMap((r) => r.items);
  const allSkipped = items.length > 0 && items.every((i) => i.outcome === 'skipped');
  const alreadyFor = wanted.every((s) => items.some((i) => i.subnqn === s && i.reason === 'already-connected'));
  console.log(
    `  result      no \`nvme connect\` ran: ${check(second.connects.length === 0, `${second.connects.length} nvme connect calls in burst 2`)}` +
      `; every record skipped: ${check(allSkipped, 'a record was not skipped in burst 2')}` +
      `; ${wanted.map(short).join(', ')} as already-connected: ${check(alreadyFor, 'already-connected skips missing')}`,
  );
  check(box.systemdRunCalls().length === 0, 'systemd-run was called');
  check(readdirSync(box.pendingDir).length === 0, 'pending markers left behind');
  check(readdirSync(box.locksDir).length === 0, 'locks left behind');

  await timerdStory(wanted[0], wanted[1]);
  await stopTimerd();
  check(readdirSync(box.pendingDir).length === 0, 'pending markers left behind by timerd hooks');
  check(readdirSync(box.locksDir).length === 0, 'locks left behind by timerd hooks');

  await fcoeStory(check);
  await srpStory(check);

  console.log(`\n${checks - failures.length}/${checks} invariants hold; ${((now() - began) / 1000).toFixed(1)} s`);
  if (failures.length > 0) {
    for (const f of failures) console.log(`  FAILED: ${f}`);
    exitCode = 1;
  }
} catch (error) {
  console.error(`demo: ${error.stack ?? error}`);
  exitCode = 1;
} finally {
  watcher?.close();
  const keep = args.keep || exitCode !== 0;
  await box.cleanup({ keep }); // kills what still runs (timerd after a failure)
  if (timerd && keep) writeFileSync(path.join(tmp, 'timerd.log'), timerd.proc.stdout + timerd.stderr);
  if (keep) console.log(`(kept ${tmp}: state/calls.jsonl, sys/, root/run/sanhook/, root/var/lib/sanhook/, timerd.log; burst-*.hooks.json with --keep)`);
}
process.exitCode = exitCode;
