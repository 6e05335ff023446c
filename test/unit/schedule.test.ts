import { describe, expect, it } from 'vitest';
import { afterFailedAttempt, nextDue, scheduleProblem, type TimerEntry } from '../../src/timerd/schedule.js';

const T0 = 1_000_000;
const entry = (over: Partial<TimerEntry> = {}): TimerEntry => ({
  key: 'k',
  id: 1,
  onReconnect: { hook: 'reconnect', params: {} },
  schedule: { delaySeconds: 10, growth: 'fixed' },
  loss: { seconds: 600, attempts: 0 },
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
    ['fixed 10 s, loss 35 s', entry({ loss: { seconds: 35, attempts: 0 } }), 0, ['reconnect@10', 'reconnect@20', 'reconnect@30', 'loss@35']],
    ['defaults: 10 s / 600 s → 59 attempts then loss', entry(), 0, null],
    ['linear 0.2 s × n (fcoemon), loss by 4 attempts', entry({ schedule: { delaySeconds: 1, growth: 'linear' }, loss: { seconds: -1, attempts: 4 } }), 0, ['reconnect@1', 'reconnect@3', 'reconnect@6', 'reconnect@10', 'loss@10']],
    ['delay counts from the end of the previous attempt', entry({ loss: { seconds: 100, attempts: 0 } }), 5, ['reconnect@10', 'reconnect@25', 'reconnect@40', 'reconnect@55', 'reconnect@70', 'reconnect@85', 'loss@100']],
    ['delay 0 disables attempts: only the loss event', entry({ schedule: { delaySeconds: 0, growth: 'fixed' }, loss: { seconds: 30, attempts: 0 } }), 0, ['loss@30']],
    ['loss exactly at an attempt time: loss wins', entry({ loss: { seconds: 20, attempts: 0 } }), 0, ['reconnect@10', 'loss@20']],
    ['loss by time or attempts, whichever first (attempts)', entry({ loss: { seconds: 600, attempts: 2 } }), 0, ['reconnect@10', 'reconnect@20', 'loss@20']],
    ['loss by time or attempts, whichever first (time)', entry({ loss: { seconds: 15, attempts: 5 } }), 0, ['reconnect@10', 'loss@15']],
  ] as const)('%s', (_name, e, attemptSeconds, expected) => {
    const events = timeline(e, attemptSeconds, 100);
    if (expected) expect(events).toEqual(expected);
    else {
      expect(events.filter((x) => x.startsWith('reconnect')).length).toBe(59);
      expect(events.at(-1)).toBe('loss@600');
    }
  });

  it('-1 and 0 loss seconds mean never: attempts go on forever', () => {
    for (const seconds of [-1, 0]) {
      const events = timeline(entry({ loss: { seconds, attempts: 0 } }), 0, 1000);
      expect(events).toHaveLength(1000);
      expect(events.every((x) => x.startsWith('reconnect@'))).toBe(true);
      expect(events.at(-1)).toBe('reconnect@10000');
    }
  });

  it('an entry that can do nothing is refused', () => {
    expect(scheduleProblem({ delaySeconds: 0, growth: 'fixed' }, { seconds: -1, attempts: 3 })).toMatch(/nothing/);
    expect(scheduleProblem({ delaySeconds: 0, growth: 'fixed' }, { seconds: 10, attempts: 0 })).toBeUndefined();
  });

  it('overdue after a restart: loss before reconnect when the deadline passed', () => {
    // armed at T0, restarted long after: both the next attempt and the loss are in the past
    const due = nextDue(entry({ loss: { seconds: 30, attempts: 0 }, attempts: 1, lastAttemptEndedAt: T0 + 25_000 }));
    expect(due).toEqual({ kind: 'loss', at: T0 + 30_000 });
  });
});
