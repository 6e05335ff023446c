// @ts-check
/**
 * Process runner and waiting, shared by the integration tests, scripts/demo.mjs and
 * bench/ (plain `node` scripts: this is JavaScript, type-checked through JSDoc by
 * `tsc -p tsconfig.test.json`).
 *
 * Nothing here orders events by sleeping: `waitFor` polls the condition that means
 * the event (a log line, a file, a socket reply, a fake's record) and its timeout
 * is only a failure bound.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';

/** Wall-clock ms with sub-ms precision: the clock the fakes record (test/fakes/*.mjs). */
export const now = () => performance.timeOrigin + performance.now();

/**
 * @typedef {object} WaitOptions
 * @property {number} [timeoutMs] failure bound (default 30 s)
 * @property {number} [everyMs] poll interval (default 25 ms)
 */

/**
 * Polls `check` until it returns something other than undefined, null or false and
 * returns that. Throws after `timeoutMs` (naming `what`), or as soon as `check` throws
 * (e.g. "the process exited before it got there").
 * @template T
 * @param {string} what
 * @param {() => T | undefined | null | false | Promise<T | undefined | null | false>} check
 * @param {WaitOptions} [options]
 * @returns {Promise<T>}
 */
export async function waitFor(what, check, options = {}) {
  const { timeoutMs = 30_000, everyMs = 25 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return /** @type {T} */ (value);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Resolves like `promise`, or rejects after `timeoutMs` naming `what` (a failure bound).
 * @template T
 * @param {Promise<T>} promise
 * @param {number} timeoutMs
 * @param {string} what
 * @returns {Promise<T>}
 */
export async function within(promise, timeoutMs, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  try {
    return await Promise.race([
      promise,
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * @typedef {object} RunResult
 * @property {number | null} exitCode
 * @property {NodeJS.Signals | null} signal
 * @property {string} stdout
 * @property {string} stderr
 * @property {number} pid
 * @property {number} spawnedAt wall-clock ms just before spawn
 * @property {number} exitedAt wall-clock ms when the exit was seen
 */

/**
 * @typedef {object} SpawnOptions
 * @property {Record<string, string | undefined>} [env] the whole environment (default: this process's)
 * @property {string} [cwd]
 * @property {number} [timeoutMs] SIGKILL the process group after this long (the result then has a signal)
 * @property {string} [stdin] written to the program's stdin, which is then closed (default: no stdin)
 * @property {string} [stdoutFile] append stdout to this file instead of a pipe
 * @property {string} [stderrFile] append stderr to this file instead of a pipe (a slow reader never
 *   blocks the program's synchronous log writes); `stderr` then reads the file
 * @property {boolean} [ownGroup] run in its own process group, so killGroup() reaches its children (default true)
 */

/** A running (or finished) program with its output collected. */
export class Proc {
  /**
   * @param {string} file
   * @param {readonly string[]} args
   * @param {SpawnOptions} [options]
   */
  constructor(file, args, options = {}) {
    /** @type {readonly string[]} */
    this.argv = [file, ...args];
    this.stderrFile = options.stderrFile;
    this.stdoutFile = options.stdoutFile;
    this.out = '';
    this.err = '';
    /** @type {{ code: number | null, signal: NodeJS.Signals | null } | undefined} */
    this.exit = undefined;
    const toFile = (/** @type {string | undefined} */ f) => (f === undefined ? 'pipe' : openSync(f, 'a'));
    const stdio = /** @type {const} */ ([options.stdin === undefined ? 'ignore' : 'pipe', toFile(options.stdoutFile), toFile(options.stderrFile)]);
    this.spawnedAt = now();
    this.child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: [...stdio], detached: options.ownGroup ?? true });
    for (const fd of stdio.slice(1)) if (typeof fd === 'number') closeSync(fd);
    this.child.stdout?.setEncoding('utf8').on('data', (/** @type {string} */ chunk) => (this.out += chunk));
    this.child.stderr?.setEncoding('utf8').on('data', (/** @type {string} */ chunk) => (this.err += chunk));
    if (options.stdin !== undefined) this.child.stdin?.end(options.stdin);
    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    if (options.timeoutMs !== undefined) timer = setTimeout(() => this.killGroup('SIGKILL'), options.timeoutMs);
    /** @type {Promise<RunResult>} */
    this.done = new Promise((resolve, reject) => {
      this.child.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      this.child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.exit = { code, signal };
        resolve({ exitCode: code, signal, stdout: this.stdout, stderr: this.stderr, pid: this.pid, spawnedAt: this.spawnedAt, exitedAt: now() });
      });
    });
    // A caller that only looks at `exit` must not get an unhandled rejection for a failed spawn.
    this.done.catch(() => {});
  }

  get pid() {
    return /** @type {number} */ (this.child.pid);
  }

  /** Everything the program wrote to stdout so far. */
  get stdout() {
    return this.stdoutFile === undefined ? this.out : readIfExists(this.stdoutFile);
  }

  /** Everything the program wrote to stderr so far. */
  get stderr() {
    return this.stderrFile === undefined ? this.err : readIfExists(this.stderrFile);
  }

  /**
   * Signals the program itself (not its group: children it started are left alone).
   * @param {NodeJS.Signals} [signal]
   */
  kill(signal = 'SIGTERM') {
    if (this.exit || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      // already gone
    }
  }

  /**
   * Signals the program's whole process group (it and what it started).
   * @param {NodeJS.Signals} [signal]
   */
  killGroup(signal = 'SIGKILL') {
    if (this.exit || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      this.kill(signal);
    }
  }

  /**
   * Sends `signal` and waits for the exit (throws after `timeoutMs`).
   * @param {NodeJS.Signals} [signal]
   * @param {number} [timeoutMs]
   * @returns {Promise<RunResult>}
   */
  stop(signal = 'SIGTERM', timeoutMs = 30_000) {
    this.kill(signal);
    return within(this.done, timeoutMs, `pid ${this.pid} to exit after ${signal}`);
  }
}

/** @param {string} file */
function readIfExists(file) {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/**
 * Starts `file args` (in its own process group unless options.ownGroup is false).
 * @param {string} file
 * @param {readonly string[]} args
 * @param {SpawnOptions} [options]
 */
export function spawnProcess(file, args, options = {}) {
  return new Proc(file, args, options);
}

/**
 * Runs `file args` to completion.
 * @param {string} file
 * @param {readonly string[]} args
 * @param {SpawnOptions} [options]
 */
export function runProcess(file, args, options = {}) {
  return new Proc(file, args, options).done;
}
