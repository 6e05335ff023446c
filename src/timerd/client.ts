/**
 * A timerd client: one request, one reply, over the Unix socket.
 *
 * Contract: `request()` resolves with the daemon's reply object (ok or not) or
 * throws EnvironmentError when no daemon answers (not running, no permission)
 * within the timeout. It never waits unboundedly.
 */
import net from 'node:net';
import path from 'node:path';
import { EnvironmentError } from '../core/errors.js';

/** A healthy timerd answers in microseconds; a durable arm waits for one fsync. */
export const CLIENT_TIMEOUT_MS = 5_000;

export function socketPathFor(runDir: string): string {
  return path.join(runDir, 'timerd.sock');
}

/**
 * Present exactly while timerd has a timer armed; the udev rules skip the
 * `connected` hook (a node start per new controller) when it is missing.
 * rules.d/70-sanhook-nvmf.rules names the Linux path literally.
 */
export function armedFlagPathFor(runDir: string): string {
  return path.join(runDir, 'timers-armed');
}

export interface Reply {
  readonly ok: boolean;
  readonly error?: { readonly code: string; readonly message: string; readonly field?: string };
  readonly [field: string]: unknown;
}

export interface TimerdClient {
  /** One request; `timeoutMs` shortens the client's bound for this one (`sanhook doctor`'s ping). */
  request(message: Record<string, unknown>, options?: { readonly timeoutMs?: number }): Promise<Reply>;
}

export function createTimerdClient(socketPath: string, defaultTimeoutMs = CLIENT_TIMEOUT_MS): TimerdClient {
  return {
    request: (message, options = {}) =>
      new Promise<Reply>((resolve, reject) => {
        const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
        const socket = net.createConnection(socketPath);
        let buffer = '';
        const fail = (why: string, cause?: unknown) => {
          socket.destroy();
          reject(new EnvironmentError(`timerd at ${socketPath}: ${why}`, { socket: socketPath }, { cause }));
        };
        const timer = setTimeout(() => fail(`no reply within ${timeoutMs} ms`), timeoutMs);
        socket.setEncoding('utf8');
        socket.on('connect', () => socket.write(`${JSON.stringify(message)}\n`));
        socket.on('data', (chunk: string) => {
          buffer += chunk;
          const newline = buffer.indexOf('\n');
          if (newline < 0) return;
          clearTimeout(timer);
          socket.end();
          try {
            resolve(JSON.parse(buffer.slice(0, newline)) as Reply);
          } catch (error) {
            reject(new EnvironmentError(`timerd at ${socketPath}: unreadable reply`, {}, { cause: error }));
          }
        });
        socket.on('error', (error: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          const why =
            error.code === 'ENOENT' || error.code === 'ECONNREFUSED'
              ? 'not running (start sanhook-timerd.service, or `sanhook timerd`)'
              : error.code === 'EACCES'
                ? 'permission denied (timerd runs as root; so must its clients)'
                : error.message;
          fail(why, error);
        });
      }),
  };
}
