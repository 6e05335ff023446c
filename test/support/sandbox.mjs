// @ts-check
/**
 * The one sandbox of the integration tests, scripts/demo.mjs and bench/ (DESIGN §9,
 * layer 2): a temp root with a fake sysfs tree, the fake external programs of
 * test/fakes/bin first on PATH (they record argv and print real-format output), the
 * real `sanhook` entry run as udev runs it (bin/sanhook.js with the node flags of its
 * #! line), real timerd processes, a client of timerd's socket, and readers for what
 * all of them leave behind.
 *
 * Layout (one fresh temp dir):
 *   root/                 --root: etc/ (nvme/hostnqn, sanhook/sanhook.yaml), run/sanhook/
 *                         (locks/, pending/, timerd.sock), var/lib/sanhook/ (timers.*)
 *                         (FreeBSD: usr/local/etc, var/run/sanhook, var/db/sanhook)
 *   sys/                  --sysfs; the fake nvme adds class/nvme/nvmeN
 *   state/                fake nvme (FAKE_NVME_STATE): logs/default.json, calls.jsonl,
 *                         fail-connect, unreachable, discover-ms, discover-hold;
 *                         fake systemd-run: systemd-run.jsonl, units/; record-pending
 *                         preload: pending.jsonl
 *   nvmecontrol/          fake nvmecontrol (FAKE_NVMECONTROL_STATE)
 *   hooks.jsonl           runs of test/fakes/timer-hook.mjs (FAKE_HOOK_LOG)
 *
 * Plain JavaScript with JSDoc types (checked by tsc -p tsconfig.test.json), so that
 * the demo and the benches, which are `node` scripts with no build step, share it.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Proc, spawnProcess, waitFor } from './process.mjs';
import { fixture, parseJsonLines, readJsonl, readTimerTable, REPO } from './records.mjs';
import { TimerdClient, TimerdProcess, timerdRequest } from './timerd.mjs';

export { now, Proc, runProcess, spawnProcess, waitFor, within } from './process.mjs';
export { fixture, FIXTURES, logRecords, messageLines, parseJsonLines, readAttributes, readJsonl, readTimerTable, readUevent, REPO } from './records.mjs';
export { TimerdClient, TimerdProcess, timerdRequest, waitForPing } from './timerd.mjs';

/** @typedef {import('./process.mjs').RunResult} RunResult */
/** @typedef {import('./records.mjs').LogRecord} LogRecord */
/** @typedef {import('./records.mjs').TableOnDisk} TableOnDisk */
/** @typedef {import('./timerd.mjs').Reply} Reply */

export const BIN = path.join(REPO, 'bin', 'sanhook.js');
export const FAKES = path.join(REPO, 'test', 'fakes');
export const FAKES_BIN = path.join(FAKES, 'bin');
export const RECORD_PENDING = path.join(FAKES, 'record-pending.mjs');
export const TIMER_HOOK = path.join(FAKES, 'timer-hook.mjs');

/** The host NQN of the machine the fixtures were captured on (sysfs-discovery-ctrl.txt). */
export const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:0f7b718b-ca26-43e8-b50a-d4410d1afaf8';
export const SUBSYS1 = 'nqn.2026-11.io.sanhook:subsys1';
export const SUBSYS2 = 'nqn.2026-11.io.sanhook:subsys2';
export const SUBSYS3 = 'nqn.2026-11.io.sanhook:subsys3';
export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

/**
 * Key of an NVMe/TCP discovery address (src/hooks/nvmf/keys.ts); also its lock and pending file name.
 * @param {string} traddr
 * @param {string} trsvcid
 */
export const discoveryKey = (traddr, trsvcid) => `nvmf-disc:tcp:${traddr}:${trsvcid}:none:none`;
/**
 * Key of an NVMe/TCP I/O path.
 * @param {string} traddr
 * @param {string} nqn
 * @param {string} [trsvcid]
 */
export const ioKey = (traddr, nqn, trsvcid = '4420') => `nvmf:tcp:${traddr}:${trsvcid}:${nqn}:none:none`;
/** The discovery address of the default log (127.0.0.1:4420). */
export const KEY_4420 = discoveryKey('127.0.0.1', '4420');

/**
 * Where sanhook keeps etc, run and state under --root, per platform: the same table
 * as src/core/platform.ts PLATFORM_DIRS (test/unit/sandbox.test.ts keeps them equal).
 * @type {Readonly<Record<'linux' | 'freebsd', { etc: string[], run: string[], state: string[] }>>}
 */
export const PLATFORM_DIRS = {
  linux: { etc: ['etc'], run: ['run', 'sanhook'], state: ['var', 'lib', 'sanhook'] },
  freebsd: { etc: ['usr', 'local', 'etc'], run: ['var', 'run', 'sanhook'], state: ['var', 'db', 'sanhook'] },
};

/** @param {{ argv: readonly string[] }} call */
const isProbe = (call) => call.argv.includes('--help') || call.argv[0] === 'version';

/**
 * The environment of a program run among the fakes: the fakes first on PATH, their
 * state dirs, nothing of the caller's environment that could change sanhook's behaviour.
 * @param {{ state: string, sysfs: string, hookLog: string, root?: string }} dirs
 * @param {Record<string, string>} [extra]
 * @returns {Record<string, string>}
 */
export function fakesEnv(dirs, extra = {}) {
  return {
    PATH: `${FAKES_BIN}${path.delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: process.env.HOME ?? '/root',
    LANG: 'C.UTF-8',
    FAKE_NVME_STATE: dirs.state,
    FAKE_SYSFS: dirs.sysfs,
    ...(dirs.root ? { FAKE_ROOT: dirs.root } : {}),
    FAKE_HOOK_LOG: dirs.hookLog,
    ...extra,
  };
}

/**
 * The node flags of an entry's `#!/usr/bin/env -S node FLAGS` line: udev and the units
 * run the file itself, so node gets them (bin/sanhook.js: --jitless --no-expose-wasm).
 * @param {string} [bin]
 * @returns {string[]}
 */
export function shebangFlags(bin = BIN) {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  const match = /^#!\S*env\s+-S\s+node\s+(.*)$/.exec(first);
  return match?.[1] ? match[1].trim().split(/\s+/) : [];
}

/**
 * The environment variables a udev event or a test run could leave in ours and that
 * would change what sanhook or the fakes do.
 */
const INHERITED_NOISE = /^(SUBSYSTEM|ACTION|DEVPATH|DEVNAME|SEQNUM|INTERFACE|IFINDEX|NVME_|NVMEFC_|FC_EVENT|SANHOOK_|FAKE_|JOURNAL_STREAM$|INVOCATION_ID$|NODE_OPTIONS$)/;

/**
 * This process's environment without event, sanhook, fake and journal variables.
 * @returns {Record<string, string>}
 */
export function cleanEnv() {
  /** @type {Record<string, string>} */
  const env = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !INHERITED_NOISE.test(name)) env[name] = value;
  return env;
}

/**
 * @typedef {object} SandboxOptions
 * @property {string} [prefix] temp dir name prefix (default "sanhook-it-")
 * @property {string} [parent] where the temp dir goes (default os.tmpdir())
 * @property {'linux' | 'freebsd'} [platform] passed as --platform (default linux: not passed)
 * @property {Record<string, string>} [env] extra variables for every program of this sandbox
 */

/**
 * @typedef {object} RunOptions
 * @property {Record<string, string>} [env] extra environment (udev variables, FAKE_NVME_DISCOVER_MS, ...)
 * @property {readonly string[]} [nodeArgs] node arguments after the #! flags, before the entry (e.g. --import a preload)
 * @property {readonly string[]} [nodeFlags] instead of the entry's #! flags
 * @property {readonly string[]} [globals] instead of the `--root R --sysfs S` prefix (e.g. [] for the bare udev fast path)
 * @property {string} [bin] another sanhook entry (default bin/sanhook.js)
 * @property {number} [timeoutMs] kill (whole process group) after this long; the result then has a signal
 * @property {string} [stdin] text on stdin (default: none)
 * @property {string} [stderrFile] stderr to this file instead of a pipe
 */

/**
 * @typedef {object} TimerdOptions
 * @property {readonly string[]} [args] after `timerd`
 * @property {Record<string, string>} [env]
 * @property {readonly string[]} [nodeFlags] instead of the entry's #! flags
 * @property {readonly string[]} [nodeArgs] node arguments before the entry (a preload); the hooks timerd runs get them too (execArgv)
 * @property {string} [stderrFile] its log to this file instead of a pipe
 * @property {boolean} [fakeHook] run test/fakes/timer-hook.mjs instead of sanhook's hooks (--sanhook-bin)
 */

/**
 * One record of the fake nvme's / nvmecontrol's calls.jsonl.
 * @typedef {{ argv: string[], pid: number, ppid: number, start: number, end: number, exit: number, overlap?: boolean, held?: boolean, address?: string, device?: string, [field: string]: unknown }} ToolCall
 */
/**
 * One record of the fake systemd-run's systemd-run.jsonl.
 * @typedef {{ argv: string[], pid: number, ppid: number, start: number, unit: string, options: Record<string, string | true>, setenv: Record<string, string>, command: string[], pending: string[] }} SystemdRunCall
 */
/**
 * How a transient unit of the fake systemd-run ended (units/<unit>.json), and its log.
 * @typedef {{ unit: string, argv: string[], mainPid: number, start: number, end: number, exitCode: number | null, signal: string | null, log: string }} UnitResult
 */
/**
 * One pending-marker rename recorded by test/fakes/record-pending.mjs.
 * @typedef {{ pid: number, from: string, to: string, before: number, after: number, ok: boolean }} PendingRename
 */
/**
 * One run of test/fakes/timer-hook.mjs.
 * @typedef {{ argv: string[], pid: number, ppid: number, time: number, timerId: string | null, fds: Record<string, string> }} HookRun
 */

export class Sandbox {
  /** @param {SandboxOptions} [options] */
  constructor(options = {}) {
    this.platform = options.platform ?? 'linux';
    this.dir = mkdtempSync(path.join(options.parent ?? os.tmpdir(), options.prefix ?? 'sanhook-it-'));
    this.root = path.join(this.dir, 'root');
    this.sysfs = path.join(this.dir, 'sys');
    /** The fake nvme's state (and systemd-run's, record-pending's). */
    this.state = path.join(this.dir, 'state');
    /** The fake nvmecontrol's state. */
    this.control = path.join(this.dir, 'nvmecontrol');
    this.hookLog = path.join(this.dir, 'hooks.jsonl');
    const dirs = PLATFORM_DIRS[this.platform];
    this.etcDir = path.join(this.root, ...dirs.etc);
    this.runDir = path.join(this.root, ...dirs.run);
    this.stateDir = path.join(this.root, ...dirs.state);
    this.socketPath = path.join(this.runDir, 'timerd.sock');
    this.pendingDir = path.join(this.runDir, 'pending');
    this.locksDir = path.join(this.runDir, 'locks');
    /** @type {Record<string, string>} */
    this.extraEnv = options.env ?? {};
    /** @type {Set<Proc>} */
    this.children = new Set();
    for (const dir of [path.join(this.etcDir, 'nvme'), this.sysfs, path.join(this.state, 'logs'), this.control]) mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(this.etcDir, 'nvme', 'hostnqn'), `${HOSTNQN}\n`);
    writeFileSync(path.join(this.state, 'logs', 'default.json'), fixture('discover-2subsys.json'));
  }

  // ------------------------------------------------------------ the world

  /**
   * Writes a file under the temp root (parents created), e.g. ('etc/sanhook/sanhook.yaml', text).
   * @param {string} relative
   * @param {string} text
   */
  writeRootFile(relative, text) {
    return writeUnder(this.root, relative, text);
  }

  /**
   * Writes sanhook's config file (etc/sanhook/sanhook.yaml of the platform).
   * @param {string} yaml
   */
  writeConfig(yaml) {
    return writeUnder(this.etcDir, path.join('sanhook', 'sanhook.yaml'), yaml);
  }

  /**
   * Writes a file of the fake nvme's state dir (unreachable, fail-connect, discover-ms, logs/...).
   * @param {string} relative
   * @param {string} text
   */
  writeStateFile(relative, text) {
    return writeUnder(this.state, relative, text);
  }

  /**
   * Writes a file of the fake nvmecontrol's state dir (controllers.json, unreachable, reconnect-ms, ...).
   * @param {string} relative
   * @param {string} text
   */
  writeControlFile(relative, text) {
    return writeUnder(this.control, relative, text);
  }

  /**
   * Subsystem NQNs whose `nvme connect` the fake fails ("connection refused").
   * @param {readonly string[]} nqns
   */
  failConnects(nqns) {
    this.writeStateFile('fail-connect', nqns.map((n) => `${n}\n`).join(''));
  }

  /**
   * Holds every `nvme discover` that starts from now on (the fake waits, with its
   * active/<address> marker in place, until released). Returns the release.
   * @returns {() => void}
   */
  holdDiscovery() {
    const file = this.writeStateFile('discover-hold', '');
    return () => rmSync(file, { force: true });
  }

  /**
   * Adds /sys/class/nvme/<name> with the given attributes (values get the kernel's trailing newline).
   * @param {string} name
   * @param {Readonly<Record<string, string>>} attributes
   */
  addController(name, attributes) {
    const dir = path.join(this.sysfs, 'class', 'nvme', name);
    mkdirSync(dir, { recursive: true });
    for (const [attribute, value] of Object.entries(attributes)) writeFileSync(path.join(dir, attribute), `${value}\n`);
  }

  /** Makes the temp root look like a systemd-booted host (sd_booted: /run/systemd/system exists). */
  bootSystemd() {
    mkdirSync(path.join(this.root, 'run', 'systemd', 'system'), { recursive: true });
  }

  // ------------------------------------------------------------ running sanhook

  /**
   * The environment of every program of this sandbox: the fakes first on PATH, their state dirs.
   * @param {Record<string, string>} [extra]
   * @returns {Record<string, string>}
   */
  env(extra = {}) {
    return fakesEnv(this, { FAKE_PENDING_DIR: this.pendingDir, FAKE_NVMECONTROL_STATE: this.control, ...this.extraEnv, ...extra });
  }

  /** `--root R --sysfs S` (with --platform when not linux). */
  globals() {
    return [...(this.platform === 'linux' ? [] : ['--platform', this.platform]), '--root', this.root, '--sysfs', this.sysfs];
  }

  /**
   * node's arguments for `sanhook ...args`: the entry's #! flags, extra node args, the entry, globals, args.
   * @param {readonly string[]} args
   * @param {RunOptions} [options]
   */
  argv(args, options = {}) {
    const bin = options.bin ?? BIN;
    return [...(options.nodeFlags ?? shebangFlags(bin)), ...(options.nodeArgs ?? []), bin, ...(options.globals ?? this.globals()), ...args];
  }

  /**
   * Starts `sanhook ...args` in its own process group (a test can kill it with its children).
   * @param {readonly string[]} args
   * @param {RunOptions} [options]
   */
  start(args, options = {}) {
    return this.spawn(process.execPath, this.argv(args, options), options);
  }

  /**
   * Starts any program with this sandbox's environment, cwd and bookkeeping.
   * @param {string} file
   * @param {readonly string[]} args
   * @param {{ env?: Record<string, string>, timeoutMs?: number, stdin?: string, stderrFile?: string }} [options]
   */
  spawn(file, args, options = {}) {
    const proc = spawnProcess(file, args, { cwd: this.dir, env: this.env(options.env), timeoutMs: options.timeoutMs, stdin: options.stdin, stderrFile: options.stderrFile });
    this.children.add(proc);
    proc.done.finally(() => this.children.delete(proc)).catch(() => {});
    return proc;
  }

  /**
   * Runs `sanhook ...args` to completion (killed after 60 s unless told otherwise).
   * @param {readonly string[]} args
   * @param {RunOptions} [options]
   * @returns {Promise<RunResult>}
   */
  run(args, options = {}) {
    return this.start(args, { timeoutMs: 60_000, ...options }).done;
  }

  /**
   * `sanhook -o json ...args`: the result and its report items (a line that is not JSON: `{ unparsed }`).
   * @param {readonly string[]} args
   * @param {RunOptions} [options]
   */
  async runJson(args, options = {}) {
    const result = await this.run(['-o', 'json', ...args], options);
    return { result, items: parseJsonLines(result.stdout, { lenient: true }) };
  }

  /**
   * Starts `sanhook timerd` (await .ready() before talking to it).
   * @param {TimerdOptions} [options]
   */
  startTimerd(options = {}) {
    const args = [...(options.fakeHook ? ['--sanhook-bin', TIMER_HOOK] : []), ...(options.args ?? [])];
    const proc = this.start(['timerd', ...args], { env: options.env, nodeFlags: options.nodeFlags, nodeArgs: options.nodeArgs, stderrFile: options.stderrFile });
    return new TimerdProcess(proc, this.socketPath);
  }

  /**
   * One request to timerd on a fresh connection.
   * @param {Record<string, unknown>} message
   * @param {number} [timeoutMs]
   */
  request(message, timeoutMs) {
    return timerdRequest(this.socketPath, message, timeoutMs);
  }

  /** A connection to timerd's socket. */
  client() {
    return TimerdClient.connect(this.socketPath);
  }

  // ------------------------------------------------------------ what the fakes recorded

  /**
   * Every call of the fake nvme so far that acts or reads state, in completion order;
   * the capability probe (`nvme connect --help`, `nvme version`) is in probes().
   * @returns {ToolCall[]}
   */
  calls() {
    return readJsonl(path.join(this.state, 'calls.jsonl')).filter((c) => !isProbe(c));
  }

  /**
   * The fake nvme's capability probes (what sanhook asks once per run about --owner).
   * @returns {ToolCall[]}
   */
  probes() {
    return readJsonl(path.join(this.state, 'calls.jsonl')).filter(isProbe);
  }

  /**
   * The fake nvme's calls of one command.
   * @param {string} command
   */
  nvmeCalls(command) {
    return this.calls().filter((c) => c.argv[0] === command);
  }

  /**
   * Every call of the fake nvmecontrol so far.
   * @returns {ToolCall[]}
   */
  controlCalls() {
    return readJsonl(path.join(this.control, 'calls.jsonl'));
  }

  /** @returns {SystemdRunCall[]} */
  systemdRunCalls() {
    return readJsonl(path.join(this.state, 'systemd-run.jsonl'));
  }

  /** @returns {PendingRename[]} */
  pendingRenames() {
    return readJsonl(path.join(this.state, 'pending.jsonl'));
  }

  /**
   * Runs of the fake timer hook (its start records).
   * @returns {HookRun[]}
   */
  hookRuns() {
    return readJsonl(this.hookLog).filter((r) => r.done === undefined);
  }

  /**
   * pid → when it finished, for fake timer hooks run with FAKE_HOOK_SLEEP_MS.
   * @returns {Map<number, number>}
   */
  hookDone() {
    return new Map(readJsonl(this.hookLog).filter((r) => r.done !== undefined).map((r) => [r.pid, r.done]));
  }

  /**
   * Waits for a transient unit started by the fake systemd-run to finish.
   * @param {string} unit
   * @param {number} [timeoutMs]
   * @returns {Promise<UnitResult>}
   */
  async unitResult(unit, timeoutMs = 30_000) {
    const file = path.join(this.state, 'units', `${unit}.json`);
    await waitFor(`transient unit ${unit} to finish`, () => existsSync(file), { timeoutMs });
    const log = path.join(this.state, 'units', `${unit}.log`);
    return { ...JSON.parse(readFileSync(file, 'utf8')), log: existsSync(log) ? readFileSync(log, 'utf8') : '' };
  }

  /** Controller names under the fake /sys/class/nvme, in numeric order. */
  sysfsControllers() {
    const dir = path.join(this.sysfs, 'class', 'nvme');
    return existsSync(dir) ? readdirSorted(dir) : [];
  }

  /**
   * The controllers of the fake /sys/class/nvme with their attributes (trimmed).
   * @returns {{ name: string, [attribute: string]: string }[]}
   */
  controllers() {
    return this.sysfsControllers().map((name) => {
      const dir = path.join(this.sysfs, 'class', 'nvme', name);
      /** @type {{ name: string, [attribute: string]: string }} */
      const controller = { name };
      for (const attribute of readdirSync(dir)) controller[attribute] = readFileSync(path.join(dir, attribute), 'utf8').trim();
      return controller;
    });
  }

  /**
   * timerd's durable table as a restarted timerd would load it.
   * @param {{ missingOk?: boolean }} [options]
   */
  table(options) {
    return readTimerTable(this.stateDir, options);
  }

  // ------------------------------------------------------------ the end

  /**
   * Kills whatever this sandbox started that still runs (process groups), waits for the
   * fake systemd-run's units, then removes the temp dir (kept with `keep` or $SANHOOK_IT_KEEP=1).
   * @param {{ keep?: boolean }} [options]
   */
  async cleanup(options = {}) {
    rmSync(path.join(this.state, 'discover-hold'), { force: true });
    for (const child of this.children) child.killGroup('SIGKILL');
    await Promise.allSettled([...this.children].map((c) => c.done));
    // Transient "units" run in their own session; the fake removes units/<unit>.active when one ends.
    const unitsDir = path.join(this.state, 'units');
    if (existsSync(unitsDir)) {
      for (const name of readdirSorted(unitsDir).filter((n) => n.endsWith('.active'))) {
        await this.unitResult(name.slice(0, -'.active'.length), 10_000).catch(() => {});
      }
    }
    if (!options.keep && !process.env.SANHOOK_IT_KEEP) this.remove();
  }

  /** Removes the temp dir now (for a script that exits at once; cleanup() first stops what runs). */
  remove() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * @param {string} base
 * @param {string} relative
 * @param {string} text
 */
function writeUnder(base, relative, text) {
  const file = path.join(base, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** @param {string} dir */
function readdirSorted(dir) {
  return readdirSync(dir).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

