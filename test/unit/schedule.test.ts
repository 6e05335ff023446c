import { describe, expect, it } from 'vitest';
import { afterFailedAttempt, delayMs, lossDeadline, nextDue, scheduleProblem, type TimerEntry } from '../../src/timerd/schedule.js';

const T0 = 1_000_000;
const entry = (over: Partial<TimerEntry> = {}): TimerEntry => ({
  key: 'k',
  id: 1,
  onReconnect: { hook: 'reconnect', params: {} },
  schedule: { delayMs: 10_000, growth: 'fixed' },
  loss: { afterMs: 600_000, attempts: 0 },
  armedAt: T0,
  attempts: 0,
  lastAttemptEndedAt: T0,
  ...over,
});

/** Runs a schedule with every attempt failing instantly; returns the event times (s after T0). */
function timeline(e: TimerEntry, attemptSeconds = 0, limit = 20): string[] {
  const events: string[] = [];
  let current = e;
  for (let i = 0; i < limit; i++) {
    const due = nextDue(current);
    if (due.kind === 'never') {
      events.push('never');
      break;
    }
    events.push(`${due.kind}@${(due.at - T0) / 1000}`);
    if (due.kind === 'loss') break;
    current = afterFailedAttempt(current, due.at + attemptSeconds * 1000);
  }
  return events;
}

describe('schedule', () => {
  it.each([
    ['fixed 10 s, loss 35 s', entry({ loss: { afterMs: 35_000, attempts: 0 } }), 0, ['reconnect@10', 'reconnect@20', 'reconnect@30', 'loss@35']],
    ['defaults: 10 s / 600 s → 59 attempts then loss', entry(), 0, null],
    ['linear 1 s × n, loss by 4 attempts', entry({ schedule: { delayMs: 1000, growth: 'linear' }, loss: { afterMs: 0, attempts: 4 } }), 0, ['reconnect@1', 'reconnect@3', 'reconnect@6', 'reconnect@10', 'loss@10']],
    ['delay counts from the end of the previous attempt', entry({ loss: { afterMs: 100_000, attempts: 0 } }), 5, ['reconnect@10', 'reconnect@25', 'reconnect@40', 'reconnect@55', 'reconnect@70', 'reconnect@85', 'loss@100']],
    ['delay 0 disables attempts: only the loss event', entry({ schedule: { delayMs: 0, growth: 'fixed' }, loss: { afterMs: 30_000, attempts: 0 } }), 0, ['loss@30']],
    ['loss exactly at an attempt time: loss wins', entry({ loss: { afterMs: 20_000, attempts: 0 } }), 0, ['reconnect@10', 'loss@20']],
    ['loss by time or attempts, whichever first (attempts)', entry({ loss: { afterMs: 600_000, attempts: 2 } }), 0, ['reconnect@10', 'reconnect@20', 'loss@20']],
    ['loss by time or attempts, whichever first (time)', entry({ loss: { afterMs: 15_000, attempts: 5 } }), 0, ['reconnect@10', 'loss@15']],
  ] as const)('%s', (_name, e, attemptSeconds, expected) => {
    const events = timeline(e, attemptSeconds, 100);
    if (expected) expect(events).toEqual(expected);
    else {
      expect(events.filter((x) => x.startsWith('reconnect')).length).toBe(59);
      expect(events.at(-1)).toBe('loss@600');
    }
  });

  it('0 (or a negative) loss time means never: attempts go on forever', () => {
    for (const afterMs of [-1, 0]) {
      const events = timeline(entry({ loss: { afterMs, attempts: 0 } }), 0, 1000);
      expect(events).toHaveLength(1000);
      expect(events.every((x) => x.startsWith('reconnect@'))).toBe(true);
      expect(events.at(-1)).toBe('reconnect@10000');
    }
  });

  it('an entry that can do nothing is refused', () => {
    expect(scheduleProblem({ delayMs: 0, growth: 'fixed' }, { afterMs: 0, attempts: 3 })).toMatch(/nothing/);
    expect(scheduleProblem({ delayMs: 0, growth: 'fixed' }, { afterMs: -1, attempts: 3 })).toMatch(/nothing/);
    expect(scheduleProblem({ delayMs: 0, growth: 'fixed' }, { afterMs: 10_000, attempts: 0 })).toBeUndefined();
  });

  it('overdue after a restart: loss before reconnect when the deadline passed', () => {
    // armed at T0, restarted long after: both the next attempt and the loss are in the past
    const due = nextDue(entry({ loss: { afterMs: 30_000, attempts: 0 }, attempts: 1, lastAttemptEndedAt: T0 + 25_000 }));
    expect(due).toEqual({ kind: 'loss', at: T0 + 30_000 });
  });

  describe("fcoemon's retry: 0.2 s × n, 10 retries", () => {
    const fcoemon = entry({ schedule: { delayMs: 200, growth: 'linear' }, loss: { afterMs: 0, attempts: 10 } });

    it('waits 200, 400, … 2000 ms before attempts 1..10, then loses right after attempt 10', () => {
      expect(Array.from({ length: 10 }, (_, i) => delayMs(fcoemon.schedule, i + 1))).toEqual([200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000]);
      // Each attempt takes 37 ms (a hook run): the waits count from the end of the previous one.
      const took = 37;
      const waits: number[] = [];
      let current = fcoemon;
      let ended = T0;
      for (let n = 1; n <= 10; n += 1) {
        const due = nextDue(current);
        expect(due.kind, `before attempt ${n}`).toBe('reconnect');
        if (due.kind === 'never') throw new Error('unreachable');
        waits.push(due.at - ended);
        ended = due.at + took;
        current = afterFailedAttempt(current, ended);
      }
      expect(waits).toEqual([200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000]);
      expect(current.attempts).toBe(10);
      expect(nextDue(current)).toEqual({ kind: 'loss', at: ended });
      expect(lossDeadline(current)).toBeUndefined();
    });

    it('the whole run with instant attempts: 11 s of waits, one loss event', () => {
      const events = timeline(fcoemon, 0, 100);
      expect(events).toEqual(['reconnect@0.2', 'reconnect@0.6', 'reconnect@1.2', 'reconnect@2', 'reconnect@3', 'reconnect@4.2', 'reconnect@5.6', 'reconnect@7.2', 'reconnect@9', 'reconnect@11', 'loss@11']);
    });

    it('a loss time that is not whole seconds (12.345 s) cuts it short to the millisecond', () => {
      const cut = { ...fcoemon, loss: { afterMs: 12_345, attempts: 10 } };
      expect(lossDeadline(cut)).toBe(T0 + 12_345);
      // attempt 10 would be due at 11 s + 1.85 s of hook runs: after the deadline, so loss comes first
      const events = timeline(cut, 0.185, 100);
      expect(events.at(-1)).toBe('loss@12.345');
      expect(events.filter((e) => e.startsWith('reconnect'))).toHaveLength(9);
    });
  });
});
