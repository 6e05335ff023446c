/**
 * Integration harness: runs the real built `sanhook` (bin/sanhook.js → dist/) as
 * child processes in a temp root, with the fake external programs of test/fakes/bin
 * first on PATH (nvme, systemd-run) and a fake sysfs tree.
 *
 * Layout of one sandbox (all under a fresh temp dir):
 *   root/etc/nvme/hostnqn   a real-format host NQN (HOSTNQN)
 *   sys/                    fake sysfs (--sysfs); the fake nvme adds class/nvme/nvmeN
 *   state/                  fake nvme state: logs/default.json (discover-2subsys.json),
 *                           calls.jsonl, systemd-run.jsonl, units/, pending.jsonl
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(REPO, 'bin', 'sanhook.js');
export const FAKES_BIN = path.join(REPO, 'test', 'fakes', 'bin');
export const FIXTURES = path.join(REPO, 'test', 'fixtures', 'nvme-cli');
export const RECORD_PENDING = path.join(REPO, 'test', 'fakes', 'record-pending.mjs');

/** The host NQN of the machine the fixtures were captured on (sysfs-discovery-ctrl.txt). */
export const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:0f7b718b-ca26-43e8-b50a-d4410d1afaf8';
export const SUBSYS1 = 'nqn.2026-11.io.sanhook:subsys1';
export const SUBSYS2 = 'nqn.2026-11.io.sanhook:subsys2';
export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';
/** Lock and pending file name of the discovery address 127.0.0.1:4420 (keys.ts keyFileName). */
export const KEY_4420 = 'nvmf-disc:tcp:127.0.0.1:4420:none:none';

export const now = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface RunResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly pid: number;
  /** Wall-clock ms just before spawn and when the exit was seen. */
  readonly spawnedAt: number;
  readonly exitedAt: number;
}

export interface RunOptions {
  /** Extra environment (udev variables, FAKE_NVME_DISCOVER_MS, ...). */
  readonly env?: Record<string, string>;
  /** Arguments for node itself, before bin/sanhook.js (e.g. --import a preload). */
  readonly nodeArgs?: readonly string[];
  /** Replace the default `--root R --sysfs S` prefix (e.g. [] for the bare udev fast path). */
  readonly globals?: readonly string[];
  /** Kill (whole process group) after this long; the result then has a signal. */
  readonly timeoutMs?: number;
}

/** One record of the fake nvme's calls.jsonl. */
export interface NvmeCall {
  readonly argv: string[];
  readonly pid: number;
  readonly ppid: number;
  readonly start: number;
  readonly end: number;
  readonly exit: number;
  readonly overlap?: boolean;
  readonly address?: string;
  readonly device?: string;
}

export interface SystemdRunCall {
  readonly argv: string[];
  readonly pid: number;
  readonly ppid: number;
  readonly start: number;
  readonly unit: string;
  readonly options: Record<string, string | true>;
  readonly setenv: Record<string, string>;
  readonly command: string[];
  readonly pending: string[];
}

export interface UnitResult {
  readonly unit: string;
  readonly argv: string[];
  readonly mainPid: number;
  readonly start: number;
  readonly end: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
}

export interface Running {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly spawnedAt: number;
  readonly done: Promise<RunResult>;
}

export function readJsonl<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

export class Sandbox {
  readonly dir: string;
  readonly root: string;
  readonly sysfs: string;
  readonly state: string;
  /** root/run/sanhook: locks/ and pending/ live here. */
  readonly runDir: string;
  private readonly children = new Set<ChildProcess>();

  constructor() {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'sanhook-it-'));
    this.root = path.join(this.dir, 'root');
    this.sysfs = path.join(this.dir, 'sys');
    this.state = path.join(this.dir, 'state');
    this.runDir = path.join(this.root, 'run', 'sanhook');
    mkdirSync(path.join(this.root, 'etc', 'nvme'), { recursive: true });
    mkdirSync(this.sysfs, { recursive: true });
    mkdirSync(path.join(this.state, 'logs'), { recursive: true });
    writeFileSync(path.join(this.root, 'etc', 'nvme', 'hostnqn'), `${HOSTNQN}\n`);
    writeFileSync(path.join(this.state, 'logs', 'default.json'), readFileSync(path.join(FIXTURES, 'discover-2subsys.json')));
  }

  /** Writes a file under the temp root (parents created), e.g. ('etc/sanhook/sanhook.yaml', text). */
  writeRootFile(relative: string, text: string): string {
    const file = path.join(this.root, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  }

  /** Writes a file of the fake nvme's state dir (unreachable, fail-connect, logs/...). */
  writeStateFile(relative: string, text: string): string {
    const file = path.join(this.state, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  }

  /** Adds /sys/class/nvme/<name> with the given attributes (values get the kernel's trailing newline). */
  addController(name: string, attributes: Readonly<Record<string, string>>): void {
    const dir = path.join(this.sysfs, 'class', 'nvme', name);
    mkdirSync(dir, { recursive: true });
    for (const [attribute, value] of Object.entries(attributes)) writeFileSync(path.join(dir, attribute), `${value}\n`);
  }

  /** Makes the temp root look like a systemd-booted host (sd_booted: /run/systemd/system exists). */
  bootSystemd(): void {
    mkdirSync(path.join(this.root, 'run', 'systemd', 'system'), { recursive: true });
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: `${FAKES_BIN}${path.delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: process.env.HOME ?? '/root',
      LANG: 'C.UTF-8',
      FAKE_NVME_STATE: this.state,
      FAKE_SYSFS: this.sysfs,
      FAKE_PENDING_DIR: path.join(this.runDir, 'pending'),
      ...extra,
    };
  }

  argv(args: readonly string[], options: RunOptions = {}): string[] {
    const globals = options.globals ?? ['--root', this.root, '--sysfs', this.sysfs];
    return [...(options.nodeArgs ?? []), BIN, ...globals, ...args];
  }

  /** Starts `sanhook ...` in its own process group (so a test can kill it with its children). */
  start(args: readonly string[], options: RunOptions = {}): Running {
    const spawnedAt = now();
    const child = spawn(process.execPath, this.argv(args, options), {
      cwd: this.dir,
      env: this.env(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs !== undefined) timer = setTimeout(() => killGroup(child, 'SIGKILL'), options.timeoutMs);
    const done = new Promise<RunResult>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (exitCode, signal) => {
        if (timer) clearTimeout(timer);
        this.children.delete(child);
        resolve({ exitCode, signal, stdout, stderr, pid: child.pid!, spawnedAt, exitedAt: now() });
      });
    });
    return { child, pid: child.pid!, spawnedAt, done };
  }

  run(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return this.start(args, { timeoutMs: 60_000, ...options }).done;
  }

  /** Every call of the fake nvme so far, in completion order. */
  calls(): NvmeCall[] {
    return readJsonl<NvmeCall>(path.join(this.state, 'calls.jsonl'));
  }

  nvmeCalls(command: 'discover' | 'connect'): NvmeCall[] {
    return this.calls().filter((c) => c.argv[0] === command);
  }

  systemdRunCalls(): SystemdRunCall[] {
    return readJsonl<SystemdRunCall>(path.join(this.state, 'systemd-run.jsonl'));
  }

  pendingRenames(): { pid: number; from: string; to: string; before: number; after: number; ok: boolean }[] {
    return readJsonl(path.join(this.state, 'pending.jsonl'));
  }

  /** Waits for a transient unit started by the fake systemd-run to finish. */
  async unitResult(unit: string, timeoutMs = 30_000): Promise<UnitResult & { log: string }> {
    const file = path.join(this.state, 'units', `${unit}.json`);
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(file)) {
      if (Date.now() > deadline) throw new Error(`transient unit ${unit} did not finish within ${timeoutMs} ms`);
      await sleep(25);
    }
    const log = path.join(this.state, 'units', `${unit}.log`);
    return { ...(JSON.parse(readFileSync(file, 'utf8')) as UnitResult), log: existsSync(log) ? readFileSync(log, 'utf8') : '' };
  }

  /** Controller names under the fake /sys/class/nvme. */
  sysfsControllers(): string[] {
    const dir = path.join(this.sysfs, 'class', 'nvme');
    if (!existsSync(dir)) return [];
    return readdirSyncSorted(dir);
  }

  /** Kills whatever this sandbox started that is still running, then removes the temp dir. */
  async cleanup(): Promise<void> {
    for (const child of this.children) killGroup(child, 'SIGKILL');
    // Transient "units" run in their own session; the fake records their main pids.
    const unitsDir = path.join(this.state, 'units');
    if (existsSync(unitsDir)) {
      for (const name of readdirSyncSorted(unitsDir).filter((n) => n.endsWith('.active'))) {
        const unit = name.slice(0, -'.active'.length);
        await this.unitResult(unit, 10_000).catch(() => {});
      }
    }
    // SANHOOK_IT_KEEP=1 keeps the temp dirs for a post-mortem.
    if (!process.env.SANHOOK_IT_KEEP) rmSync(this.dir, { recursive: true, force: true });
  }
}

function readdirSyncSorted(dir: string): string[] {
  return readdirSync(dir).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Asserts an exit code, showing the program's output when it differs. */
export function expectExit(result: RunResult, code: number): void {
  expect(result.signal, `killed by ${result.signal}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBeNull();
  expect(result.exitCode, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}

/** Non-log lines of a sanhook stderr (pino's JSON lines are logs; anything else is a message). */
export function messageLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '' && !line.startsWith('{"level":'));
}

/** Parsed pino log lines of a sanhook stderr. */
export function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{"level":'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** `name=value` lines of a fixture (sysfs-*.txt). */
export function readAttributes(fixture: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const line of readFileSync(path.join(FIXTURES, fixture), 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) attributes[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return attributes;
}

/**
 * The environment of one event of a `udevadm monitor --environment` capture:
 * the `which` block ("UDEV" = after rule processing, what RUN programs get).
 */
export function readUevent(fixture: string, which: 'UDEV' | 'KERNEL' = 'UDEV'): Record<string, string> {
  const text = readFileSync(path.join(FIXTURES, fixture), 'utf8');
  const blocks = text.split(/\n\s*\n/);
  const block = blocks.find((b) => b.trimStart().startsWith(which === 'UDEV' ? 'UDEV ' : 'KERNEL['));
  if (!block) throw new Error(`${fixture}: no ${which} block`);
  const env: Record<string, string> = {};
  for (const line of block.trim().split('\n').slice(1)) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}
