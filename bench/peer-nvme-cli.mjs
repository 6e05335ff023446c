#!/usr/bin/env node
/**
 * bench/peer-nvme-cli: nvme-cli's own autoconnect against sanhook, on the same
 * kernel, the same nvmet target and the same work, in one run: two boots of
 * test/system/vm/sanhook-vm.sh with systemd as PID 1, back to back (the peer
 * first, as Debian ships it; then sanhook installed as the README says). The
 * workloads are in bench/peer-nvme-cli.guest.sh. Prints one table with both
 * columns and their ratio (sanhook / nvme-cli; below 1.0 sanhook is faster).
 *
 * usage: sudo npm run bench:peer-nvme-cli [-- --single N] [--only nvme-cli|sanhook]
 *   --single N   single-event samples for the AEN -> live latency (default 8)
 * env: SANHOOK_VM_* (vm/sanhook-vm.sh), SANHOOK_BENCH_LOGS (console logs; default a temp dir)
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HARNESS = path.join(REPO, 'test/system/vm/sanhook-vm.sh');
const GUEST = path.join(REPO, 'bench/peer-nvme-cli.guest.sh');
const TOOLS = ['nvme-cli', 'sanhook'];

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
const only = option('--only', undefined);
if (only !== undefined && !TOOLS.includes(only)) {
  console.error(`peer-nvme-cli: --only must be nvme-cli or sanhook, got ${only}`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('peer-nvme-cli: needs root (QEMU shares / with the guest)');
  process.exit(3);
}
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
        const m = /^@@bench (\S+) (\S+) (\S+)/.exec(line);
        if (m && m[1] === tool) (metrics[m[2]] ??= []).push(m[3]);
        else if (/^@@bench-error|^\[ *[0-9.]+\] /.test(line)) console.log(`  ${tool} | ${line}`);
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

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
};
const seconds = (v) => (v === undefined ? '-' : `${v.toFixed(2)} s`);

const results = {};
for (const tool of TOOLS) {
  if (only && tool !== only) continue;
  const t0 = Date.now();
  console.log(`boot ${tool}: systemd as PID 1, ${tool === 'sanhook' ? 'sanhook installed as the README says' : "nvme-cli's autoconnect as Debian ships it"} ...`);
  results[tool] = await boot(tool);
  console.log(`boot ${tool}: exit ${results[tool].code}, ${((Date.now() - t0) / 1000).toFixed(0)} s; console log ${path.join(logDir, `${tool}.console.log`)}`);
}

/** Table rows: label, then per tool a display string and a number for the ratio (lower is better). */
function row(label, pick) {
  const cells = TOOLS.map((tool) => (results[tool] ? pick(results[tool].metrics) : { text: 'not run' }));
  const [peer, ours] = cells;
  const ratio = peer?.value !== undefined && ours?.value !== undefined && peer.value > 0 ? `${(ours.value / peer.value).toFixed(2)}` : '-';
  return [label, peer?.text ?? '-', ours?.text ?? '-', ratio];
}
const latencies = (m) => (m.aen_live_s ?? []).filter((v) => v !== 'timeout').map(Number);
const timeouts = (m) => (m.aen_live_s ?? []).filter((v) => v === 'timeout').length;
const timed = (key) => (m) => (m[key]?.[0] && m[key][0] !== 'none' ? { text: `${Number(m[key][0]).toFixed(2)} s`, value: Number(m[key][0]) } : { text: 'never' });
const median = (key) => (m) => (m[key]?.length ? { text: seconds(quantile(m[key].map(Number), 0.5)) } : { text: '-' });
const plain = (key) => (m) => ({ text: m[key]?.[0] ?? '-' });

const rows = [
  ['measure', 'nvme-cli', 'sanhook', 'ratio'],
  row(`(a) AEN -> live p50 (${single} single events)`, (m) => (latencies(m).length ? { text: seconds(quantile(latencies(m), 0.5)), value: quantile(latencies(m), 0.5) } : { text: 'none live' })),
  row('(a) AEN -> live p90', (m) => (latencies(m).length ? { text: seconds(quantile(latencies(m), 0.9)), value: quantile(latencies(m), 0.9) } : { text: 'none live' })),
  row('(a) single events never live (30 s)', (m) => ({ text: String(timeouts(m)) })),
  row('(a) sanhook p50: link -> its round starts', median('split_link_to_round_start_s')),
  row('(a) sanhook p50: round start -> nvme connect', median('split_round_to_connect_s')),
  row('(a) sanhook p50: nvme connect', median('split_nvme_connect_s')),
  row('(a) sanhook p50: connect done -> seen live', median('split_connect_to_live_s')),
  row('(b) burst of 6, 0.3 s apart: connected', plain('burst6_connected')),
  row('(b) burst of 6: last live after first link', timed('burst6_last_live_s')),
  row('(b) burst of 16, 0.3 s apart: connected', plain('burst16_connected')),
  row('(b) burst of 16: last live after first link', timed('burst16_last_live_s')),
  row('(c) mass loss: kernel removed all 32 after', timed('loss_removed_s')),
  row('(c) mass loss: timers armed', plain('loss_timers_armed')),
  row('(c) mass loss: back live after the port returns', plain('loss_back')),
  row('(c) mass loss: last back after the port returns', timed('loss_last_back_s')),
];
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
