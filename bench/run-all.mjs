#!/usr/bin/env node
/**
 * `npm run bench`: runs every benchmark, each as a child process in its `--json` mode,
 * and prints one table: the machine, then one row per figure (name, value, unit,
 * baseline, ratio, target), then the benchmarks skipped or failed and why.
 *
 * A benchmark that cannot run here is listed as skipped with its reason, never left
 * out: udev-latency and fcoe exit 3 with what they need (root, systemd-udevd,
 * iproute2); peer-nvme-cli needs root and qemu-system-x86_64 (checked here: it boots a
 * VM twice, ~25 min). Figures are read by bench/lib/results.mjs (unit-tested).
 *
 * Usage: node bench/run-all.mjs [--only NAME]... [--skip NAME]... [--json]
 *   --only / --skip   benchmark names (repeatable): hook-start, udev-latency, fcoe,
 *                     timerd, storm, peer-nvme-cli
 *   --json            print { machine, figures, notRun } instead of the table
 * Run through `npm run bench` (it builds dist/ first; root for the udev and VM benches).
 * Exit: 0 every benchmark that ran gave its figures and exited 0; 1 one failed or
 * exited non-zero (its figures are still shown); 2 bad usage.
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FIGURES, formatTable } from './lib/results.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** What each benchmark exits with when this machine lacks what it needs (their usage text says so). */
const CANNOT_RUN_HERE = 3;

/** In the order they run: the quick ones first, the VM last. */
const BENCHMARKS = [
  { name: 'hook-start', script: 'hook-start.mjs' },
  { name: 'udev-latency', script: 'udev-latency.mjs' },
  { name: 'fcoe', script: 'fcoe.mjs' },
  { name: 'timerd', script: 'timerd.mjs' },
  { name: 'storm', script: 'storm.mjs' },
  { name: 'peer-nvme-cli', script: 'peer-nvme-cli.mjs', needs: () => (onPath('qemu-system-x86_64') ? undefined : 'needs qemu-system-x86_64 (apt-get install qemu-system-x86)') },
];
const NAMES = BENCHMARKS.map((b) => b.name);

/** @param {string} command */
function onPath(command) {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { stdio: 'ignore' }).status === 0;
}

/** @param {string} message */
function usage(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}

/** @type {{ only?: string[], skip?: string[], json: boolean }} */
let args;
try {
  ({ values: args } = parseArgs({ options: { only: { type: 'string', multiple: true }, skip: { type: 'string', multiple: true }, json: { type: 'boolean', default: false } }, strict: true }));
} catch (error) {
  usage(/** @type {Error} */ (error).message.split('\n')[0]);
}
for (const [flag, names] of [['--only', args.only], ['--skip', args.skip]]) {
  for (const name of names ?? []) if (!NAMES.includes(name)) usage(`${flag} ${name}: no such benchmark (${NAMES.join(', ')})`);
}

/**
 * Runs one benchmark with --json; its stderr (progress, errors) is passed through, prefixed.
 * @param {string} name
 * @param {string} script
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string }>}
 */
function runBench(name, script) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(HERE, script), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c) => {
      stderr += c;
      process.stderr.write(c.replace(/^(?=.)/gm, `  [${name}] `));
    });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** @type {import('./lib/results.mjs').Figure[]} */
const figures = [];
/** @type {import('./lib/results.mjs').NotRun[]} */
const notRun = [];
let failed = false;
for (const bench of BENCHMARKS) {
  if (args.only && !args.only.includes(bench.name)) continue;
  if (args.skip?.includes(bench.name)) {
    notRun.push({ bench: bench.name, status: 'skipped', reason: '--skip' });
    continue;
  }
  const lacking = bench.needs?.();
  if (lacking) {
    notRun.push({ bench: bench.name, status: 'skipped', reason: lacking });
    continue;
  }
  process.stderr.write(`bench: running ${bench.name} ...\n`);
  const started = Date.now();
  const run = await runBench(bench.name, bench.script);
  // why it failed or skipped: its ABORT / error line if it printed one, else its last line
  const lines = run.stderr.trim().split('\n');
  const lastLine = lines.filter((l) => /ABORT|FAILED|error|needs /i.test(l) && !/^\s/.test(l)).at(-1) ?? lines.at(-1) ?? '';
  if (run.code === CANNOT_RUN_HERE) {
    notRun.push({ bench: bench.name, status: 'skipped', reason: lastLine.replace(/^[\w-]+: /, '') || `exit ${CANNOT_RUN_HERE}` });
    continue;
  }
  try {
    figures.push(...FIGURES[bench.name](JSON.parse(run.stdout)));
    if (run.code !== 0) {
      failed = true;
      notRun.push({ bench: bench.name, status: 'failed', reason: `exit ${run.code ?? run.signal} (figures above are from that run): ${lastLine}` });
    }
  } catch (error) {
    failed = true;
    notRun.push({ bench: bench.name, status: 'failed', reason: `exit ${run.code ?? run.signal}, no figures (${/** @type {Error} */ (error).message}): ${lastLine}` });
  }
  process.stderr.write(`bench: ${bench.name} done in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

const machine = {
  cpu: os.cpus()[0]?.model ?? '?',
  cores: os.availableParallelism(),
  ramGiB: os.totalmem() / 1024 ** 3,
  kernel: `${os.type()} ${os.release()}`,
  node: process.version,
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
};
if (args.json) process.stdout.write(`${JSON.stringify({ machine, figures, notRun }, null, 2)}\n`);
else console.log(`\n${formatTable(machine, figures, notRun)}`);
process.exitCode = failed ? 1 : 0;
