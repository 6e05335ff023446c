/**
 * Timer entries and their schedule: pure functions of (entry, now).
 *
 * Semantics (FreeBSD nvmf's reconnect-delay / ctrl-loss-tmo, fcoemon's linear
 * back-off): attempt n (1-based) is due `delay(n)` after attempt n-1 finished
 * (after arming for n = 1), where delay(n) = d (`fixed`) or d × n (`linear`);
 * d = 0 disables attempts. The loss event is due at armedAt + loss.afterMs
 * (0: never by time) or right after the attempt that reaches loss.attempts
 * (0: never by count). When both are due, loss wins: an attempt is never
 * started at or after the loss deadline. Every duration is in milliseconds
 * (fcoemon's d is 200 ms); times are epoch milliseconds.
 */

export const GROWTHS = ['fixed', 'linear'] as const;
export type Growth = (typeof GROWTHS)[number];

export interface Schedule {
  /** Milliseconds before the first attempt and between attempts (× n when linear); 0 disables attempts. */
  readonly delayMs: number;
  readonly growth: Growth;
}

export interface LossCondition {
  /** Give up this many milliseconds after arming; 0: never by time (a negative value is read as 0). */
  readonly afterMs: number;
  /** Give up after this many failed attempts; 0: never by count. */
  readonly attempts: number;
}

/** A sanhook hook and its validated options, e.g. reconnect + {transport: 'tcp', ...}. */
export interface HookCall {
  readonly hook: string;
  readonly params: Readonly<Record<string, string>>;
}

export interface TimerEntry {
  readonly key: string;
  /** Unique per arm: a hook's success disarms only the arm that ran it. */
  readonly id: number;
  readonly onReconnect: HookCall;
  readonly onLoss?: HookCall;
  readonly schedule: Schedule;
  readonly loss: LossCondition;
  readonly armedAt: number;
  readonly attempts: number;
  /** When the previous attempt finished (armedAt before the first). */
  readonly lastAttemptEndedAt: number;
}

export type Due = { readonly kind: 'reconnect' | 'loss'; readonly at: number } | { readonly kind: 'never' };

/** The wait before attempt `attempt` (1-based), in ms. */
export function delayMs(schedule: Schedule, attempt: number): number {
  return schedule.growth === 'linear' ? schedule.delayMs * attempt : schedule.delayMs;
}

export function lossDeadline(entry: TimerEntry): number | undefined {
  return entry.loss.afterMs > 0 ? entry.armedAt + entry.loss.afterMs : undefined;
}

/** The entry's next event; `never` only when attempts are disabled and loss is off. */
export function nextDue(entry: TimerEntry): Due {
  const deadline = lossDeadline(entry);
  if (entry.loss.attempts > 0 && entry.attempts >= entry.loss.attempts) return { kind: 'loss', at: entry.lastAttemptEndedAt };
  const attemptAt = entry.schedule.delayMs > 0 ? entry.lastAttemptEndedAt + delayMs(entry.schedule, entry.attempts + 1) : undefined;
  if (deadline !== undefined && (attemptAt === undefined || deadline <= attemptAt)) return { kind: 'loss', at: deadline };
  if (attemptAt !== undefined) return { kind: 'reconnect', at: attemptAt };
  return { kind: 'never' };
}

/** After a failed attempt that ended at `now`. (A successful attempt removes the entry.) */
export function afterFailedAttempt(entry: TimerEntry, now: number): TimerEntry {
  return { ...entry, attempts: entry.attempts + 1, lastAttemptEndedAt: now };
}

/** Validates a schedule/loss pair; returns a problem or undefined. */
export function scheduleProblem(schedule: Schedule, loss: LossCondition): string | undefined {
  if (schedule.delayMs === 0 && loss.afterMs <= 0) {
    return 'reconnect attempts are disabled (delay 0) and loss is never: the entry would do nothing';
  }
  return undefined;
}
