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
 * finds everything connected. Every claim printed is also checked: the demo
 * exits 1 if any invariant fails, so it doubles as a smoke test.
 *
 * Usage: node scripts/demo.mjs [--events N] [--keep]   (npm run demo builds first)
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({ options: { events: { type: 'string', default: '20' }, keep: { type: 'boolean', default: false } }, strict: true });
const EVENTS = Number(args.events);
if (!Number.isInteger(EVENTS) || EVENTS < 10 || EVENTS > 200) {
  console.error('demo: --events must be an integer 10-200');
  process.exit(2);
}
if (!existsSync(path.join(repo, 'dist', 'cli.js'))) {
  console.error('demo: dist/ is missing; run `npm run demo` (it builds first)');
  process.exit(2);
}

const DISCOVER_MS = 300;
const TRADDR = '127.0.0.1';
const TRSVCID = '4420';
const KEY = `nvmf-disc:tcp:${TRADDR}:${TRSVCID}:none:none`;
const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';
const EXCLUDED = 'nqn.2026-11.io.sanhook:subsys3';
const fixture = (name) => readFileSync(path.join(repo, 'test', 'fixtures', 'nvme-cli', name), 'utf8');
const now = () => performance.timeOrigin + performance.now(); // wall clock, as the fake nvme records it
const short = (nqn) => nqn.replace(/^nqn\.2026-11\.io\.sanhook:/, '').replace(DISCOVERY_NQN, 'discovery entry');

// ---------------------------------------------------------------- the fake world
const tmp = mkdtempSync(path.join(os.tmpdir(), 'sanhook-demo-'));
const root = path.join(tmp, 'root');
const sysfs = path.join(tmp, 'sys');
const state = path.join(tmp, 'fake-nvme');
const bin = path.join(tmp, 'bin');
const pendingDir = path.join(root, 'run', 'sanhook', 'pending');

function buildWorld() {
  // /etc/nvme identity and sanhook's config (one excluded subsystem, to show a skip).
  const hostnqn = /hostnqn=(.*)/.exec(fixture('sysfs-discovery-ctrl.txt'))[1];
  const hostid = /hostid=(.*)/.exec(fixture('sysfs-discovery-ctrl.txt'))[1];
  mkdirSync(path.join(root, 'etc', 'nvme'), { recursive: true });
  writeFileSync(path.join(root, 'etc', 'nvme', 'hostnqn'), `${hostnqn}\n`);
  writeFileSync(path.join(root, 'etc', 'nvme', 'hostid'), `${hostid}\n`);
  mkdirSync(path.join(root, 'etc', 'sanhook'), { recursive: true });
  writeFileSync(path.join(root, 'etc', 'sanhook', 'sanhook.yaml'), `# demo\nnvmf:\n  exclude:\n    - subnqn: ${EXCLUDED}\n`);
  // /sys/class/nvme/nvme1: the persistent discovery controller the AENs come from (real attributes).
  const ctrl = path.join(sysfs, 'class', 'nvme', 'nvme1');
  mkdirSync(ctrl, { recursive: true });
  for (const line of fixture('sysfs-discovery-ctrl.txt').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) writeFileSync(path.join(ctrl, line.slice(0, eq)), `${line.slice(eq + 1)}\n`);
  }
  // The discovery log: the real 2-subsystem capture plus a third record, which the config excludes.
  const log = JSON.parse(fixture('discover-2subsys.json'));
  log.records.push({ ...log.records[2], subnqn: EXCLUDED });
  mkdirSync(path.join(state, 'logs'), { recursive: true });
  writeFileSync(path.join(state, 'logs', `tcp_${TRADDR}_${TRSVCID}.json`), `${JSON.stringify(log, null, 2)}\n`);
  // systemd-run must never be reached (no /run/systemd/system in the temp root → inline).
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'systemd-run'), `#!/bin/sh\necho "systemd-run $*" >> '${path.join(tmp, 'systemd-run.called')}'\nexit 1\n`);
  chmodSync(path.join(bin, 'systemd-run'), 0o755);
  // sanhook's run dir (as it would create it), watched below to see the lock protocol's markers.
  mkdirSync(pendingDir, { recursive: true, mode: 0o700 });
  mkdirSync(path.join(root, 'run', 'sanhook', 'locks'), { mode: 0o700 });
  return log;
}

const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SUBSYSTEM|ACTION|DEVPATH|DEVNAME|SEQNUM|NVME_|NVMEFC_|FC_EVENT|SANHOOK_|FAKE_)/.test(k))),
  PATH: [bin, path.join(repo, 'test', 'fakes', 'bin'), process.env.PATH ?? ''].join(path.delimiter),
  FAKE_NVME_STATE: state,
  FAKE_SYSFS: sysfs,
  FAKE_NVME_DISCOVER_MS: String(DISCOVER_MS),
};

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
  const globals = [path.join(repo, 'bin', 'sanhook.js'), '--root', root, '--sysfs', sysfs, '-o', 'json'];
  const argv = kind === 'aen' ? [...globals, 'connect', '--uevent'] : [...globals, 'connect', '-t', 'tcp', '-a', TRADDR, '-s', TRSVCID];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { env: kind === 'aen' ? { ...env, ...aenEnv(seq) } : env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ kind, pid: child.pid, code, signal, stdout, stderr, ended: now() });
    });
  });
}

const jsonLines = (text) =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return { unparsed: l };
      }
    });
const readJsonl = (file) => (existsSync(file) ? jsonLines(readFileSync(file, 'utf8')) : []);

// ---------------------------------------------------------------- checks
const failures = [];
let checks = 0;
function check(ok, what) {
  checks += 1;
  if (!ok) failures.push(what);
  return ok ? 'ok' : 'FAILED';
}

// The pending directory as sanhook's hooks change it (DESIGN §5): '<key>.<pid>.<rand>.tmp' is
// renamed onto '<key>' when hook <pid> records its event; '<key>.taken.<pid>' when holder <pid> takes it.
const markerEvents = [];
let watcher;
function watchPending() {
  watcher = watch(pendingDir, (_type, name) => {
    if (name) markerEvents.push({ t: now(), name: String(name) });
  });
}

async function burst(label, previousCalls) {
  const firstMarker = markerEvents.length;
  const t0 = now();
  const kinds = Array.from({ length: EVENTS }, (_, i) => (i % 3 === 2 ? 'manual' : 'aen'));
  const results = await Promise.all(kinds.map((kind, i) => runHook(kind, 1000 + i)));
  const wall = now() - t0;
  await new Promise((r) => setTimeout(r, 50)); // let the last inotify events arrive
  const calls = readJsonl(path.join(state, 'calls.jsonl')).slice(previousCalls);
  const discovers = calls.filter((c) => c.argv[0] === 'discover').sort((a, b) => a.start - b.start);
  const connects = calls.filter((c) => c.argv[0] === 'connect');
  const ms = (t) => `+${Math.round(t - t0)}`;

  // When each hook recorded its event (last sighting of its temp marker = its rename into place), and takes.
  const recorded = new Map();
  const takes = [];
  let lastRecordSeq = -1;
  let lastTakeSeq = -1;
  const takeSeen = new Map(); // a taken marker appears (rename) then goes (unlink): count every other sighting
  for (const [seq, e] of markerEvents.slice(firstMarker).entries()) {
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
    const items = p.items.filter((i) => i.outcome !== 'queued');
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
  const bad = procs.filter((p) => p.code !== 0);
  const loud = procs.flatMap((p) => [...p.logs.filter((l) => l.unparsed !== undefined || l.level >= 40), ...p.items.filter((i) => i.unparsed !== undefined)]);
  const exitOk = check(bad.length === 0, `${bad.length} hook(s) failed: ${bad.map((p) => `pid ${p.pid} exit ${p.code ?? p.signal}: ${p.stderr.trim().split('\n').pop()}`).join('; ')}`);
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

// ---------------------------------------------------------------- the story
const began = now();
let exitCode = 0;
try {
  const log = buildWorld();
  watchPending();
  console.log('sanhook demo: a SIMULATED NVMe/TCP fabric (no root, no kernel, no network; nothing outside the temp dir is touched)');
  console.log(`  temp root   ${tmp}   (--root ${path.relative(tmp, root)}, --sysfs ${path.relative(tmp, sysfs)})`);
  console.log(`  fake nvme   test/fakes/nvme.mjs on PATH: nvme-cli 2.3 formats, each discovery takes ${DISCOVER_MS} ms`);
  console.log(`  discovery   tcp ${TRADDR}:${TRSVCID}, persistent discovery controller nvme1 in the fake sysfs`);
  console.log(`  log         fixture discover-2subsys.json (${log.records.length - 1} records) + ${short(EXCLUDED)}, excluded in etc/sanhook/sanhook.yaml`);
  console.log('  systemd     none in the temp root, so udev events run inline (no systemd-run hand-off)');

  const first = await burst('burst 1', 0);
  const subsystems = log.records.filter((r) => r.subtype === 'nvme subsystem').map((r) => r.subnqn);
  const wanted = subsystems.filter((s) => s !== EXCLUDED);
  const connectedOnce = wanted.every((s) => first.connects.filter((c) => c.argv.includes(s) && c.exit === 0).length === 1);
  const ioCtrls = readdirSync(path.join(sysfs, 'class', 'nvme')).filter((n) => readFileSync(path.join(sysfs, 'class', 'nvme', n, 'cntrltype'), 'utf8').trim() === 'io');
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
  check(!existsSync(path.join(tmp, 'systemd-run.called')), 'systemd-run was called');
  check(readdirSync(pendingDir).length === 0, 'pending markers left behind');
  check(readdirSync(path.join(root, 'run', 'sanhook', 'locks')).length === 0, 'locks left behind');

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
  if (args.keep || exitCode !== 0) console.log(`(kept ${tmp}: fake-nvme/calls.jsonl, sys/, root/run/sanhook/, burst-*.hooks.json with --keep)`);
  else rmSync(tmp, { recursive: true, force: true });
}
process.exitCode = exitCode;
