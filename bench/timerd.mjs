#!/usr/bin/env node
/**
 * timerd under load, against its targets (DESIGN.md §6), in one run (~80 s):
 *
 *   durable arms/s     10,000 distinct far-future arms (delay 3600) from K
 *                      concurrent clients (one connection each, one request
 *                      in flight each); then one sequential client re-arming
 *                      existing keys (replaces: the table stays at 10,000)
 *   RSS                VmRSS of timerd holding 10,000 timers: 1 s after the
 *                      arm burst (info) and in the steady state after a
 *                      reload and 42 s idle (target), split anon + file
 *   reload             SIGTERM, restart (3x): the "timer table loaded"
 *                      line's duration_ms, and spawn -> first ping answered
 *   idle wake-ups      context switches of every timerd thread
 *                      (/proc/<pid>/task/* /status), sampled each second for
 *                      40 s with nothing due; the target is on the last 10 s
 *   lateness           1,000 arms sent 1 ms apart, due 1..10 s later (~100
 *                      events/s over 10 s), late_ms from timerd's "event
 *                      fired" lines; the same at ~10 events/s (info); the
 *                      baseline is bare `setTimeout` in a fresh node for the
 *                      same schedule (run during the idle phase)
 *
 * timerd runs the real program (`node bin/sanhook.js ... timerd`) in the tests'
 * sandbox (test/support/sandbox.mjs: temp root, socket client, readiness by ping)
 * whose state dir is on os.tmpdir() (or --dir): the file system type is
 * printed, because fsync on tmpfs costs nothing and flatters arms/s. Hooks are
 * a `#!/bin/sh` script that exits 0 (a reconnect that succeeds: the entry is
 * removed after one event).
 *
 * Exit status: 0 when the bench ran (a missed target prints MISSED, it is not
 * an error); 1 when the harness failed (timerd died, a reply was not ok,
 * counts do not add up, a phase timed out); 2 on bad usage.
 *
 * Usage: node bench/timerd.mjs [--json] [--clients K] [--dir PARENT] [--keep] [--node-flags FLAGS]
 *   --node-flags   flags for timerd's node only (not its hooks); default "--jitless", as
 *                  sanhook-timerd.service runs it; --node-flags= (empty) for the JIT,
 *                  "--jitless --trace-gc" (its output lands in the kept log with --keep)
 * Run through `npm run bench:timerd`, which builds dist/ first.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { cleanEnv, logRecords, REPO, runProcess, Sandbox, TimerdClient, timerdRequest, waitForPing } from '../test/support/sandbox.mjs';

const TABLE_SIZE = 10_000;
const SEQUENTIAL_MAX = 2_000;
const SEQUENTIAL_MAX_MS = 3_000;
const RELOAD_ROUNDS = 3;
const IDLE_SETTLE_MS = 2_000;
const IDLE_WINDOW_MS = 10_000;
const IDLE_OBSERVE_MS = 40_000;
const LATE_COUNT = 1_000;
const LATE_ARM_SPREAD_MS = 1_000;
const LATE_SLOW_COUNT = 100;
const PENDING_GRACE_MS = 45_000;
const CLOCK_TICKS = 100; // USER_HZ on every Linux architecture node supports
const MAX_CONCURRENT = 64;
const WATCHDOG_MS = 150_000;

const TARGETS = {
  armsPerSecond: 1_000,
  rssMiB: 60,
  loadMs: 300,
  idleWakeups: 0,
  lateP99Ms: 10,
};

let args;
try {
  ({ values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    clients: { type: 'string', default: '32' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    // what /usr/bin/sanhook runs (bin/sanhook.js's #! line: node --jitless), as the units start it
    'node-flags': { type: 'string', default: '--jitless' },
  },
  strict: true,
}));
} catch (error) {
  console.error(`timerd bench: ${error.message.split('\n')[0]} (flags for node: --node-flags="--flag ...")`);
  process.exit(2);
}
const K = Number(args.clients);
const nodeFlags = args['node-flags'].split(/\s+/).filter(Boolean);
if (nodeFlags.some((f) => !f.startsWith('--'))) usage('--node-flags takes node/V8 flags (--...) only');
if (!Number.isInteger(K) || K < 1 || K > 1024) usage('--clients must be an integer 1..1024');
if (!existsSync(path.join(REPO, 'dist', 'bundle', 'cli.js'))) usage('dist/bundle/cli.js is missing; run `npm run bench:timerd` (it builds first)');
if (process.platform !== 'linux') usage('needs Linux (/proc/<pid>/status, /proc/<pid>/task)');

function usage(message) {
  console.error(`bench/timerd: ${message}`);
  process.exit(2);
}

class HarnessError extends Error {}
const check = (condition, message) => {
  if (!condition) throw new HarnessError(message);
};

// ---------------------------------------------------------------- setup

const box = new Sandbox({ prefix: 'sanhook-timerd-bench-', parent: args.dir ? path.resolve(args.dir) : os.tmpdir() });
const root = box.dir;
const logPath = path.join(root, 'timerd.log');
const hookPath = path.join(root, 'fake-hook');
mkdirSync(box.stateDir, { recursive: true, mode: 0o700 });
writeFileSync(hookPath, '#!/bin/sh\nexit 0\n');
chmodSync(hookPath, 0o755);

const FS_TYPES = { 0xef53: 'ext2/3/4', 0x01021994: 'tmpfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x2fc12fc1: 'zfs', 0x794c7630: 'overlayfs', 0x65735546: 'fuse' };
const fsMagic = statfsSync(root).type;
const fsType = FS_TYPES[fsMagic] ?? `0x${fsMagic.toString(16)}`;

let daemon; // a TimerdProcess (pid, exit, proc.spawnedAt)

function startTimerd() {
  daemon = box.startTimerd({
    args: ['--sanhook-bin', hookPath, '--max-concurrent', String(MAX_CONCURRENT)],
    nodeFlags,
    // stderr to a file, never a pipe: a slow reader must not block timerd's synchronous log writes.
    stderrFile: logPath,
  });
  return daemon;
}

function alive() {
  if (daemon.exit) throw new HarnessError(`timerd exited unexpectedly (${JSON.stringify(daemon.exit)}); log: ${logPath}\n${tailLog()}`);
}

function tailLog() {
  try {
    return readFileSync(logPath, 'utf8').trim().split('\n').slice(-8).join('\n');
  } catch {
    return '';
  }
}

async function stopTimerd() {
  const d = daemon;
  if (!d || d.exit) return d?.exit;
  const result = await d.stop('SIGTERM', 10_000).catch(() => undefined);
  if (!result) {
    d.proc.kill('SIGKILL');
    throw new HarnessError('timerd did not stop within 10 s of SIGTERM');
  }
  check(result.exitCode === 0, `timerd exited with ${JSON.stringify(d.exit)} after SIGTERM`);
  return d.exit;
}

/** Every timerd's records so far (all runs append to one log). */
const readLog = () => logRecords(readFileSync(logPath, 'utf8'));

// ---------------------------------------------------------------- client (the sandbox's: one NDJSON connection, replies in request order)

const once = (message) => timerdRequest(box.socketPath, message);

/** Polls (every 2 ms) until timerd answers ping; returns the time it first did. */
function pinged(timeoutMs) {
  return waitForPing(box.socketPath, { timeoutMs, everyMs: 2, alive }).catch((error) => {
    if (error instanceof HarnessError) throw error;
    throw new HarnessError(`timerd did not answer ping within ${timeoutMs} ms`);
  });
}

const params = (name) => ({ transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', nqn: `nqn.2026-11.io.sanhook:${name}` });
const armRequest = (name, delay, extra = {}) => ({ op: 'arm', hook: 'reconnect', lossHook: 'give-up', params: params(name), delay, growth: 'fixed', lossSeconds: 600, lossAttempts: 0, ...extra });

/** Sends `requests` over `k` connections, each keeping one request in flight; returns replies in input order. */
async function closedLoop(requests, k, sendAt) {
  const connections = await Promise.all(Array.from({ length: Math.min(k, requests.length) }, () => TimerdClient.connect(box.socketPath)));
  const replies = new Array(requests.length);
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    connections.map(async (connection) => {
      while (next < requests.length) {
        const i = next++;
        if (sendAt) {
          const wait = sendAt(i) - Date.now();
          if (wait > 0) await sleep(wait);
        }
        replies[i] = await connection.request(requests[i]);
        if (!replies[i].ok) throw new HarnessError(`request ${i} failed: ${JSON.stringify(replies[i])}`);
      }
    }),
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await Promise.all(connections.map((c) => c.close()));
  return { replies, ms };
}

// ---------------------------------------------------------------- /proc

function procStatus(file) {
  const fields = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}

function memory(pid) {
  const s = procStatus(`/proc/${pid}/status`);
  const kib = (f) => Number.parseInt(s[f], 10);
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024, anonMiB: kib('RssAnon') / 1024, fileMiB: kib('RssFile') / 1024 };
}

/** Per-thread context switches: tid -> {name, switches}. */
function threadSwitches(pid) {
  const result = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = procStatus(`/proc/${pid}/task/${tid}/status`);
      result.set(tid, { name: s.Name, voluntary: Number(s.voluntary_ctxt_switches), nonvoluntary: Number(s.nonvoluntary_ctxt_switches) });
    } catch {
      // thread exited between readdir and read
    }
  }
  return result;
}

/**
 * Node 20 names no thread (all are "node"); this labels them by creation
 * order, which is fixed: main; the platform's delayed-task scheduler (its own
 * uv loop); the V8 platform workers (--v8-pool-size, 4); the inspector's
 * SIGUSR1 thread; the libuv threadpool (UV_THREADPOOL_SIZE, 4; started on
 * first fs use). A guess from the layout, stated as such in the output.
 */
function threadRole(index, count) {
  if (index === 0) return 'main: event loop + JS';
  if (index === 1) return 'V8 delayed-task scheduler?';
  if (index <= 5) return 'V8 worker (GC, compile)?';
  if (index === 6 && count > 7) return 'inspector SIGUSR1 thread?';
  return 'libuv threadpool (fs)?';
}

/**
 * Samples every thread's context switches once a second for `ms`; returns the
 * per-second totals and two windows: [0, ms - 10 s) and the last 10 s.
 */
async function observeIdle(ms) {
  alive();
  const logBefore = readFileSync(logPath).length;
  const samples = [threadSwitches(daemon.pid)];
  const started = Date.now();
  for (let i = 1; i <= ms / 1000; i += 1) {
    await sleep(started + i * 1000 - Date.now());
    alive();
    samples.push(threadSwitches(daemon.pid));
  }
  const diff = (before, after) => {
    const threads = [];
    for (const [tid, a] of after) {
      const b = before.get(tid) ?? { voluntary: 0, nonvoluntary: 0 };
      threads.push({ tid: Number(tid), name: a.name, voluntary: a.voluntary - b.voluntary, nonvoluntary: a.nonvoluntary - b.nonvoluntary, ...(before.has(tid) ? {} : { new: true }) });
    }
    for (const [tid, b] of before) if (!after.has(tid)) threads.push({ tid: Number(tid), name: b.name, voluntary: 0, nonvoluntary: 0, gone: true });
    threads.sort((x, y) => x.tid - y.tid);
    threads.forEach((t, i) => (t.role = threadRole(i, threads.length)));
    const sum = (list) => list.reduce((n, t) => n + t.voluntary + t.nonvoluntary, 0);
    return { total: sum(threads), main: sum(threads.filter((t) => t.tid === daemon.pid)), threads };
  };
  const perSecond = samples.slice(1).map((after, i) => diff(samples[i], after).total);
  const split = samples.length - 1 - IDLE_WINDOW_MS / 1000;
  return {
    perSecond,
    logBytes: readFileSync(logPath).length - logBefore,
    windows: [
      { label: 'early', fromMs: 0, toMs: split * 1000, ...diff(samples[0], samples[split]) },
      { label: 'steady', fromMs: split * 1000, toMs: ms, ...diff(samples[split], samples.at(-1)) },
    ],
  };
}

// ---------------------------------------------------------------- stats

const quantile = (sorted, q) => {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
};
const summary = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.at(-1) };
};
const median = (xs) => quantile([...xs].sort((a, b) => a - b), 0.5);

/** utime + stime of a process, in ms. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/**
 * Arms `count` timers due 1..10 s later, paced (arm i sent at +i*spread/count)
 * so that due times cover ~10 s evenly rather than ten bursts; waits until
 * each has fired once and its hook finished; returns late_ms as timerd logged it.
 */
async function lateness(prefix, count) {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const started = Date.now();
  const armed = await closedLoop(
    names.map((name, i) => armRequest(name, (i % 10) + 1, { lossAttempts: 1 })),
    K,
    (i) => started + i * (LATE_ARM_SPREAD_MS / count),
  );
  const keys = new Set(armed.replies.map((r) => r.key));
  check(keys.size === count, 'lateness arms did not give distinct keys');
  const dueOffsets = armed.replies.map((r) => Date.parse(r.next.at) - started);
  const lastDue = started + Math.max(...dueOffsets);
  const deadline = lastDue + PENDING_GRACE_MS;
  for (;;) {
    alive();
    await sleep(Math.max(100, Math.min(1_000, lastDue - Date.now())));
    const ping = await once({ op: 'ping' });
    if (Date.now() > lastDue && ping.entries === TABLE_SIZE && ping.running === 0) break;
    if (Date.now() > deadline) throw new HarnessError(`events still pending ${PENDING_GRACE_MS / 1000} s after the last was due (${ping.entries - TABLE_SIZE} left; load average ${os.loadavg()[0].toFixed(1)})`);
  }
  const fired = new Map();
  const finished = new Set();
  for (const r of readLog()) {
    if (r.pid !== daemon.pid || !keys.has(r.key)) continue;
    if (r.msg === 'event fired') {
      check(r.event === 'reconnect', `unexpected ${r.event} event for ${r.key}`);
      check(!fired.has(r.key), `${r.key} fired twice`);
      fired.set(r.key, r.late_ms);
    }
    if (r.msg === 'hook finished') {
      check(r.exit_code === 0, `fake hook exited ${r.exit_code}: ${r.stderr}`);
      finished.add(r.key);
    }
  }
  check(fired.size === count && finished.size === count, `${fired.size} events fired / ${finished.size} hooks finished, expected ${count}`);
  return { summary: summary([...fired.values()]), dueOffsets, spanMs: Math.max(...dueOffsets) - Math.min(...dueOffsets) };
}

/** Bare node: one setTimeout per offset, lateness measured like timerd's late_ms (Date.now(), whole ms). */
const BASELINE_SCRIPT = `
const offsets = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const start = Date.now() + 200;
const late = [];
for (const offset of offsets) {
  const due = start + offset;
  setTimeout(() => { late.push(Date.now() - due); if (late.length === offsets.length) process.stdout.write(JSON.stringify(late)); }, due - Date.now());
}`;

async function runBaseline(offsets) {
  const result = await runProcess(process.execPath, ['-e', BASELINE_SCRIPT], { stdin: JSON.stringify(offsets), env: cleanEnv() });
  if (result.exitCode !== 0) throw new HarnessError(`baseline node exited ${result.exitCode ?? result.signal}: ${result.stderr.trim()}`);
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new HarnessError(`baseline printed ${JSON.stringify(result.stdout.slice(0, 200))}`);
  }
}

// ---------------------------------------------------------------- phases

const rows = [];
const details = {};
const row = (metric, value, unit, target, pass, note) => rows.push({ metric, value, unit, target, pass, ...(note ? { note } : {}) });
const progress = (text) => {
  if (!args.json) process.stderr.write(`  ${text}\n`);
};

async function bench() {
  const began = Date.now();
  details.loadavgStart = os.loadavg();
  startTimerd();
  await pinged(10_000);

  // 1. durable arms/s, K concurrent clients, 10,000 distinct keys
  progress(`arming ${TABLE_SIZE} timers from ${K} concurrent clients ...`);
  const names = Array.from({ length: TABLE_SIZE }, (_, i) => `far-${i}`);
  const concurrent = await closedLoop(
    names.map((name) => armRequest(name, 3600, { lossSeconds: 7200 })),
    K,
  );
  check(new Set(concurrent.replies.map((r) => r.key)).size === TABLE_SIZE, 'arms did not give 10,000 distinct keys');
  check(concurrent.replies.every((r) => r.replaced === null), 'a fresh arm replaced an entry');
  const concurrentRate = TABLE_SIZE / (concurrent.ms / 1000);
  row(`durable arms/s (${K} concurrent clients, ${TABLE_SIZE.toLocaleString('en')} new timers)`, concurrentRate, '/s', `>= ${TARGETS.armsPerSecond}`, concurrentRate >= TARGETS.armsPerSecond);

  // 2. one sequential client: re-arms (replaces) existing keys, so the table stays at 10,000
  progress('arming from one sequential client ...');
  {
    const connection = await TimerdClient.connect(box.socketPath);
    let done = 0;
    const started = process.hrtime.bigint();
    let ms = 0;
    while (done < SEQUENTIAL_MAX && ms < SEQUENTIAL_MAX_MS) {
      const reply = await connection.request(armRequest(names[done], 3600, { lossSeconds: 7200 }));
      check(reply.ok && reply.replaced !== null, `sequential re-arm failed: ${JSON.stringify(reply)}`);
      done += 1;
      ms = Number(process.hrtime.bigint() - started) / 1e6;
    }
    await connection.close();
    const rate = done / (ms / 1000);
    details.sequential = { arms: done, ms };
    row(`durable arms/s (1 sequential client, ${done} re-arms)`, rate, '/s', '-', null);
  }
  alive();
  const pingAfterArms = await once({ op: 'ping' });
  check(pingAfterArms.entries === TABLE_SIZE, `table holds ${pingAfterArms.entries} entries, expected ${TABLE_SIZE}`);

  // 3. RSS with 10,000 timers
  await sleep(1_000);
  const burst = memory(daemon.pid);
  details.memory = { afterArms: burst };
  row(`timerd RSS, ${TABLE_SIZE.toLocaleString('en')} timers, 1 s after the arm burst (peak ${burst.hwmMiB.toFixed(1)})`, burst.rssMiB, 'MiB', '-', null);

  // 4. reload: SIGTERM, restart, load + first ping
  progress(`reloading ${RELOAD_ROUNDS}x ...`);
  const reloads = [];
  for (let round = 0; round < RELOAD_ROUNDS; round += 1) {
    const stopStarted = Date.now();
    await stopTimerd();
    const stopMs = Date.now() - stopStarted;
    const d = startTimerd();
    const { at } = await pinged(10_000);
    const loaded = readLog().find((r) => r.pid === d.pid && r.msg === 'timer table loaded');
    check(loaded, `no "timer table loaded" line from pid ${d.pid}`);
    check(loaded.entries === TABLE_SIZE, `reload found ${loaded.entries} entries, expected ${TABLE_SIZE}`);
    const spawnedAt = Math.round(d.proc.spawnedAt);
    reloads.push({ loadMs: loaded.duration_ms, replayed: loaded.replayed, spawnToLoadedMs: Date.parse(loaded.time) - spawnedAt, spawnToPingMs: at - spawnedAt, stopMs });
  }
  details.reloads = reloads;
  const loadMs = median(reloads.map((r) => r.loadMs));
  const maxOf = (f) => Math.max(...reloads.map(f));
  row(`reload: table load, duration_ms (median of ${RELOAD_ROUNDS}, max ${maxOf((r) => r.loadMs)})`, loadMs, 'ms', `<= ${TARGETS.loadMs}`, loadMs <= TARGETS.loadMs);
  row(`reload: spawn -> "timer table loaded" logged (max ${maxOf((r) => r.spawnToLoadedMs)})`, median(reloads.map((r) => r.spawnToLoadedMs)), 'ms', '-', null);
  row(`reload: spawn -> ping answered (max ${maxOf((r) => r.spawnToPingMs)})`, median(reloads.map((r) => r.spawnToPingMs)), 'ms', '-', null);
  row(`reload: SIGTERM -> exited (max ${maxOf((r) => r.stopMs)})`, median(reloads.map((r) => r.stopMs)), 'ms', '-', null);

  // 5. idle wake-ups: nothing due for an hour, nobody talking to the socket.
  // Sampled every second (reading /proc does not wake the process), so the
  // output shows *when* something woke: V8's memory reducer runs a few GCs in
  // the first tens of seconds after allocation stops, then goes quiet. The
  // target applies to the last window, the steady state.
  progress(`idle: settle ${IDLE_SETTLE_MS / 1000} s, then ${IDLE_OBSERVE_MS / 1000} s sampled every second ...`);
  await sleep(IDLE_SETTLE_MS);
  // Meanwhile (to keep the run short), the baseline: bare setTimeout in another node, for
  // the schedule the lateness phase below uses. It cannot add to timerd's per-thread
  // counts: a sleeping thread is not switched.
  progress('  ... and meanwhile the baseline: bare setTimeout for the lateness schedule');
  const plannedOffsets = Array.from({ length: LATE_COUNT }, (_, i) => i * (LATE_ARM_SPREAD_MS / LATE_COUNT) + ((i % 10) + 1) * 1000);
  const baselineRun = runBaseline(plannedOffsets);
  const idle = await observeIdle(IDLE_OBSERVE_MS);
  const baseline = summary(await baselineRun);
  details.idle = idle;
  const early = idle.windows[0];
  const last = idle.windows[1];
  const span = (w) => `${(IDLE_SETTLE_MS + w.fromMs) / 1000}-${(IDLE_SETTLE_MS + w.toMs) / 1000} s after restart`;
  row(`idle wake-ups, ${span(early)} (main thread ${early.main})`, early.total, '', '-', null);
  row(`idle wake-ups, ${span(last)}, all ${last.threads.length} threads (main ${last.main})`, last.total, '', `${TARGETS.idleWakeups}`, last.total <= TARGETS.idleWakeups);

  // 3b. RSS again, in the steady state (after the post-start GCs; execa not loaded yet: no hook has run in this process)
  const steady = memory(daemon.pid);
  details.memory.steady = steady;
  row(`timerd RSS, ${TABLE_SIZE.toLocaleString('en')} timers, steady (reloaded, idle ${(IDLE_SETTLE_MS + IDLE_OBSERVE_MS) / 1000} s; anon ${steady.anonMiB.toFixed(1)} + file ${steady.fileMiB.toFixed(1)})`, steady.rssMiB, 'MiB', `<= ${TARGETS.rssMiB}`, steady.rssMiB <= TARGETS.rssMiB);

  // 6. lateness: ~1,000 events due over ~10 s (~100/s), each fires once (the hook succeeds: disarmed)
  progress(`lateness: ${LATE_COUNT} timers due 1..10 s from now (~${LATE_COUNT / 10}/s) ...`);
  const cpuBefore = cpuMs(daemon.pid);
  const busy = await lateness('late', LATE_COUNT);
  const cpuPerEvent = (cpuMs(daemon.pid) - cpuBefore) / LATE_COUNT;
  progress(`lateness: ${LATE_SLOW_COUNT} timers due 1..10 s from now (~${LATE_SLOW_COUNT / 10}/s) ...`);
  const slow = await lateness('slow', LATE_SLOW_COUNT);
  details.lateness = { busy: busy.summary, slow: slow.summary, baseline, cpuPerEventMs: cpuPerEvent, spanMs: busy.spanMs };
  const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(1)}x baseline` : `baseline ${b}`);
  const rate = (n) => `~${Math.round(n / (busy.spanMs / 1000))} events/s`;
  row(`lateness p50, ${LATE_COUNT} events over ${(busy.spanMs / 1000).toFixed(1)} s, ${rate(LATE_COUNT)}`, busy.summary.p50, 'ms', '-', null);
  row(`lateness p99, same (max ${busy.summary.max}; ${ratio(busy.summary.p99, baseline.p99)})`, busy.summary.p99, 'ms', `<= ${TARGETS.lateP99Ms}`, busy.summary.p99 <= TARGETS.lateP99Ms);
  row(`baseline: bare setTimeout lateness p50, same schedule`, baseline.p50, 'ms', '-', null);
  row(`baseline: bare setTimeout lateness p99 (max ${baseline.max})`, baseline.p99, 'ms', '-', null);
  row(`timerd CPU per fired event (spawn + log + journal), ${rate(LATE_COUNT)}`, cpuPerEvent, 'ms', '-', null);
  row(`lateness p99, ${LATE_SLOW_COUNT} events, ${rate(LATE_SLOW_COUNT)} (p50 ${slow.summary.p50}, max ${slow.summary.max})`, slow.summary.p99, 'ms', '-', null);

  const end = memory(daemon.pid);
  details.memory.end = end;
  row(`timerd RSS right after ${LATE_COUNT + LATE_SLOW_COUNT} hook runs (not settled; peak ${end.hwmMiB.toFixed(1)})`, end.rssMiB, 'MiB', '-', null);

  await stopTimerd();
  details.totalMs = Date.now() - began;
  details.loadavgEnd = os.loadavg();
}

// ---------------------------------------------------------------- report

function fmt(value, unit) {
  if (unit === '/s') return `${Math.round(value).toLocaleString('en')}/s`;
  if (unit === 'MiB') return `${value.toFixed(1)} MiB`;
  if (unit === 'ms') return `${Number.isInteger(value) ? value : value.toFixed(1)} ms`;
  return String(value);
}

function print() {
  const env = { nodeFlags, node: process.version, kernel: os.release(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', stateFs: fsType, clients: K, maxConcurrent: MAX_CONCURRENT };
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ env, rows, details }, null, 2)}\n`);
    return;
  }
  const load = (l) => l.map((x) => x.toFixed(1)).join(' ');
  console.log(`\ntimerd bench (node ${env.node}, Linux ${env.kernel}, ${env.cpus} cpus ${env.cpu}, state dir on ${env.stateFs}, K=${K}, --max-concurrent ${MAX_CONCURRENT}${nodeFlags.length ? `, node ${nodeFlags.join(' ')}` : ''})`);
  const busy = Math.max(details.loadavgStart[0], details.loadavgEnd[0]) > env.cpus;
  console.log(`load average at start ${load(details.loadavgStart)}, at end ${load(details.loadavgEnd)}${busy ? ` -- BUSY MACHINE (1-min load > ${env.cpus} cpus): lateness and rates are not representative` : ''}\n`);
  const table = rows.map((r) => [r.metric, fmt(r.value, r.unit), r.target, r.pass === null ? 'info' : r.pass ? 'pass' : 'MISSED']);
  const widths = [0, 1, 2, 3].map((c) => Math.max(...[['metric', 'value', 'target', 'pass'], ...table].map((t) => t[c].length)));
  const line = (t) => `${t[0].padEnd(widths[0])}  ${t[1].padStart(widths[1])}  ${t[2].padEnd(widths[2])}  ${t[3]}`;
  console.log(line(['metric', 'value', 'target', 'pass']));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const t of table) console.log(line(t));
  if (details.idle) {
    console.log(`\nidle, context switches per second from ${IDLE_SETTLE_MS / 1000} s after restart (all threads; timerd logged ${details.idle.logBytes} bytes meanwhile):\n  ${details.idle.perSecond.join(' ')}`);
  }
  for (const window of details.idle?.windows ?? []) {
    if (window.total === 0) continue;
    console.log(`\nidle window "${window.label}": context switches per thread (voluntary + nonvoluntary; roles guessed from creation order)`);
    for (const t of window.threads) {
      const role = t.role ? `  ${t.role}` : '';
      console.log(`  ${String(t.tid).padStart(7)} ${t.name.padEnd(16)} ${String(t.voluntary).padStart(4)} + ${String(t.nonvoluntary).padStart(4)}${role}${t.new ? '  (new)' : ''}${t.gone ? '  (gone)' : ''}`);
    }
  }
  const missed = rows.filter((r) => r.pass === false);
  console.log(missed.length ? `\nMISSED: ${missed.map((r) => r.metric.replace(/ \(.*$/, '')).join('; ')}` : '\nall targets met');
  console.log(`(${(details.totalMs / 1000).toFixed(1)} s)`);
}

const watchdog = setTimeout(() => {
  console.error(`bench/timerd: ABORT: still running after ${WATCHDOG_MS / 1000} s`);
  daemon?.proc.killGroup('SIGKILL');
  process.exit(1);
}, WATCHDOG_MS);

let status = 0;
try {
  await bench();
  print();
} catch (error) {
  status = 1;
  console.error(`\nbench/timerd: ABORT: ${error instanceof HarnessError ? error.message : error.stack}`);
} finally {
  clearTimeout(watchdog);
  await box.cleanup({ keep: args.keep || status !== 0 }); // kills a timerd still running
  if (args.keep || status !== 0) console.error(`bench/timerd: temp root kept: ${root}`);
}
process.exitCode = status;
