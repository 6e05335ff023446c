/**
 * The hook-run log: what every locked hook round leaves for `sanhook metrics`
 * (docs/metrics.md).
 *
 * Contract: `appendHookRun()` appends ONE line per finished round (hook, key,
 * outcome, exit contribution, time, started by timerd or not) to
 * <run>/hook-runs.log with a single write(2) on an O_APPEND descriptor, which
 * Linux and FreeBSD apply atomically against other appenders: concurrent
 * hooks never interleave lines. It never throws and never makes a hook fail:
 * a write it cannot make is a warning in the hook's log. The file is per boot
 * (the run dir) and bounded: past `MAX_HOOK_LOG_BYTES` (a folder that is not
 * running) a hook skips its line. `sanhook metrics` rotates and folds it
 * (commands/metrics.ts); the line format is read back by core/metrics.ts.
 */
import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Paths, System } from './system.js';

/**
 * What a round came to, a closed set (a metric label):
 * - ok: the round ran and every action succeeded;
 * - failed: the round ran and an action failed (the hook exits 1);
 * - queued: a live lock holder took the event and runs it next (its round decides);
 * - error: the round stopped on an error: the host lacks something (exit 3) or a bug (exit 1).
 */
export const HOOK_OUTCOMES = ['ok', 'failed', 'queued', 'error'] as const;
export type HookOutcome = (typeof HOOK_OUTCOMES)[number];

export interface HookRunRecord {
  readonly hook: string;
  readonly key: string;
  readonly outcome: HookOutcome;
  /** What this round adds to the hook's exit status (0 for ok and queued). */
  readonly exit: number;
  /** When the round finished, Unix milliseconds. */
  readonly at: number;
  /** Started by timerd (SANHOOK_TIMER_ID set): a timer's reconnect attempt or loss event. */
  readonly timer: boolean;
}

export const HOOK_LOG_NAME = 'hook-runs.log';

/**
 * A line is about 200 bytes, so 1 MiB holds ~5000 rounds: far more than the
 * 30 s between two folds ever sees, and the most a host without metrics
 * (nothing folds) spends of its tmpfs per boot.
 */
export const MAX_HOOK_LOG_BYTES = 1024 * 1024;

/**
 * A longer line is not written: well under PIPE_BUF (4096), the size up to
 * which every system sanhook runs on keeps one write(2) in one piece; keys
 * are far shorter (the longest, an NVMe-oF path with two 223-byte NQNs, is
 * about 500 bytes).
 */
export const MAX_RECORD_BYTES = 2048;

export function hookLogPath(paths: Paths): string {
  return path.join(paths.run, HOOK_LOG_NAME);
}

/** One JSON line; `v` lets a later format be told apart. */
export function formatHookRun(record: HookRunRecord): string {
  return `${JSON.stringify({ v: 1, at: record.at, hook: record.hook, key: record.key, outcome: record.outcome, exit: record.exit, timer: record.timer })}\n`;
}

/** Appends the record; never throws (a hook must not fail because its metrics line could not be written). */
export async function appendHookRun(system: System, record: HookRunRecord): Promise<void> {
  const file = hookLogPath(system.paths);
  const line = Buffer.from(formatHookRun(record));
  const where = { hook: record.hook, key: record.key, file };
  if (line.length > MAX_RECORD_BYTES) {
    system.log.warn({ ...where, bytes: line.length }, 'metrics: hook-run line too long, not recorded');
    return;
  }
  // Synchronous on purpose: four system calls, each far shorter than a hop through libuv's
  // thread pool, in a process that is about to exit anyway.
  try {
    const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    try {
      if (fstatSync(fd).size >= MAX_HOOK_LOG_BYTES) {
        system.log.debug({ ...where, bytes: MAX_HOOK_LOG_BYTES }, 'metrics: hook-run log full (is sanhook-metrics.timer running?), not recorded');
        return;
      }
      const written = writeSync(fd, line);
      if (written !== line.length) system.log.warn({ ...where, bytes: written }, 'metrics: short write to the hook-run log');
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    system.log.warn({ ...where, err: (error as Error).message }, 'metrics: cannot append to the hook-run log');
  }
}
