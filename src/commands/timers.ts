/**
 * `sanhook timers list|arm|disarm` and `sanhook status`: the admin's view of
 * timerd and of the run dir (pending events, held locks).
 *
 * Contract: talks to timerd only through the System's client; a timerd that is
 * not running is an EnvironmentError (exit 3) for timers, and a line in status.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ActionError, EnvironmentError } from '../core/errors.js';
import type { Reporter } from '../core/report.js';
import type { System } from '../core/system.js';
import { delaySecondsAsMs, integer, nameValue, timeoutSecondsAsMs } from '../core/validate.js';
import { MAX_DELAY_MS, MAX_LOSS_ATTEMPTS, MAX_LOSS_MS, MIN_DELAY_MS } from '../timerd/protocol.js';

interface ListedEntry {
  key: string;
  id: number;
  hook: string;
  attempts: number;
  next: { event: string; at: string } | null;
  lossAt: string | null;
  running: boolean;
}

export async function listTimers(system: System, reporter: Reporter): Promise<void> {
  const reply = await system.timerd.request({ op: 'list' });
  if (!reply.ok) throw new ActionError(`timerd: ${reply.error?.message ?? 'list failed'}`);
  const entries = reply.entries as ListedEntry[];
  if (entries.length === 0) reporter.item({ hook: 'timers', outcome: 'empty', text: 'no timers armed' });
  for (const e of entries) {
    reporter.item({
      hook: 'timers',
      outcome: 'armed',
      key: e.key,
      id: e.id,
      next: e.next,
      attempts: e.attempts,
      lossAt: e.lossAt,
      running: e.running,
      text: `${e.key}  next ${e.next ? `${e.next.event} ${e.next.at}` : 'never'}  attempts ${e.attempts}  give up ${e.lossAt ?? 'never'}${e.running ? '  (running)' : ''}`,
    });
  }
}

/**
 * The arm request for `sanhook timers arm`'s options as commander parsed them
 * (strings): durations in seconds to the millisecond on the command line
 * (fcoemon's 0.2), in ms on the wire. Throws UsageError before timerd is asked.
 */
export function armRequest(options: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const params: Record<string, string> = {};
  for (const pair of (options.param as string[] | undefined) ?? []) {
    const [name, value] = nameValue(pair, '--param');
    params[name] = value;
  }
  return {
    op: 'arm',
    hook: options.hook,
    ...(options.lossHook ? { lossHook: options.lossHook } : {}),
    params,
    delayMs: delaySecondsAsMs(String(options.delay), '--delay', MIN_DELAY_MS, MAX_DELAY_MS, `must be 0 (no attempts) or ${MIN_DELAY_MS / 1000}-${MAX_DELAY_MS / 1000} seconds, to the millisecond`),
    growth: options.growth,
    lossMs: timeoutSecondsAsMs(String(options.lossSeconds), '--loss-seconds', MAX_LOSS_MS, `must be -1 or 0 (never) or seconds up to ${MAX_LOSS_MS / 1000}, to the millisecond`),
    lossAttempts: integer(String(options.lossAttempts), '--loss-attempts', 0, MAX_LOSS_ATTEMPTS, `must be a whole number 0-${MAX_LOSS_ATTEMPTS} (0: no limit)`),
  };
}

export async function armTimer(system: System, options: Readonly<Record<string, unknown>>, reporter: Reporter): Promise<void> {
  const request = armRequest(options);
  const reply = await system.timerd.request(request);
  if (!reply.ok) throw new ActionError(`timerd refused: ${reply.error?.message ?? 'unknown error'}`, { error: reply.error });
  reporter.item({ hook: 'timers', outcome: 'armed', key: reply.key as string, id: reply.id, text: `${String(reply.key)}: armed as id ${String(reply.id)}` });
}

export async function disarmTimer(system: System, key: string, reporter: Reporter): Promise<void> {
  const reply = await system.timerd.request({ op: 'disarm', key });
  if (!reply.ok) throw new ActionError(`timerd refused: ${reply.error?.message ?? 'unknown error'}`);
  reporter.item({ hook: 'timers', outcome: reply.existed ? 'disarmed' : 'not-armed', key, text: `${key}: ${reply.existed ? 'disarmed' : 'was not armed'}` });
}

/** Keys with a pending event, and keys whose lock is held, from the run dir. */
export async function runDirState(system: System): Promise<{ pending: string[]; locked: string[] }> {
  const pendingDir = path.join(system.paths.run, 'pending');
  const lockDir = path.join(system.paths.run, 'locks');
  const pending: string[] = [];
  for (const name of await readdir(pendingDir).catch(() => [] as string[])) {
    if (name.includes('.tmp') || name.includes('.taken.')) continue;
    try {
      pending.push((JSON.parse(await readFile(path.join(pendingDir, name), 'utf8')) as { key: string }).key);
    } catch {
      // taken while we looked
    }
  }
  const locked = (await readdir(lockDir).catch(() => [] as string[])).filter((n) => n.endsWith('.lock')).map((n) => decodeURIComponent(n.slice(0, -'.lock'.length)));
  return { pending: pending.sort(), locked: locked.sort() };
}

export async function status(system: System, reporter: Reporter): Promise<void> {
  try {
    const ping = await system.timerd.request({ op: 'ping' });
    reporter.item({ hook: 'status', outcome: 'timerd-running', pid: ping.pid, entries: ping.entries, text: `timerd running (pid ${String(ping.pid)}, ${String(ping.entries)} timer(s), ${String(ping.running)} hook(s) running)` });
    await listTimers(system, reporter);
  } catch (error) {
    if (!(error instanceof EnvironmentError)) throw error;
    reporter.item({ hook: 'status', outcome: 'timerd-down', text: error.message });
  }
  const { pending, locked } = await runDirState(system);
  for (const key of locked) reporter.item({ hook: 'status', outcome: 'locked', key, text: `${key}: a hook is working on it` });
  for (const key of pending) reporter.item({ hook: 'status', outcome: 'pending', key, text: `${key}: an event is waiting for the running hook` });
  if (locked.length === 0 && pending.length === 0) reporter.item({ hook: 'status', outcome: 'idle', text: 'no hook is running and no event is pending' });
}
