/**
 * The shipped udev rules under a REAL systemd-udevd on real kernel uevents.
 *
 * What it proves: (i) the RUN lines udev executes are exactly the argv sanhook
 * expects (`/usr/bin/sanhook connect|connected|lost --uevent`, or the same
 * under `systemd-cat --identifier=sanhook` when journald is there); (ii) each
 * runs once for the right events and never for the others; (iii) hostile
 * values (spaces, `;`, `$(...)`, backquotes, udev's own `%k`/`$env{}`) reach
 * the program byte for byte in its ENVIRONMENT, never as argv words, and
 * nothing runs a shell; (iv) the identity the rules store on add/change
 * (SANHOOK_SUBNQN, SANHOOK_CNTRLTYPE, SANHOOK_HOSTNQN) comes back from udev's
 * database in the environment of the remove event, which lacks the NQN; and
 * which identity the database holds after each event is exactly the table of
 * src/hooks/nvmf/stored-identity.ts: its rows
 * (test/fixtures/stored-identity-rows.ts) run here through udevd too (read
 * only from an identified controller, kept across a change that reads
 * nothing, only values that udev's `$attr{}` substitution leaves intact).
 *
 * How (the host has no NVMe or FC devices): the test installs, in
 * /etc/udev/rules.d, a copy of rules.d/70-sanhook-nvmf.rules in which only
 * these tokens differ (asserted by mapping them back to the shipped bytes):
 *   - SUBSYSTEM values: nvme -> net (a veth it creates), fc -> macvtap (a
 *     macvtap on that veth); so real devices carry the events;
 *   - the attributes the identity is read from, which a veth lacks:
 *     subsysnqn -> ifalias (of the veth itself), cntrltype -> the alias of its
 *     peer (`[net/PEER]ifalias`), hostnqn -> the alias of the macvtap's
 *     netdev, state -> the alias of a second veth (`[net/STATE]ifalias`); the
 *     test sets them with `ip link set dev X alias ...` (no uevent), so it
 *     chooses the "attribute" value each event reads (an attribute of a gone
 *     controller reads as an empty alias: udev's matches treat both alike);
 *   - /usr/bin/sanhook -> a recorder (writes its argv and environment, one
 *     directory per run, renamed into place), /usr/bin/systemd-cat -> a fake
 *     that records and then execs its command like the real one, and
 *     /run/systemd/journal/stdout -> a file the test creates or removes.
 * Events are real kernel uevents: an `add`, `change` or `remove` written to the
 * device's `uevent` file (the device stays; udevd treats the event like any
 * other: on remove it reads and deletes the device's database), and, at the
 * end, a real `ip link del`. The kernel only passes alphanumeric synthetic
 * variables, so a test-only rules file (69-...) imports the case's variables
 * (NVME_AEN, ...) from a file the test wrote, as udev IMPORT{file}; the
 * shipped rules then see exactly the variable names the kernel uses. A
 * second one (99-...) marks each case done after its RUN programs: waiting
 * for that needs no further event, which would rewrite the database. A
 * barrier event per device (udevd runs one device's events in order) makes
 * "did not fire" exact.
 *
 * rules.d/81-sanhook-fcoe.rules is tested the same way on real veth add/remove
 * uevents (its own describe block below), and the FCoE dispatcher scripts
 * (dispatcher/) are run as their dispatchers run them (no root needed).
 *
 * Needs root, udev (udevadm, systemd-udevd) and iproute2. Missing: the test
 * fails when $CI is set, else skips with the reason. A running udevd is
 * reused; otherwise one is started in the foreground as a child and stopped.
 * Everything installed is removed in afterAll, also on failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { resolvePaths } from '../../src/core/system.js';
import { armedFlagPathFor } from '../../src/timerd/client.js';
import { IDENTITY_FIELDS, type StoredIdentity } from '../../src/hooks/nvmf/stored-identity.js';
import { DISCOVERY_NQN, HOSTNQN, STORED_IDENTITY_ROWS } from '../fixtures/stored-identity-rows.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHIPPED_PATH = path.join(REPO, 'rules.d/70-sanhook-nvmf.rules');
const SANHOOK = '/usr/bin/sanhook';
const SYSTEMD_CAT = '/usr/bin/systemd-cat';
const JOURNAL_STREAM = '/run/systemd/journal/stdout';
/** timerd keeps it present exactly while a timer is armed; the rules run `connected` only then. */
const ARMED_FLAG = armedFlagPathFor(resolvePaths('/', '/sys', 'linux').run);
const RULES_DIR = '/etc/udev/rules.d';

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const full = path.join(dir, cmd);
    if (dir && existsSync(full)) return full;
  }
  return undefined;
}

const UDEVD = ['/lib/systemd/systemd-udevd', '/usr/lib/systemd/systemd-udevd'].find((p) => existsSync(p));
const UDEVADM = onPath('udevadm');
const IP = onPath('ip');
const missing = [
  process.getuid?.() === 0 ? undefined : 'root',
  UDEVADM ? undefined : 'udevadm (apt-get install udev)',
  UDEVD ? undefined : 'systemd-udevd (apt-get install udev)',
  IP ? undefined : 'ip (apt-get install iproute2)',
].filter(Boolean);
let unavailable: string | undefined = missing.length > 0 ? `needs ${missing.join(', ')}` : undefined;

/** Skips with the reason, or fails under CI, when the host cannot run real udev. */
function requireHost(ctx: TestContext): void {
  if (!unavailable) return;
  if (process.env.CI) throw new Error(`real-udev test cannot run in CI: ${unavailable}`);
  ctx.skip(`real udev not available: ${unavailable}`);
}

const ID = randomBytes(3).toString('hex');
const NET = `shk${ID}a`;
const PEER = `shk${ID}b`;
const TAP = `shk${ID}m`;
/** A second veth pair: its alias stands for the controller's `state`. */
const STATE = `shk${ID}s`;
const STATE_PEER = `shk${ID}t`;
const A = { nvme: 'net', fc: 'macvtap' } as const;
/** Stand-ins for the controller attributes the rules store (see the header). */
const ATTRS = [
  ['{subsysnqn}', '{ifalias}'],
  ['{cntrltype}', `{[net/${PEER}]ifalias}`],
  ['{hostnqn}', `{[net/${TAP}]ifalias}`],
  ['{state}', `{[net/${STATE}]ifalias}`],
] as const;

/** What the kernel puts on every uevent of a fabrics controller (remove included). */
const TR = { NVME_TRTYPE: 'tcp', NVME_TRADDR: '192.0.2.10', NVME_TRSVCID: '4420', NVME_HOST_TRADDR: 'none', NVME_HOST_IFACE: 'none' } as const;

let dir = '';
const installed: string[] = [];
let udevd: ChildProcess | undefined;
let udevdLog = '';
let netSys = '';
let tapSys = '';
let stateLink = '';
let barrierCount = 0;
let caseCount = 0;
const timings: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(file: string, args: string[], allowFail = false): string {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 30_000 });
  if (!allowFail && r.status !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

function paths() {
  return {
    recorder: path.join(dir, 'bin', 'sanhook'),
    fakeCat: path.join(dir, 'bin', 'systemd-cat'),
    journal: path.join(dir, 'journal-stdout'),
    armedFlag: path.join(dir, 'timers-armed'),
    pwned: path.join(dir, 'pwned'),
    root: path.join(dir, 'root'),
  };
}

/** Rewrites the tokens the installed copy changes: SUBSYSTEM match values, attribute names and program paths. */
function mapRules(text: string, subsystems: Record<string, string>, files: readonly (readonly [string, string])[]): string {
  const mapped = text.replace(/SUBSYSTEM(==|!=)"([^"]*)"/g, (_m, op: string, value: string) => `SUBSYSTEM${op}"${value.split('|').map((s) => subsystems[s] ?? s).join('|')}"`);
  return files.reduce((t, [from, to]) => t.replaceAll(from, to), mapped);
}

const fileMap = () => {
  const p = paths();
  return [[SANHOOK, p.recorder], [SYSTEMD_CAT, p.fakeCat], [JOURNAL_STREAM, p.journal], [ARMED_FLAG, p.armedFlag], ...ATTRS] as const;
};

/** The copy the test installs. */
const testCopy = (shipped: string, subsystems: Record<string, string>) => mapRules(shipped, subsystems, fileMap());

/** The inverse mapping: must give back the shipped bytes exactly. */
const untestCopy = (copy: string, subsystems: Record<string, string>) =>
  mapRules(copy, Object.fromEntries(Object.entries(subsystems).map(([k, v]) => [v, k])), fileMap().map(([a, b]) => [b, a] as const));

const testRulesPath = () => path.join(RULES_DIR, `70-sanhook-nvmf-test-${ID}.rules`);
const importRulesPath = () => path.join(RULES_DIR, `69-sanhook-nvmf-test-${ID}-import.rules`);
const doneRulesPath = () => path.join(RULES_DIR, `99-sanhook-nvmf-test-${ID}-done.rules`);

function install(file: string, text: string): void {
  if (!installed.includes(file)) installed.push(file);
  writeFileSync(file, text);
}

function installRules(subsystems: Record<string, string>): string {
  const copy = testCopy(readFileSync(SHIPPED_PATH, 'utf8'), subsystems);
  install(testRulesPath(), copy);
  run(UDEVADM!, ['control', '--reload']);
  return copy;
}

async function udevdAlive(): Promise<boolean> {
  return spawnSync(UDEVADM!, ['control', '--ping', '--timeout=1'], { stdio: 'ignore' }).status === 0;
}

/** A synthetic kernel uevent on a device (`change` unless told) with the case id as the only (alphanumeric) variable. */
function fire(sysPath: string, props: Record<string, string>, action: 'change' | 'add' | 'remove' = 'change'): string {
  caseCount += 1;
  const id = `c${caseCount}`;
  for (const [k, v] of Object.entries(props)) {
    if (!/^[A-Z_]+$/.test(k) || /^\s|\s$|\n/.test(v)) throw new Error(`bad test property ${k}=${v}`);
  }
  writeFileSync(path.join(dir, 'props', id), Object.entries(props).map(([k, v]) => `${k}=${v}\n`).join('') || '# no properties\n');
  writeFileSync(path.join(sysPath, 'uevent'), `${action} 00000000-0000-4000-8000-${ID.padStart(12, '0')} SANHOOKCASE=${id}`);
  return id;
}

/** Waits until every earlier event on these devices has finished (RUN programs included). */
async function barrier(...sysPaths: string[]): Promise<void> {
  const waits = sysPaths.map((sysPath) => {
    barrierCount += 1;
    const name = `b${barrierCount}`;
    writeFileSync(path.join(sysPath, 'uevent'), `change 00000000-0000-4000-8000-${ID.padStart(12, '0')} SANHOOKBARRIER=${name}`);
    return path.join(dir, 'barriers', name);
  });
  const deadline = Date.now() + 10_000;
  while (!waits.every((w) => existsSync(w))) {
    if (Date.now() > deadline) throw new Error(`udevd did not process the barrier events within 10 s\n${udevdLog}`);
    await sleep(5);
  }
}

/** Waits until udevd has finished these cases (their RUN programs included), without sending another event. */
async function done(...ids: string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ids.every((id) => existsSync(path.join(dir, 'done', id)))) {
    if (Date.now() > deadline) throw new Error(`udevd did not finish ${ids.join(', ')} within 10 s\n${udevdLog}`);
    await sleep(5);
  }
}

/** Sets the stand-in attributes (interface aliases) the next events read; `ip link set alias` raises no uevent. */
function identity(values: { subnqn?: string; cntrltype?: string; hostnqn?: string; state?: string }): void {
  const set = (dev: string, value: string | undefined) => run(IP!, ['link', 'set', 'dev', dev, 'alias', value ?? '']);
  set(NET, values.subnqn);
  set(PEER, values.cntrltype);
  set(TAP, values.hostnqn);
  set(STATE, values.state);
}

/** The identity in udevd's database for the stand-in controller now (`udevadm info` reads /run/udev/data). */
function databaseIdentity(): StoredIdentity {
  return identityOf(properties(run(UDEVADM!, ['info', '--query=property', netSys])));
}

function properties(text: string): Record<string, string> {
  return Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** The SANHOOK_SUBNQN/CNTRLTYPE/HOSTNQN of an environment, as the table names them. */
function identityOf(env: Record<string, string>): StoredIdentity {
  const stored: Record<string, string> = {};
  for (const [field, property] of IDENTITY_FIELDS) if (env[property] !== undefined) stored[field] = env[property];
  return stored;
}

interface Recorded {
  readonly role: string;
  readonly argv: string[];
  readonly env: Record<string, string>;
}

function records(recDir = path.join(dir, 'rec')): Recorded[] {
  return readdirSync(recDir)
    .filter((n) => !n.startsWith('.'))
    .map((name) => {
      const read = (f: string) => readFileSync(path.join(recDir, name, f), 'latin1');
      const argv = read('argv').split('\0').slice(0, -1);
      const env = Object.fromEntries(
        read('env')
          .split('\0')
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      return { role: name.replace(/-\d+$/, ''), argv, env };
    });
}

const byCase = (id: string) => records().filter((r) => r.env.SYNTH_ARG_SANHOOKCASE === id);
/** Maps the test's program paths in a recorded argv back to the shipped ones. */
const shippedArgv = (argv: string[]) => argv.map((w) => (w === paths().recorder ? SANHOOK : w === paths().fakeCat ? SYSTEMD_CAT : w));

/** The RUN commands of the shipped file, split as udev splits them. */
function shippedRuns(): string[][] {
  return [...readFileSync(SHIPPED_PATH, 'utf8').matchAll(/^[^#\n]*RUN\+="([^"]*)"/gm)].map((m) => m[1]!.split(/\s+/));
}

const RECORDER = (role: 'sanhook' | 'systemd-cat', recDir = `${dir}/rec`) => `#!/bin/sh
# Records argv (NUL-separated) and the environment udev passed, renamed into place at once.
d="${recDir}/.${role}-$$"
mkdir "$d" || exit 97
printf '%s\\0' "$0" "$@" > "$d/argv"
cat /proc/$$/environ > "$d/env"
mv "$d" "${recDir}/${role}-$$"
${
  role === 'systemd-cat'
    ? `# Like systemd-cat: drop our options, exec the command (no shell).
while [ $# -gt 0 ]; do case "$1" in --*) shift ;; *) break ;; esac; done
exec "$@"
`
    : ''
}`;

/** Hostile values: each would split argv or run something if anything substituted them into a command line. */
const hostile = () => ({
  NVME_TRTYPE: 'tcp %k $kernel $env{SEQNUM} $$ | & > <',
  NVME_TRADDR: `10.0.0.1 ; touch ${paths().pwned}`,
  NVME_TRSVCID: `$(touch ${paths().pwned})`,
  NVME_HOST_TRADDR: `\`touch ${paths().pwned}\` 'single' "double"`,
  NVME_HOST_IFACE: 'eth0 --all --root /tmp',
});

beforeAll(async () => {
  if (unavailable) {
    console.warn(`udev-host: ${process.env.CI ? 'FAILING (CI)' : 'skipped'}: ${unavailable}`);
    return;
  }
  const started = Date.now();
  dir = mkdtempSync('/run/sanhook-udev-test-');
  for (const sub of ['bin', 'props', 'rec', 'barriers', 'done', 'root']) mkdirSync(path.join(dir, sub));
  // as if timerd had a timer armed: `connected` runs (one test removes it)
  writeFileSync(path.join(dir, 'timers-armed'), '');
  for (const role of ['sanhook', 'systemd-cat'] as const) {
    writeFileSync(path.join(dir, 'bin', role), RECORDER(role));
    chmodSync(path.join(dir, 'bin', role), 0o755);
  }
  writeFileSync(path.join(dir, 'bin', 'barrier'), `#!/bin/sh\n: > "${dir}/barriers/$SYNTH_ARG_SANHOOKBARRIER"\n`);
  chmodSync(path.join(dir, 'bin', 'barrier'), 0o755);
  writeFileSync(path.join(dir, 'bin', 'done'), `#!/bin/sh\n: > "${dir}/done/$SYNTH_ARG_SANHOOKCASE"\n`);
  chmodSync(path.join(dir, 'bin', 'done'), 0o755);

  if (!(await udevdAlive())) {
    udevd = spawn(UDEVD!, [], { stdio: ['ignore', 'pipe', 'pipe'] });
    udevd.stdout!.on('data', (b: Buffer) => (udevdLog += b.toString()));
    udevd.stderr!.on('data', (b: Buffer) => (udevdLog += b.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await udevdAlive())) {
      if (Date.now() > deadline || udevd.exitCode !== null) throw new Error(`systemd-udevd did not start:\n${udevdLog}`);
      await sleep(20);
    }
  }

  install(
    importRulesPath(),
    `# sanhook test harness (test/system/udev-host.test.ts); removed after the test.
ENV{SYNTH_ARG_SANHOOKCASE}=="?*", IMPORT{file}="${dir}/props/$env{SYNTH_ARG_SANHOOKCASE}"
ACTION=="change", ENV{SYNTH_ARG_SANHOOKBARRIER}=="?*", RUN+="${dir}/bin/barrier"
# What an unfiltered $attr{} gives for the subsysnqn stand-in: shows why the shipped rules filter.
ACTION=="add|change", ENV{SYNTH_ARG_SANHOOKCASE}=="?*", ENV{SANHOOKTEST_RAW}="$attr{ifalias}"
`,
  );
  install(
    doneRulesPath(),
    `# sanhook test harness (test/system/udev-host.test.ts); removed after the test.
ENV{SYNTH_ARG_SANHOOKCASE}=="?*", RUN+="${dir}/bin/done"
`,
  );
  installRules(A);

  timings.push(`udevd ready ${Date.now() - started} ms`);

  const links = spawnSync(IP!, ['link', 'add', NET, 'type', 'veth', 'peer', 'name', PEER], { encoding: 'utf8' });
  const tap = links.status === 0 ? spawnSync(IP!, ['link', 'add', 'link', NET, 'name', TAP, 'type', 'macvtap'], { encoding: 'utf8' }) : links;
  const state = tap.status === 0 ? spawnSync(IP!, ['link', 'add', STATE, 'type', 'veth', 'peer', 'name', STATE_PEER], { encoding: 'utf8' }) : tap;
  if (links.status !== 0 || tap.status !== 0 || state.status !== 0) {
    unavailable = `cannot create veths and a macvtap: ${(links.stderr || tap.stderr || state.stderr).trim()}`;
    return;
  }
  stateLink = STATE;
  netSys = `/sys/class/net/${NET}`;
  tapSys = `/sys/class/macvtap/${readdirSync(`/sys/class/net/${TAP}/macvtap`)[0]}`;
  await barrier(netSys, tapSys);
  timings.push(`devices ready ${Date.now() - started} ms`);
}, 30_000);

afterAll(async () => {
  const problems: string[] = [];
  if (IP && netSys) spawnSync(IP, ['link', 'del', NET], { stdio: 'ignore' });
  if (IP && stateLink) spawnSync(IP, ['link', 'del', stateLink], { stdio: 'ignore' });
  if (UDEVADM && (await udevdAlive())) spawnSync(UDEVADM, ['settle', '--timeout=10'], { stdio: 'ignore' });
  for (const file of installed) {
    try {
      unlinkSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${file}: ${(error as Error).message}`);
    }
  }
  if (udevd) {
    spawnSync(UDEVADM!, ['control', '--exit', '--timeout=10'], { stdio: 'ignore' });
    const deadline = Date.now() + 5_000;
    while (udevd.exitCode === null && udevd.signalCode === null && Date.now() < deadline) await sleep(20);
    if (udevd.exitCode === null && udevd.signalCode === null) {
      udevd.kill('SIGKILL');
      problems.push('systemd-udevd did not exit on `udevadm control --exit`; killed');
    }
  } else if (installed.length > 0 && UDEVADM) {
    spawnSync(UDEVADM, ['control', '--reload'], { stdio: 'ignore' });
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (timings.length) console.log(`udev-host timings: ${timings.join(', ')}`);
  if (problems.length) throw new Error(problems.join('\n'));
}, 30_000);

describe('shipped udev rules under a real systemd-udevd', () => {
  it('the installed copy differs from the shipped file only in the mapped tokens, and udev loads it without errors', (ctx) => {
    requireHost(ctx);
    const shipped = readFileSync(SHIPPED_PATH, 'utf8');
    const copy = readFileSync(testRulesPath(), 'utf8');
    expect(copy).not.toBe(shipped);
    expect(copy).toContain(`RUN+="${paths().recorder} connect --uevent"`);
    expect(copy).toContain(`SUBSYSTEM!="net|macvtap"`);
    expect(copy).toContain(`ENV{SANHOOK_SUBNQN}="$attr{ifalias}"`);
    // the stand-ins never occur in the shipped file, so mapping back is unambiguous
    for (const [, standIn] of fileMap()) expect(shipped).not.toContain(standIn);
    expect(untestCopy(copy, A)).toBe(shipped);

    const output = run(UDEVADM!, ['test', '--action=change', netSys], true);
    const ours = output.split('\n').filter((l) => l.startsWith(testRulesPath()) || l.startsWith(importRulesPath()));
    expect(ours, 'udevadm test reports problems in the rules').toEqual([]);
    expect(output).toContain(`Reading rules file: ${testRulesPath()}`);
    expect(udevdLog.split('\n').filter((l) => l.includes(`sanhook-nvmf-test-${ID}`)), "udevd's log mentions the rules").toEqual([]);
  });

  it('AEN 0x70f002 and rediscover (nvme), nvmediscovery (fc): RUN is exactly `/usr/bin/sanhook connect --uevent`, once each; hostile values arrive as data', async (ctx) => {
    requireHost(ctx);
    const started = Date.now();
    const values = hostile();
    const aen = fire(netSys, { NVME_AEN: '0x70f002', ...values });
    const rediscover = fire(netSys, { NVME_EVENT: 'rediscover', NVME_TRTYPE: 'tcp', NVME_TRADDR: '192.0.2.1', NVME_TRSVCID: '8009' });
    const fcValues = { NVMEFC_HOST_TRADDR: 'nn-0x1:pn-0x2 $(id)', NVMEFC_TRADDR: `nn-0x3:pn-0x4;touch ${paths().pwned}` };
    const fc = fire(tapSys, { FC_EVENT: 'nvmediscovery', ...fcValues });
    await barrier(netSys, tapSys);
    timings.push(`3 matching events ${Date.now() - started} ms`);

    const expected = [SANHOOK, 'connect', '--uevent'];
    expect(shippedRuns()).toContainEqual(expected);
    for (const id of [aen, rediscover, fc]) {
      const runs = byCase(id);
      expect(runs.map((r) => r.role), `case ${id}`).toEqual(['sanhook']);
      expect(shippedArgv(runs[0]!.argv), `case ${id}`).toEqual(expected);
      // exactly what cli.ts's fast path checks for
      expect(runs[0]!.argv.slice(1)).toEqual(['connect', '--uevent']);
      expect(runs[0]!.env.ACTION).toBe('change');
      expect(runs[0]!.env.SEQNUM).toMatch(/^[0-9]+$/);
    }
    const aenEnv = byCase(aen)[0]!.env;
    expect(aenEnv).toMatchObject({ ...values, NVME_AEN: '0x70f002', SUBSYSTEM: 'net', DEVPATH: `/devices/virtual/net/${NET}` });
    const fcEnv = byCase(fc)[0]!.env;
    expect(fcEnv).toMatchObject({ ...fcValues, FC_EVENT: 'nvmediscovery', SUBSYSTEM: 'macvtap' });
    expect(existsSync(paths().pwned), 'something ran a shell').toBe(false);
  });

  it('never fires for other events: other AENs, connected without NVME_TRTYPE, near misses, incomplete fc events, other actions, non-fabrics remove, device add', async (ctx) => {
    requireHost(ctx);
    const quiet = [
      fire(netSys, { NVME_AEN: '0x70f003', NVME_TRTYPE: 'tcp' }),
      fire(netSys, { NVME_AEN: '0x70f0020' }),
      fire(netSys, { NVME_AEN: '0X70F002' }),
      // `connected` from a PCIe controller (no NVME_TRTYPE), or a near miss
      fire(netSys, { NVME_EVENT: 'connected' }),
      fire(netSys, { NVME_EVENT: 'connectedx', ...TR }),
      fire(netSys, { NVME_EVENT: 'rediscovered' }),
      // a fabrics controller's plain change: identity stored, nothing run
      fire(netSys, { ...TR }),
      fire(netSys, {}),
      // remove of a non-fabrics controller. It must follow an event whose database holds no
      // NVME_TRTYPE (the line above): on remove udevd adds the database's properties, and the
      // harness's imported variables are stored there like any rule-set property.
      fire(netSys, { NVME_EVENT: 'connected' }, 'remove'),
      fire(tapSys, { FC_EVENT: 'nvmediscovery', NVMEFC_HOST_TRADDR: 'nn-0x1:pn-0x2' }),
      fire(tapSys, { FC_EVENT: 'nvmediscovery', NVMEFC_TRADDR: 'nn-0x3:pn-0x4' }),
      fire(tapSys, { FC_EVENT: 'other', NVMEFC_HOST_TRADDR: 'nn-0x1:pn-0x2', NVMEFC_TRADDR: 'nn-0x3:pn-0x4' }),
      // an nvme-looking event on the fc stand-in: the fc branch ends, it never reaches the nvme rules
      fire(tapSys, { NVME_AEN: '0x70f002', NVME_EVENT: 'rediscover' }),
      fire(tapSys, { NVME_EVENT: 'connected', ...TR }),
      fire(tapSys, { ...TR }, 'remove'),
      // the right variables on an `add` (or any other action) are not events the rules handle
      fire(netSys, { NVME_AEN: '0x70f002' }, 'add'),
      fire(netSys, { NVME_EVENT: 'rediscover' }, 'add'),
      fire(netSys, { NVME_EVENT: 'connected', ...TR }, 'add'),
      fire(netSys, { ...TR }, 'add'),
      fire(tapSys, { FC_EVENT: 'nvmediscovery', NVMEFC_HOST_TRADDR: 'nn-0x1:pn-0x2', NVMEFC_TRADDR: 'nn-0x3:pn-0x4' }, 'add'),
    ];
    await barrier(netSys, tapSys);
    for (const id of quiet) expect(byCase(id), `case ${id}`).toEqual([]);
    // the veth/macvtap `add` events of beforeAll carried no case id: nothing may have run for them
    expect(records().filter((r) => r.env.SYNTH_ARG_SANHOOKCASE === undefined)).toEqual([]);
  });

  it('with journald present: `systemd-cat --identifier=sanhook /usr/bin/sanhook --log-format journal connect|connected|lost --uevent`, and the plain RUN is skipped', async (ctx) => {
    requireHost(ctx);
    writeFileSync(paths().journal, '');
    try {
      identity({ subnqn: 'nqn.2014-08.org.example:journald', cntrltype: 'io', hostnqn: HOSTNQN });
      const cases = [
        ['connect', fire(netSys, { NVME_AEN: '0x70f002', ...hostile() })],
        ['connected', fire(netSys, { NVME_EVENT: 'connected', ...hostile() })],
        ['lost', fire(netSys, hostile(), 'remove')],
      ] as const;
      await done(...cases.map(([, id]) => id));
      await barrier(netSys);
      for (const [command, id] of cases) {
        const runs = byCase(id);
        expect(runs.map((r) => r.role).sort(), command).toEqual(['sanhook', 'systemd-cat']);
        const cat = runs.find((r) => r.role === 'systemd-cat')!;
        const hook = runs.find((r) => r.role === 'sanhook')!;
        // systemd-cat sets $JOURNAL_STREAM only from systemd 253: the rule names the journal format
        expect(shippedArgv(cat.argv)).toEqual([SYSTEMD_CAT, '--identifier=sanhook', SANHOOK, '--log-format', 'journal', command, '--uevent']);
        expect(shippedRuns()).toContainEqual(shippedArgv(cat.argv));
        expect(shippedArgv(hook.argv)).toEqual([SANHOOK, '--log-format', 'journal', command, '--uevent']);
        expect(hook.env).toMatchObject(hostile());
      }
      expect(byCase(cases[2][1])[0]!.env.SANHOOK_SUBNQN).toBe('nqn.2014-08.org.example:journald');
    } finally {
      unlinkSync(paths().journal);
      identity({});
    }
    expect(existsSync(paths().pwned)).toBe(false);
  });

  it('the real sanhook, given exactly that argv and environment, rejects the hostile values (exit 2) and runs nothing', async (ctx) => {
    requireHost(ctx);
    const id = fire(netSys, { NVME_AEN: '0x70f002', ...hostile() });
    await barrier(netSys);
    const [record] = byCase(id);
    expect(existsSync(path.join(REPO, 'dist', 'cli.js')), 'build first: npx tsc -p tsconfig.json').toBe(true);
    // Undo only the stand-in device: a fabrics controller's SUBSYSTEM and DEVPATH.
    const env = { ...record!.env, SUBSYSTEM: 'nvme', DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme1', SANHOOK_DEBUG: '' };
    const result = spawnSync(process.execPath, [path.join(REPO, 'bin', 'sanhook.js'), ...record!.argv.slice(1)], { env, encoding: 'utf8', timeout: 30_000 });
    expect(result.status, result.stderr).toBe(2);
    console.log(`sanhook under the recorded udev environment: exit ${result.status}: ${result.stderr.trim()}`);
    expect(result.stderr).toMatch(/^sanhook: --[a-z-]+: .*got "/);
    expect(Object.values(hostile()).some((v) => result.stderr.includes(JSON.stringify(v)))).toBe(true);
    expect(existsSync(paths().pwned)).toBe(false);
  });

  it('no timer armed (timerd removed its flag file): a change connected runs nothing, so a burst of new controllers starts no node', async (ctx) => {
    requireHost(ctx);
    unlinkSync(paths().armedFlag);
    try {
      identity({ subnqn: 'nqn.2014-08.org.example:no-timer', cntrltype: 'io', hostnqn: HOSTNQN });
      const connected = fire(netSys, { ...TR, NVME_EVENT: 'connected' });
      await done(connected);
      await barrier(netSys);
      expect(byCase(connected)).toEqual([]);
    } finally {
      writeFileSync(paths().armedFlag, '');
      identity({});
    }
    const again = fire(netSys, { ...TR, NVME_EVENT: 'connected' });
    await done(again);
    await barrier(netSys);
    expect(byCase(again).map((r) => shippedArgv(r.argv))).toEqual([[SANHOOK, 'connected', '--uevent']]);
  });

  it('a fabrics controller add (before live), change connected, remove: `connected --uevent` once, `lost --uevent` once, with the identity the connected change stored and the add\'s SEQNUM from the database', async (ctx) => {
    requireHost(ctx);
    const started = Date.now();
    const IO_NQN = 'nqn.2014-08.org.example:sanhook-test.io_1+a@b=c';
    // add: not identified yet (cntrltype reads "reserved" then, the state "connecting")
    identity({ subnqn: 'nqn.2014-08.org.example:at-add', cntrltype: 'reserved', hostnqn: HOSTNQN, state: 'connecting' });
    const add = fire(netSys, TR, 'add');
    await done(add);
    const afterAdd = properties(run(UDEVADM!, ['info', '--query=property', netSys]));
    expect(identityOf(afterAdd), 'nothing stored from a controller not yet identified').toEqual({});
    expect(afterAdd.SANHOOK_ADD_SEQNUM).toMatch(/^[0-9]+$/);
    identity({ subnqn: IO_NQN, cntrltype: 'io', hostnqn: HOSTNQN, state: 'live' });
    const connected = fire(netSys, { ...TR, NVME_EVENT: 'connected' });
    await done(connected);
    // the live attributes now differ from the stored ones: remove must report the stored ones
    identity({ subnqn: 'nqn.2014-08.org.example:live-at-remove', cntrltype: 'discovery', hostnqn: 'nqn.2014-08.org.example:other-host' });
    const removed = fire(netSys, TR, 'remove');
    await done(removed);
    await barrier(netSys);
    timings.push(`add/connected/remove ${Date.now() - started} ms`);
    identity({});

    expect(byCase(add), 'add runs nothing').toEqual([]);
    const [onConnected, ...moreConnected] = byCase(connected);
    expect(moreConnected).toEqual([]);
    expect(shippedArgv(onConnected!.argv)).toEqual([SANHOOK, 'connected', '--uevent']);
    expect(shippedRuns()).toContainEqual([SANHOOK, 'connected', '--uevent']);
    expect(onConnected!.env).toMatchObject({ ...TR, ACTION: 'change', NVME_EVENT: 'connected', SANHOOK_SUBNQN: IO_NQN, SANHOOK_CNTRLTYPE: 'io' });

    const [onRemove, ...moreRemove] = byCase(removed);
    expect(moreRemove).toEqual([]);
    expect(shippedArgv(onRemove!.argv)).toEqual([SANHOOK, 'lost', '--uevent']);
    expect(shippedRuns()).toContainEqual([SANHOOK, 'lost', '--uevent']);
    expect(onRemove!.env).toMatchObject({
      ...TR,
      ACTION: 'remove',
      SUBSYSTEM: 'net',
      DEVPATH: `/devices/virtual/net/${NET}`,
      SANHOOK_SUBNQN: IO_NQN,
      SANHOOK_CNTRLTYPE: 'io',
      SANHOOK_HOSTNQN: HOSTNQN,
      // the incarnation of the add, carried through the change by IMPORT{db}
      SANHOOK_ADD_SEQNUM: afterAdd.SANHOOK_ADD_SEQNUM,
    });

    // The real sanhook with that environment (only the stand-in device undone) would arm timerd
    // for exactly that identity; --dry-run prints the request instead of sending it.
    expect(existsSync(path.join(REPO, 'dist', 'cli.js')), 'build first: npx tsc -p tsconfig.json').toBe(true);
    const root = path.join(paths().root, 'io');
    mkdirSync(path.join(root, 'etc', 'sanhook'), { recursive: true });
    writeFileSync(path.join(root, 'etc', 'sanhook', 'sanhook.yaml'), 'nvmf:\n  lost:\n    reconnect-unmanaged: true\n');
    const env = { ...onRemove!.env, SUBSYSTEM: 'nvme', DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme3', SANHOOK_DEBUG: '' };
    const result = spawnSync(process.execPath, [path.join(REPO, 'bin', 'sanhook.js'), '--root', root, '--dry-run', '-o', 'json', ...onRemove!.argv.slice(1)], { env, encoding: 'utf8', timeout: 30_000 });
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout.trim()) as { outcome: string; device: string; request: { params: Record<string, string> } };
    expect(report).toMatchObject({ outcome: 'would-arm', device: 'nvme3' });
    expect(report.request.params).toMatchObject({ transport: 'tcp', traddr: TR.NVME_TRADDR, trsvcid: TR.NVME_TRSVCID, nqn: IO_NQN, hostnqn: HOSTNQN });
  });

  describe('the early-add identity table (test/fixtures/stored-identity-rows.ts), through udevd: the database after each event is storedIdentity()', () => {
    it.for(STORED_IDENTITY_ROWS.map((row) => [row.name, row] as const))('%s', async ([, row], ctx) => {
      requireHost(ctx);
      // previous: a remove deletes the database; a change of a live controller stores the row's previous values
      await done(fire(netSys, TR, 'remove'));
      if (Object.keys(row.previous).length > 0) {
        identity({ ...row.previous, state: 'live' });
        await done(fire(netSys, TR));
      }
      expect(databaseIdentity(), 'the database before the event').toEqual(row.previous);

      const { attributes, state } = row.event;
      identity({ subnqn: attributes.subsysnqn, cntrltype: attributes.cntrltype, hostnqn: attributes.hostnqn, state });
      const variables = { ...(row.event.fabrics ? TR : {}), ...(row.event.nvmeEvent ? { NVME_EVENT: row.event.nvmeEvent } : {}), ...row.variables };
      const id = fire(netSys, variables, row.event.action as 'add' | 'change' | 'remove');
      await done(id);
      identity({});
      if (row.event.action === 'remove') {
        // udevd deletes the database on remove: what it held is what `lost --uevent` was given
        const lost = byCase(id).filter((r) => r.role === 'sanhook');
        expect(lost.map((r) => shippedArgv(r.argv))).toEqual([[SANHOOK, 'lost', '--uevent']]);
        expect(identityOf(lost[0]!.env)).toEqual(row.stored);
      } else {
        expect(databaseIdentity()).toEqual(row.stored);
      }
    });
  });

  it("a hostile attribute: udev's $attr{} would rewrite it (stored, a different NQN), so it is never stored; no stored value has another character; nothing ran a shell", async (ctx) => {
    requireHost(ctx);
    await done(fire(netSys, TR, 'remove'));
    const evil = `nqn.2014-08.org.example:x $(touch ${paths().pwned}) ; \`id\` 'q' "d" %k $env{SEQNUM}`;
    identity({ subnqn: evil, cntrltype: 'io', hostnqn: HOSTNQN, state: 'live' });
    const change = fire(netSys, { ...TR, NVME_EVENT: 'connected' });
    await done(change);
    identity({});
    const [onChange] = byCase(change);
    expect(onChange!.env.SANHOOKTEST_RAW).toBeDefined();
    expect(onChange!.env.SANHOOKTEST_RAW).not.toBe(evil);
    expect(onChange!.env.SANHOOK_SUBNQN, 'a value udev would rewrite is not stored').toBeUndefined();
    expect(databaseIdentity()).toEqual({ cntrltype: 'io', hostnqn: HOSTNQN });
    for (const record of records()) {
      for (const [name, value] of Object.entries(record.env)) {
        if (name.startsWith('SANHOOK_')) expect(value, name).toMatch(/^[A-Za-z0-9._:+@=-]+$/);
      }
    }
    expect(existsSync(paths().pwned)).toBe(false);
  });

  it('a connect that fails before live (add, remove): `lost --uevent` gets no identity, not the add-time garbage, and the real sanhook ignores it (no-subnqn)', async (ctx) => {
    requireHost(ctx);
    identity({ subnqn: 'nqn.2014-08.org.example:failed-connect', cntrltype: 'reserved', hostnqn: HOSTNQN, state: 'connecting' });
    const ids = [fire(netSys, TR, 'add'), fire(netSys, TR, 'remove')];
    await done(...ids);
    identity({});
    const [add, removed] = ids.map((id) => byCase(id));
    expect(add).toEqual([]);
    expect(removed!.map((r) => shippedArgv(r.argv))).toEqual([[SANHOOK, 'lost', '--uevent']]);
    expect(identityOf(removed![0]!.env)).toEqual({});
    expect(removed![0]!.env.SANHOOK_ADD_SEQNUM).toMatch(/^[0-9]+$/);

    const root = path.join(paths().root, 'failed-connect');
    mkdirSync(root, { recursive: true });
    const env = { ...removed![0]!.env, SUBSYSTEM: 'nvme', DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme5', SANHOOK_DEBUG: '' };
    const result = spawnSync(process.execPath, [path.join(REPO, 'bin', 'sanhook.js'), '--root', root, '-o', 'json', ...removed![0]!.argv.slice(1)], { env, encoding: 'utf8', timeout: 30_000 });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toMatchObject({ hook: 'lost', outcome: 'ignored', reason: 'no-subnqn' });
  });

  it('a transient discovery controller (plain `nvme discover`: add, change connected, remove) gives `lost --uevent` with SANHOOK_CNTRLTYPE=discovery, which the real sanhook ignores without contacting timerd', async (ctx) => {
    requireHost(ctx);
    identity({ subnqn: DISCOVERY_NQN, cntrltype: 'discovery', hostnqn: HOSTNQN });
    const discovery = { ...TR, NVME_TRSVCID: '8009' };
    const ids = [fire(netSys, discovery, 'add'), fire(netSys, { ...discovery, NVME_EVENT: 'connected' }), fire(netSys, discovery, 'remove')];
    await done(...ids);
    await barrier(netSys);
    identity({});
    const [add, connected, removed] = ids.map((id) => byCase(id));
    expect(add).toEqual([]);
    expect(connected!.map((r) => shippedArgv(r.argv))).toEqual([[SANHOOK, 'connected', '--uevent']]);
    expect(removed!.map((r) => shippedArgv(r.argv))).toEqual([[SANHOOK, 'lost', '--uevent']]);
    const record = removed![0]!;
    expect(record.env).toMatchObject({ ...discovery, ACTION: 'remove', SANHOOK_CNTRLTYPE: 'discovery', SANHOOK_SUBNQN: DISCOVERY_NQN });

    // No --dry-run and no timerd under this root: contacting timerd would fail the command.
    const root = path.join(paths().root, 'discovery');
    mkdirSync(root, { recursive: true });
    const env = { ...record.env, SUBSYSTEM: 'nvme', DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme0', SANHOOK_DEBUG: '' };
    const result = spawnSync(process.execPath, [path.join(REPO, 'bin', 'sanhook.js'), '--root', root, '-o', 'json', ...record.argv.slice(1)], { env, encoding: 'utf8', timeout: 30_000 });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toMatchObject({ hook: 'lost', outcome: 'ignored', reason: 'discovery-controller', device: 'nvme0' });
  });

  it('the same controller as a real 6.1 kernel shows it (gone before udevd handles its change): the remove carries no identity, and the real sanhook ignores it too', async (ctx) => {
    requireHost(ctx);
    // Observed with tools/fabric-vm.sh: at add, cntrltype reads "reserved" and subsysnqn nothing
    // usable (not identified yet); the change is handled after the controller is gone, so it reads
    // nothing, and the database the remove reads holds no identity.
    identity({ cntrltype: 'reserved', hostnqn: HOSTNQN, state: 'connecting' });
    const discovery = { ...TR, NVME_TRSVCID: '8009' };
    const add = fire(netSys, discovery, 'add');
    await done(add);
    identity({});
    const ids = [fire(netSys, { ...discovery, NVME_EVENT: 'connected' }), fire(netSys, discovery, 'remove')];
    await done(...ids);
    await barrier(netSys);
    const [connected, removed] = ids.map((id) => byCase(id));
    expect(connected!.map((r) => shippedArgv(r.argv))).toEqual([[SANHOOK, 'connected', '--uevent']]);
    expect(removed!.map((r) => shippedArgv(r.argv))).toEqual([[SANHOOK, 'lost', '--uevent']]);
    const record = removed![0]!;
    expect(identityOf(record.env)).toEqual({});

    const root = path.join(paths().root, 'gone');
    mkdirSync(root, { recursive: true });
    const env = { ...record.env, SUBSYSTEM: 'nvme', DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme0', SANHOOK_DEBUG: '' };
    const result = spawnSync(process.execPath, [path.join(REPO, 'bin', 'sanhook.js'), '--root', root, '-o', 'json', ...record.argv.slice(1)], { env, encoding: 'utf8', timeout: 30_000 });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toMatchObject({ hook: 'lost', outcome: 'ignored', reason: 'no-subnqn' });
  });

  it('the subsystem filter: an nvme event on a subsystem the rules do not handle is dropped', async (ctx) => {
    requireHost(ctx);
    // Now macvtap stands for nvme; net stands for nothing (fc keeps its own name).
    const B = { nvme: 'macvtap' };
    try {
      expect(untestCopy(installRules(B), B)).toBe(readFileSync(SHIPPED_PATH, 'utf8'));
      const foreign = fire(netSys, { NVME_AEN: '0x70f002', NVME_EVENT: 'rediscover', FC_EVENT: 'nvmediscovery' });
      const mapped = fire(tapSys, { NVME_AEN: '0x70f002' });
      await barrier(netSys, tapSys);
      expect(byCase(foreign)).toEqual([]);
      expect(byCase(mapped).map((r) => r.role)).toEqual(['sanhook']);
    } finally {
      installRules(A);
    }
  });

  it('a real kernel remove (`ip link del`): udevd reads the database, so `lost --uevent` runs once, for the one device whose last event stored NVME_TRTYPE and the identity', async (ctx) => {
    requireHost(ctx);
    identity({ subnqn: 'nqn.2014-08.org.example:real-remove', cntrltype: 'io', hostnqn: HOSTNQN, state: 'live' });
    // the harness's imported variables are stored in the database like rule-set ones; the kernel
    // puts NVME_TR* on a real nvme remove itself
    await done(fire(netSys, TR));
    const before = records().length;
    run(IP!, ['link', 'del', NET]);
    netSys = '';
    run(UDEVADM!, ['settle', '--timeout=10']);
    await sleep(200);
    const fired = records().filter((r) => r.env.ACTION === 'remove' && r.env.SYNTH_ARG_SANHOOKCASE === undefined);
    expect(records().length - before).toBe(1);
    expect(fired.map((r) => shippedArgv(r.argv))).toEqual([[SANHOOK, 'lost', '--uevent']]);
    expect(fired[0]!.env).toMatchObject({ ...TR, INTERFACE: NET, SANHOOK_SUBNQN: 'nqn.2014-08.org.example:real-remove', SANHOOK_CNTRLTYPE: 'io', SANHOOK_HOSTNQN: HOSTNQN });
  });
});

/**
 * rules.d/81-sanhook-fcoe.rules under the same real systemd-udevd, on real
 * veth add/remove uevents (`ip link add|del`). The installed copy differs
 * from the shipped file only in program and file paths: /usr/bin/sanhook ->
 * a recorder (its own record directory), /usr/bin/systemd-cat -> the fake,
 * /run/systemd/journal/stdout -> a file, and /etc/fcoe/ -> a temp etc, where
 * each case writes the cfg files it needs. Every event here is a real kernel
 * uevent; `udevadm settle` waits until udevd has finished them (RUN programs
 * included).
 */
const FCOE_SHIPPED = path.join(REPO, 'rules.d/81-sanhook-fcoe.rules');
const FCOE_ETC = '/etc/fcoe/';

describe('shipped 81-sanhook-fcoe.rules under a real systemd-udevd: net add/remove of interfaces with an /etc/fcoe/cfg-<name>', () => {
  const fcoe = () => ({
    rec: path.join(dir, 'fcoe', 'rec'),
    recorder: path.join(dir, 'fcoe', 'bin', 'sanhook'),
    fakeCat: path.join(dir, 'fcoe', 'bin', 'systemd-cat'),
    journal: path.join(dir, 'fcoe', 'journal-stdout'),
    etc: path.join(dir, 'fcoe', 'etc', 'fcoe') + '/',
  });
  const fcoeMap = () => {
    const p = fcoe();
    return [[SANHOOK, p.recorder], [SYSTEMD_CAT, p.fakeCat], [JOURNAL_STREAM, p.journal], [FCOE_ETC, p.etc]] as const;
  };
  const rulesPath = () => path.join(RULES_DIR, `81-sanhook-fcoe-test-${ID}.rules`);
  // sorts after 80-net-setup-link.rules and before the copy, like a .link file's NAME=
  const renamePath = () => path.join(RULES_DIR, `80-sanhook-fcoe-test-${ID}-rename.rules`);
  const name = (suffix: string) => `shf${ID}${suffix}`;
  const links: string[] = [];
  const cfg = (ifname: string) => writeFileSync(`${fcoe().etc}cfg-${ifname}`, 'FCOE_ENABLE="yes"\nDCB_REQUIRED="no"\nMODE="fabric"\n');
  const fcoeRecords = () => records(fcoe().rec);
  const of = (ifname: string) => fcoeRecords().filter((r) => r.env.INTERFACE === ifname);
  const unmap = (argv: string[]) => argv.map((w) => (w === fcoe().recorder ? SANHOOK : w === fcoe().fakeCat ? SYSTEMD_CAT : w));
  const settle = () => run(UDEVADM!, ['settle', '--timeout=15']);
  function veth(a: string, b: string): void {
    run(IP!, ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    links.push(a);
  }
  function del(a: string): void {
    run(IP!, ['link', 'del', a]);
    links.splice(links.indexOf(a), 1);
  }

  beforeAll(() => {
    if (unavailable) return;
    const p = fcoe();
    for (const d of [p.rec, path.dirname(p.recorder), p.etc]) mkdirSync(d, { recursive: true });
    writeFileSync(p.recorder, RECORDER('sanhook', p.rec));
    writeFileSync(p.fakeCat, RECORDER('systemd-cat', p.rec));
    chmodSync(p.recorder, 0o755);
    chmodSync(p.fakeCat, 0o755);
    const shipped = readFileSync(FCOE_SHIPPED, 'utf8');
    for (const [, standIn] of fcoeMap()) expect(shipped).not.toContain(standIn);
    install(rulesPath(), fcoeMap().reduce((t, [from, to]) => t.replaceAll(from, to), shipped));
    install(renamePath(), `# sanhook test harness (test/system/udev-host.test.ts); removed after the test.\nSUBSYSTEM=="net", ACTION=="add", KERNEL=="${name('k')}", NAME="${name('r')}"\n`);
    run(UDEVADM!, ['control', '--reload']);
  });

  afterAll(() => {
    for (const link of links) spawnSync(IP!, ['link', 'del', link], { stdio: 'ignore' });
    if (links.length && UDEVADM) spawnSync(UDEVADM, ['settle', '--timeout=10'], { stdio: 'ignore' });
  });

  it('the installed copy differs from the shipped file only in the mapped paths, and udev loads it without errors', (ctx) => {
    requireHost(ctx);
    const shipped = readFileSync(FCOE_SHIPPED, 'utf8');
    const copy = readFileSync(rulesPath(), 'utf8');
    expect(copy).toContain(`TEST!="${fcoe().etc}cfg-$name"`);
    expect(fcoeMap().reduce((t, [from, to]) => t.replaceAll(to, from), copy)).toBe(shipped);
    const output = run(UDEVADM!, ['test', '--action=add', '/sys/class/net/lo'], true);
    expect(output).toContain(`Reading rules file: ${rulesPath()}`);
    expect(output.split('\n').filter((l) => l.startsWith(rulesPath()))).toEqual([]);
    expect(udevdLog.split('\n').filter((l) => l.includes(`sanhook-fcoe-test-${ID}`))).toEqual([]);
    // fixed words only: nothing substituted into a RUN command line
    for (const m of shipped.matchAll(/^[^#\n]*RUN\+="([^"]*)"/gm)) expect(m[1]).not.toMatch(/[$%]/);
  });

  it('veth add: `dcb-check --uevent` once, for the end with a cfg file only, the event in its environment; a change event runs nothing; `ip link del`: `fcoe-destroy --uevent` for that end only', async (ctx) => {
    requireHost(ctx);
    const [v0, v1] = [name('0'), name('1')];
    cfg(v0);
    const started = Date.now();
    veth(v0, v1);
    settle();
    timings.push(`fcoe veth add ${Date.now() - started} ms`);
    const added = of(v0);
    expect(added.map((r) => unmap(r.argv))).toEqual([[SANHOOK, 'dcb-check', '--uevent']]);
    expect(added[0]!.env).toMatchObject({ SUBSYSTEM: 'net', ACTION: 'add', INTERFACE: v0, DEVPATH: `/devices/virtual/net/${v0}` });
    expect(added[0]!.env.SEQNUM).toMatch(/^[0-9]+$/);
    expect(of(v1), 'the peer has no cfg file').toEqual([]);

    // change (synthetic, like any driver's) and a link state change (no uevent at all): nothing
    writeFileSync(`/sys/class/net/${v0}/uevent`, 'change');
    run(IP!, ['link', 'set', v0, 'up']);
    settle();
    expect(of(v0)).toHaveLength(1);

    const before = fcoeRecords().length;
    del(v0);
    settle();
    const removed = of(v0).filter((r) => r.env.ACTION === 'remove');
    expect(removed.map((r) => unmap(r.argv))).toEqual([[SANHOOK, 'fcoe-destroy', '--uevent']]);
    expect(removed[0]!.env).toMatchObject({ SUBSYSTEM: 'net', ACTION: 'remove', INTERFACE: v0 });
    expect(fcoeRecords().length - before, 'the peer (removed with it) has no cfg file').toBe(1);
  });

  it('a veth without any cfg file: add and remove start no process at all', async (ctx) => {
    requireHost(ctx);
    const [a, b] = [name('2'), name('3')];
    cfg(name('9')); // some other interface is configured: irrelevant to these
    veth(a, b);
    settle();
    del(a);
    settle();
    expect([...of(a), ...of(b)]).toEqual([]);
  });

  it('with journald present: `systemd-cat --identifier=sanhook /usr/bin/sanhook --log-format journal dcb-check|fcoe-destroy --uevent`, the plain RUN skipped', async (ctx) => {
    requireHost(ctx);
    const [a, b] = [name('4'), name('5')];
    cfg(a);
    writeFileSync(fcoe().journal, '');
    try {
      veth(a, b);
      settle();
      del(a);
      settle();
    } finally {
      unlinkSync(fcoe().journal);
    }
    const runs = of(a);
    const argvOf = (role: string, action: string) => runs.filter((r) => r.role === role && r.env.ACTION === action).map((r) => unmap(r.argv));
    for (const [action, command] of [['add', 'dcb-check'], ['remove', 'fcoe-destroy']] as const) {
      expect(argvOf('systemd-cat', action)).toEqual([[SYSTEMD_CAT, '--identifier=sanhook', SANHOOK, '--log-format', 'journal', command, '--uevent']]);
      expect(argvOf('sanhook', action)).toEqual([[SANHOOK, '--log-format', 'journal', command, '--uevent']]);
    }
    expect(of(b)).toEqual([]);
  });

  it('an interface udev renames at add (a .link file, predictable names): the TEST sees the final name, as the hook does (INTERFACE); a cfg file for the kernel name only does not match', async (ctx) => {
    requireHost(ctx);
    const [kernelName, finalName, peer] = [name('k'), name('r'), name('6')];
    cfg(finalName);
    veth(kernelName, peer);
    links.splice(links.indexOf(kernelName), 1, finalName);
    settle();
    const runs = of(finalName);
    expect(runs.map((r) => unmap(r.argv))).toEqual([[SANHOOK, 'dcb-check', '--uevent']]);
    expect(runs[0]!.env).toMatchObject({ ACTION: 'add', INTERFACE: finalName, INTERFACE_OLD: kernelName });
    del(finalName);
    settle();

    // the cfg file named after the kernel name: the interface is never called that after the add
    unlinkSync(`${fcoe().etc}cfg-${finalName}`);
    cfg(kernelName);
    const before = fcoeRecords().length;
    veth(kernelName, peer);
    links.splice(links.indexOf(kernelName), 1, finalName);
    settle();
    // nor does the kernel's `move` uevent of the rename (its $name is the final name; not an add anyway)
    expect(fcoeRecords().length - before).toBe(0);
  });
});

/**
 * The dispatcher scripts (NetworkManager, networkd-dispatcher), run as their
 * dispatchers run them, with the paths they use mapped into a temp dir:
 * /usr/bin/sanhook -> a recorder, /usr/bin/systemd-cat -> the fake,
 * /run/systemd/journal/stdout -> a file, /etc/fcoe/ and /sys/class/net/ ->
 * temp trees (a VLAN is an upper_<name> symlink, as in sysfs). Needs no root.
 * Decided: a name the kernel could not have produced is refused with exit 2
 * and a line on stderr (the dispatcher logs it); other events exit 0 silently.
 */
describe('dispatcher scripts: link up/down -> `sanhook dcb-check --ifname IF`, pre-filtered in sh', () => {
  const SCRIPTS = {
    nm: path.join(REPO, 'dispatcher/NetworkManager/90-sanhook-fcoe'),
    networkd: path.join(REPO, 'dispatcher/networkd-dispatcher/sanhook-fcoe'),
  } as const;
  let work = '';
  const w = () => ({
    rec: path.join(work, 'rec'),
    recorder: path.join(work, 'bin', 'sanhook'),
    fakeCat: path.join(work, 'bin', 'systemd-cat'),
    journal: path.join(work, 'journal-stdout'),
    etc: path.join(work, 'etc', 'fcoe') + '/',
    sys: path.join(work, 'sys', 'class', 'net') + '/',
    pwned: path.join(work, 'pwned'),
  });
  const map = () => [[SANHOOK, w().recorder], [SYSTEMD_CAT, w().fakeCat], [JOURNAL_STREAM, w().journal], [FCOE_ETC, w().etc], ['/sys/class/net/', w().sys]] as const;
  const copyOf = (which: keyof typeof SCRIPTS) => path.join(work, 'scripts', which);
  const calls = () => records(w().rec).map((r) => ({ role: r.role, argv: r.argv.map((a) => (a === w().recorder ? SANHOOK : a === w().fakeCat ? SYSTEMD_CAT : a)) }));

  beforeAll(() => {
    work = mkdtempSync('/tmp/sanhook-dispatcher-test-');
    const p = w();
    for (const d of [p.rec, path.dirname(p.recorder), p.etc, p.sys, path.join(work, 'scripts')]) mkdirSync(d, { recursive: true });
    writeFileSync(p.recorder, RECORDER('sanhook', p.rec));
    writeFileSync(p.fakeCat, RECORDER('systemd-cat', p.rec));
    chmodSync(p.recorder, 0o755);
    chmodSync(p.fakeCat, 0o755);
    for (const [which, file] of Object.entries(SCRIPTS)) {
      const shipped = readFileSync(file, 'utf8');
      for (const [, standIn] of map()) expect(shipped).not.toContain(standIn);
      const copy = map().reduce((t, [from, to]) => t.replaceAll(from, to), shipped);
      expect(map().reduce((t, [from, to]) => t.replaceAll(to, from), copy)).toBe(shipped);
      writeFileSync(copyOf(which as keyof typeof SCRIPTS), copy);
      chmodSync(copyOf(which as keyof typeof SCRIPTS), 0o755);
    }
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Runs the script as its dispatcher does: NetworkManager with argv (IF, ACTION), networkd-dispatcher with IFACE/OperationalState. */
  function dispatch(which: keyof typeof SCRIPTS, ifname: string | undefined, action = 'up') {
    rmSync(w().rec, { recursive: true, force: true });
    mkdirSync(w().rec);
    const env: Record<string, string> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
    if (which === 'networkd' && ifname !== undefined) Object.assign(env, { IFACE: ifname, OperationalState: action === 'up' ? 'routable' : 'no-carrier', STATE: action === 'up' ? 'routable' : 'no-carrier' });
    const args = which === 'nm' ? [ifname ?? '', action] : [];
    const r = spawnSync(copyOf(which), args, { env, encoding: 'utf8', timeout: 10_000 });
    return { status: r.status, stderr: r.stderr, calls: calls() };
  }
  const reset = () => {
    for (const d of [w().etc, w().sys]) {
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d, { recursive: true });
    }
  };

  const both = ['nm', 'networkd'] as const;

  it.each(both)('%s: cfg file for the interface -> exactly one call, argv [dcb-check, --ifname, v0]; up and down alike', (which) => {
    reset();
    cfg0();
    for (const action of ['up', 'down']) {
      const r = dispatch(which, 'v0', action);
      expect(r.status, r.stderr).toBe(0);
      expect(r.calls).toEqual([{ role: 'sanhook', argv: [SANHOOK, 'dcb-check', '--ifname', 'v0'] }]);
    }
  });

  function cfg0(ifname = 'v0'): void {
    writeFileSync(`${w().etc}cfg-${ifname}`, 'FCOE_ENABLE="yes"\n');
  }

  it.each(both)('%s: no cfg file for it or any VLAN on it -> nothing runs, exit 0', (which) => {
    reset();
    cfg0('v9');
    mkdirSync(`${w().sys}v0`);
    symlinkSync('../v0.100', `${w().sys}v0/upper_v0.100`);
    const r = dispatch(which, 'v0');
    expect(r).toEqual({ status: 0, stderr: '', calls: [] });
  });

  it.each(both)('%s: a VLAN stacked on it has a cfg file (upper_v0.100) -> one call with the parent name (the hook expands it)', (which) => {
    reset();
    cfg0('v0.100');
    mkdirSync(`${w().sys}v0`);
    symlinkSync('../v0.100', `${w().sys}v0/upper_v0.100`);
    const r = dispatch(which, 'v0');
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toEqual([{ role: 'sanhook', argv: [SANHOOK, 'dcb-check', '--ifname', 'v0'] }]);
  });

  it.each(both)('%s: journald present -> through systemd-cat, `--log-format journal`', (which) => {
    reset();
    cfg0();
    writeFileSync(w().journal, '');
    try {
      const r = dispatch(which, 'v0');
      expect(r.status, r.stderr).toBe(0);
      expect(r.calls.sort((a, b) => a.role.localeCompare(b.role))).toEqual([
        { role: 'sanhook', argv: [SANHOOK, '--log-format', 'journal', 'dcb-check', '--ifname', 'v0'] },
        { role: 'systemd-cat', argv: [SYSTEMD_CAT, '--identifier=sanhook', SANHOOK, '--log-format', 'journal', 'dcb-check', '--ifname', 'v0'] },
      ]);
    } finally {
      unlinkSync(w().journal);
    }
  });

  const SIXTEEN = 'abcdefghijklmnop';
  const hostile = ['../x', 'a b', SIXTEEN, '', '.', '..', 'a:b', 'a\tb', 'x/..'];

  it.each(both)('%s: names the kernel cannot produce ("../x", "a b", 16 bytes, "", ".", "..", ":", tab) -> exit 2, a line on stderr, nothing run, even when the path they would test exists', (which) => {
    reset();
    // make each hostile name's cfg path exist, so that only the name check can stop it
    mkdirSync(`${w().etc}cfg-..`);
    writeFileSync(`${w().etc}cfg-../x`, '');
    for (const n of ['a b', SIXTEEN, '', '.', 'a:b', 'a\tb']) writeFileSync(`${w().etc}cfg-${n}`, '');
    for (const n of hostile) {
      const r = dispatch(which, n);
      expect(r.calls, JSON.stringify(n)).toEqual([]);
      expect(r.status, JSON.stringify(n)).toBe(2);
      expect(r.stderr, JSON.stringify(n)).toMatch(/^sanhook-fcoe: refusing interface name /);
    }
    // 15 bytes is the kernel's limit and is accepted
    cfg0(SIXTEEN.slice(0, 15));
    expect(dispatch(which, SIXTEEN.slice(0, 15)).calls).toHaveLength(1);
  });

  it.each(both)('%s: shell syntax in a name is data: nothing is evaluated, the name is one argv word', (which) => {
    reset();
    const names = [`$(touch${'${IFS}'}x)`, '`id`', '-x', 'a*', '$IFACE'];
    for (const n of names) cfg0(n);
    for (const n of names) {
      const r = dispatch(which, n);
      expect(r.status, r.stderr).toBe(0);
      expect(r.calls).toEqual([{ role: 'sanhook', argv: [SANHOOK, 'dcb-check', '--ifname', n] }]);
    }
    expect(existsSync(w().pwned)).toBe(false);
    expect(existsSync(path.join(process.cwd(), 'x'))).toBe(false);
  });

  it('NetworkManager: only up and down act; pre-down, pre-up, dhcp4-change, hostname, connectivity-change, vpn-up, reapply -> nothing, exit 0', () => {
    reset();
    cfg0();
    for (const action of ['pre-down', 'pre-up', 'dhcp4-change', 'dhcp6-change', 'hostname', 'connectivity-change', 'vpn-up', 'vpn-down', 'reapply', '']) {
      expect(dispatch('nm', 'v0', action), action).toEqual({ status: 0, stderr: '', calls: [] });
    }
    // hostname and connectivity-change come with no interface at all
    expect(dispatch('nm', '', 'hostname')).toEqual({ status: 0, stderr: '', calls: [] });
  });

  it('networkd-dispatcher: IFACE missing -> refused (exit 2), nothing run', () => {
    reset();
    const r = dispatch('networkd', undefined);
    expect(r.status).toBe(2);
    expect(r.calls).toEqual([]);
  });

  it('both scripts are POSIX sh (`#!/bin/sh`, `set -u`, no eval), executable in git', () => {
    for (const file of Object.values(SCRIPTS)) {
      const text = readFileSync(file, 'utf8');
      expect(text.split('\n')[0]).toBe('#!/bin/sh');
      expect(text).toMatch(/^set -u$/m);
      expect(text.split('\n').filter((l) => !l.trimStart().startsWith('#'))).not.toContainEqual(expect.stringMatching(/\beval\b/));
      const mode = spawnSync('git', ['ls-files', '-s', path.relative(REPO, file)], { cwd: REPO, encoding: 'utf8' }).stdout.split(' ')[0];
      expect(mode, file).toBe('100755');
      const dash = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
      expect(dash.status, dash.stderr).toBe(0);
    }
  });
});
