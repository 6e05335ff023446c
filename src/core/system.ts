/**
 * The one seam to the outside world.
 *
 * Contract: hooks and adapters reach processes, files, time and the environment
 * only through a `System`. `createSystem()` builds the real one from explicit
 * options (nothing happens at import time); tests build their own with fakes.
 */
import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { ActionError, EnvironmentError } from './errors.js';
import { PLATFORM_DIRS, type Platform } from './platform.js';
import type { Logger } from './log.js';
import type { SelfInvocation } from './self-argv.js';
import type { TimerdClient } from '../timerd/client.js';

export interface ExecResult {
  readonly argv: readonly string[];
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  /** Kill the command after this long; a timeout is an ActionError. */
  readonly timeoutMs?: number;
  /** Extra environment variables on top of this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Runs a program with an argv array (never a shell). Non-zero exit is a result, not an error. */
export type Exec = (file: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export interface Paths {
  /** Linux (udev) or FreeBSD (devd): decides the directories below and which provider of a verb runs. */
  readonly platform: Platform;
  /** Prefix for /etc, /run and /var/lib; "/" on a real host. */
  readonly root: string;
  readonly sysfs: string;
  readonly etc: string;
  /** Volatile per-boot state: locks, pending markers, timerd's socket. */
  readonly run: string;
  /** Durable state: timerd's table. */
  readonly state: string;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface System {
  readonly exec: Exec;
  readonly paths: Paths;
  readonly clock: Clock;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  readonly timerd: TimerdClient;
  /** How to start this program again: [node, ...#! flags, entry script] (core/self-argv.ts adds the global options). */
  readonly selfArgv: readonly string[];
  /** The global options this process was given that a run of sanhook by sanhook carries on (absent in tests: defaults). */
  readonly invocation?: SelfInvocation;
}

/** Default per-command bound: the kernel's own fabrics connect timeout is well under this. */
export const DEFAULT_EXEC_TIMEOUT_MS = 120_000;

export function resolvePaths(root: string, sysfs: string, platform: Platform = 'linux'): Paths {
  const dirs = PLATFORM_DIRS[platform];
  return {
    platform,
    root,
    sysfs,
    etc: path.join(root, ...dirs.etc),
    run: path.join(root, ...dirs.run),
    state: path.join(root, ...dirs.state),
  };
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * PATH for programs sanhook runs when its own environment has none: udevd runs
 * RUN programs with only the device's properties as environment (no PATH), and
 * Node then searches only /usr/bin:/bin, so `nvme` (/usr/sbin) is not found.
 * The value is systemd's default PATH.
 */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Variables added to this process's environment for a child: a PATH if there is none, then the caller's. */
function childEnv(options: ExecOptions): Record<string, string> {
  return { ...(process.env.PATH ? {} : { PATH: DEFAULT_PATH }), ...options.env };
}

let execaModule: Promise<typeof import('execa')> | undefined;

/**
 * Starts loading execa without waiting for it. A hook that will run a program
 * calls this first thing, so the load overlaps its lock and sysfs reads
 * instead of delaying its first command (bench/udev-latency).
 */
export function prefetchExec(): void {
  execaModule ??= import('execa');
}

/** The real exec for hooks: execa, loaded on first use so that irrelevant events never pay for it. */
export const realExec: Exec = async (file, args, options = {}) => {
  prefetchExec();
  const { execa } = await execaModule!;
  const argv = [file, ...args];
  const env = childEnv(options);
  const result = await execa(file, args, {
    reject: false,
    stdin: 'ignore',
    timeout: options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
    encoding: 'utf8',
    stripFinalNewline: false,
    ...(Object.keys(env).length > 0 ? { env } : {}),
  });
  if (result.code === 'ENOENT') {
    throw new EnvironmentError(`${file}: not found on PATH (is it installed?)`, { argv }, { cause: result.cause });
  }
  if (result.code === 'EACCES') {
    throw new EnvironmentError(`${file}: permission denied`, { argv }, { cause: result.cause });
  }
  if (result.timedOut) {
    throw new ActionError(`${file}: timed out after ${options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS} ms`, { argv }, { cause: result.cause });
  }
  return {
    argv,
    exitCode: result.exitCode ?? 128 + signalNumber(result.signal),
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
  };
};

/** Output kept per stream from a timerd hook run: far more than any hook prints, bounded against a runaway child. */
const MAX_SPAWN_OUTPUT_BYTES = 8 * 1024 * 1024;
/** After a timeout: SIGTERM, then SIGKILL if the program is still there (execa's default grace). */
const KILL_GRACE_MS = 5_000;

/**
 * The exec timerd runs hooks with: node's own spawn, with the same contract as
 * `realExec` (argv array, no shell, stdin closed, non-zero exit and death by
 * signal are results, a timeout is an ActionError). timerd starts one process
 * per event; execa there cost ~8 MB of timerd's 60 MB RSS budget and several
 * milliseconds of event-loop time per run, which showed up as timer lateness
 * under load (bench/timerd). Hooks keep execa.
 */
export const spawnExec: Exec = (file, args, options = {}) =>
  new Promise<ExecResult>((resolve, reject) => {
    const argv = [file, ...args];
    const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    const child = spawn(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...childEnv(options) } });
    const collect = (stream: NodeJS.ReadableStream) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      stream.on('data', (chunk: Buffer) => {
        if ((bytes += chunk.length) <= MAX_SPAWN_OUTPUT_BYTES) chunks.push(chunk);
      });
      return () => Buffer.concat(chunks).toString('utf8');
    };
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    let timedOut = false;
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    }, timeoutMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      clearTimeout(killer);
      if (error.code === 'ENOENT') reject(new EnvironmentError(`${file}: not found on PATH (is it installed?)`, { argv }, { cause: error }));
      else if (error.code === 'EACCES') reject(new EnvironmentError(`${file}: permission denied`, { argv }, { cause: error }));
      else reject(new ActionError(`${file}: ${error.message}`, { argv }, { cause: error }));
    });
    // 'close', not 'exit': both pipes are drained by then.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killer);
      if (timedOut) reject(new ActionError(`${file}: timed out after ${timeoutMs} ms`, { argv }));
      else resolve({ argv, exitCode: code ?? 128 + signalNumber(signal ?? undefined), stdout: stdout(), stderr: stderr() });
    });
  });

function signalNumber(signal: string | undefined): number {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 };
  return (signal && table[signal]) || 0;
}

export async function pathExists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** sd_booted(3): systemd is PID 1 when /run/systemd/system exists. */
export function systemdBooted(system: System): Promise<boolean> {
  return pathExists(path.join(system.paths.root, 'run', 'systemd', 'system'));
}
