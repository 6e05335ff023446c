/**
 * timerd end to end: `sanhook lost` arms a real timerd, which runs the real
 * `sanhook reconnect` / `sanhook give-up` hooks against the fake nvme.
 *
 * Timing semantics (schedule.ts): attempt n is due `delay(n)` after attempt n-1
 * FINISHED (after arming for n = 1). So the spacing measured is from timerd's
 * "hook finished" (or "armed") record to the next "event fired", and `late_ms`
 * (fired − due) must be small. From the fake nvme's calls.jsonl: each connect runs
 * inside its hook's [fired, finished] window, and consecutive connects are at least
 * `delay` apart (end of one → start of the next).
 *
 * `sanhook lost` sends the seconds-only fields (delay, lossSeconds) from the whole-second
 * config: these tests also cover timerd accepting them. "Nothing happens afterwards" is
 * shown by waiting for timerd's own clock to pass the next would-be event (passTime).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { messageLines, passTime, SUBSYS1, SUBSYS2, SUBSYS3, TimerdBox, waitFor, type LogRecord, type NvmeCall, type TimerdProcess } from './harness.js';

const TOLERANCE_MS = 300;
/** pino's `time` has ms resolution; the fake nvme's timestamps are sub-ms. */
const CLOCK_SLACK_MS = 5;
/** The "armed" record is logged after the fsync; armedAt (the schedule's origin) is before it. */
const ARM_SLACK_MS = 100;

let box: TimerdBox | undefined;
afterEach(() => {
  box?.cleanup();
  box = undefined;
});

function keyOf(nqn: string): string {
  return `nvmf:tcp:127.0.0.1:4420:${nqn}:none:none`;
}

async function lost(b: TimerdBox, nqn: string): Promise<void> {
  const result = await b.run(['lost', '-t', 'tcp', '-a', '127.0.0.1', '-s', '4420', '-n', nqn]);
  expect(result.exitCode, result.stderr).toBe(0);
  expect(result.stdout).toContain('timerd armed');
}

interface Attempt {
  readonly fired: LogRecord;
  readonly finished: LogRecord;
}

/** The reconnect attempts of one key, fired record paired with its hook-finished record. */
function attempts(timerd: TimerdProcess, key: string): Attempt[] {
  const log = timerd.log().filter((r) => r.key === key);
  const fired = log.filter((r) => r.msg === 'event fired' && r.event === 'reconnect');
  const finished = log.filter((r) => r.msg === 'hook finished' && r.hook === 'reconnect');
  return fired.map((f, i) => ({ fired: f, finished: finished[i]! })).filter((a) => a.finished !== undefined);
}

/** Checks each connect ran inside its attempt's window and reports the spacing. */
function checkConnects(connects: readonly NvmeCall[], tries: readonly Attempt[], delaysMs: readonly number[]): { spacing: number[]; connectGaps: number[] } {
  expect(connects).toHaveLength(tries.length);
  const spacing: number[] = [];
  const connectGaps: number[] = [];
  for (let i = 0; i < tries.length; i += 1) {
    const { fired, finished } = tries[i]!;
    expect(connects[i]!.start).toBeGreaterThanOrEqual(fired.at - CLOCK_SLACK_MS);
    expect(connects[i]!.end).toBeLessThanOrEqual(finished.at + CLOCK_SLACK_MS);
    expect(fired.late_ms as number).toBeLessThanOrEqual(TOLERANCE_MS);
    expect(fired.attempt).toBe(i + 1);
    if (i > 0) {
      const gap = fired.at - tries[i - 1]!.finished.at;
      spacing.push(gap);
      expect(gap).toBeGreaterThanOrEqual(delaysMs[i]! - CLOCK_SLACK_MS);
      expect(gap).toBeLessThanOrEqual(delaysMs[i]! + TOLERANCE_MS);
      const connectGap = connects[i]!.start - connects[i - 1]!.end;
      connectGaps.push(Math.round(connectGap));
      expect(connectGap).toBeGreaterThanOrEqual(delaysMs[i]! - CLOCK_SLACK_MS);
    }
  }
  return { spacing, connectGaps };
}

describe('timerd fires hooks on schedule', () => {
  it('reconnects after failed attempts ~1 s apart, then disarms; survives a restart empty; status is sane', { timeout: 300_000 }, async () => {
    box = new TimerdBox();
    const b = box;
    // ctrl-loss far enough away that slow hooks on a loaded machine never reach it.
    b.writeConfig({ 'reconnect-delay': 1, 'ctrl-loss-tmo': 30, 'reconnect-unmanaged': true });
    b.failConnects([SUBSYS1]);
    const timerd = b.startTimerd();
    await timerd.listening();
    await lost(b, SUBSYS1);
    const key = keyOf(SUBSYS1);
    const armed = await timerd.waitLog('armed', (r) => r.msg === 'armed' && r.key === key);
    // Two failed attempts, then the target comes back.
    await waitFor('two failed connects', () => b.nvmeCalls().filter((c) => c.exit === 1).length >= 2 || undefined, 90_000, 10);
    b.failConnects([]);
    await timerd.waitLog('the reconnect', (r) => r.msg === 'timer reconnected' && r.key === key, 90_000);

    const connects = b.nvmeCalls();
    expect(connects.length).toBeGreaterThanOrEqual(3);
    expect(connects.slice(0, -1).every((c) => c.exit === 1)).toBe(true);
    expect(connects.at(-1)!.exit).toBe(0);
    for (const c of connects) expect(c.argv).toEqual(expect.arrayContaining(['--nqn', SUBSYS1, '--traddr', '127.0.0.1', '--trsvcid', '4420']));
    const tries = attempts(timerd, key);
    const first = tries[0]!.fired.at - armed.at;
    expect(first).toBeGreaterThanOrEqual(1000 - ARM_SLACK_MS);
    expect(first).toBeLessThanOrEqual(1000 + TOLERANCE_MS);
    const { spacing, connectGaps } = checkConnects(connects, tries, tries.map(() => 1000));
    console.info(`[timerd] fixed 1 s: first attempt after ${first} ms; finished→fired ${spacing.join(', ')} ms; connect end→next connect start ${connectGaps.join(', ')} ms; late_ms ${tries.map((t) => t.fired.late_ms).join(', ')}`);
    expect(tries.at(-1)!.finished.exit_code).toBe(0);
    expect(b.sysfsLive()).toEqual([SUBSYS1]);

    // Disarmed: nothing listed, no loss, no further attempts once the next would have been due.
    const listed = await b.runJson(['timers']);
    expect(listed.result.exitCode, listed.result.stderr).toBe(0);
    expect(listed.items).toEqual([{ hook: 'timers', outcome: 'empty' }]);
    await passTime(timerd, b.socketPath, 1500);
    expect(b.nvmeCalls()).toHaveLength(connects.length);
    expect(timerd.log().filter((r) => r.key === key && r.msg === 'event fired' && r.event === 'loss')).toEqual([]);
    expect(timerd.log().filter((r) => r.key === key && r.msg === 'event fired')).toHaveLength(tries.length);

    const status = await b.runJson(['status']);
    expect(status.result.exitCode, status.result.stderr).toBe(0);
    expect(status.items.filter((i) => i.outcome !== 'nvmf')).toEqual([
      { hook: 'status', outcome: 'timerd-running', pid: timerd.pid, entries: 0 },
      { hook: 'timers', outcome: 'empty' },
      { hook: 'status', outcome: 'idle' },
    ]);
    // the reconnected controller is sanhook's in the ownership registry
    expect(status.items.filter((i) => i.outcome === 'nvmf').map((i) => i.owner)).toEqual(['sanhook']);

    // The table on disk stays empty across a restart.
    expect(await timerd.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect([...b.table().entries.keys()]).toEqual([]);
    const again = b.startTimerd();
    await again.listening();
    expect((await b.runJson(['timers'])).items).toEqual([{ hook: 'timers', outcome: 'empty' }]);
    expect(b.table().entries.size).toBe(0);
    expect(b.table().replayed).toBe(0);
    expect(again.logs('timer table loaded')[0]).toMatchObject({ entries: 0 });
    expect(await again.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('gives up exactly once at ctrl-loss-tmo (3 s) while the target keeps failing, then stops trying', { timeout: 300_000 }, async () => {
    box = new TimerdBox();
    const b = box;
    b.writeConfig({ 'reconnect-delay': 1, 'ctrl-loss-tmo': 3, 'reconnect-unmanaged': true });
    b.failConnects([SUBSYS2]);
    const timerd = b.startTimerd();
    await timerd.listening();
    await lost(b, SUBSYS2);
    const key = keyOf(SUBSYS2);
    const armed = await timerd.waitLog('armed', (r) => r.msg === 'armed' && r.key === key);
    const removed = await timerd.waitLog('the loss', (r) => r.msg === 'timer lost' && r.key === key, 90_000);
    // Nothing more happens for this key afterwards: timerd's clock passes two more delays.
    await passTime(timerd, b.socketPath, 2500);
    const log = timerd.log().filter((r) => r.key === key);
    const lossFired = log.filter((r) => r.msg === 'event fired' && r.event === 'loss');
    expect(lossFired).toHaveLength(1);
    expect(lossFired[0]!.hook).toBe('give-up');
    const giveUps = log.filter((r) => r.msg === 'hook finished' && r.hook === 'give-up');
    expect(giveUps).toHaveLength(1);
    expect(giveUps[0]!.exit_code).toBe(0);
    expect(giveUps[0]!.stdout).toContain('gave up reconnecting');
    expect(giveUps[0]!.stderr).toContain('"outcome":"given-up"');
    expect(log.filter((r) => r.msg === 'timer lost')).toHaveLength(1);

    const tries = attempts(timerd, key);
    expect(tries.length).toBeGreaterThanOrEqual(1);
    // The deadline timerd computed when it armed (the log line comes after the durable write).
    const deadline = Date.parse(String(armed.loss_at));
    expect(deadline).toBeGreaterThan(armed.at + 2000);
    expect(deadline).toBeLessThanOrEqual(armed.at + 3000);
    // No attempt starts at or after the loss deadline, and no event at all after the loss.
    for (const t of tries) expect(t.fired.at).toBeLessThan(deadline + CLOCK_SLACK_MS);
    expect(log.filter((r) => r.msg === 'event fired').at(-1)).toBe(lossFired[0]);
    const connects = b.nvmeCalls();
    expect(connects.every((c) => c.exit === 1)).toBe(true);
    expect(connects.every((c) => c.start < lossFired[0]!.at)).toBe(true);
    checkConnects(connects, tries, tries.map(() => 1000));
    // The loss is due at the deadline, or right after an attempt that was still running then.
    const due = Math.max(deadline, tries.at(-1)!.finished.at);
    const lateness = lossFired[0]!.at - due;
    console.info(`[timerd] loss: deadline +${lossFired[0]!.at - armed.at} ms after arming (late ${lossFired[0]!.late_ms} ms, after ${tries.length} attempts)`);
    expect(lateness).toBeGreaterThanOrEqual(-CLOCK_SLACK_MS);
    expect(lateness).toBeLessThanOrEqual(TOLERANCE_MS);
    expect(removed.at).toBeGreaterThanOrEqual(giveUps[0]!.at);

    expect((await b.runJson(['timers'])).items).toEqual([{ hook: 'timers', outcome: 'empty' }]);
    expect(b.table().entries.size).toBe(0);
    expect(b.sysfsLive()).toEqual([]);
    expect(await timerd.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('linear growth (1, 2, 3 s) and loss by count (max-attempts 3) with no loss by time', { timeout: 300_000 }, async () => {
    box = new TimerdBox();
    const b = box;
    b.writeConfig({ 'reconnect-delay': 1, growth: 'linear', 'max-attempts': 3, 'ctrl-loss-tmo': 0, 'reconnect-unmanaged': true });
    b.failConnects([SUBSYS3]);
    const timerd = b.startTimerd();
    await timerd.listening();
    await lost(b, SUBSYS3);
    const key = keyOf(SUBSYS3);
    const armed = await timerd.waitLog('armed', (r) => r.msg === 'armed' && r.key === key);
    const listed = await b.runJson(['timers']);
    expect(listed.items).toEqual([expect.objectContaining({ key, attempts: 0, lossAt: null, next: expect.objectContaining({ event: 'reconnect' }) })]);
    await timerd.waitLog('the loss', (r) => r.msg === 'timer lost' && r.key === key, 120_000);
    // Nothing more happens for this key afterwards: timerd's clock passes attempt 4's delay.
    await passTime(timerd, b.socketPath, 4000);

    const tries = attempts(timerd, key);
    expect(tries).toHaveLength(3);
    const first = tries[0]!.fired.at - armed.at;
    expect(first).toBeGreaterThanOrEqual(1000 - ARM_SLACK_MS);
    expect(first).toBeLessThanOrEqual(1000 + TOLERANCE_MS);
    const { spacing, connectGaps } = checkConnects(b.nvmeCalls(), tries, [1000, 2000, 3000]);
    const log = timerd.log().filter((r) => r.key === key);
    const lossFired = log.filter((r) => r.msg === 'event fired' && r.event === 'loss');
    expect(lossFired).toHaveLength(1);
    // Loss by count: right after the third attempt finished.
    const afterThird = lossFired[0]!.at - tries[2]!.finished.at;
    console.info(`[timerd] linear: first ${first} ms; finished→fired ${spacing.join(', ')} ms; connect gaps ${connectGaps.join(', ')} ms; loss ${afterThird} ms after attempt 3`);
    expect(afterThird).toBeGreaterThanOrEqual(-CLOCK_SLACK_MS);
    expect(afterThird).toBeLessThanOrEqual(TOLERANCE_MS);
    expect(log.filter((r) => r.msg === 'hook finished' && r.hook === 'give-up')).toHaveLength(1);
    expect(log.filter((r) => r.msg === 'event fired').at(-1)).toBe(lossFired[0]);
    expect(b.nvmeCalls()).toHaveLength(3);
    expect((await b.runJson(['timers'])).items).toEqual([{ hook: 'timers', outcome: 'empty' }]);
    expect(messageLines(timerd.stderr)).toEqual([]);
    expect(await timerd.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
