/**
 * The one seam to the outside world.
 *
 * Contract: hooks and adapters reach processes, files, time and the environment
 * only through a `System`. `createSystem()` builds the real one from explicit
 * options (nothing happens at import time); tests build their own with fakes.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { ActionError, EnvironmentError } from './errors.js';
import type { Logger } from './log.js';
import type { TimerdClient } from './timerd/client.js';

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
  /** Absolute path of the `sanhook` entry, so hand-offs can run sanhook again. */
  readonly selfArgv: readonly string[];
}

/** Default per-command bound: the kernel's own fabrics connect timeout is well under this. */
export const DEFAULT_EXEC_TIMEOUT_MS = 120_000;

export function resolvePaths(root: string, sysfs: string): Paths {
  const at = (...parts: string[]) => path.join(root, ...parts);
  return {
    root,
    sysfs,
    etc: at('etc'),
    run: at('run', 'sanhook'),
    state: at('var', 'lib', 'sanhook'),
  };
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** The real exec: execa, loaded on first use so that irrelevant events never pay for it. */
export const realExec: Exec = async (file, args, options = {}) => {
  const { execa } = await import('execa');
  const argv = [file, ...args];
  const result = await execa(file, args, {
    reject: false,
    stdin: 'ignore',
    timeout: options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
    encoding: 'utf8',
    stripFinalNewline: false,
    ...(options.env ? { env: options.env } : {}),
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
