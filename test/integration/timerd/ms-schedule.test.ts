/**
 * Millisecond schedules on a real timerd: fcoemon's retry, 0.2 s × n (linear) for 10
 * attempts, then the loss. timerd runs the recording fake hook, which fails every
 * attempt (exit 1), so the schedule runs to its end.
 *
 * What is measured (schedule.ts): attempt n is due 200·n ms after attempt n−1
 * finished (after the arm for n = 1); the loss is due right after attempt 10
 * finished. From timerd's own records: "event fired" (with late_ms = fired − due)
 * and "hook finished"; both carry Date.now() at the moment of logging, and timerd
 * reads the attempt's end just after logging "hook finished", so
 * fired(n) − finished(n−1) is 200·n plus how late the event fired: never less.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ioParams, keyOf, request, TimerdBox, type LogRecord } from './harness.js';

const STEP_MS = 200;
const RETRIES = 10;
/**
 * How late an event may fire. The steps differ by 200 ms, so half a step still tells
 * attempt n's wait from attempt n±1's (and linear from fixed, and seconds from ms);
 * it is ~50× timerd's p99 lateness on a quiet machine (bench/timerd: 1 ms) and leaves
 * room for a 2-core machine busy with other test runs. Early is never allowed.
 */
const LATE_TOLERANCE_MS = 100;
/** Record times are whole ms (pino isoTime): a difference of two can be 1 ms short. */
const CLOCK_SLACK_MS = 1;

let box: TimerdBox | undefined;
afterEach(() => {
  box?.cleanup();
  box = undefined;
});

describe('timerd keeps a 0.2 s × n schedule', () => {
  it("fcoemon's retry: 10 attempts 200, 400, … 2000 ms apart, then exactly one loss hook run", { timeout: 120_000 }, async () => {
    box = new TimerdBox();
    const b = box;
    const timerd = b.startTimerdWithFakeHook([], { FAKE_HOOK_EXIT: '1' });
    await timerd.listening();
    const key = keyOf('10.40.0.1');
    const armed = await request(b.socketPath, { op: 'arm', hook: 'reconnect', lossHook: 'give-up', params: ioParams('10.40.0.1'), delayMs: STEP_MS, growth: 'linear', lossAttempts: RETRIES });
    expect(armed).toMatchObject({ ok: true, key, replaced: null, lossAt: null, next: { event: 'reconnect' } });
    const firstDue = Date.parse((armed.next as { at: string }).at);
    const listed = await request(b.socketPath, { op: 'list' });
    expect(listed.entries).toEqual([expect.objectContaining({ key, id: armed.id, delayMs: 200, growth: 'linear', lossMs: 0, lossAttempts: 10, lossAt: null })]);

    // The event that ends the schedule: the entry is gone, so nothing can fire after it.
    await timerd.waitLog('the loss', (r) => r.msg === 'timer lost' && r.key === key, 60_000);
    expect(await request(b.socketPath, { op: 'list' })).toMatchObject({ ok: true, entries: [] });

    const log = timerd.log().filter((r) => r.key === key);
    const fired = log.filter((r) => r.msg === 'event fired');
    const finished = log.filter((r) => r.msg === 'hook finished');
    // Strictly one after the other: fired, finished, fired, finished, … for 10 attempts and the loss.
    expect(log.filter((r) => r.msg === 'event fired' || r.msg === 'hook finished').map((r) => `${r.msg === 'event fired' ? 'fired' : 'finished'} ${String(r.hook)}`)).toEqual([
      ...Array.from({ length: RETRIES }, () => ['fired reconnect', 'finished reconnect']).flat(),
      'fired give-up',
      'finished give-up',
    ]);
    expect(fired.map((r) => r.attempt)).toEqual([...Array.from({ length: RETRIES }, (_, i) => i + 1), null]);
    expect(fired.map((r) => r.event)).toEqual([...Array.from({ length: RETRIES }, () => 'reconnect'), 'loss']);
    expect(finished.map((r) => r.exit_code)).toEqual(Array.from({ length: RETRIES + 1 }, () => 1));

    // The waits: attempt n fires 200·n ms after attempt n−1 finished (after the arm's due time for n = 1).
    const waits: number[] = [];
    for (let n = 1; n <= RETRIES; n += 1) {
      const event = fired[n - 1]!;
      const late = event.late_ms as number;
      expect(late, `attempt ${n} late_ms`).toBeGreaterThanOrEqual(0);
      expect(late, `attempt ${n} late_ms`).toBeLessThanOrEqual(LATE_TOLERANCE_MS);
      if (n === 1) {
        expect(event.at - firstDue, 'attempt 1 vs the due time the arm reply gave').toBeGreaterThanOrEqual(0);
        expect(event.at - firstDue).toBeLessThanOrEqual(LATE_TOLERANCE_MS);
        continue;
      }
      const wait = event.at - finished[n - 2]!.at;
      waits.push(wait);
      expect(wait, `wait before attempt ${n}`).toBeGreaterThanOrEqual(STEP_MS * n - CLOCK_SLACK_MS);
      expect(wait, `wait before attempt ${n}`).toBeLessThanOrEqual(STEP_MS * n + LATE_TOLERANCE_MS);
    }
    // The loss: right after attempt 10 finished.
    const loss = fired[RETRIES]!;
    const lossWait = loss.at - finished[RETRIES - 1]!.at;
    expect(lossWait).toBeGreaterThanOrEqual(-CLOCK_SLACK_MS);
    expect(lossWait).toBeLessThanOrEqual(LATE_TOLERANCE_MS);
    expect(loss.late_ms as number).toBeLessThanOrEqual(LATE_TOLERANCE_MS);

    // What the fake hook saw: 10 reconnect runs and exactly one give-up run, all for this arm.
    const runs = b.hookRuns();
    const hookOf = (argv: string[]) => argv.find((word) => word === 'reconnect' || word === 'give-up');
    expect(runs.map((r) => hookOf(r.argv))).toEqual([...Array.from({ length: RETRIES }, () => 'reconnect'), 'give-up']);
    expect(new Set(runs.map((r) => r.timerId))).toEqual(new Set([String(armed.id)]));
    expect(runs.every((r) => r.ppid === timerd.pid)).toBe(true);
    expect(timerd.logs('timer lost')).toEqual([expect.objectContaining({ key, id: armed.id, outcome: 'lost' })]);
    console.info(
      `[timerd] 0.2 s × n: attempt 1 at +${fired[0]!.at - firstDue + STEP_MS} ms after the arm; finished→fired ${waits.join(', ')} ms; late_ms ${fired.map((r: LogRecord) => String(r.late_ms)).join(', ')}; loss ${lossWait} ms after attempt 10`,
    );
    expect(await timerd.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
