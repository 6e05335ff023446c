/**
 * timerd: holds reconnect-delay and loss timers and emits their events by
 * running sanhook hooks (DESIGN §6).
 *
 * Contract:
 * - serves the protocol of protocol.ts on a Unix socket (0600 in a 0700 dir),
 *   or on an inherited socket (systemd socket activation, fd 3); a bad line
 *   gets an error reply and the connection and daemon keep going;
 * - `arm`/`disarm` are acknowledged only once durable (store.ts);
 * - idle costs nothing: exactly one timeout, for the nearest due event;
 * - an event runs `<sanhook> <hook> --opt value...` with bounded concurrency
 *   and a per-run timeout; exit 0 of a reconnect hook disarms that arm, any
 *   other result schedules the next attempt; the loss event runs the loss hook
 *   once and removes the entry. Overdue events fire right after a (re)start.
 * - what a hook wrote on stderr reaches timerd's log: verbatim in the `stderr`
 *   field of "hook finished" with JSON logs, or record by record at each
 *   record's own level with the journal/text formats (log.ts forwardRecords).
 */
import { chmod, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import lockfile from 'proper-lockfile';
import { EnvironmentError } from '../core/errors.js';
import { forwardRecords, type Logger } from '../core/log.js';
import { createTimerdClient } from './client.js';
import type { Exec } from '../core/system.js';
import { MinHeap } from './heap.js';
import type { TimerHookTable } from '../core/fabric.js';
import { hookArgv } from './hooks.js';
import { errorReply, MAX_LINE_BYTES, parseRequest, ProtocolError, type ArmRequest, type Request } from './protocol.js';
import { afterFailedAttempt, lossDeadline, nextDue, type HookCall, type TimerEntry } from './schedule.js';
import { TimerStore } from './store.js';

/** setTimeout's ceiling (~24.8 days); longer waits are re-armed at the ceiling. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
export const DEFAULT_MAX_CONCURRENT = 4;
/** Replies a client has not read yet, beyond which it is disconnected (~1,000 list replies' worth). */
const MAX_UNREAD_REPLY_BYTES = 4 * 1024 * 1024;
export const DEFAULT_HOOK_TIMEOUT_MS = 120_000;

export interface TimerdOptions {
  readonly exec: Exec;
  readonly log: Logger;
  readonly now: () => number;
  readonly stateDir: string;
  /** Where to listen; ignored when `listenFd` is given. */
  readonly socketPath: string;
  readonly listenFd?: number;
  /** How to run sanhook: [node, script, --root, R, --sysfs, S]; the hook argv follows. */
  readonly sanhookArgv: readonly string[];
  /** The hooks it may run, from the fabric registry (it imports none). */
  readonly hooks: TimerHookTable;
  readonly maxConcurrent: number;
  readonly hookTimeoutMs: number;
  /**
   * A file kept present exactly while at least one timer is armed (armedFlagPath
   * in client.ts). The udev rules test for it before they start node for a
   * controller's `connected` event, whose only work is to disarm its timer.
   */
  readonly armedFlagPath?: string;
}

interface Job {
  readonly key: string;
  readonly id: number;
  readonly kind: 'reconnect' | 'loss';
  readonly due: number;
}

export class Timerd {
  private readonly entries = new Map<string, TimerEntry>();
  private readonly versions = new Map<string, number>();
  private readonly heap = new MinHeap();
  private readonly running = new Set<string>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private stopping = false;
  private ready: Promise<void> = Promise.resolve();
  private readonly store: TimerStore;
  private readonly log: Logger;
  /** Flag-file updates, one after the other, each reading the table as it is then. */
  private flagUpdates: Promise<void> = Promise.resolve();

  constructor(private readonly options: TimerdOptions) {
    this.log = options.log;
    this.store = new TimerStore(options.stateDir, options.log, () => ({ entries: this.entries.values(), size: this.entries.size, nextId: this.nextId }));
  }

  get size(): number {
    return this.entries.size;
  }

  async start(): Promise<void> {
    const started = this.options.now();
    // Bind first: owning the socket is what makes this the only timerd of this state dir,
    // so a second one started at the same moment never loads or compacts the table under
    // the first. Connections accepted meanwhile wait for the table (`ready`).
    let ready!: () => void;
    this.ready = new Promise<void>((resolve) => (ready = resolve));
    const server = await this.listen();
    this.server = server;
    try {
      const loaded = await this.store.load();
      for (const entry of loaded.entries.values()) this.entries.set(entry.key, entry);
      this.nextId = loaded.nextId;
      await this.store.compact();
      for (const entry of this.entries.values()) this.schedule(entry);
      this.syncArmedFlag();
      this.log.info(
        { entries: this.entries.size, replayed: loaded.replayed, torn_tail: loaded.tornTail, converted_v1: loaded.converted, duration_ms: this.options.now() - started },
        'timer table loaded',
      );
    } catch (error) {
      await this.stop();
      throw error;
    }
    if (this.options.listenFd !== undefined) this.log.info({ fd: this.options.listenFd }, 'listening on the inherited socket');
    else this.log.info({ socket: this.options.socketPath }, 'listening');
    ready();
    this.wake();
  }

  /** Stops serving and firing; the table is on disk. Running hooks finish on their own. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const server = this.server;
    if (server) {
      for (const socket of this.sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (this.options.listenFd === undefined) await unlink(this.options.socketPath).catch(() => {});
    }
    // A fresh snapshot on a clean stop: timers.json alone then shows the table.
    await this.store.flush();
    await this.store.compact().catch((error: unknown) => this.log.error({ err: (error as Error).message }, 'final snapshot failed; the journal still has everything'));
    await this.store.close();
  }

  private async listen(): Promise<net.Server> {
    const server = net.createServer((socket) => this.serve(socket));
    if (this.options.listenFd !== undefined) {
      await new Promise<void>((resolve, reject) => server.listen({ fd: this.options.listenFd }, resolve).once('error', reject));
    } else {
      // bind() fails with EADDRINUSE while the path exists: a stale socket is removed
      // (never a live one: removeStaleSocket) and the bind retried.
      for (let attempt = 1; ; attempt += 1) {
        const previous = process.umask(0o177);
        try {
          await new Promise<void>((resolve, reject) => server.listen(this.options.socketPath, resolve).once('error', reject));
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw error;
        } finally {
          process.umask(previous);
        }
        await removeStaleSocket(this.options.socketPath);
      }
      await chmod(this.options.socketPath, 0o600);
    }
    server.on('error', (error) => this.log.error({ err: error.message }, 'socket server error'));
    return server;
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    let buffer = '';
    let discarding = false;
    let chain = this.ready;
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
    const send = (text: string) => {
      if (socket.destroyed || !socket.writable) return;
      // A client that sends but never reads must not make timerd hold its replies without bound.
      if (socket.writableLength > MAX_UNREAD_REPLY_BYTES) {
        this.log.warn({ unread_bytes: socket.writableLength }, 'client does not read its replies; closing it');
        socket.destroy();
        return;
      }
      socket.write(text);
    };
    // Every reply goes through the chain, so replies keep the order of their lines even
    // when an earlier request still waits for the disk.
    const reply = (text: string) => {
      chain = chain.then(() => send(text));
    };
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        const newline = buffer.indexOf('\n');
        if (newline < 0) break;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (discarding) {
          discarding = false;
          continue;
        }
        if (Buffer.byteLength(line) > MAX_LINE_BYTES) {
          reply(errorReply(new ProtocolError('line-too-long', `line longer than ${MAX_LINE_BYTES} bytes`)));
          continue;
        }
        if (line.trim() === '') continue;
        // Parsed here, outside the promise chain: an error created inside it costs ~100 µs
        // (V8 walks the async stack), so a flood of bad lines would stall every client.
        const parsed = this.parseLine(line);
        if (typeof parsed === 'string') reply(parsed);
        else chain = chain.then(() => this.handleRequest(parsed).then(send));
      }
      if (Buffer.byteLength(buffer) > MAX_LINE_BYTES) {
        buffer = '';
        if (!discarding) reply(errorReply(new ProtocolError('line-too-long', `line longer than ${MAX_LINE_BYTES} bytes`)));
        discarding = true;
      }
    });
  }

  /** One request line → one reply line. Never throws. */
  async handleLine(line: string): Promise<string> {
    const parsed = this.parseLine(line);
    return typeof parsed === 'string' ? parsed : this.handleRequest(parsed);
  }

  /** A request, or the error reply for a line that is not one. Never throws. */
  private parseLine(line: string): Request | string {
    try {
      return parseRequest(line, this.options.hooks);
    } catch (error) {
      if (error instanceof ProtocolError) return errorReply(error);
      return errorReply(new ProtocolError('internal', (error as Error).message));
    }
  }

  private async handleRequest(request: Request): Promise<string> {
    const req = request.req;
    try {
      return `${JSON.stringify({ ok: true, ...(req !== undefined ? { req } : {}), ...(await this.handle(request)) })}\n`;
    } catch (error) {
      if (error instanceof ProtocolError) return errorReply(error, req);
      this.log.error({ err: (error as Error).message }, 'request failed');
      return errorReply(new ProtocolError('internal', (error as Error).message), req);
    }
  }

  private async handle(request: Request): Promise<Record<string, unknown>> {
    switch (request.op) {
      case 'ping':
        return { op: 'ping', pid: process.pid, entries: this.entries.size, running: this.running.size };
      case 'list':
        return { op: 'list', entries: [...this.entries.values()].sort((a, b) => a.key.localeCompare(b.key)).map((e) => this.describe(e)) };
      case 'arm':
        return { op: 'arm', ...(await this.arm(request.arm)) };
      case 'disarm': {
        const entry = this.entries.get(request.key);
        if (!entry || (request.id !== undefined && entry.id !== request.id)) return { op: 'disarm', key: request.key, existed: false };
        await this.remove(entry, 'disarmed');
        return { op: 'disarm', key: request.key, existed: true, id: entry.id };
      }
    }
  }

  describe(entry: TimerEntry): Record<string, unknown> {
    const due = nextDue(entry);
    const deadline = lossDeadline(entry);
    return {
      key: entry.key,
      id: entry.id,
      hook: entry.onReconnect.hook,
      lossHook: entry.onLoss?.hook ?? null,
      params: entry.onReconnect.params,
      delayMs: entry.schedule.delayMs,
      growth: entry.schedule.growth,
      attempts: entry.attempts,
      lossMs: entry.loss.afterMs,
      lossAttempts: entry.loss.attempts,
      armedAt: new Date(entry.armedAt).toISOString(),
      next: due.kind === 'never' ? null : { event: due.kind, at: new Date(due.at).toISOString() },
      lossAt: deadline === undefined ? null : new Date(deadline).toISOString(),
      running: this.running.has(entry.key),
    };
  }

  private async arm(request: ArmRequest): Promise<Record<string, unknown>> {
    const existing = this.entries.get(request.key);
    if (request.keep && existing) {
      this.log.info({ key: existing.key, id: existing.id, outcome: 'kept' }, 'already armed; kept');
      return { key: existing.key, id: existing.id, kept: true, ...pick(this.describe(existing), ['next', 'lossAt']) };
    }
    const now = this.options.now();
    const entry: TimerEntry = {
      key: request.key,
      id: this.nextId++,
      onReconnect: request.onReconnect,
      ...(request.onLoss ? { onLoss: request.onLoss } : {}),
      schedule: request.schedule,
      loss: request.loss,
      armedAt: now,
      attempts: 0,
      lastAttemptEndedAt: now,
    };
    const replaced = existing;
    this.entries.set(entry.key, entry);
    this.schedule(entry);
    // The timeout counts from now, not from the end of the fdatasync below: a 100 ms
    // first delay must not grow by a slow sync. (Only the reply waits for the disk.)
    this.wake();
    await this.store.append({ op: 'arm', entry });
    await this.syncArmedFlag();
    const when = pick(this.describe(entry), ['next', 'lossAt']);
    this.log.info({ key: entry.key, id: entry.id, hook: entry.onReconnect.hook, replaced: replaced?.id ?? null, loss_at: when.lossAt ?? null, outcome: 'armed' }, 'armed');
    return { key: entry.key, id: entry.id, replaced: replaced?.id ?? null, ...when };
  }

  private async remove(entry: TimerEntry, why: string): Promise<void> {
    if (this.entries.get(entry.key)?.id !== entry.id) return;
    this.entries.delete(entry.key);
    this.bump(entry.key);
    await this.store.append({ op: 'disarm', key: entry.key, id: entry.id });
    await this.syncArmedFlag();
    this.log.info({ key: entry.key, id: entry.id, outcome: why }, `timer ${why}`);
  }

  /**
   * Makes the armed flag file match the table (present iff a timer is armed).
   * Best effort: a failure is logged, and costs only a `connected` hook that
   * runs (flag left present) or is skipped (flag missing; the timer's next
   * attempt then finds the path live and ends it). Kept on stop: the table is
   * durable and socket activation brings timerd back for a disarm.
   */
  private syncArmedFlag(): Promise<void> {
    const file = this.options.armedFlagPath;
    if (!file) return Promise.resolve();
    this.flagUpdates = this.flagUpdates.then(async () => {
      const armed = this.entries.size > 0;
      try {
        // 'a': creates an empty file when missing, leaves an existing one alone
        if (armed) await writeFile(file, '', { flag: 'a', mode: 0o600 });
        else await unlink(file);
      } catch (error) {
        if (!armed && (error as NodeJS.ErrnoException).code === 'ENOENT') return;
        this.log.warn({ file, armed, err: (error as Error).message }, 'could not update the armed-timers flag file');
      }
    });
    return this.flagUpdates;
  }

  private bump(key: string): number {
    const version = (this.versions.get(key) ?? 0) + 1;
    this.versions.set(key, version);
    return version;
  }

  private schedule(entry: TimerEntry): void {
    const version = this.bump(entry.key);
    const due = nextDue(entry);
    if (due.kind === 'never') return;
    this.heap.push({ at: due.at, key: entry.key, id: entry.id, version });
  }

  /** Re-arms the single timeout for the nearest due event (or none when idle). */
  private wake(): void {
    if (this.stopping) return;
    const now = this.options.now();
    for (;;) {
      const top = this.heap.peek();
      if (!top) break;
      if (this.versions.get(top.key) !== top.version || this.entries.get(top.key)?.id !== top.id) {
        this.heap.pop();
        continue;
      }
      if (top.at > now) break;
      this.heap.pop();
      const entry = this.entries.get(top.key)!;
      const due = nextDue(entry);
      if (due.kind === 'never') continue;
      this.queue.push({ key: entry.key, id: entry.id, kind: due.kind, due: top.at });
    }
    this.pump();
    const next = this.heap.peek();
    const at = next ? next.at : Infinity;
    if (at === this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at !== Infinity) {
      // A fresh reading: pump() may have spent milliseconds starting hooks since `now`,
      // and setTimeout counts from the moment it is called.
      const delay = Math.min(Math.max(at - this.options.now(), 0), MAX_TIMEOUT_MS);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.timerAt = Infinity;
        this.wake();
      }, delay);
    }
  }

  private pump(): void {
    for (let i = 0; i < this.queue.length && this.running.size < this.options.maxConcurrent; ) {
      const job = this.queue[i]!;
      const entry = this.entries.get(job.key);
      if (!entry || entry.id !== job.id) {
        this.queue.splice(i, 1);
        continue;
      }
      if (this.running.has(job.key)) {
        i += 1; // an earlier arm's hook is still running for this key: wait for it
        continue;
      }
      this.queue.splice(i, 1);
      this.running.add(job.key);
      void this.fire(entry, job)
        .catch((error: unknown) => this.log.error({ key: job.key, err: (error as Error).message }, 'event handling failed'))
        .finally(() => {
          this.running.delete(job.key);
          this.pump();
          this.wake();
        });
    }
  }

  private async fire(entry: TimerEntry, job: Job): Promise<void> {
    const started = this.options.now();
    // An attempt is never started at or after the loss deadline (schedule.ts): one that
    // became due before it but starts late (after a restart, or queued behind other
    // hooks) is the loss event instead.
    const deadline = lossDeadline(entry);
    const kind = job.kind === 'reconnect' && deadline !== undefined && started >= deadline ? 'loss' : job.kind;
    const call: HookCall | undefined = kind === 'reconnect' ? entry.onReconnect : entry.onLoss;
    this.log.info({ key: entry.key, id: entry.id, event: kind, attempt: kind === 'reconnect' ? entry.attempts + 1 : null, late_ms: started - (kind === job.kind ? job.due : deadline!), hook: call?.hook ?? null }, 'event fired');
    let exitCode = 0;
    if (call) exitCode = await this.runHook(entry, call);
    const ended = this.options.now();
    const current = this.entries.get(entry.key);
    if (!current || current.id !== entry.id) return;
    if (kind === 'loss') {
      await this.remove(current, 'lost');
      return;
    }
    if (exitCode === 0) {
      await this.remove(current, 'reconnected');
      return;
    }
    const next = afterFailedAttempt(current, ended);
    this.entries.set(next.key, next);
    this.schedule(next);
    // Not awaited: nobody waits for an attempt record (a failed write is logged by the
    // store), and the journal keeps it before any later op. Waiting for its fdatasync
    // would make the next event late by the sync when it is due at once (a loss by
    // count) or soon (fcoemon's 0.2 s steps).
    void this.store.append({ op: 'attempt', key: next.key, id: next.id, attempts: next.attempts, lastAttemptEndedAt: next.lastAttemptEndedAt }).catch(() => {});
  }

  private async runHook(entry: TimerEntry, call: HookCall): Promise<number> {
    const [file, ...base] = this.options.sanhookArgv;
    const argv = [...base, ...hookArgv(call)];
    const started = this.options.now();
    try {
      const result = await this.options.exec(file!, argv, { timeoutMs: this.options.hookTimeoutMs, env: { SANHOOK_TIMER_ID: String(entry.id) } });
      // The hook's stderr is a pipe to us, so it logged JSON records (its `auto` format). In
      // JSON, they stay verbatim in the `stderr` field of "hook finished"; in a human format
      // (the journal), each is re-emitted as a record of ours at its own level, before it.
      const forward = this.log.format === 'journal' || this.log.format === 'text';
      if (forward) forwardRecords(this.log, result.stderr, { hook: call.hook, key: entry.key }, result.exitCode === 0 ? 'warn' : 'error');
      this.log.info(
        {
          key: entry.key,
          id: entry.id,
          hook: call.hook,
          exit_code: result.exitCode,
          duration_ms: this.options.now() - started,
          stdout: tail(result.stdout),
          ...(forward ? {} : { stderr: tail(result.stderr) }),
        },
        'hook finished',
      );
      return result.exitCode;
    } catch (error) {
      this.log.error({ key: entry.key, id: entry.id, hook: call.hook, err: (error as Error).message, duration_ms: this.options.now() - started }, 'hook could not run');
      return -1;
    }
  }
}

/** Whether something listens on a Unix socket path (it accepts a connection, even if too busy to answer). */
function listensAt(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createConnection(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'ECONNREFUSED' && error.code !== 'ENOENT'));
  });
}

/**
 * Removes a socket file nobody listens on (left by a timerd that was killed), or
 * throws if a timerd listens on it. Starters that race remove it under a short lock
 * and look again under it, so none removes the socket another one just bound.
 */
async function removeStaleSocket(socketPath: string): Promise<void> {
  const refuse = async () => {
    const pid = await createTimerdClient(socketPath, 1_000)
      .request({ op: 'ping' })
      .then((reply) => String(reply.pid))
      .catch(() => 'unknown');
    return new EnvironmentError(`another timerd is running on ${socketPath} (pid ${pid}); not starting a second one`);
  };
  if (await listensAt(socketPath)) throw await refuse();
  const release = await lockfile.lock(socketPath, { realpath: false, stale: 5_000, retries: { retries: 100, minTimeout: 10, maxTimeout: 100 } });
  try {
    if (await listensAt(socketPath)) throw await refuse();
    await unlink(socketPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  } finally {
    await release();
  }
}

function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > 2000 ? `…${trimmed.slice(-2000)}` : trimmed;
}

function pick(object: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, object[k]]));
}
