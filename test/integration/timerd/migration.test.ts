/**
 * Upgrade from the seconds-only release: a current timerd started on the state files
 * that release left (test/fixtures/timerd-v1, made by its own timerd) serves their
 * timers in ms, fires what fell due since by the converted schedules, and rewrites
 * the files in the current format, which the next start loads as they are.
 *
 * The fixtures' timers are long overdue whenever this runs (made on 2026-11-30, due
 * within minutes): A and D are past their loss deadlines, B's third attempt is due.
 * Hooks are gated-hook.mjs, which runs until the test opens its gate, so the table
 * holds still while the test looks at it.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, request, TimerdBox, waitFor, type LogRecord } from './harness.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'timerd-v1');
const key = (traddr: string, name: string) => `nvmf:tcp:${traddr}:4420:nqn.2026-11.io.sanhook:${name}:none:none`;
/** What the release armed (README there): A fixed 120 s / loss 300 s; B linear 2 s / loss after 5 attempts, 2 made; D re-armed as fixed 90 s / loss 180 s. */
const A = { key: key('10.9.0.1', 'v1-fixed'), id: 1, armedAt: 1796023640527 };
const B = { key: key('10.9.0.2', 'v1-linear'), id: 2, armedAt: 1796023640788, lastAttemptEndedAt: 1796023646806 };
const D = { key: key('10.9.0.4', 'v1-rearmed'), id: 5, armedAt: 1796023640806 };
const iso = (ms: number) => new Date(ms).toISOString();
/** A record's time is read a moment after late_ms' clock reading (both Date.now(), whole ms). */
const LOG_LAG_MS = 50;

let box: TimerdBox | undefined;
afterEach(() => {
  box?.cleanup();
  box = undefined;
});

describe('timerd reads the state files of the seconds-only release', () => {
  it('serves their timers in ms, fires the overdue ones by the converted schedule, and rewrites the files as version 2', { timeout: 180_000 }, async () => {
    box = new TimerdBox();
    const b = box;
    mkdirSync(b.stateDir, { recursive: true, mode: 0o700 });
    for (const name of ['timers.json', 'timers.journal']) copyFileSync(path.join(FIXTURES, name), path.join(b.stateDir, name));
    const gate = path.join(b.dir, 'gate');
    const timerd = b.startTimerdWithGatedHook(gate);
    await timerd.listening();
    expect(timerd.logs('timer table loaded')[0]).toMatchObject({ entries: 3, replayed: 7, torn_tail: false, converted_v1: 5 });

    // What fell due while the release was stopped is the first thing timerd does.
    await waitFor('three events', () => timerd.logs('event fired').length >= 3 || undefined, 60_000);
    const log = timerd.log();
    const listening = log.findIndex((r) => r.msg === 'listening');
    const fired = log.slice(listening + 1, listening + 4);
    const firedFor = (k: string): LogRecord => fired.find((r) => r.key === k)!;
    expect(fired.map((r) => `${r.msg} ${String(r.key)} ${String(r.event)} ${String(r.attempt)}`).sort()).toEqual(
      [`event fired ${A.key} loss null`, `event fired ${B.key} reconnect 3`, `event fired ${D.key} loss null`].sort(),
    );
    // Each at the due time of its converted schedule: fired − late_ms.
    const due = (r: LogRecord) => r.at - (r.late_ms as number);
    const near = (value: number, expected: number) => value >= expected && value <= expected + LOG_LAG_MS;
    expect(due(firedFor(A.key)), 'A: loss 300 s after arming').toSatisfy((v: number) => near(v, A.armedAt + 300_000));
    expect(due(firedFor(B.key)), 'B: attempt 3, 3 × 2 s after attempt 2 ended').toSatisfy((v: number) => near(v, B.lastAttemptEndedAt + 6_000));
    expect(due(firedFor(D.key)), 'D: loss 180 s after the re-arm').toSatisfy((v: number) => near(v, D.armedAt + 180_000));

    // While their hooks run (gate closed), `list` shows the converted entries.
    await waitFor('the three hooks to start', () => b.hookRuns().length === 3 || undefined, 60_000);
    const listed = await request(b.socketPath, { op: 'list' });
    expect(listed.entries).toEqual([
      {
        key: A.key, id: A.id, hook: 'reconnect', lossHook: 'give-up', params: { transport: 'tcp', nqn: 'nqn.2026-11.io.sanhook:v1-fixed', traddr: '10.9.0.1', trsvcid: '4420' },
        delayMs: 120_000, growth: 'fixed', attempts: 0, lossMs: 300_000, lossAttempts: 0,
        armedAt: iso(A.armedAt), next: { event: 'reconnect', at: iso(A.armedAt + 120_000) }, lossAt: iso(A.armedAt + 300_000), running: true,
      },
      {
        key: B.key, id: B.id, hook: 'reconnect', lossHook: 'give-up', params: { transport: 'tcp', nqn: 'nqn.2026-11.io.sanhook:v1-linear', traddr: '10.9.0.2', trsvcid: '4420' },
        delayMs: 2_000, growth: 'linear', attempts: 2, lossMs: 0, lossAttempts: 5,
        armedAt: iso(B.armedAt), next: { event: 'reconnect', at: iso(B.lastAttemptEndedAt + 6_000) }, lossAt: null, running: true,
      },
      {
        key: D.key, id: D.id, hook: 'reconnect', lossHook: 'give-up', params: { transport: 'tcp', nqn: 'nqn.2026-11.io.sanhook:v1-rearmed', traddr: '10.9.0.4', trsvcid: '4420' },
        delayMs: 90_000, growth: 'fixed', attempts: 0, lossMs: 180_000, lossAttempts: 0,
        armedAt: iso(D.armedAt), next: { event: 'reconnect', at: iso(D.armedAt + 90_000) }, lossAt: iso(D.armedAt + 180_000), running: true,
      },
    ]);
    const runs = b.hookRuns();
    const runOf = (traddr: string) => runs.filter((r) => r.argv.includes(traddr)).map((r) => `${r.argv[r.argv.indexOf('--log-level') + 2]!} ${String(r.timerId)}`);
    expect([runOf('10.9.0.1'), runOf('10.9.0.2'), runOf('10.9.0.4')]).toEqual([['give-up 1'], ['reconnect 2'], ['give-up 5']]);

    // A clean stop (the hooks still run): the files are in the current format now, in ms.
    timerd.kill('SIGTERM');
    await timerd.waitLog('the clean stop', (r) => r.msg === 'stopped; table is on disk', 60_000);
    const snapshot = JSON.parse(readFileSync(path.join(b.stateDir, 'timers.json'), 'utf8')) as { version: number; entries: { key: string; schedule: unknown; loss: unknown; attempts: number }[] };
    expect(snapshot.version).toBe(2);
    expect(snapshot.entries.map((e) => [e.key, e.schedule, e.loss, e.attempts])).toEqual([
      [A.key, { delayMs: 120_000, growth: 'fixed' }, { afterMs: 300_000, attempts: 0 }, 0],
      [B.key, { delayMs: 2_000, growth: 'linear' }, { afterMs: 0, attempts: 5 }, 2],
      [D.key, { delayMs: 90_000, growth: 'fixed' }, { afterMs: 180_000, attempts: 0 }, 0],
    ]);
    expect(readFileSync(path.join(b.stateDir, 'timers.journal'), 'utf8')).toMatch(/^\{"gen":\d+,"version":2\}\n$/);
    // The attempts that were running are made again by the next timerd (at-least-once).
    writeFileSync(gate, '');
    expect(await timerd.stop('SIGTERM', 60_000)).toEqual({ code: 0, signal: null });

    // The next start loads version 2 as it is, and the events run to their end this time.
    const again = b.startTimerdWithGatedHook(gate);
    await again.listening();
    expect(again.logs('timer table loaded')[0]).toMatchObject({ entries: 3, replayed: 0, converted_v1: 0 });
    await again.waitLog("A's loss", (r) => r.msg === 'timer lost' && r.key === A.key, 60_000);
    await again.waitLog("D's loss", (r) => r.msg === 'timer lost' && r.key === D.key, 60_000);
    const third = await again.waitLog("B's third attempt", (r) => r.msg === 'hook finished' && r.key === B.key, 60_000);
    expect(third.exit_code).toBe(1);
    const after = await request(b.socketPath, { op: 'list' });
    const [entry] = after.entries as { key: string; attempts: number; next: { event: string; at: string } }[];
    expect(after.entries).toHaveLength(1);
    expect(entry).toMatchObject({ key: B.key, attempts: 3, delayMs: 2_000, growth: 'linear', next: { event: 'reconnect' } });
    // attempt 4 is due 4 × 2 s after attempt 3 ended
    expect(Date.parse(entry!.next.at) - third.at).toSatisfy((v: number) => v >= 8_000 && v <= 8_000 + LOG_LAG_MS);
    expect(await again.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
