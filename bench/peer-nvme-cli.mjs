#!/usr/bin/env node
/**
 * bench/peer-nvme-cli: nvme-cli's own autoconnect against sanhook, on the same
 * kernel, the same nvmet target and the same work, in one run: two boots of
 * test/system/vm/sanhook-vm.sh with systemd as PID 1, back to back (the peer
 * first, as Debian ships it; then sanhook installed as the README says). The
 * workloads are in bench/peer-nvme-cli.guest.sh. Prints one table with both
 * columns and their ratio (sanhook / nvme-cli; below 1.0 sanhook is faster).
 *
 * usage: sudo npm run bench:peer-nvme-cli [-- --single N] [--only nvme-cli|sanhook] [--json]
 *   --single N   single-event samples for the AEN -> live latency (default 8)
 *   --json       print one JSON object instead of the table ({ single, logs, tools:
 *                { <tool>: { code, metrics } }, rows: [[measure, nvme-cli, sanhook, ratio], ...] };
 *                bench/run-all.mjs reads it); progress goes to stderr
 * The console parsing and the table are bench/lib/peer.mjs (unit-tested).
 * env: SANHOOK_VM_* (vm/sanhook-vm.sh), SANHOOK_BENCH_LOGS (console logs; default a temp dir)
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { peerRows, readBenchLine, TOOLS } from './lib/peer.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HARNESS = path.join(REPO, 'test/system/vm/sanhook-vm.sh');
const GUEST = path.join(REPO, 'bench/peer-nvme-cli.guest.sh');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] ? args[at + 1] : fallback;
};
const single = Number(option('--single', '8'));
if (!Number.isInteger(single) || single < 1 || single > 40) {
  console.error(`peer-nvme-cli: --single must be a whole number 1..40, got ${option('--single')}`);
  process.exit(2);
}
const json = args.includes('--json');
// with --json, stdout carries only the JSON object: everything else goes to stderr
const say = json ? (/** @type {string} */ text) => console.error(text) : (/** @type {string} */ text) => console.log(text);
const only = option('--only', undefined);
if (only !== undefined && !TOOLS.includes(only)) {
  console.error(`peer-nvme-cli: --only must be nvme-cli or sanhook, got ${only}`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('peer-nvme-cli: needs root (QEMU shares / with the guest)');
  process.exit(3);
}
// The guest installs sanhook as an admin does, from the .deb (test/system/scenarios/lib.sh
// setup_systemd_host): build it from this build (npm run build ran first).
const deb = spawnSync(process.execPath, [path.join(REPO, 'scripts', 'build-deb.mjs'), '--skip-build'], { cwd: REPO, encoding: 'utf8' });
if (deb.status !== 0) {
  console.error(`peer-nvme-cli: building the .deb failed: ${deb.stderr.trim()}`);
  process.exit(1);
}
say(`peer-nvme-cli: ${deb.stdout.trim()}`);
const logDir = process.env.SANHOOK_BENCH_LOGS ?? mkdtempSync(path.join(os.tmpdir(), 'sanhook-peer-bench-'));
mkdirSync(logDir, { recursive: true });

/** One boot: resolves with the @@bench metrics ({ name: [values] }) and the exit code. */
function boot(tool) {
  return new Promise((resolve) => {
    const metrics = {};
    const log = createWriteStream(path.join(logDir, `${tool}.console.log`));
    const child = spawn('bash', [HARNESS, GUEST, tool, String(single)], {
      cwd: REPO,
      env: { ...process.env, SANHOOK_VM_INIT: 'systemd', SANHOOK_VM_TIMEOUT: process.env.SANHOOK_VM_TIMEOUT ?? '1500' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffer = '';
    const onData = (chunk) => {
      log.write(chunk);
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        const m = readBenchLine(line, tool);
        if (m) (metrics[m.metric] ??= []).push(m.value);
        else if (/^@@bench-error|^\[ *[0-9.]+\] /.test(line)) say(`  ${tool} | ${line}`);
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    child.on('close', (code) => {
      log.end();
      resolve({ metrics, code: code ?? 1 });
    });
  });
}

const results = {};
for (const tool of TOOLS) {
  if (only && tool !== only) continue;
  const t0 = Date.now();
  say(`boot ${tool}: systemd as PID 1, ${tool === 'sanhook' ? 'sanhook installed as the README says' : "nvme-cli's autoconnect as Debian ships it"} ...`);
  results[tool] = await boot(tool);
  say(`boot ${tool}: exit ${results[tool].code}, ${((Date.now() - t0) / 1000).toFixed(0)} s; console log ${path.join(logDir, `${tool}.console.log`)}`);
}

const rows = peerRows(results, single);
if (json) {
  process.stdout.write(`${JSON.stringify({ single, logs: logDir, tools: results, rows })}\n`);
  process.exit(Object.values(results).some((r) => r.code !== 0) ? 1 : 0);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
console.log('');
console.log('bench/peer-nvme-cli: same kernel (Debian 6.1, TCG), same nvmet target at 127.0.0.1, systemd as PID 1, one boot each');
for (const [i, r] of rows.entries()) {
  console.log(`| ${r.map((c, j) => c.padEnd(widths[j])).join(' | ')} |`);
  if (i === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
}
for (const tool of TOOLS) if (results[tool]) console.log(`${tool}: AEN -> live samples: ${(results[tool].metrics.aen_live_s ?? []).join(' ')}`);
console.log(`logs: ${logDir}`);
process.exit(Object.values(results).some((r) => r.code !== 0) ? 1 : 0);
