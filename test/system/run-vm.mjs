#!/usr/bin/env node
/**
 * `npm run test:system`: sanhook on the real thing (root needed).
 *
 *   1. builds (npm run build: tsc, the bundle, the man pages) and the Debian
 *      package (scripts/build-deb.mjs -> dist/deb/), unless --skip-build: the
 *      systemd suites install sanhook in the guest from that .deb;
 *   2. the host udev tests: `npx vitest run --project system` (real
 *      systemd-udevd on this machine, test/system/*-host.test.ts);
 *   3. every VM suite in test/system/scenarios/*.sh (lib.sh excepted), one
 *      after the other, each in one boot of test/system/vm/sanhook-vm.sh (a
 *      real Linux kernel with nvmet + nvme-tcp, real systemd-udevd running the
 *      shipped rules, timerd), and reads the markers the guest prints
 *      (scenarios/lib.sh): one result per scenario, by name.
 *
 * Prints one line per scenario with its wall time and measurements, the
 * failure's step / expected / seen and diagnostics, and exits non-zero when
 * anything failed, timed out or did not run. Full console logs are kept in
 * $SANHOOK_SYSTEM_LOGS (default: a new directory under the OS temp dir).
 *
 * usage: node test/system/run-vm.mjs [--skip-build] [--skip-host] [--skip-vm]
 *          [--suite NAME]... [--verbose]
 *   --suite nvmf-aen            only this suite (repeatable); NAME:scen1,scen2 runs only those scenarios
 *   --verbose                   echo the guest console while it runs
 * env: SANHOOK_VM_TIMEOUT (per boot, default 1200 here: a systemd suite installs and purges the .deb, whose dpkg reads its whole database over 9p under TCG), SANHOOK_VM_CACHE, ... (see vm/sanhook-vm.sh)
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCENARIOS = path.join(REPO, 'test/system/scenarios');
const HARNESS = path.join(REPO, 'test/system/vm/sanhook-vm.sh');

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const suitesWanted = args.flatMap((a, i) => (a === '--suite' && args[i + 1] ? [args[i + 1]] : []));
const verbose = flag('--verbose');
if (flag('--help') || flag('-h')) {
  console.log(`usage: npm run test:system [-- OPTIONS]   (root)
  --skip-build        do not build (npm run build, npm run deb) first
  --skip-host         skip the host udev tests (vitest --project system)
  --skip-vm           skip the VM suites
  --suite NAME        only this suite of test/system/scenarios (repeatable); NAME:a,b runs only scenarios a and b
  --verbose           echo the guest console while it runs
env: SANHOOK_VM_TIMEOUT (s per boot), SANHOOK_VM_CACHE, SANHOOK_SYSTEM_LOGS, and those of test/system/vm/sanhook-vm.sh`);
  process.exit(0);
}
for (const a of args) {
  if (a.startsWith('--') && !['--skip-build', '--skip-host', '--skip-vm', '--suite', '--verbose'].includes(a)) {
    console.error(`run-vm: unknown option ${a}`);
    process.exit(2);
  }
}

const started = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const results = []; // { kind, name, status: pass|fail|not-run, ms, detail: string[], measures: string }
let current; // child process, for SIGINT/SIGTERM

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (current?.pid) {
      try {
        process.kill(-current.pid, 'SIGTERM'); // the harness stops QEMU on SIGTERM
      } catch {}
    }
    console.error(`\nrun-vm: ${signal}: stopped`);
    process.exit(130);
  });
}

/** Runs a command in its own process group; resolves { code, ms }. onLine gets each output line. */
function run(command, argv, { env = {}, onLine = () => {}, log } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(command, argv, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    current = child;
    for (const stream of [child.stdout, child.stderr]) {
      let buffer = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        log?.write(chunk);
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          onLine(buffer.slice(0, nl).replace(/\r$/, ''));
          buffer = buffer.slice(nl + 1);
        }
      });
      stream.on('end', () => buffer && onLine(buffer));
    }
    child.on('close', (code, signal) => {
      current = undefined;
      resolve({ code: code ?? (signal ? 128 : 1), ms: Date.now() - t0 });
    });
  });
}

const logDir = process.env.SANHOOK_SYSTEM_LOGS
  ? (mkdirSync(process.env.SANHOOK_SYSTEM_LOGS, { recursive: true }), process.env.SANHOOK_SYSTEM_LOGS)
  : mkdtempSync(path.join(os.tmpdir(), 'sanhook-system-'));

console.log('sanhook system tests: real systemd-udevd on this host, then a real Linux kernel (nvmet + nvme-tcp) in QEMU');
if (process.getuid?.() !== 0) {
  console.error('run-vm: needs root (systemd-udevd on this host; QEMU shares / with the guest, which runs nvme connect). Run as root, e.g. in CI via .ci/run.');
  process.exit(1);
}

// ---- 1. build
if (!flag('--skip-build')) {
  for (const [name, file, argv] of [
    ['build', 'npm', ['run', 'build']],
    ['deb', process.execPath, ['scripts/build-deb.mjs', '--skip-build']],
  ]) {
    const out = [];
    const step = await run(file, argv, { onLine: (l) => out.push(l) });
    if (step.code !== 0) {
      console.log(`FAIL  ${name} (${[file, ...argv].join(' ')})\n${out.join('\n')}`);
      process.exit(1);
    }
    console.log(`ok    ${name.padEnd(45)}${secs(step.ms)}${name === 'deb' ? `  ${out.at(-1) ?? ''}` : ''}`);
  }
}

// ---- 2. host udev tests
if (!flag('--skip-host')) {
  const out = [];
  const log = createWriteStream(path.join(logDir, 'host-vitest.log'));
  const host = await run('npx', ['vitest', 'run', '--project', 'system'], {
    onLine: (l) => (out.push(l.replace(/\x1b\[[0-9;]*m/g, '')), verbose && console.log(`  | ${l}`)),
    log,
    // CI=true: the host tests fail instead of skipping when udevd & co. are missing
    env: { CI: process.env.CI ?? 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  log.end();
  const summary = out.filter((l) => /^\s*(Tests|Test Files)\s+\d/.test(l)).map((l) => l.trim().replace(/\s+/g, ' ')).join('; ');
  const status = host.code === 0 ? 'pass' : 'fail';
  results.push({ kind: 'host', name: 'host udev (vitest --project system)', status, ms: host.ms, measures: summary, detail: status === 'pass' ? [] : out.slice(-40) });
  console.log(`${status === 'pass' ? 'PASS' : 'FAIL'}  host udev: vitest --project system             ${secs(host.ms)}  ${summary}`);
  if (status === 'fail') for (const l of out.slice(-40)) console.log(`        ${l}`);
}

// ---- 3. VM suites
if (!flag('--skip-vm')) {
  const suites = readdirSync(SCENARIOS)
    .filter((f) => f.endsWith('.sh') && f !== 'lib.sh')
    .map((f) => f.replace(/\.sh$/, ''))
    .sort();
  const wanted = new Map(suitesWanted.map((w) => [w.split(':')[0], w.includes(':') ? w.split(':')[1].split(',') : []]));
  for (const unknown of [...wanted.keys()].filter((w) => !suites.includes(w))) {
    console.error(`run-vm: no suite ${unknown} (have: ${suites.join(', ')})`);
    process.exit(2);
  }
  for (const suite of suites) {
    if (wanted.size > 0 && !wanted.has(suite)) continue;
    const file = path.join(SCENARIOS, `${suite}.sh`);
    const only = wanted.get(suite) ?? [];
    const declared = (/^# scenarios:(.*)$/m.exec(readFileSync(file, 'utf8'))?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
    const expected = only.length > 0 ? only : declared;
    // `# init: systemd` boots systemd as PID 1 in the guest, `# init: initramfs-handover` first
    // runs the suite's initramfs stage (vm/sanhook-vm.sh SANHOOK_VM_INIT)
    const init = (/^# init:(.*)$/m.exec(readFileSync(file, 'utf8'))?.[1] ?? 'chroot').trim();
    const log = createWriteStream(path.join(logDir, `${suite}.console.log`));
    const seen = new Map(); // name -> { status, secs, detail[], measures[] }
    let open; // scenario currently running
    let inFailure = false;
    let bootSecs = '?';
    let suiteEnd = '';
    const how = init === 'systemd' ? ' with systemd as PID 1' : init === 'initramfs-handover' ? ' through an initramfs stage, then systemd as PID 1' : '';
    console.log(`suite ${suite}: one boot of vm/sanhook-vm.sh${how} (${expected.join(', ')})`);
    const t0 = Date.now();
    const outcome = await run('bash', [HARNESS, file, ...only], {
      env: { SANHOOK_VM_TIMEOUT: process.env.SANHOOK_VM_TIMEOUT ?? '1200', SANHOOK_VM_INIT: init },
      log,
      onLine: (line) => {
        if (verbose) console.log(`  | ${line}`);
        let m;
        if ((m = /^sanhook-vm: guest ready ([0-9.]+)s/.exec(line))) bootSecs = m[1];
        else if ((m = /^@@scenario start (\S+)/.exec(line))) {
          open = m[1];
          inFailure = false;
          seen.set(open, { status: 'running', secs: '', detail: [], measures: [] });
        } else if ((m = /^@@scenario end (\S+) (pass|fail) ([0-9.]+)/.exec(line))) {
          const r = seen.get(m[1]) ?? { detail: [], measures: [] };
          Object.assign(r, { status: m[2], secs: m[3] });
          seen.set(m[1], r);
          open = undefined;
          inFailure = false;
          console.log(`  ${m[2] === 'pass' ? 'PASS' : 'FAIL'}  ${m[1].padEnd(40)} ${Number(m[3]).toFixed(1).padStart(6)} s  ${r.measures.join(' ')}`);
          if (m[2] === 'fail') for (const l of r.detail.slice(0, 120)) console.log(`        ${l}`);
        } else if ((m = /^@@measure (\S+) (\S+) (\S+)/.exec(line))) seen.get(m[1])?.measures.push(`${m[2]}=${m[3]}`);
        else if ((m = /^@@fail (\S+) (.*)$/.exec(line))) {
          inFailure = true;
          seen.get(m[1])?.detail.push(m[2]);
        } else if ((m = /^@@suite end (.*)$/.exec(line))) suiteEnd = m[1];
        else if (inFailure && open) seen.get(open)?.detail.push(line);
        else if (open && /^\[[0-9. ]+\] /.test(line) && !verbose && !/^\[ *[0-9]+\.[0-9]+\] (sysrq|reboot)/.test(line)) console.log(`        ${line}`);
      },
    });
    log.end();
    const wall = Date.now() - t0;
    const why =
      outcome.code === 124 ? `timed out after SANHOOK_VM_TIMEOUT=${process.env.SANHOOK_VM_TIMEOUT ?? '1200'} s (QEMU killed)` : outcome.code === 125 ? 'harness error or the guest never reported (see the console log)' : '';
    for (const name of expected) {
      const r = seen.get(name);
      if (!r || r.status === 'running') {
        results.push({ kind: 'vm', suite, name, status: 'not-run', ms: 0, measures: '', detail: [why || `no result from the guest (suite exit ${outcome.code})`] });
        console.log(`  FAIL  ${name.padEnd(40)}      -    did not finish: ${why || `no result (suite exit ${outcome.code})`}`);
      } else results.push({ kind: 'vm', suite, name, status: r.status, ms: Number(r.secs) * 1000, measures: r.measures.join(' '), detail: r.detail });
    }
    if (outcome.code !== 0 && [...seen.values()].every((r) => r.status === 'pass') && expected.every((n) => seen.has(n))) {
      results.push({ kind: 'vm', suite, name: `${suite} (boot)`, status: 'fail', ms: wall, measures: '', detail: [`suite exit ${outcome.code} ${suiteEnd}`] });
      console.log(`  FAIL  ${suite}: exit ${outcome.code} although every scenario passed (${suiteEnd || 'no suite result'})`);
    }
    console.log(`  suite ${suite}: exit ${outcome.code}, guest ready ${bootSecs} s after QEMU start, wall ${secs(wall)}; console log ${path.join(logDir, `${suite}.console.log`)}`);
  }
}

// ---- report
const failed = results.filter((r) => r.status !== 'pass');
console.log('');
console.log('summary');
for (const r of results) {
  console.log(`  ${r.status === 'pass' ? 'PASS' : 'FAIL'}  ${(r.kind === 'vm' ? `${r.suite}/${r.name}` : r.name).padEnd(58)} ${r.ms ? secs(r.ms).padStart(8) : '       -'}  ${r.measures}`);
}
console.log(`total ${secs(Date.now() - started)}: ${results.length - failed.length} passed, ${failed.length} failed; logs in ${logDir}`);
process.exit(failed.length > 0 || results.length === 0 ? 1 : 0);
