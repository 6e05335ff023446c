/**
 * Restart semantics of a real timerd: a clean stop keeps the table and removes the
 * socket; after a SIGKILL, overdue events fire right after the next start, and an
 * entry whose loss deadline passed while timerd was down gets its loss event (not a
 * reconnect attempt first).
 */
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { armedFlagPathFor } from '../../../src/timerd/client.js';
import { armMessage, armMessageV1, ioParams, keyOf, now, request, SUBSYS1, SUBSYS2, TimerdBox, waitFor } from './harness.js';

let box: TimerdBox | undefined;
afterEach(() => {
  box?.cleanup();
  box = undefined;
});

describe('the armed-timers flag file (the udev rules run `connected` only while it exists)', () => {
  it('present exactly while a timer is armed; kept over a clean stop with timers, back at once after a restart', { timeout: 300_000 }, async () => {
    box = new TimerdBox();
    const b = box;
    const flag = armedFlagPathFor(path.dirname(b.socketPath));
    const timerd = b.startTimerd();
    await timerd.listening();
    expect(existsSync(flag), 'no timers yet').toBe(false);
    const first = await request(b.socketPath, armMessage(ioParams('10.1.4.1')));
    expect(first).toMatchObject({ ok: true });
    expect(existsSync(flag), 'the arm reply comes after the flag').toBe(true);
    expect(statSync(flag).mode & 0o777).toBe(0o600);
    const second = await request(b.socketPath, armMessageV1(ioParams('10.1.4.2')));
    expect(second).toMatchObject({ ok: true });
    expect(await request(b.socketPath, { op: 'disarm', key: first.key })).toMatchObject({ ok: true });
    expect(existsSync(flag), 'one timer is still armed').toBe(true);
    expect(await timerd.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(existsSync(flag), 'kept: the table on disk still holds a timer').toBe(true);
    rmSync(flag);
    const again = b.startTimerd();
    await again.listening();
    expect(existsSync(flag), 'the reloaded table holds a timer').toBe(true);
    expect(await request(b.socketPath, { op: 'disarm', key: second.key })).toMatchObject({ ok: true });
    expect(existsSync(flag), 'the last timer is gone').toBe(false);
    expect(await again.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});

describe('timerd restarts', () => {
  it('SIGTERM: exit 0, socket removed, table on disk; the entry is back unchanged after a restart', { timeout: 300_000 }, async () => {
    box = new TimerdBox();
    const b = box;
    const timerd = b.startTimerd();
    await timerd.listening();
    // Seconds to the millisecond on the command line, ms on the wire, on disk and in `list`.
    const armed = await b.runJson(['timers', 'arm', '--hook', 'reconnect', '--loss-hook', 'give-up', '--delay', '3600.5', '--growth', 'linear', '--loss-seconds', '7200.25', '--loss-attempts', '3', '--param', 'transport=tcp', '--param', 'traddr=10.1.2.3', '--param', `nqn=${SUBSYS1}`]);
    expect(armed.result.exitCode, armed.result.stderr).toBe(0);
    const key = keyOf('10.1.2.3');
    expect(armed.items).toEqual([{ hook: 'timers', outcome: 'armed', key, id: 1 }]);
    const before = await request(b.socketPath, { op: 'list' });
    expect(before.entries).toEqual([expect.objectContaining({ key, id: 1, delayMs: 3_600_500, growth: 'linear', lossMs: 7_200_250, lossAttempts: 3, attempts: 0 })]);
    const [listed] = before.entries as { armedAt: string; next: { event: string; at: string }; lossAt: string }[];
    expect(Date.parse(listed!.next.at) - Date.parse(listed!.armedAt)).toBe(3_600_500);
    expect(Date.parse(listed!.lossAt) - Date.parse(listed!.armedAt)).toBe(7_200_250);
    // A bad value is refused by the command line, before timerd is asked.
    const refused = await b.run(['timers', 'arm', '--hook', 'reconnect', '--delay', '0.05', '--param', 'transport=tcp']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('--delay: must be 0 (no attempts) or 0.1-86400 seconds, to the millisecond, got "0.05"');

    expect(await timerd.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(existsSync(b.socketPath)).toBe(false);
    expect(timerd.logs('stopped; table is on disk')).toHaveLength(1);
    const onDisk = b.table();
    expect([...onDisk.entries.keys()]).toEqual([key]);
    expect(onDisk.entries.get(key)).toMatchObject({ id: 1, attempts: 0, schedule: { delayMs: 3_600_500, growth: 'linear' }, loss: { afterMs: 7_200_250, attempts: 3 } });

    const again = b.startTimerd();
    await again.listening();
    expect(again.logs('timer table loaded')[0]).toMatchObject({ entries: 1 });
    const after = await request(b.socketPath, { op: 'list' });
    expect(after.entries).toEqual(before.entries);
    const ping = await request(b.socketPath, { op: 'ping' });
    expect(ping).toMatchObject({ ok: true, pid: again.pid, entries: 1 });
    // A new arm after the restart gets a fresh id (ids are never reused for acknowledged arms).
    const next = await request(b.socketPath, armMessage(ioParams('10.1.2.4')));
    expect(next).toMatchObject({ ok: true, id: 2 });
    expect(await again.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('SIGTERM while a hook runs: a clean stop (exit 0, socket removed, table on disk); the hook is not killed', { timeout: 300_000 }, async () => {
    box = new TimerdBox();
    const b = box;
    // The hook runs until the test opens its gate: it is running for as long as the test needs.
    const gate = path.join(b.dir, 'gate');
    const timerd = b.startTimerdWithGatedHook(gate);
    await timerd.listening();
    const key = keyOf('10.1.3.1');
    expect(await request(b.socketPath, armMessage(ioParams('10.1.3.1'), { delayMs: 200 }))).toMatchObject({ ok: true, key });
    const run = await waitFor('the hook to start', () => b.hookRuns()[0], 60_000);
    expect((await request(b.socketPath, { op: 'ping' })).running).toBe(1);
    timerd.kill('SIGTERM');
    // timerd is done with its part (table on disk, socket removed) while the hook still runs.
    await timerd.waitLog('the clean stop', (r) => r.msg === 'stopped; table is on disk', 60_000);
    expect(existsSync(b.socketPath)).toBe(false);
    expect([...b.table().entries.keys()]).toEqual([key]);
    expect(b.hookDone().has(run.pid), 'the hook ran to its end before the gate opened').toBe(false);
    process.kill(run.pid, 0); // throws if the hook is gone: it was not killed
    // The running attempt is allowed to finish; timerd's process goes with it.
    writeFileSync(gate, '');
    const result = await timerd.stop('SIGTERM', 60_000);
    expect(result, timerd.stderr).toEqual({ code: 0, signal: null });
    expect(timerd.logs('stopped; table is on disk')).toHaveLength(1);
    expect(b.hookDone().has(run.pid)).toBe(true);
    expect([...b.table().entries.keys()]).toEqual([key]);
  });

  it('SIGKILL while timers are pending: after the restart the overdue LOSS fires first and alone; an overdue attempt fires at once', { timeout: 300_000 }, async () => {
    box = new TimerdBox();
    const b = box;
    b.failConnects([SUBSYS1, SUBSYS2]);
    const timerd = b.startTimerd();
    await timerd.listening();
    // lostKey: next attempt at +3 s, loss at +4 s (armed as an older client does, in seconds).
    // overdueKey: attempt at +2 s, loss far away.
    const lostKey = keyOf('127.0.0.1', SUBSYS1);
    const overdueKey = keyOf('127.0.0.1', SUBSYS2);
    const armLost = await request(b.socketPath, armMessageV1(ioParams('127.0.0.1', SUBSYS1), { delay: 3, lossSeconds: 4 }));
    const armOverdue = await request(b.socketPath, armMessage(ioParams('127.0.0.1', SUBSYS2), { delayMs: 2000, lossMs: 600_000 }));
    timerd.kill('SIGKILL');
    const killedAt = now();
    expect(armLost).toMatchObject({ ok: true, key: lostKey });
    expect(armOverdue).toMatchObject({ ok: true, key: overdueKey });
    expect(await timerd.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The test is only meaningful if nothing fired before the kill.
    expect(timerd.logs('event fired'), 'an event fired before the kill (machine too slow?)').toEqual([]);
    expect(existsSync(b.socketPath)).toBe(true);
    const lossAt = Date.parse(armLost.lossAt as string);
    const attemptAt = Date.parse((armLost.next as { at: string }).at);
    expect(lossAt - attemptAt).toBe(1000);
    expect(b.table().entries.size).toBe(2);

    // No timerd runs now, so nothing can report it: the event awaited is the clock itself
    // passing the lost key's next attempt and its loss deadline.
    await waitFor('the loss deadline to pass', () => Date.now() > lossAt + 500 || undefined, 30_000);
    const again = b.startTimerd();
    await again.listening();
    expect(again.logs('timer table loaded')[0]).toMatchObject({ entries: 2 });
    await again.waitLog('the loss', (r) => r.msg === 'timer lost' && r.key === lostKey, 90_000);
    const firstAttempt = await again.waitLog('the overdue attempt', (r) => r.msg === 'hook finished' && r.key === overdueKey, 90_000);

    // Right after the start: the two overdue events are the very next records after "listening"
    // (timerd fires what is due before it reads any request).
    const log = again.log();
    const listeningAt = log.findIndex((r) => r.msg === 'listening');
    expect(log.slice(listeningAt + 1, listeningAt + 3).map((r) => `${r.msg} ${String(r.event)} ${String(r.key)}`)).toEqual([`event fired reconnect ${overdueKey}`, `event fired loss ${lostKey}`]);
    const lostEvents = again.logs('event fired').filter((r) => r.key === lostKey);
    expect(lostEvents.map((r) => r.event)).toEqual(['loss']);
    expect(lostEvents[0]!.hook).toBe('give-up');
    expect(lostEvents[0]!.late_ms as number).toBeGreaterThanOrEqual(500);
    const giveUp = again.logs('hook finished').filter((r) => r.key === lostKey);
    expect(giveUp).toHaveLength(1);
    expect(giveUp[0]).toMatchObject({ hook: 'give-up', exit_code: 0 });

    const overdueEvents = again.logs('event fired').filter((r) => r.key === overdueKey);
    expect(overdueEvents[0]).toMatchObject({ event: 'reconnect', attempt: 1, hook: 'reconnect' });
    expect(overdueEvents[0]!.late_ms as number).toBeGreaterThanOrEqual(500);
    expect(firstAttempt.exit_code).toBe(1);
    const listening = log[listeningAt]!;
    console.info(`[timerd] after SIGKILL (${Math.round(now() - killedAt)} ms ago): loss fired ${lostEvents[0]!.at - listening.at} ms after listening (late ${lostEvents[0]!.late_ms} ms); overdue attempt ${overdueEvents[0]!.at - listening.at} ms after listening (late ${overdueEvents[0]!.late_ms} ms)`);

    // Only the overdue key ever ran nvme connect; the lost key's entry is gone.
    const connects = b.nvmeCalls();
    expect(connects.length).toBeGreaterThanOrEqual(1);
    expect(connects.every((c) => c.argv.includes(SUBSYS2))).toBe(true);
    const listed = await request(b.socketPath, { op: 'list' });
    expect((listed.entries as { key: string; attempts: number }[]).map((e) => e.key)).toEqual([overdueKey]);
    expect(await again.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect([...b.table().entries.keys()]).toEqual([overdueKey]);
    expect(b.table().entries.get(overdueKey)!.attempts).toBeGreaterThanOrEqual(1);
  });
});
