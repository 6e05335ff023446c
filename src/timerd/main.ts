/**
 * `sanhook timerd`: start the daemon and run until SIGTERM/SIGINT.
 *
 * Contract: uses the socket systemd passes (LISTEN_PID/LISTEN_FDS, fd 3) when
 * there is one; otherwise listens on <run>/timerd.sock, replacing a stale
 * socket file from a dead daemon but refusing to start while another timerd
 * answers on it. Resolves (exit 0) after a clean shutdown: table on disk,
 * socket removed.
 */
import type { TimerHookTable } from '../core/fabric.js';
import { fsError, locate, makeDir, type FsTarget } from '../core/fs-errors.js';
import type { System } from '../core/system.js';
import { armedFlagPathFor, socketPathFor } from './client.js';
import { Timerd } from './daemon.js';

/** systemd's sd_listen_fds(3): passed sockets start at fd 3. */
const SD_LISTEN_FDS_START = 3;

export interface TimerdCommandOptions {
  readonly maxConcurrent: number;
  readonly hookTimeoutMs: number;
  /** How timerd runs sanhook (tests point this at a wrapper); default: this program. */
  readonly sanhookArgv: readonly string[];
  /** The hooks timerd may run: core/registry.ts timerHookTable(). */
  readonly hooks: TimerHookTable;
  /** Resolves when the daemon should stop (signals in production). */
  readonly stopSignal: Promise<string>;
}

export function inheritedSocketFd(env: Readonly<Record<string, string | undefined>>): number | undefined {
  if (env.LISTEN_PID !== String(process.pid)) return undefined;
  const count = Number(env.LISTEN_FDS ?? '0');
  return Number.isInteger(count) && count >= 1 ? SD_LISTEN_FDS_START : undefined;
}

export async function runTimerd(system: System, options: TimerdCommandOptions): Promise<void> {
  const runDir = locate(system.paths, 'runDir');
  await makeDir(runDir.path, runDir);
  const socketPath = socketPathFor(system.paths.run);
  const listenFd = inheritedSocketFd(system.env);
  const daemon = new Timerd({
    exec: system.exec,
    log: system.log,
    now: () => system.clock.now(),
    stateDir: system.paths.state,
    socketPath,
    ...(listenFd !== undefined ? { listenFd } : {}),
    sanhookArgv: options.sanhookArgv,
    hooks: options.hooks,
    maxConcurrent: options.maxConcurrent,
    hookTimeoutMs: options.hookTimeoutMs,
    armedFlagPath: armedFlagPathFor(system.paths.run),
  });
  try {
    await daemon.start();
  } catch (error) {
    throw socketError(error, socketPath, locate(system.paths, 'timerdSocket'));
  }
  const signal = await options.stopSignal;
  system.log.info({ signal, entries: daemon.size }, 'stopping');
  await daemon.stop();
  system.log.info({}, 'stopped; table is on disk');
}

/**
 * A file-system failure binding the socket (bind/listen, its chmod, the lock that
 * guards removing a stale one) names the socket and why (fs-errors.ts). The table's
 * own failures already do (store.ts); anything else is left as it is.
 */
function socketError(error: unknown, socketPath: string, target: FsTarget): unknown {
  const errno = error as NodeJS.ErrnoException & { address?: unknown };
  const aboutSocket =
    errno instanceof Error &&
    (errno.syscall === 'listen' || errno.syscall === 'bind' || errno.address === socketPath || (typeof errno.path === 'string' && errno.path.startsWith(socketPath)));
  return aboutSocket ? fsError(error, 'listen on', socketPath, target) : error;
}
