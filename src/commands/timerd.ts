/**
 * `sanhook timerd`: the timer daemon in the foreground (systemd:
 * sanhook-timerd.service; FreeBSD: rc.d/sanhook_timerd), until SIGTERM or SIGINT.
 *
 * Contract: timerd runs hooks as this program with this process's global
 * options (core/self-argv.ts; or --sanhook-bin), with node's own spawn
 * (system.ts spawnExec), and only the hooks of the fabric registry.
 */
import path from 'node:path';
import { timerHookTable } from '../core/registry.js';
import { selfArgv } from '../core/self-argv.js';
import { spawnExec } from '../core/system.js';
import { integer } from '../core/validate.js';
import { FABRICS } from '../hooks/index.js';
import { DEFAULT_HOOK_TIMEOUT_MS, DEFAULT_MAX_CONCURRENT } from '../timerd/daemon.js';
import { runTimerd } from '../timerd/main.js';
import type { CoreCommand } from './runtime.js';

export const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** What stopSignal() listens on: `process`, or an EventEmitter in tests. */
export interface SignalSource {
  on(signal: string, listener: () => void): unknown;
  off(signal: string, listener: () => void): unknown;
}

/**
 * Resolves with the name of the first SIGTERM or SIGINT; `dispose()` removes
 * the listeners (tests; the daemon keeps them until it exits). `on`, not `once`: execa's signal-exit re-raises a signal when
 * it is the last listener, which would kill timerd (and its running hooks)
 * instead of a clean stop, so ours stays registered (a second signal during
 * the stop changes nothing) until the daemon has stopped.
 */
export function stopSignal(source: SignalSource = process): { readonly stopped: Promise<string>; dispose(): void } {
  const listeners: [string, () => void][] = [];
  const stopped = new Promise<string>((resolve) => {
    for (const signal of STOP_SIGNALS) {
      const listener = () => resolve(signal);
      listeners.push([signal, listener]);
      source.on(signal, listener);
    }
  });
  return { stopped, dispose: () => listeners.forEach(([signal, listener]) => source.off(signal, listener)) };
}

export const timerdCommand: CoreCommand = {
  verb: 'timerd',
  register: (program, runtime) =>
    program
      .command('timerd')
      .description('run the timer daemon (foreground; systemd: sanhook-timerd.service)')
      .option('--max-concurrent <n>', 'hooks run at once at most', String(DEFAULT_MAX_CONCURRENT))
      .option('--hook-timeout <seconds>', 'kill a hook that runs longer', String(DEFAULT_HOOK_TIMEOUT_MS / 1000))
      .option('--sanhook-bin <path>', 'program timerd runs for hooks (default: this sanhook)')
      .action(async (options: Record<string, unknown>) => {
        const system = await runtime.system();
        const maxConcurrent = integer(String(options.maxConcurrent), '--max-concurrent', 1, 256, 'must be a whole number 1-256');
        const hookTimeoutMs = integer(String(options.hookTimeout), '--hook-timeout', 1, 86_400, 'must be a whole number 1-86400') * 1000;
        // A hook's stderr is a pipe to timerd (`parent`): its `auto` format is json, whose
        // records timerd parses and re-emits in its own format (daemon.ts).
        const sanhookArgv = selfArgv(system, { stderr: 'parent', ...(typeof options.sanhookBin === 'string' ? { command: [path.resolve(options.sanhookBin)] } : {}) });
        // The listeners stay until the process exits: after a stop, node exits once the hooks
        // still running end (timerd never kills them), and a second SIGTERM meanwhile (a
        // process-group kill, an impatient admin) must not kill timerd mid-way through that.
        const signals = stopSignal();
        await runTimerd({ ...system, exec: spawnExec }, { maxConcurrent, hookTimeoutMs, sanhookArgv, hooks: timerHookTable(FABRICS, system.paths.platform), stopSignal: signals.stopped });
      }),
};
