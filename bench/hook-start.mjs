#!/usr/bin/env node
/**
 * Cold start of the udev hook on an IRRELEVANT event, against bare node.
 *
 * udev runs `sanhook connect --uevent` for every event the shipped rules match
 * loosely; almost all of them are not for sanhook, and each one must cost
 * little more than starting node itself. This measures, in one run and
 * interleaved (the order rotates every round, so drift in machine load hits
 * every command alike):
 *
 *   node -e 0
 *   node FLAGS bin/sanhook.js connect --uevent   SUBSYSTEM=net ACTION=add INTERFACE=v0
 *   node FLAGS bin/sanhook.js connect --uevent   SUBSYSTEM=nvme ACTION=change (no NVME_AEN)
 * with FLAGS from the entry's #! line (as udev runs it; the baseline gets them too)
 *
 * Every sanhook run must exit 0 with empty stdout and stderr and run no
 * external program (the sandbox's recording fakes, test/support/sandbox.mjs, sit
 * first on PATH); otherwise the bench aborts loudly: a fast wrong answer is not a result.
 *
 * Usage: node bench/hook-start.mjs [--runs N] [--warmup N] [--json] [--strict] [--bin PATH]...
 *   --strict   exit 1 when a p50 or mean ratio is above the target (1.3x)
 *   --bin      [LABEL=]PATH of the sanhook entry to measure (default bin/sanhook.js);
 *              repeat it to compare builds in one interleaved run (e.g. a copy of an
 *              older dist/: before=/tmp/old/bin/sanhook.js --bin after=bin/sanhook.js)
 * Run through `npm run bench:hook-start`, which builds dist/ first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BIN, Sandbox, shebangFlags } from '../test/support/sandbox.mjs';

const TARGET_RATIO = 1.3;

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    bin: { type: 'string', multiple: true },
  },
  strict: true,
});
const runs = Number(args.runs);
const warmup = Number(args.warmup);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(warmup) || warmup < 0) {
  console.error('hook-start: --runs must be an integer >= 1 and --warmup >= 0');
  process.exit(2);
}
const bins = (args.bin ?? [`sanhook=${BIN}`]).map((spec) => {
  const eq = spec.indexOf('=');
  return eq > 0 ? { label: spec.slice(0, eq), bin: path.resolve(spec.slice(eq + 1)) } : { label: spec, bin: path.resolve(spec) };
});
for (const { bin } of bins) {
  if (!existsSync(bin) || !existsSync(path.resolve(path.dirname(bin), '..', 'dist', 'bundle', 'cli.js'))) {
    console.error(`hook-start: ${bin} or its ../dist/bundle/cli.js is missing; run \`npm run bench:hook-start\` (it builds first)`);
    process.exit(2);
  }
}

// The sandbox's fakes (nvme, systemd-run, nvmecontrol) record every call: if the hook
// ever ran an external program, we would know. One base environment for every command:
// the sandbox's (fakes first on PATH, nothing of a udev event or of NODE_OPTIONS).
const box = new Sandbox({ prefix: 'sanhook-bench-' });
const baseEnv = box.env();
const externalCalls = () => [...box.calls(), ...box.systemdRunCalls(), ...box.controlCalls()].map((c) => c.argv.join(' '));

const events = [
  { name: 'net add', env: { SUBSYSTEM: 'net', ACTION: 'add', INTERFACE: 'v0', IFINDEX: '7', DEVPATH: '/devices/virtual/net/v0', SEQNUM: '4242' } },
  {
    name: 'nvme change',
    // A fabrics controller's change event that is not the discovery-log AEN (no NVME_AEN).
    env: {
      SUBSYSTEM: 'nvme',
      ACTION: 'change',
      DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme0',
      DEVNAME: 'nvme0',
      NVME_TRTYPE: 'tcp',
      NVME_TRADDR: '10.0.0.5',
      NVME_TRSVCID: '8009',
      NVME_HOST_TRADDR: 'none',
      NVME_HOST_IFACE: 'none',
      SEQNUM: '4243',
    },
  },
];
// The node flags of each entry's #! line, as udev and the units run it; the baseline gets the first entry's.
const baseFlags = shebangFlags(bins[0].bin);
const commands = [
  { name: ['node', ...baseFlags, '-e', '0'].join(' '), argv: [...baseFlags, '-e', '0'], env: baseEnv, check: false },
  ...bins.flatMap(({ label, bin }) => events.map((e) => ({ name: `${label} ${e.name}`, argv: [...shebangFlags(bin), bin, 'connect', '--uevent'], env: { ...baseEnv, ...e.env }, check: true }))),
];

function runOnce(command) {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, command.argv, { env: command.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.error) fail(command, `spawn failed: ${result.error.message}`);
  if (result.status !== 0) fail(command, `exit ${result.status ?? result.signal}\nstderr: ${result.stderr}`);
  if (command.check) {
    if (result.stdout !== '') fail(command, `stdout not empty: ${JSON.stringify(result.stdout)}`);
    if (result.stderr !== '') fail(command, `stderr not empty: ${JSON.stringify(result.stderr)}`);
    if (externalCalls().length > 0) fail(command, `ran an external program: ${externalCalls().join('; ')}`);
  }
  return ms;
}

function fail(command, problem) {
  console.error(`\nhook-start: ABORT: ${command.name} (${command.argv.join(' ')}): ${problem}`);
  box.remove();
  process.exit(1);
}

const quantile = (sorted, q) => {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
};

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    runs: samples.length,
    mean: samples.reduce((s, x) => s + x, 0) / samples.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    min: sorted[0],
  };
}

const samples = commands.map(() => []);
for (let round = 0; round < warmup + runs; round += 1) {
  // Rotate the order every round: each command goes first, middle and last equally often.
  for (let i = 0; i < commands.length; i += 1) {
    const index = (round + i) % commands.length;
    const ms = runOnce(commands[index]);
    if (round >= warmup) samples[index].push(ms);
  }
}
box.remove();

const results = commands.map((command, i) => ({ command: command.name, ...stats(samples[i]) }));
const baseline = results[0];
const ratios = results.slice(1).map((r) => ({ command: r.command, p50: r.p50 / baseline.p50, mean: r.mean / baseline.mean, min: r.min / baseline.min }));
const withinTarget = ratios.every((r) => r.p50 <= TARGET_RATIO && r.mean <= TARGET_RATIO);

if (args.json) {
  const out = { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: os.cpus().length, loadavg: os.loadavg()[0], target: TARGET_RATIO, withinTarget, results, ratios };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} else {
  const f = (x) => x.toFixed(2).padStart(7);
  console.log(`hook cold start on irrelevant udev events (node ${process.version}, ${os.cpus().length} cpus, ${warmup} warm-up + ${runs} interleaved rounds)\n`);
  const w = Math.max(22, ...results.map((r) => r.command.length));
  console.log(`${'command'.padEnd(w)} ${'runs'.padStart(5)} ${'mean'.padStart(7)} ${'p50'.padStart(7)} ${'p90'.padStart(7)} ${'min'.padStart(7)}   (ms)`);
  for (const r of results) console.log(`${r.command.padEnd(w)} ${String(r.runs).padStart(5)} ${f(r.mean)} ${f(r.p50)} ${f(r.p90)} ${f(r.min)}`);
  console.log('');
  for (const r of ratios) console.log(`${`${r.command} / node`.padEnd(w + 7)} p50 ${r.p50.toFixed(3)}x   mean ${r.mean.toFixed(3)}x   (min ${r.min.toFixed(3)}x)`);
  console.log(`\ntarget <= ${TARGET_RATIO}x (p50 and mean): ${withinTarget ? 'met' : 'NOT MET'}; load average ${os.loadavg()[0].toFixed(2)} at the end`);
}
if (args.strict && !withinTarget) process.exit(1);
