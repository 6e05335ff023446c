/**
 * Harness for the timerd integration tests: real `sanhook timerd` processes in a
 * temp root, spoken to with `sanhook` subcommands and directly over the socket.
 *
 * Layout of one box (a fresh temp dir):
 *   root/                     --root: etc/sanhook/sanhook.yaml, etc/nvme/hostnqn,
 *                             run/sanhook/timerd.sock, var/lib/sanhook/timers.{json,journal}
 *   sys/                      --sysfs (the fake nvme adds class/nvme/nvmeN)
 *   state/                    fake nvme state: calls.jsonl, fail-connect
 *   hooks.jsonl               runs of test/fakes/timer-hook.mjs (with --sanhook-bin)
 *
 * Everything waits for the event it means (a log line of timerd, a file a fake hook
 * writes, a socket reply), polled with a generous deadline that only bounds a failure,
 * never by a fixed sleep, so a loaded 2-core machine only makes the tests slower. To
 * show that nothing happens for a while, `passTime` waits for timerd's own clock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { BIN, FAKES_BIN, HOSTNQN, now, readJsonl, REPO, sleep, SUBSYS1 } from '../harness.js';

export { BIN, FAKES_BIN, HOSTNQN, now, readJsonl, REPO, sleep, SUBSYS1, SUBSYS2 } from '../harness.js';
import { fakesEnv } from '../../support/sandbox.mjs';
import { readTimerTable } from '../../support/records.mjs';
import { connectUnix } from '../../support/timerd.mjs';
export const TIMER_HOOK = path.join(REPO, 'test', 'fakes', 'timer-hook.mjs');
/** A fake hook that runs until the test creates its gate file (gated-hook.mjs). */
export const GATED_HOOK = path.join(REPO, 'test', 'integration', 'timerd', 'gated-hook.mjs');
export const SUBSYS3 = 'nqn.2026-11.io.sanhook:subsys3';

/** Polls `check` until it returns something other than undefined/false; throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}


/** One pino record of timerd's stderr, with `at` = its time in ms. */
export interface LogRecord {
  readonly level: number;
  readonly time: string;
  readonly at: number;
  readonly pid: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export function parseLog(stderr: string): LogRecord[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{"level":'))
    .map((line) => {
      const record = JSON.parse(line) as Record<string, unknown> & { time: string };
      return { ...record, at: Date.parse(record.time) } as unknown as LogRecord;
    });
}

/** Non-log lines of a stderr (the one-line user messages). */
export function messageLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '' && !line.startsWith('{"level":'));
}

export interface RunResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `sanhook timerd`. */
export class TimerdProcess {
  stderr = '';
  stdout = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly spawnedAt = now();

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  log(): LogRecord[] {
    return parseLog(this.stderr);
  }

  logs(msg: string): LogRecord[] {
    return this.log().filter((r) => r.msg === msg);
  }

  /** Resolves with the "listening" record (or the exit, as an error) once timerd serves. */
  async listening(timeoutMs = 30_000): Promise<LogRecord> {
    return waitFor(
      `timerd ${this.pid} to listen`,
      () => {
        if (this.exit) throw new Error(`timerd exited (${JSON.stringify(this.exit)}) before listening:\n${this.stderr}`);
        return this.log().find((r) => r.msg === 'listening' || r.msg === 'listening on the inherited socket');
      },
      timeoutMs,
    );
  }

  async waitLog(what: string, predicate: (r: LogRecord) => boolean, timeoutMs = 30_000): Promise<LogRecord> {
    return waitFor(what, () => this.log().find(predicate), timeoutMs);
  }

  /** Signals timerd itself (not its process group: running hooks are left alone). */
  kill(signal: NodeJS.Signals): void {
    if (this.exit) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // gone
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timerd ${this.pid} did not exit within ${timeoutMs} ms after ${signal}`)), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return result;
  }
}

export interface TableOnDisk {
  readonly gen: number;
  readonly nextId: number;
  readonly journalGen: number | undefined;
  readonly replayed: number;
  readonly tornTail: boolean;
  readonly entries: Map<string, { id: number; attempts: number; [field: string]: unknown }>;
}

/**
 * Reads timers.json + timers.journal the way the documented format says (store.ts),
 * independently of timerd's own loader: throws if timers.json does not parse.
 */
export function readTableFiles(stateDir: string): TableOnDisk {
  return readTimerTable(stateDir);
}

export interface NvmeCall {
  readonly argv: string[];
  readonly pid: number;
  readonly ppid: number;
  readonly start: number;
  readonly end: number;
  readonly exit: number;
  readonly device?: string;
}

export interface HookRun {
  readonly argv: string[];
  readonly pid: number;
  readonly ppid: number;
  readonly time: number;
  readonly timerId: string | null;
  readonly fds: Record<string, string>;
}

export interface LostPolicyYaml {
  readonly 'reconnect-delay'?: number;
  readonly 'ctrl-loss-tmo'?: number;
  readonly growth?: 'fixed' | 'linear';
  readonly 'max-attempts'?: number;
  readonly 'reconnect-unmanaged'?: boolean;
}

export class TimerdBox {
  readonly dir: string;
  readonly root: string;
  readonly sysfs: string;
  readonly state: string;
  readonly runDir: string;
  readonly stateDir: string;
  readonly socketPath: string;
  readonly hookLog: string;
  private readonly children = new Set<ChildProcess>();

  constructor() {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'sanhook-timerd-'));
    this.root = path.join(this.dir, 'root');
    this.sysfs = path.join(this.dir, 'sys');
    this.state = path.join(this.dir, 'state');
    this.runDir = path.join(this.root, 'run', 'sanhook');
    this.stateDir = path.join(this.root, 'var', 'lib', 'sanhook');
    this.socketPath = path.join(this.runDir, 'timerd.sock');
    this.hookLog = path.join(this.dir, 'hooks.jsonl');
    mkdirSync(path.join(this.root, 'etc', 'nvme'), { recursive: true });
    mkdirSync(this.sysfs, { recursive: true });
    mkdirSync(this.state, { recursive: true });
    writeFileSync(path.join(this.root, 'etc', 'nvme', 'hostnqn'), `${HOSTNQN}\n`);
    chmodSync(TIMER_HOOK, 0o755);
    chmodSync(GATED_HOOK, 0o755);
  }

  writeConfig(lost: LostPolicyYaml): void {
    const lines = Object.entries(lost).map(([k, v]) => `    ${k}: ${String(v)}`);
    mkdirSync(path.join(this.root, 'etc', 'sanhook'), { recursive: true });
    writeFileSync(path.join(this.root, 'etc', 'sanhook', 'sanhook.yaml'), `nvmf:\n  lost:\n${lines.join('\n')}\n`);
  }

  /** Subsystem NQNs whose `nvme connect` the fake fails ("connection refused"). */
  failConnects(nqns: readonly string[]): void {
    writeFileSync(path.join(this.state, 'fail-connect'), nqns.map((n) => `${n}\n`).join(''));
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return fakesEnv(this, extra);
  }

  /** `sanhook --root R --sysfs S timerd ...args`, in its own process group. */
  startTimerd(args: readonly string[] = [], env: Record<string, string> = {}): TimerdProcess {
    const child = spawn(process.execPath, [BIN, '--root', this.root, '--sysfs', this.sysfs, 'timerd', ...args], {
      cwd: this.dir,
      env: this.env(env),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    return this.track(child);
  }

  /** timerd that runs the recording fake hook instead of sanhook. */
  startTimerdWithFakeHook(args: readonly string[] = [], env: Record<string, string> = {}): TimerdProcess {
    return this.startTimerd(['--sanhook-bin', TIMER_HOOK, ...args], env);
  }

  /** timerd whose hooks (gated-hook.mjs) each run until the file `gate` exists. */
  startTimerdWithGatedHook(gate: string, args: readonly string[] = [], env: Record<string, string> = {}): TimerdProcess {
    return this.startTimerd(['--sanhook-bin', GATED_HOOK, ...args], { FAKE_HOOK_GATE: gate, ...env });
  }

  /** Any program (e.g. python3 for socket activation) as a timerd. */
  spawnTimerd(file: string, args: readonly string[], env: Record<string, string> = {}): TimerdProcess {
    const child = spawn(file, args, { cwd: this.dir, env: this.env(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    return this.track(child);
  }

  private track(child: ChildProcess): TimerdProcess {
    this.children.add(child);
    child.on('close', () => this.children.delete(child));
    return new TimerdProcess(child);
  }

  /** Runs `sanhook --root R --sysfs S ...args` to completion. */
  run(args: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
    const child = spawn(process.execPath, [BIN, '--root', this.root, '--sysfs', this.sysfs, ...args], {
      cwd: this.dir,
      env: this.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (exitCode, signal) => {
        clearTimeout(timer);
        this.children.delete(child);
        resolve({ exitCode, signal, stdout, stderr });
      });
    });
  }

  /** `sanhook -o json <args>`: the report items (one JSON object per line). */
  async runJson(args: readonly string[]): Promise<{ result: RunResult; items: Record<string, unknown>[] }> {
    const result = await this.run(['-o', 'json', ...args]);
    const items = result.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { result, items };
  }

  nvmeCalls(command = 'connect'): NvmeCall[] {
    // `nvme connect --help` is the capability probe (once per hook run), not a connect
    return readJsonl<NvmeCall>(path.join(this.state, 'calls.jsonl')).filter((c) => c.argv[0] === command && !c.argv.includes('--help'));
  }

  /** Subsystem NQNs of the live controllers in the fake /sys/class/nvme. */
  sysfsLive(): string[] {
    const dir = path.join(this.sysfs, 'class', 'nvme');
    if (!existsSync(dir)) return [];
    const attr = (name: string, a: string) => readFileSync(path.join(dir, name, a), 'utf8').trim();
    return readdirSync(dir)
      .filter((name) => attr(name, 'state') === 'live')
      .map((name) => attr(name, 'subsysnqn'))
      .sort();
  }

  hookRuns(): HookRun[] {
    return readJsonl<HookRun & { done?: number }>(this.hookLog).filter((r) => r.done === undefined);
  }

  /** pid → when it finished, for fake hooks run with FAKE_HOOK_SLEEP_MS. */
  hookDone(): Map<number, number> {
    return new Map(readJsonl<{ pid: number; done?: number }>(this.hookLog).filter((r) => r.done !== undefined).map((r) => [r.pid, r.done!]));
  }

  table(): TableOnDisk {
    return readTableFiles(this.stateDir);
  }

  /** Kills everything this box started that still runs, then removes the temp dir. */
  cleanup(): void {
    for (const child of this.children) killGroup(child, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      process.kill(child.pid, signal);
    } catch {
      // already gone
    }
  }
}

export interface Reply {
  readonly ok: boolean;
  readonly error?: { readonly code: string; readonly message: string; readonly field?: string };
  readonly [field: string]: unknown;
}

/**
 * A raw client of timerd's socket: write any bytes, read reply lines. `closed`
 * resolves when the daemon (or we) closed the connection.
 */
export class LineClient {
  private buffer = '';
  private readonly lines: string[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  error: NodeJS.ErrnoException | undefined;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (;;) {
        const newline = this.buffer.indexOf('\n');
        if (newline < 0) break;
        this.lines.push(this.buffer.slice(0, newline));
        this.buffer = this.buffer.slice(newline + 1);
      }
      this.notify();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.error = error;
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  static async connect(socketPath: string, timeoutMs = 10_000): Promise<LineClient> {
    return new LineClient(await connectUnix(socketPath, timeoutMs));
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (error) => (error ? reject(error) : resolve())));
  }

  /** The next reply line, or undefined if the connection closed / nothing came within timeoutMs. */
  async nextLine(timeoutMs = 10_000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.lines.shift();
  }

  async nextReply(timeoutMs = 10_000): Promise<Reply> {
    const line = await this.nextLine(timeoutMs);
    if (line === undefined) throw new Error(`no reply within ${timeoutMs} ms (closed: ${this.closed}, error: ${this.error?.message ?? 'none'})`);
    return JSON.parse(line) as Reply;
  }

  async request(message: Record<string, unknown>, timeoutMs = 10_000): Promise<Reply> {
    await this.write(`${JSON.stringify(message)}\n`);
    return this.nextReply(timeoutMs);
  }

  /** Lines received and not yet read. */
  pending(): number {
    return this.lines.length;
  }

  destroy(): void {
    this.socket.destroy();
  }

  end(): void {
    this.socket.end();
  }
}

/** One request on a fresh connection. */
export async function request(socketPath: string, message: Record<string, unknown>, timeoutMs = 10_000): Promise<Reply> {
  const client = await LineClient.connect(socketPath, timeoutMs);
  try {
    return await client.request(message, timeoutMs);
  } finally {
    client.destroy();
  }
}

/** Endpoint parameters of an arm for a distinct test key. */
export function ioParams(traddr: string, nqn = SUBSYS1): Record<string, string> {
  return { transport: 'tcp', traddr, trsvcid: '4420', nqn };
}

export function keyOf(traddr: string, nqn = SUBSYS1): string {
  return `nvmf:tcp:${traddr}:4420:${nqn}:none:none`;
}

/** An arm request with far-away events (first attempt in an hour, loss in two); `over` replaces fields. */
export function armMessage(params: Record<string, string>, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { op: 'arm', hook: 'reconnect', lossHook: 'give-up', params, delayMs: 3_600_000, growth: 'fixed', lossMs: 7_200_000, lossAttempts: 0, ...over };
}

/** The same request as the seconds-only release's clients send it (delay, lossSeconds in whole seconds). */
export function armMessageV1(params: Record<string, string>, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { op: 'arm', hook: 'reconnect', lossHook: 'give-up', params, delay: 3600, growth: 'fixed', lossSeconds: 7200, lossAttempts: 0, ...over };
}

/**
 * Resolves once timerd's own clock has passed `ms` from now, instead of a sleep: arms
 * a sentinel entry that runs nothing (no attempts, loss after `ms`, no loss hook) and
 * waits for its "timer lost" line. timerd takes due events from one heap in due order,
 * so any event due before the sentinel's (say, a stray attempt of a key that should be
 * gone) has fired by then. The sentinel's own records carry its key (`keyOf(traddr)`).
 */
export async function passTime(timerd: TimerdProcess, socketPath: string, ms: number, traddr = '10.254.254.254'): Promise<void> {
  const reply = await request(socketPath, { op: 'arm', hook: 'reconnect', params: ioParams(traddr), delayMs: 0, lossMs: ms });
  if (!reply.ok) throw new Error(`sentinel arm refused: ${JSON.stringify(reply)}`);
  await timerd.waitLog(`timerd's clock to pass ${ms} ms (sentinel ${String(reply.key)})`, (r) => r.msg === 'timer lost' && r.key === reply.key && r.id === reply.id, ms + 60_000);
}
