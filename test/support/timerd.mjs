// @ts-check
/**
 * timerd for the sandbox: a client of its socket (newline-delimited JSON, replies in
 * request order; raw writes for bad-input tests), readiness (answers `ping`), and a
 * running `sanhook timerd` with its log records.
 */
import net from 'node:net';
import { waitFor } from './process.mjs';
import { logRecords } from './records.mjs';

/** @typedef {import('./process.mjs').Proc} Proc */
/** @typedef {import('./process.mjs').RunResult} RunResult */
/** @typedef {import('./records.mjs').LogRecord} LogRecord */
/**
 * A reply of timerd: ok, or a typed error; other fields per op.
 * @typedef {{ ok: boolean, error?: { code: string, message: string, field?: string }, [field: string]: any }} Reply
 */

/** One connection to timerd's socket. */
/**
 * A connected Unix socket, or an error once `timeoutMs` passed (timerd's socket, or any line server).
 * @param {string} socketPath
 * @param {number} [timeoutMs]
 * @returns {Promise<net.Socket>}
 */
export function connectUnix(socketPath, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${socketPath}: timed out`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export class TimerdClient {
  /** @param {net.Socket} socket */
  constructor(socket) {
    this.socket = socket;
    this.buffer = '';
    /** @type {string[]} */
    this.lines = [];
    /** @type {(() => void)[]} */
    this.waiters = [];
    this.closed = false;
    /** @type {NodeJS.ErrnoException | undefined} */
    this.error = undefined;
    socket.setEncoding('utf8');
    socket.on('data', (/** @type {string} */ chunk) => {
      this.buffer += chunk;
      for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
        this.lines.push(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.wake();
    });
    socket.on('error', (error) => {
      this.error = error;
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** @private */
  wake() {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /**
   * @param {string} socketPath
   * @param {number} [timeoutMs]
   * @returns {Promise<TimerdClient>}
   */
  static async connect(socketPath, timeoutMs = 10_000) {
    return new TimerdClient(await connectUnix(socketPath, timeoutMs));
  }

  /**
   * Writes any bytes.
   * @param {string | Buffer} data
   * @returns {Promise<void>}
   */
  write(data) {
    return new Promise((resolve, reject) => this.socket.write(data, (error) => (error ? reject(error) : resolve())));
  }

  /**
   * The next reply line, or undefined when the connection closed or nothing came within timeoutMs.
   * @param {number} [timeoutMs]
   * @returns {Promise<string | undefined>}
   */
  async nextLine(timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      const left = deadline - Date.now();
      if (this.closed || left <= 0) return undefined;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
    }
    return this.lines.shift();
  }

  /**
   * The next reply (throws when none comes).
   * @param {number} [timeoutMs]
   * @returns {Promise<Reply>}
   */
  async nextReply(timeoutMs = 10_000) {
    const line = await this.nextLine(timeoutMs);
    if (line === undefined) throw new Error(`no reply from timerd within ${timeoutMs} ms (closed: ${this.closed}, error: ${this.error?.message ?? 'none'})`);
    return JSON.parse(line);
  }

  /**
   * Sends one request and reads its reply (requests on one connection are answered in order).
   * @param {Record<string, unknown>} message
   * @param {number} [timeoutMs]
   */
  async request(message, timeoutMs = 10_000) {
    await this.write(`${JSON.stringify(message)}\n`);
    return this.nextReply(timeoutMs);
  }

  /** Reply lines received and not yet read. */
  pending() {
    return this.lines.length;
  }

  /**
   * Ends the connection and waits until it is closed.
   * @returns {Promise<void>}
   */
  close() {
    if (this.closed) return Promise.resolve();
    const closed = new Promise((resolve) => this.socket.once('close', resolve));
    this.socket.end();
    return closed.then(() => {});
  }

  destroy() {
    this.socket.destroy();
  }
}

/**
 * One request on a fresh connection.
 * @param {string} socketPath
 * @param {Record<string, unknown>} message
 * @param {number} [timeoutMs]
 */
export async function timerdRequest(socketPath, message, timeoutMs = 10_000) {
  const client = await TimerdClient.connect(socketPath, timeoutMs);
  try {
    return await client.request(message, timeoutMs);
  } finally {
    await client.close();
  }
}

/**
 * Waits until timerd answers `ping` on `socketPath`; returns when it first did.
 * `alive` is called before every try and throws to stop waiting (the daemon died).
 * @param {string} socketPath
 * @param {{ timeoutMs?: number, everyMs?: number, alive?: () => void }} [options]
 * @returns {Promise<{ at: number, reply: Reply }>}
 */
export function waitForPing(socketPath, options = {}) {
  const { timeoutMs = 30_000, everyMs = 10, alive = () => {} } = options;
  return waitFor(
    `timerd to answer ping on ${socketPath}`,
    async () => {
      alive();
      try {
        const reply = await timerdRequest(socketPath, { op: 'ping' }, 5_000);
        return reply.ok ? { at: Date.now(), reply } : undefined;
      } catch {
        return undefined; // not listening yet
      }
    },
    { timeoutMs, everyMs },
  );
}

/** A running `sanhook timerd`: its process, socket and log records. */
export class TimerdProcess {
  /**
   * @param {Proc} proc
   * @param {string} socketPath
   */
  constructor(proc, socketPath) {
    this.proc = proc;
    this.socketPath = socketPath;
  }

  get pid() {
    return this.proc.pid;
  }

  get exit() {
    return this.proc.exit;
  }

  /** Its stderr so far (the log). */
  get stderr() {
    return this.proc.stderr;
  }

  /** Its pino records so far (JSON log format). */
  records() {
    return logRecords(this.proc.stderr);
  }

  /**
   * Records with this message, and these fields when given.
   * @param {string} msg
   * @param {Record<string, unknown>} [fields]
   */
  logs(msg, fields = {}) {
    return this.records().filter((r) => r.msg === msg && Object.entries(fields).every(([k, v]) => r[k] === v));
  }

  /** Throws if timerd has exited. */
  alive() {
    if (this.proc.exit) throw new Error(`timerd ${this.pid} exited (${JSON.stringify(this.proc.exit)}):\n${this.proc.stderr.trim().split('\n').slice(-8).join('\n')}`);
  }

  /**
   * Waits until timerd answers ping (fails at once if it exits).
   * @param {{ timeoutMs?: number, everyMs?: number }} [options]
   */
  ready(options = {}) {
    return waitForPing(this.socketPath, { ...options, alive: () => this.alive() });
  }

  /**
   * Waits for a log record.
   * @param {string} what
   * @param {(record: LogRecord) => boolean} predicate
   * @param {number} [timeoutMs]
   */
  waitLog(what, predicate, timeoutMs = 30_000) {
    return waitFor(what, () => this.records().find(predicate), { timeoutMs });
  }

  /**
   * One request on a fresh connection.
   * @param {Record<string, unknown>} message
   */
  request(message) {
    return timerdRequest(this.socketPath, message);
  }

  /**
   * Signals timerd itself (not its group: hooks it runs are left alone) and waits for the exit.
   * @param {NodeJS.Signals} [signal]
   * @param {number} [timeoutMs]
   */
  stop(signal = 'SIGTERM', timeoutMs = 30_000) {
    return this.proc.stop(signal, timeoutMs);
  }

  /** The exit, whenever it comes. */
  get done() {
    return this.proc.done;
  }
}

